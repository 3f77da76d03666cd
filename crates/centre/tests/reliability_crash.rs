//! Crash safety of the centre: the real `daiban-centre serve` binary is killed with SIGKILL at
//! random instants while simulated devices push applications and upload their photos through
//! it, and started again on the same SQLite file and photo directory, over and over. After
//! the devices converge:
//!
//! - every application they were told was applied is stored exactly once (one row, one
//!   revision, one "received" change in the village feed, one audit entry), and nothing else;
//! - every photo is stored byte-identical (SHA-256 of the file) and recorded once;
//! - every answer a device ever got for an event is the same, and a replay of every event
//!   after the storm gets that same answer again (applied or refused with the same reason);
//! - the database passes `PRAGMA integrity_check`.
//!
//! A second test kills the centre between two chunks of a tus upload and resumes the upload
//! from `HEAD` after the restart.
//!
//! Kills: 30 by default; `DAIBAN_LONG=1` makes it 300, `DAIBAN_CENTRE_KILLS=N` any number.

mod reliability_support;

use daiban_proto::sync::{Event, EventResult};
use daiban_proto::{ApplicationId, EventId, PhotoHash};
use rand::{Rng, SeedableRng};
use reliability_support::store::*;
use reliability_support::*;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CHUNK: usize = 8 * 1024;

fn kills() -> u32 {
    let long = std::env::var("DAIBAN_LONG").is_ok_and(|v| v == "1");
    std::env::var("DAIBAN_CENTRE_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(if long { 300 } else { 30 })
}

/// Retry a request through the centre's deaths: transient failures (refused connections,
/// resets, 5xx, 409/423) are retried after a moment, anything else fails the test.
async fn until_ok<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let started = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if e.is_transient() => {
                assert!(started.elapsed() < Duration::from_secs(120), "{what}: still failing after 2 min: {e:?}");
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            Err(e) => panic!("{what}: {e:?}"),
        }
    }
}

/// Upload a photo through the centre's deaths, resuming each time from where `HEAD` says.
async fn upload_until_done(dev: &SimDevice, photo: &[u8]) {
    let mut state = UploadState::default();
    let started = Instant::now();
    while let Err(e) = dev.upload(photo, CHUNK, &mut state).await {
        assert!(e.is_transient() || matches!(e, Failure::Status(reqwest::StatusCode::NOT_FOUND, _)), "upload: {e:?}");
        assert!(started.elapsed() < Duration::from_secs(120), "upload still failing after 2 min: {e:?}");
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// What one device sent and was told.
#[derive(Default)]
struct Ledger {
    events: Vec<Event>,
    answers: HashMap<EventId, Vec<EventResult>>,
    applied_apps: Vec<ApplicationId>,
    photos: Vec<Vec<u8>>,
    pulled_seqs: Vec<i64>,
}

async fn device_loop(dev: SimDevice, n: u32, stop: Arc<AtomicBool>, base: Arc<Vec<u8>>) -> Ledger {
    let mut ledger = Ledger::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(n));
    let mut cursor = 0;
    let mut i = 0u32;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let serial = n * 100_000 + i;
        let r = resident_n(serial);
        let photos: Vec<Vec<u8>> = (0..2).map(|k| variant(&base, u64::from(serial) * 10 + k)).collect();
        let a = application_with(&r, &photos);
        let mut events = vec![upsert(&r), submit(&a)];
        if i.is_multiple_of(5) {
            // refused for good (unknown item): its stored refusal must replay identically
            let mut bad = application_with(&r, &photos[..1]);
            bad.items = vec!["no_such_item".into()];
            events.push(submit(&bad));
        }
        let outcomes = until_ok("push", || dev.push(&events)).await;
        assert_eq!(outcomes.len(), events.len());
        for o in outcomes {
            ledger.answers.entry(o.event_id).or_default().push(o.result);
        }
        assert_eq!(ledger.answers[&events[1].id].last(), Some(&EventResult::Applied), "{a:?}");
        ledger.applied_apps.push(a.id);
        ledger.events.extend(events);
        for p in &photos {
            upload_until_done(&dev, p).await;
        }
        ledger.photos.extend(photos);
        if rng.random_bool(0.3) {
            loop {
                let page = until_ok("pull", || dev.pull(cursor)).await;
                ledger.pulled_seqs.extend(page.changes.iter().map(|c| c.seq));
                cursor = page.cursor;
                if !page.more {
                    break;
                }
            }
        }
    }
    ledger
}

