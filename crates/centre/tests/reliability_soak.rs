//! Soak: many simulated devices, each enrolled with its own token, sync against one real
//! `daiban-centre` process on loopback for a bounded time, then stop by themselves.
//!
//! Each device loops: wait a random think time, then either submit a new application (push
//! resident + application, ask which photo is missing, upload it over tus) or pull its
//! village's changes from its cursor. Reported: requests and error rate, p50/p99/max latency
//! per request kind, throughput, and the centre's resident memory (VmRSS from /proc, sampled
//! every second) at the start, the end and its peak. At the end every acknowledged
//! application and photo must be in the centre's database, exactly once.
//!
//! Short run (always): 2,000 devices over 100 villages for 20 s. `DAIBAN_LONG=1`: 10 minutes.
//! `DAIBAN_SOAK_DEVICES`, `DAIBAN_SOAK_SECS` and `DAIBAN_SOAK_THINK_MS` (mean think time)
//! override. Latencies are reported, never asserted (a loaded CI machine is slower).

mod reliability_support;

use daiban_centre::store::{self as centre_store, DatabaseUrl, VillageCode};
use daiban_proto::catalogue::L10n;
use daiban_proto::sync::EventResult;
use daiban_proto::PhotoHash;
use rand::{Rng, SeedableRng};
use reliability_support::store::*;
use reliability_support::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Default)]
struct Totals {
    applications: AtomicU64,
    photos: AtomicU64,
    photo_bytes: AtomicU64,
    changes_pulled: AtomicU64,
}

/// Seed `villages` villages in township A and one enrolment code per device (round robin).
async fn seed(dir: &std::path::Path, villages: usize, devices: usize) -> Vec<String> {
    let store = centre_store::open(&DatabaseUrl::Sqlite(CentreProcess::db_path(dir)), Default::default()).await.unwrap();
    let w = world(store).await;
    let mut ids = vec![w.village_a, w.village_b];
    for v in ids.len()..villages {
        let code = VillageCode::parse(&format!("370611101{:03}", 300 + v)).unwrap();
        ids.push(w.store.create_village(w.township, code, L10n::new(&format!("模拟村{v}"), "")).await.unwrap());
    }
    let mut codes = Vec::with_capacity(devices);
    for d in 0..devices {
        codes.push(w.store.create_enrolment_code(w.admin, ids[d % villages], chrono::Duration::hours(2)).await.unwrap().code);
    }
    codes
}

