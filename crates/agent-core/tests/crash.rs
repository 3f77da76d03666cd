//! Crash safety: a child process captures applications (residents, drafts, form answers, real
//! photos, submissions) as fast as it can and is killed with SIGKILL at a random instant, again
//! and again on the same data directory. After every kill the store must open, pass its
//! integrity checks, and contain everything the child had been told was saved — exactly once,
//! never half-written.
//!
//! The child prints `try` before each call and `ok` after it returns; only `ok` lines count as
//! committed. An operation in flight at the kill may or may not have happened, but nothing
//! else is allowed. Runs: `DAIBAN_CRASH_RUNS` (default 200).

mod common;

use daiban_agent_core::store::Target;
use daiban_agent_core::Store;
use daiban_proto::sync::EventBody;
use daiban_proto::{AppStatus, ApplicationId, PhotoHash, ResidentId};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const CHILD_ENV: &str = "DAIBAN_CRASH_CHILD";

#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Line {
    /// Set-up done; the parent starts its kill timer now.
    Ready,
    Try {
        what: Op,
    },
    Ok {
        what: Op,
    },
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Op {
    AddResident { n: u16, id: Option<ResidentId> },
    CreateDraft { resident: ResidentId, app: Option<ApplicationId> },
    SaveNote { app: ApplicationId, note: String },
    AddPhoto { app: ApplicationId, material: String, hash: Option<PhotoHash> },
    Submit { app: ApplicationId, revision: Option<u32> },
}

/// The child: capture forever, announcing each step. Does nothing unless started by the parent.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let seed: u64 = std::env::var("DAIBAN_CRASH_SEED").unwrap().parse().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let photos: Vec<Vec<u8>> = (0..4).map(common::photo).collect();
    let store = Store::open(&dir).unwrap();
    let out = std::io::stdout();
    let say = |l: Line| {
        let mut o = out.lock();
        writeln!(o, "{}", serde_json::to_string(&l).unwrap()).unwrap();
        o.flush().unwrap();
    };
    let mut n: u16 = (seed % 900) as u16;
    // libtest has printed "test crash_child ... " without a newline: end that line first.
    println!();
    say(Line::Ready);
    loop {
        n = n.wrapping_add(1) % 999;
        say(Line::Try { what: Op::AddResident { n, id: None } });
        let r = match store.add_resident(&common::resident(n, 1930 + i32::from(n % 60))) {
            Ok(id) => id,
            Err(_) => continue, // the same number from an earlier run: pick another
        };
        say(Line::Ok { what: Op::AddResident { n, id: Some(r) } });
        say(Line::Try { what: Op::CreateDraft { resident: r, app: None } });
        let app = store.create_draft(r, &Target::Item("residence_certificate".into())).unwrap();
        say(Line::Ok { what: Op::CreateDraft { resident: r, app: Some(app) } });
        let d = store.application(app).unwrap();
        let answers: BTreeMap<String, String> =
            d.field_specs.iter().filter(|s| s.required).map(|s| (s.key.clone(), "外出务工需要".to_string())).collect();
        for _ in 0..rng.random_range(1..4) {
            let note = format!("备注{}", rng.random::<u32>());
            say(Line::Try { what: Op::SaveNote { app, note: note.clone() } });
            store.save_fields(app, &answers, Some(&note)).unwrap();
            say(Line::Ok { what: Op::SaveNote { app, note } });
        }
        for m in d.materials.iter().filter(|m| m.required) {
            for _ in 0..m.kind.photos.max(1) {
                let material = m.kind.code.clone();
                say(Line::Try { what: Op::AddPhoto { app, material: material.clone(), hash: None } });
                let p = store.add_photo(app, &material, &photos[rng.random_range(0..photos.len())]).unwrap();
                say(Line::Ok { what: Op::AddPhoto { app, material, hash: Some(p.hash) } });
            }
        }
        if rng.random_bool(0.8) {
            say(Line::Try { what: Op::Submit { app, revision: None } });
            let rev = store.submit(app).unwrap();
            say(Line::Ok { what: Op::Submit { app, revision: Some(rev) } });
        }
    }
}

/// What the parent knows was committed, plus the one operation that may have been in flight.
#[derive(Default)]
struct Ledger {
    residents: HashMap<ResidentId, u16>,
    apps: HashMap<ApplicationId, AppLedger>,
    commits: usize,
}

#[derive(Default)]
struct AppLedger {
    note: Option<String>,
    pending_note: Option<String>,
    photos: Vec<(String, PhotoHash)>,
    submitted: Option<u32>,
}