fn uuid_hex(id: ApplicationId) -> String {
    id.as_uuid().simple().to_string()
}

fn blob_sha(dir: &Path, h: &PhotoHash) -> Option<[u8; 32]> {
    let (a, b) = h.shard_path();
    std::fs::read(dir.join("photos").join(a).join(b)).ok().map(|b| Sha256::digest(&b).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_centre_during_ingest_loses_and_doubles_nothing() {
    let kills = kills();
    let dir = tempfile::tempdir().unwrap();
    let codes = seed_world(dir.path(), 2).await;
    let centre = Arc::new(Mutex::new(CentreProcess::start(dir.path(), &[])));
    let base_url = centre.lock().unwrap().url();
    let metrics = Arc::new(Metrics::default());
    let http = http_client();
    let mut devices = Vec::new();
    for code in &codes {
        let e = enrol(&http, &base_url, code).await.unwrap();
        devices.push(SimDevice::new(&base_url, e.token, http.clone(), metrics.clone()));
    }
    let base = Arc::new(base_jpeg());
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> =
        devices.iter().enumerate().map(|(n, d)| tokio::spawn(device_loop(d.clone(), n as u32, stop.clone(), base.clone()))).collect();

    // The storm: let the devices work for a random moment, kill -9, start again.
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xCE17E);
    let (mut during_request, started) = (0u32, Instant::now());
    for k in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(20..300))).await;
        let c = centre.clone();
        let busy = tokio::task::spawn_blocking(move || {
            let mut c = c.lock().unwrap();
            c.kill();
            c.restart();
        });
        if metrics.in_flight.load(Ordering::SeqCst) > 0 {
            during_request += 1;
        }
        busy.await.unwrap();
        if k % 50 == 49 {
            eprintln!("{} centre kills, {} requests so far", k + 1, metrics.requests.load(Ordering::Relaxed));
        }
    }
    let storm = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut ledgers = Vec::new();
    for t in tasks {
        ledgers.push(t.await.unwrap());
    }

    // Every answer to the same event was the same, and a replay now gets it again.
    let mut distinct_events = HashSet::new();
    for (dev, ledger) in devices.iter().zip(&ledgers) {
        for (id, answers) in &ledger.answers {
            assert!(answers.windows(2).all(|w| w[0] == w[1]), "event {id} got different answers: {answers:?}");
        }
        for batch in ledger.events.chunks(100) {
            let replay = until_ok("replay", || dev.push(batch)).await;
            for o in replay {
                assert_eq!(Some(&o.result), ledger.answers[&o.event_id].first(), "replay of {} changed its answer", o.event_id);
            }
        }
        distinct_events.extend(ledger.events.iter().map(|e| e.id));
        // the change feed never repeats or skips backwards
        assert!(ledger.pulled_seqs.windows(2).all(|w| w[0] < w[1]), "pulled seqs go up: {:?}", ledger.pulled_seqs);
    }

    // The centre's files, read directly.
    let db = CentreProcess::db_path(dir.path());
    assert_eq!(db_query::<String>(&db, "PRAGMA integrity_check"), vec!["ok".to_string()]);
    let apps: Vec<ApplicationId> = ledgers.iter().flat_map(|l| l.applied_apps.iter().copied()).collect();
    assert_eq!(db_query::<i64>(&db, "SELECT count(*) FROM applications"), vec![apps.len() as i64], "no application lost or added");
    assert_eq!(db_query::<i64>(&db, "SELECT count(*) FROM application_revisions"), vec![apps.len() as i64], "one revision each");
    assert_eq!(
        db_query::<i64>(&db, "SELECT count(*) FROM audit_log WHERE action = 'submitted'"),
        vec![apps.len() as i64],
        "one audit entry each"
    );
    assert_eq!(db_query::<i64>(&db, "SELECT count(*) FROM processed_events"), vec![distinct_events.len() as i64]);
    assert_eq!(db_query::<i64>(&db, "SELECT count(*) FROM processed_events WHERE outcome IS NULL"), vec![0]);
    let mut received: HashMap<String, u32> = HashMap::new();
    for body in db_query::<String>(&db, "SELECT body FROM changes") {
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["type"] == "received" {
            *received.entry(v["application_id"].as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    for a in &apps {
        assert_eq!(received.get(&a.to_string()), Some(&1), "one 'received' change for {a}");
        let revs = db_query::<i64>(&db, &format!("SELECT count(*) FROM application_revisions WHERE application_id = X'{}'", uuid_hex(*a)));
        assert_eq!(revs, vec![1], "{a}");
    }
    assert_eq!(received.len(), apps.len());
    let photos: Vec<&Vec<u8>> = ledgers.iter().flat_map(|l| l.photos.iter()).collect();
    for p in &photos {
        let h = PhotoHash::of(p);
        assert_eq!(blob_sha(dir.path(), &h), Some(Sha256::digest(p).into()), "photo {h} byte-identical");
        assert_eq!(db_query::<i64>(&db, &format!("SELECT count(*) FROM photos WHERE hash = '{}'", h.to_hex())), vec![1]);
    }
    assert_eq!(db_query::<i64>(&db, "SELECT count(*) FROM photos"), vec![photos.len() as i64], "no photo recorded twice or unasked");

    eprintln!(
        "centre SIGKILL test: {kills} kills in {:.1} s ({during_request} with a request in flight); {} requests; {} applications, {} events, {} photos; all exactly once, photos byte-identical, replays identical",
        storm.as_secs_f64(),
        metrics.requests.load(Ordering::Relaxed),
        apps.len(),
        distinct_events.len(),
        photos.len()
    );
    assert!(apps.len() as u32 >= kills / 2, "the devices made progress between kills");
    assert!(during_request >= kills / 2, "most kills land while a request is in flight ({during_request} of {kills})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tus_upload_resumes_after_the_centre_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let codes = seed_world(dir.path(), 1).await;
    let mut centre = CentreProcess::start(dir.path(), &[]);
    let http = http_client();
    let dev = SimDevice::new(&centre.url(), enrol(&http, &centre.url(), &codes[0]).await.unwrap().token, http, Arc::default());
    let photo = variant(&base_jpeg(), 1);
    assert!(photo.len() > 3 * CHUNK, "several chunks");
    let r = resident_n(1);
    let a = application_with(&r, std::slice::from_ref(&photo));
    dev.push(&[upsert(&r), submit(&a)]).await.unwrap();

    let (url, offset) = dev.tus_create(&photo).await.unwrap();
    assert_eq!(offset, 0);
    let acked = dev.tus_patch(&url, 0, &photo[..CHUNK]).await.unwrap();
    assert_eq!(acked, CHUNK as u64);
    centre.kill();
    centre.restart();
    assert_eq!(dev.tus_head(&url).await.unwrap(), CHUNK as u64, "the acknowledged chunk survived SIGKILL");
    // a chunk cut mid-body by the kill: nothing of it counts, the offset stays put
    let cut = tokio::spawn({
        let (dev, url, rest) = (dev.clone(), url.clone(), photo[CHUNK..].to_vec());
        async move { dev.tus_patch(&url, CHUNK as u64, &rest).await }
    });
    tokio::time::sleep(Duration::from_millis(5)).await;
    centre.kill();
    let _ = cut.await.unwrap();
    centre.restart();
    let mut state = UploadState { url: Some(url.clone()) };
    // If the rest arrived whole just before the kill, the photo may already be in the store
    // with its upload retired (404: the client starts over and is told the centre has it).
    let retired = match dev.tus_head(&url).await {
        Ok(at) => {
            assert!(at == CHUNK as u64 || at == photo.len() as u64, "offset after a cut chunk: {at}");
            false
        }
        Err(Failure::Status(status, _)) if status.as_u16() == 404 => true,
        Err(e) => panic!("HEAD after restart: {e:?}"),
    };
    dev.upload(&photo, CHUNK, &mut state).await.unwrap();
    let h = PhotoHash::of(&photo);
    assert_eq!(blob_sha(dir.path(), &h), Some(Sha256::digest(&photo).into()), "byte-identical after resuming");
    assert!(dev.missing(vec![h]).await.unwrap().is_empty());
    if !retired {
        assert_eq!(dev.tus_head(&url).await.unwrap(), photo.len() as u64);
    }
}