async fn device_loop(
    dev: SimDevice,
    n: u64,
    until: Instant,
    think_ms: u64,
    base: Arc<Vec<u8>>,
    totals: Arc<Totals>,
) -> Vec<(daiban_proto::ApplicationId, PhotoHash)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(n);
    let mut cursor = 0;
    let mut acked = Vec::new();
    let mut i = 0u64;
    loop {
        // exponential think time: devices do not march in step
        let think = (-(1.0 - rng.random::<f64>()).ln() * think_ms as f64) as u64;
        let wake = Instant::now() + Duration::from_millis(think);
        if wake >= until {
            return acked;
        }
        tokio::time::sleep_until(wake.into()).await;
        if rng.random_bool(0.4) {
            i += 1;
            let serial = (n * 10_000 + i) as u32;
            let r = resident_n(serial);
            let photo = variant(&base, u64::from(serial));
            let a = application_with(&r, std::slice::from_ref(&photo));
            let Ok(out) = dev.push(&[upsert(&r), submit(&a)]).await else { continue };
            if out.iter().any(|o| o.result != EventResult::Applied) {
                continue;
            }
            totals.applications.fetch_add(1, Ordering::Relaxed);
            let hash = PhotoHash::of(&photo);
            acked.push((a.id, hash));
            if dev.missing(vec![hash]).await.is_ok_and(|m| m == vec![hash])
                && dev.upload(&photo, 64 * 1024, &mut UploadState::default()).await.is_ok()
            {
                totals.photos.fetch_add(1, Ordering::Relaxed);
                totals.photo_bytes.fetch_add(photo.len() as u64, Ordering::Relaxed);
            }
        } else {
            loop {
                let Ok(page) = dev.pull(cursor).await else { break };
                totals.changes_pulled.fetch_add(page.changes.len() as u64, Ordering::Relaxed);
                cursor = page.cursor;
                if !page.more {
                    break;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_devices_sync_against_one_centre() {
    let long = std::env::var("DAIBAN_LONG").is_ok_and(|v| v == "1");
    let devices = env_or("DAIBAN_SOAK_DEVICES", 2000) as usize;
    let secs = env_or("DAIBAN_SOAK_SECS", if long { 600 } else { 20 });
    let think_ms = env_or("DAIBAN_SOAK_THINK_MS", 10_000);
    let villages = 100.min(devices.max(2));
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let codes = seed(dir.path(), villages, devices).await;
    let centre = CentreProcess::start(dir.path(), &[]);
    let base_url = centre.url();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(256).build().unwrap();
    let metrics = Arc::new(Metrics::default());

    // enrol everyone (a few at a time, as phones would trickle in)
    let mut enrolled = Vec::with_capacity(devices);
    for chunk in codes.chunks(16) {
        let batch: Vec<_> = chunk.iter().map(|c| enrol(&http, &base_url, c)).collect();
        for r in futures_util::future::join_all(batch).await {
            enrolled.push(SimDevice::new(&base_url, r.expect("enrol").token, http.clone(), metrics.clone()));
        }
    }
    let setup = started.elapsed();

    // the soak
    let base = Arc::new(base_jpeg());
    let totals = Arc::new(Totals::default());
    let until = Instant::now() + Duration::from_secs(secs);
    let sampling = Arc::new(AtomicBool::new(true));
    let pid = centre.pid();
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut samples = Vec::new();
            while sampling.load(Ordering::Relaxed) {
                samples.push(rss_kib(pid));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            samples
        })
    };
    let soak_start = Instant::now();
    let tasks: Vec<_> = enrolled
        .into_iter()
        .enumerate()
        .map(|(n, d)| tokio::spawn(device_loop(d, n as u64, until, think_ms, base.clone(), totals.clone())))
        .collect();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(tokio::time::timeout(Duration::from_secs(secs + 120), t).await.expect("devices stop by themselves").unwrap());
    }
    let soak = soak_start.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let rss = sampler.await.unwrap();

    // everything acknowledged is there, once
    let db = CentreProcess::db_path(dir.path());
    let stored: i64 = db_query(&db, "SELECT count(*) FROM applications")[0];
    assert_eq!(stored as usize, acked.len(), "every acknowledged application stored, none twice");
    let photos: i64 = db_query(&db, "SELECT count(*) FROM photos")[0];
    assert_eq!(photos as u64, totals.photos.load(Ordering::Relaxed), "every uploaded photo recorded once");

    let requests = metrics.requests.load(Ordering::Relaxed);
    let errors = metrics.total_errors();
    let warm = rss.get(rss.len().min(3).saturating_sub(1)).copied().unwrap_or(0);
    let (end, peak) = (rss.last().copied().unwrap_or(0), rss.iter().copied().max().unwrap_or(0));
    println!(
        "soak: {devices} devices in {villages} villages, think {think_ms} ms, {:.0} s (set-up {:.1} s: seeding and enrolment)",
        soak.as_secs_f64(),
        setup.as_secs_f64()
    );
    println!(
        "  {requests} requests ({:.0}/s), {errors} errors ({:.3}%); {} applications ({:.1}/s), {} photos ({:.2} MB/s), {} changes pulled",
        requests as f64 / soak.as_secs_f64(),
        errors as f64 * 100.0 / requests.max(1) as f64,
        totals.applications.load(Ordering::Relaxed),
        totals.applications.load(Ordering::Relaxed) as f64 / soak.as_secs_f64(),
        totals.photos.load(Ordering::Relaxed),
        totals.photo_bytes.load(Ordering::Relaxed) as f64 / 1e6 / soak.as_secs_f64(),
        totals.changes_pulled.load(Ordering::Relaxed)
    );
    println!(
        "  centre RSS: {} MiB after warm-up, {} MiB at the end, {} MiB peak ({:+} MiB)",
        warm / 1024,
        end / 1024,
        peak / 1024,
        (end as i64 - warm as i64) / 1024
    );
    println!("  | request | count | errors | p50 ms | p99 ms | max ms |");
    println!("  |---|---|---|---|---|---|");
    for (kind, n, e, p50, p99, max) in metrics.table() {
        println!("  | {kind} | {n} | {e} | {p50:.1} | {p99:.1} | {max:.1} |");
    }
    assert_eq!(errors, 0, "no request failed");
    assert!(totals.applications.load(Ordering::Relaxed) > 0 && requests > devices as u64, "the devices really worked");
}