impl Ledger {
    fn absorb(&mut self, lines: &[Line]) {
        // A note in flight at a kill may or may not have been saved, and stays so for good:
        // the child never comes back to an earlier application, so only a later committed
        // note of the same application (in the same run) settles it.
        for l in lines {
            match l {
                Line::Ok { what } => {
                    self.commits += 1;
                    match what {
                        Op::AddResident { n, id: Some(id) } => {
                            self.residents.insert(*id, *n);
                        }
                        Op::CreateDraft { app: Some(app), .. } => {
                            self.apps.insert(*app, AppLedger::default());
                        }
                        Op::SaveNote { app, note } => {
                            let a = self.apps.get_mut(app).expect("draft known");
                            a.note = Some(note.clone());
                            a.pending_note = None;
                        }
                        Op::AddPhoto { app, material, hash: Some(h) } => {
                            self.apps.get_mut(app).expect("draft known").photos.push((material.clone(), *h));
                        }
                        Op::Submit { app, revision: Some(r) } => {
                            self.apps.get_mut(app).expect("draft known").submitted = Some(*r);
                        }
                        other => panic!("ok line without result: {other:?}"),
                    }
                }
                Line::Try { what: Op::SaveNote { app, note } } => {
                    if let Some(a) = self.apps.get_mut(app) {
                        a.pending_note = Some(note.clone());
                    }
                }
                Line::Try { .. } | Line::Ready => {}
            }
        }
    }

    /// Everything committed is there, once, and whole.
    fn verify(&self, dir: &Path) {
        let store = Store::open(dir).expect("store opens after SIGKILL");
        assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new(), "integrity after kill");
        for (id, n) in &self.residents {
            let r = store.resident(*id).unwrap_or_else(|e| panic!("committed resident {id} lost: {e}"));
            assert_eq!(r.name.as_str(), format!("王秀英{n}"));
        }
        let queued = store.due_events(chrono::Utc::now() + chrono::Duration::days(1), u32::MAX).unwrap();
        for (id, a) in &self.apps {
            let d = store.application(*id).unwrap_or_else(|e| panic!("committed application {id} lost: {e}"));
            if let Some(note) = &a.note {
                let stored = d.note.clone().unwrap_or_default();
                assert!(
                    stored == *note || a.pending_note.as_ref() == Some(&stored),
                    "note of {id}: stored {stored:?}, committed {note:?}, in flight {:?}",
                    a.pending_note
                );
            }
            for (material, h) in &a.photos {
                let m = d.materials.iter().find(|m| m.kind.code == *material).unwrap();
                assert!(m.photos.iter().any(|p| p.hash == *h), "committed photo {h:?} of {id} lost");
                let bytes = store.photos().read(h).unwrap_or_else(|e| panic!("photo file {h:?} unreadable: {e}"));
                assert_eq!(PhotoHash::of(&bytes), *h, "photo file is whole");
            }
            let events = queued
                .iter()
                .filter(|e| matches!(&e.event.body, EventBody::ApplicationSubmitted { application } if application.id == *id))
                .count();
            match a.submitted {
                Some(rev) => {
                    assert_eq!(d.status, AppStatus::Queued, "{id}");
                    assert_eq!(d.revision, rev);
                    assert_eq!(events, 1, "submitted once, queued exactly once: {id}");
                }
                None => assert!(events <= 1, "never queued twice: {id}"),
            }
        }
    }
}

#[test]
fn sigkill_while_capturing_loses_nothing_committed() {
    let runs: u32 = std::env::var("DAIBAN_CRASH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xDA1BA);
    let mut ledger = Ledger::default();
    let mut killed_mid_operation = 0;
    for run in 0..runs {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("DAIBAN_CRASH_SEED", (run as u64 * 7919).to_string())
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
                match serde_json::from_str::<Line>(&l) {
                    Ok(Line::Ready) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(parsed) => lines.push(parsed),
                    Err(_) => {} // a line cut by the kill
                }
            }
            lines
        });
        // Time the kill from the end of the child's set-up, so a loaded machine does not
        // turn every run into a kill during start-up.
        ready_rx.recv_timeout(Duration::from_secs(60)).expect("child ready");
        std::thread::sleep(Duration::from_millis(rng.random_range(5..500)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        if matches!(lines.last(), Some(Line::Try { .. })) {
            killed_mid_operation += 1;
        }
        ledger.absorb(&lines);
        ledger.verify(dir.path());
        if run % 50 == 49 {
            eprintln!("crash run {}: {} commits verified so far", run + 1, ledger.commits);
        }
    }
    eprintln!(
        "{runs} SIGKILLs, {killed_mid_operation} in the middle of an operation; {} committed operations, {} residents, {} applications all intact",
        ledger.commits,
        ledger.residents.len(),
        ledger.apps.len()
    );
    assert!(ledger.apps.len() as u32 >= runs / 4, "the child made progress between kills");
    assert!(killed_mid_operation >= runs / 2, "most kills land inside an operation");
}
