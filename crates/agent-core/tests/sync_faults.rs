//! The sync engine through a hostile network: 1,000 applications with 3 distinct real photos
//! each, captured through the agent store, synced to the real centre through a proxy that
//! drops, resets (RST), stalls and truncates connections and answers some requests with 503
//! itself. Repeated `run_once` calls (as the engine would make) must end with every
//! application at the centre exactly once, every photo byte-identical, the outbox empty and
//! nothing quarantined. The figures (faults, runs, bytes re-sent, time) are printed; see
//! docs/sync.md for measured values.
//!
//! `DAIBAN_FAULT_SEED` replays a given fault sequence (the seed is printed).

mod common;
mod support;

use daiban_agent_core::sync::{RetryPolicy, SyncClient, SyncConfig};
use daiban_agent_core::Store;
use daiban_proto::{AppStatus, ApplicationId, PhotoHash};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fault_proxy::{FaultProxy, RandomFaults};
use support::*;

const APPLICATIONS: u16 = 1000;
const PHOTOS_EACH: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_applications_with_three_photos_each_survive_a_faulty_network() {
    let seed: u64 = std::env::var("DAIBAN_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261123);
    let centre = TestCentre::start().await;
    // Every connection fails sooner or later: on average after 256 KiB (a push, a few photos),
    // a fifth of them at once with a 503.
    let faults = RandomFaults { seed, rate: 1.0, max_offset: 512 * 1024, stall: Duration::from_millis(600) };
    let proxy = FaultProxy::start(centre.addr, Some(faults)).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Enrolment is a one-time exchange (a lost answer spends the code); it is not what is
    // under test here, so it goes through while the proxy behaves.
    proxy.set_enabled(false);
    daiban_agent_core::sync::enrol(&store, &proxy.url(), &centre.demo_code(), "压力测试手机").await.unwrap();
    proxy.set_enabled(true);

    // Capture: 1,000 residents and applications (pension certification: ID card front and
    // back, and a photo taken at the resident's home), 3,000 distinct photos. Two threads, as
    // photo processing runs outside the store's lock.
    let started = Instant::now();
    let factory = Arc::new(PhotoFactory::new(4, 480));
    let halves = [0..APPLICATIONS / 2, APPLICATIONS / 2..APPLICATIONS].map(|range| {
        let (s, factory) = (store.clone(), factory.clone());
        tokio::task::spawn_blocking(move || {
            range
                .map(|i| {
                    let mut k = u32::from(i) * PHOTOS_EACH as u32;
                    capture(&s, i, "pension_certification", &mut || {
                        k += 1;
                        factory.photo(k)
                    })
                })
                .collect::<Vec<_>>()
        })
    });
    let mut apps: Vec<ApplicationId> = Vec::new();
    for half in halves {
        apps.extend(half.await.unwrap());
    }
    let capture_time = started.elapsed();
    println!("captured {APPLICATIONS} applications in {:.1} s", capture_time.as_secs_f64());
    let hashes: HashSet<PhotoHash> = apps.iter().flat_map(|a| photos_of(&store, *a)).collect();
    assert_eq!(hashes.len(), APPLICATIONS as usize * PHOTOS_EACH, "every photo is distinct");
    let photo_bytes: u64 = apps.iter().flat_map(|a| store.application(*a).unwrap().materials).flat_map(|m| m.photos).map(|p| p.bytes).sum();

    // Sync through the faulty proxy until nothing waits.
    // Small chunks (several per photo) and only two retries per request, so that runs also
    // end by faults and the next run resumes what the last one left (upload URLs, queue).
    let config = SyncConfig { chunk_size: 16 * 1024, retry: RetryPolicy { attempts: 2, ..test_config().retry }, ..test_config() };
    let client = SyncClient::new(store.clone(), config).unwrap();
    let started = Instant::now();
    let (mut runs, mut failed_runs) = (0u32, 0u32);
    loop {
        runs += 1;
        assert!(runs <= 3000, "not done after {runs} runs: {:?}; {}", store.outbox_summary().unwrap(), proxy.stats.summary());
        match client.run_once().await {
            Ok(_) if store.outbox_summary().unwrap().is_empty() => break,
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_transient(), "only transient failures are expected, got: {e}");
                failed_runs += 1;
            }
        }
    }
    let sync_time = started.elapsed();
    println!("synced in {:.1} s, {runs} runs: {}", sync_time.as_secs_f64(), proxy.stats.summary());
    // One quiet run to collect the last receipts.
    proxy.set_enabled(false);
    client.run_once().await.unwrap();
    let total = client.totals();
    let stats = &proxy.stats;

    // Every application at the centre exactly once, one revision each.
    let at_centre = centre.application_ids().await;
    assert_eq!(at_centre.len(), apps.len(), "no application missing or doubled");
    assert_eq!(at_centre.iter().copied().collect::<HashSet<_>>(), apps.iter().copied().collect::<HashSet<_>>());
    for app in &apps {
        assert_eq!(centre.store.revisions(centre.township, *app).await.unwrap().len(), 1, "{app}: one revision");
        assert_eq!(store.application(*app).unwrap().status, AppStatus::Received, "{app}: the receipt came back");
    }
    // Every photo byte-identical.
    assert_eq!(assert_photos_identical(&centre, &store, hashes.iter().copied()).await, hashes.len());
    // Nothing waits, nothing was refused, the store is sound.
    let summary = store.outbox_summary().unwrap();
    assert!(summary.is_empty() && summary.quarantined == 0, "{summary:?}");
    assert!(store.quarantined_events().unwrap().is_empty());
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
    assert_eq!(total.events_quarantined, 0);
    assert_eq!(total.events_pushed, 2 * u32::from(APPLICATIONS));
    // A photo whose last chunk landed just as a run failed is found at the centre by the next
    // run ("already there"), so the two may add up to a little more than the photos.
    assert!(
        total.photos_uploaded <= hashes.len() as u32 && total.photos_uploaded + total.photos_skipped >= hashes.len() as u32,
        "{total:?}"
    );
    assert!(stats.faults() >= 100, "the network really was hostile: {}", stats.summary());

    let resent = total.bytes_sent.saturating_sub(photo_bytes);
    println!("fault test (seed {seed}): {} applications, {} photos, {} photo bytes", apps.len(), hashes.len(), photo_bytes);
    println!(
        "  capture {:.1} s, sync {:.1} s in {runs} runs ({failed_runs} ended by a fault)",
        capture_time.as_secs_f64(),
        sync_time.as_secs_f64()
    );
    println!("  proxy: {}", stats.summary());
    println!(
        "  client: {} retries; photos uploaded {}, already there {}; photo bytes sent {} (re-sent {} = {:.2}% of {})",
        total.retries,
        total.photos_uploaded,
        total.photos_skipped,
        total.bytes_sent,
        resent,
        resent as f64 * 100.0 / photo_bytes as f64,
        photo_bytes
    );
    println!(
        "  stall/503/cut/drop/reset: {}/{}/{}/{}/{}",
        stats.stalls.load(Ordering::Relaxed),
        stats.unavailable.load(Ordering::Relaxed),
        stats.cuts.load(Ordering::Relaxed),
        stats.drops.load(Ordering::Relaxed),
        stats.resets.load(Ordering::Relaxed)
    );
    centre.stop().await;
}
