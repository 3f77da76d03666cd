//! SIGKILL of the agent during sync. A child process (this test binary, re-run) opens the
//! agent store, sometimes captures an application with three real photos, then syncs with
//! the real centre (`SyncClient::run_once`, in a loop) — and is killed at a random instant,
//! again and again on the same data directory. The centre runs in the parent, so it survives
//! every kill. Kills land while pushing, uploading a photo (tus), pulling, capturing or
//! recording an answer.
//!
//! After the storm the parent syncs until nothing waits and checks that every application
//! the child was told was saved is at the centre exactly once (one revision, one "received"
//! change), that the centre has nothing else, that every photo is byte-identical on both
//! sides, and that the outbox is empty with nothing quarantined and the store sound.
//!
//! Kills: 30 by default; `DAIBAN_LONG=1` makes it 500 (each run of the child both captures
//! and syncs, so these are the long run's ≥ 500 kill points of capture + sync);
//! `DAIBAN_SYNC_KILLS=N` any number up to 999.

mod common;
mod support;

use daiban_agent_core::sync::{SyncClient, SyncConfig};
use daiban_agent_core::Store;
use daiban_proto::sync::ChangeBody;
use daiban_proto::{AppStatus, ApplicationId, PhotoHash};
use rand::{Rng, SeedableRng};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;
use support::*;

const CHILD_ENV: &str = "DAIBAN_SYNC_CRASH_CHILD";

fn config() -> SyncConfig {
    // small chunks: a photo takes several PATCHes, so kills land inside uploads too
    SyncConfig { chunk_size: 4 * 1024, ..test_config() }
}

fn say(line: &str) {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{line}").unwrap();
    o.flush().unwrap();
}

/// The child: capture (sometimes) and sync for ever, announcing each step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let run: u16 = std::env::var("DAIBAN_SYNC_CRASH_RUN").unwrap().parse().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(run));
    let store = Store::open(&dir).unwrap();
    let client = SyncClient::new(store.clone(), config()).unwrap();
    // the camera's shots are ready before the clock starts (new photos in every run)
    let factory = PhotoFactory::new(1, 480);
    let mut shots: Vec<Vec<u8>> = (0..3).map(|k| factory.photo(u32::from(run) * 10 + k)).collect();
    println!();
    say("ready");
    if rng.random_bool(0.7) {
        say("try capture");
        let app = capture(&store, run, "pension_certification", &mut || shots.pop().expect("three shots"));
        say(&format!("ok capture {app}"));
    }
    loop {
        say("sync start");
        let r = client.run_once().await;
        say(&format!("sync end {}", r.is_ok()));
    }
}

#[derive(Default)]
struct Storm {
    committed: HashSet<ApplicationId>,
    kills_in_sync: u32,
    kills_in_capture: u32,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_sync_loses_and_doubles_nothing() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let long = std::env::var("DAIBAN_LONG").is_ok_and(|v| v == "1");
    let kills: u16 = std::env::var("DAIBAN_SYNC_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(if long { 500 } else { 30 });
    assert!(kills < 1000, "residents are numbered by run (one ID number each)");
    let centre = TestCentre::start().await;
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        daiban_agent_core::sync::enrol(&store, &centre.url, &centre.demo_code(), "崩溃测试手机").await.unwrap();
    }
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x051C_C0DE);
    let mut storm = Storm::default();
    for run in 0..kills {
        let mut child = Command::new(&exe)
            .args(["--exact", "sync_crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("DAIBAN_SYNC_CRASH_RUN", run.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = Vec::new();
            for l in BufReader::new(stdout).lines() {
                let Ok(l) = l else { break };
                if l == "ready" {
                    let _ = ready_tx.send(());
                }
                lines.push(l);
            }
            lines
        });
        ready_rx.recv_timeout(Duration::from_secs(60)).expect("child ready");
        tokio::time::sleep(Duration::from_millis(rng.random_range(20..1500))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        for l in &lines {
            if let Some(id) = l.strip_prefix("ok capture ") {
                storm.committed.insert(id.parse().unwrap());
            }
        }
        match lines.iter().rev().find(|l| l.starts_with("sync") || l.ends_with("capture") || l.starts_with("ok capture")) {
            Some(l) if l == "sync start" => storm.kills_in_sync += 1,
            Some(l) if l == "try capture" => storm.kills_in_capture += 1,
            _ => {}
        }
        if run % 50 == 49 {
            eprintln!("{} agent kills so far", run + 1);
        }
    }

    // Converge: sync (no more kills) until nothing waits.
    let store = Store::open(dir.path()).expect("store opens after the last SIGKILL");
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
    let client = SyncClient::new(store.clone(), config()).unwrap();
    for attempt in 0.. {
        assert!(attempt < 20, "no convergence: {:?}", store.outbox_summary().unwrap());
        let r = client.run_once().await;
        if r.is_ok() && store.outbox_summary().unwrap().is_empty() {
            break;
        }
    }

    // The phone: everything it holds was submitted and received, nothing quarantined.
    let summary = store.outbox_summary().unwrap();
    assert!(summary.is_empty() && summary.quarantined == 0, "{summary:?}");
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
    // (a capture killed before its submit leaves a draft, which stays on the phone unsent)
    let local: Vec<_> = store.applications(&[], None, 10_000, 0).unwrap().into_iter().filter(|a| a.status != AppStatus::Draft).collect();
    let local_ids: HashSet<ApplicationId> = local.iter().map(|a| a.id).collect();
    assert!(storm.committed.is_subset(&local_ids), "a committed application is missing on the phone");
    for a in &local {
        assert_eq!(a.status, AppStatus::Received, "{}: received by the centre", a.id);
    }

    // The centre: exactly the phone's applications, once each, photos byte-identical.
    let at_centre = centre.application_ids().await;
    assert_eq!(at_centre.len(), local_ids.len(), "no application lost or doubled at the centre");
    assert_eq!(at_centre.iter().copied().collect::<HashSet<_>>(), local_ids);
    let mut received: HashMap<ApplicationId, u32> = HashMap::new();
    for c in centre.store.pull(centre.village, 0, 500).await.unwrap().changes {
        if let ChangeBody::Received { application_id, .. } = c.body {
            *received.entry(application_id).or_default() += 1;
        }
    }
    let mut photos: HashSet<PhotoHash> = HashSet::new();
    for id in &local_ids {
        assert_eq!(centre.store.revisions(centre.township, *id).await.unwrap().len(), 1, "{id}: one revision");
        assert_eq!(received.get(id), Some(&1), "{id}: one 'received' change");
        photos.extend(photos_of(&store, *id));
    }
    assert_eq!(assert_photos_identical(&centre, &store, photos.iter().copied()).await, photos.len());
    eprintln!(
        "agent SIGKILL during sync: {kills} kills ({} while syncing, {} while capturing); {} applications committed, {} on the phone, all at the centre once; {} photos byte-identical",
        storm.kills_in_sync,
        storm.kills_in_capture,
        storm.committed.len(),
        local_ids.len(),
        photos.len()
    );
    assert!(storm.kills_in_sync >= u32::from(kills) / 2, "most kills land during a sync");
    centre.stop().await;
}
