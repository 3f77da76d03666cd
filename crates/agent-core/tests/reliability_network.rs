//! The sync engine against duplicated and reordered requests on top of a faulty network.
//!
//! One agent syncs its applications (three real photos each) with `SyncClient::run_once`
//! through the fault proxy of `support/fault_proxy.rs` — drops, resets, stalls, truncated
//! answers, 503s — while a "gateway gone mad" sends copies of its pushes to the centre:
//!
//! - **duplicates in flight**: the very batch the agent is pushing (the head of its queue,
//!   in queue order), sent concurrently, twice;
//! - **late, reordered retries**: batches of events the agent already had acknowledged,
//!   shuffled and sent again after newer ones.
//!
//! Every duplicate must get the answer the original got (applied) and change nothing: at the
//! end every application is at the centre exactly once (one revision, one "received"
//! change), every photo byte-identical, the outbox empty, nothing quarantined, and a resident
//! record sent again late never overwrites a newer one.
//!
//! 60 applications by default, `DAIBAN_LONG=1` 300; `DAIBAN_FAULT_SEED` replays a run.

mod common;
mod support;

use daiban_agent_core::sync::{SyncClient, SyncConfig};
use daiban_agent_core::Store;
use daiban_proto::sync::{ChangeBody, Event, EventResult, PushRequest, PushResponse, PROTOCOL_HEADER};
use daiban_proto::{AppStatus, ApplicationId, EventId, PhotoHash};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::fault_proxy::{FaultProxy, RandomFaults};
use support::*;

/// What the mad gateway did.
#[derive(Default)]
struct Duplicates {
    in_flight: AtomicU64,
    late: AtomicU64,
    events: AtomicU64,
}

/// Push copies of the agent's events straight to the centre until `stop`: concurrent twins of
/// the head of the queue, and shuffled batches of events already acknowledged. Returns the
/// answers the copies got, by event.
async fn mad_gateway(
    store: Store,
    centre_url: String,
    seed: u64,
    stop: Arc<AtomicBool>,
    counts: Arc<Duplicates>,
) -> HashMap<EventId, Vec<EventResult>> {
    let token = store.enrolment().unwrap().unwrap().token;
    let http = reqwest::Client::new();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut answers: HashMap<EventId, Vec<EventResult>> = HashMap::new();
    let push = |events: Vec<Event>| {
        let req = http
            .post(format!("{centre_url}/api/v1/push"))
            .header(PROTOCOL_HEADER, "1")
            .bearer_auth(&token)
            .json(&PushRequest { events, queue_len: 0 })
            .send();
        async move { req.await.ok()?.json::<PushResponse>().await.ok() }
    };
    // every event seen waiting in the outbox; those no longer waiting were acknowledged
    let mut seen: Vec<Event> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let pending: Vec<Event> =
            store.due_events(chrono::Utc::now() + chrono::Duration::days(1), 100).unwrap().into_iter().map(|e| e.event).collect();
        let pending_ids: HashSet<EventId> = pending.iter().map(|e| e.id).collect();
        let known: HashSet<EventId> = seen.iter().map(|e| e.id).collect();
        seen.extend(pending.iter().filter(|e| !known.contains(&e.id)).cloned());
        let mut batches = Vec::new();
        if !pending.is_empty() {
            // the batch the agent sends next, in its order, twice at once
            let head: Vec<Event> = pending[..rng.random_range(1..=pending.len())].to_vec();
            batches.push(head.clone());
            batches.push(head);
            counts.in_flight.fetch_add(2, Ordering::Relaxed);
        }
        let mut acked: Vec<Event> = seen.iter().filter(|e| !pending_ids.contains(&e.id)).cloned().collect();
        if !acked.is_empty() {
            acked.shuffle(&mut rng);
            acked.truncate(rng.random_range(1..=acked.len().min(40)));
            batches.push(acked);
            counts.late.fetch_add(1, Ordering::Relaxed);
        }
        let sent: Vec<_> = batches.into_iter().map(push).collect();
        for resp in futures_util::future::join_all(sent).await.into_iter().flatten() {
            for o in resp.outcomes {
                counts.events.fetch_add(1, Ordering::Relaxed);
                answers.entry(o.event_id).or_default().push(o.result);
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(5..60))).await;
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_reordered_requests_on_a_faulty_network_change_nothing() {
    let long = std::env::var("DAIBAN_LONG").is_ok_and(|v| v == "1");
    let apps_n: u16 = if long { 300 } else { 60 };
    let seed: u64 = std::env::var("DAIBAN_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261124);
    let centre = TestCentre::start().await;
    // every connection breaks sooner or later (on average after 96 KiB)
    let faults = RandomFaults { seed, rate: 1.0, max_offset: 192 * 1024, stall: Duration::from_millis(600) };
    let proxy = FaultProxy::start(centre.addr, Some(faults)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    proxy.set_enabled(false);
    daiban_agent_core::sync::enrol(&store, &proxy.url(), &centre.demo_code(), "网络测试手机").await.unwrap();
    proxy.set_enabled(true);

    // a third of the applications are captured before syncing starts, the rest while it runs
    let photos = Arc::new(PhotoFactory::new(2, 480));
    let capture_range = |range: std::ops::Range<u16>| {
        let (s, photos) = (store.clone(), photos.clone());
        tokio::task::spawn_blocking(move || {
            range
                .map(|i| {
                    let mut k = 0;
                    capture(&s, i, "pension_certification", &mut || {
                        k += 1;
                        photos.photo(u32::from(i) * 10 + k)
                    })
                })
                .collect::<Vec<ApplicationId>>()
        })
    };
    let mut apps = capture_range(0..apps_n / 3).await.unwrap();
    let later = capture_range(apps_n / 3..apps_n);

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Duplicates::default());
    let gateway = tokio::spawn(mad_gateway(store.clone(), centre.url.clone(), seed, stop.clone(), counts.clone()));
    let client = SyncClient::new(store.clone(), SyncConfig { chunk_size: 16 * 1024, ..test_config() }).unwrap();
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 500, "not done after {runs} runs: {:?}; {}", store.outbox_summary().unwrap(), proxy.stats.summary());
        match client.run_once().await {
            Ok(_) if later.is_finished() && store.outbox_summary().unwrap().is_empty() => break,
            Ok(_) => {}
            Err(e) => assert!(e.is_transient(), "only transient failures are expected, got: {e}"),
        }
    }
    apps.extend(later.await.unwrap());
    // late copies keep coming for a while after the agent is done
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let answers = gateway.await.unwrap();
    proxy.set_enabled(false);
    client.run_once().await.unwrap();

    // every copy of an event got the same answer, and that answer is "applied"
    for (id, got) in &answers {
        assert!(got.iter().all(|r| *r == EventResult::Applied), "event {id}: {got:?}");
    }
    let summary = store.outbox_summary().unwrap();
    assert!(summary.is_empty() && summary.quarantined == 0, "{summary:?}");
    assert!(store.quarantined_events().unwrap().is_empty());
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());

    // the centre: each application once, one revision, one "received"; residents not rolled back
    let mut received: HashMap<ApplicationId, u32> = HashMap::new();
    let mut cursor = 0;
    loop {
        let page = centre.store.pull(centre.village, cursor, 500).await.unwrap();
        for c in &page.changes {
            if let ChangeBody::Received { application_id, .. } = c.body {
                *received.entry(application_id).or_default() += 1;
            }
        }
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    let mut photos: HashSet<PhotoHash> = HashSet::new();
    for app in &apps {
        assert_eq!(centre.store.revisions(centre.township, *app).await.unwrap().len(), 1, "{app}: one revision");
        assert_eq!(received.get(app), Some(&1), "{app}: one 'received' change");
        assert_eq!(store.application(*app).unwrap().status, AppStatus::Received);
        photos.extend(photos_of(&store, *app));
    }
    assert_eq!(received.len(), apps.len(), "nothing else at the centre");
    for app in &apps {
        let r = store.application(*app).unwrap().resident;
        let at_centre = centre.store.resident(centre.township, r.id).await.unwrap().expect("resident at the centre");
        assert_eq!(at_centre, r, "resident record as the agent last sent it");
    }
    assert_eq!(assert_photos_identical(&centre, &store, photos.iter().copied()).await, photos.len());
    assert!(proxy.stats.faults() >= 10, "the network really was faulty: {}", proxy.stats.summary());
    assert!(counts.in_flight.load(Ordering::Relaxed) > 0 && counts.late.load(Ordering::Relaxed) > 0, "copies were sent");
    eprintln!(
        "duplicates and reordering (seed {seed}): {} applications, {} photos in {runs} runs; proxy: {}; gateway: {} twin pushes in flight, {} late shuffled batches, {} event answers, all identical and applied",
        apps.len(),
        photos.len(),
        proxy.stats.summary(),
        counts.in_flight.load(Ordering::Relaxed),
        counts.late.load(Ordering::Relaxed),
        counts.events.load(Ordering::Relaxed)
    );
    centre.stop().await;
}
