//! The sync engine against the real centre (daiban-centre on 127.0.0.1:0, SQLite in a temp
//! dir, photos on disk) with real photographs: enrolment and its errors, the whole story of an
//! application (capture → centre → returned for correction → revision 2 → approved → delivered
//! home → rated), idempotency under lost answers, photos the centre already has, a revoked
//! device, a photo upload cut mid-way and resumed, the Wi-Fi/data-budget rule, and the
//! background engine enrolling itself from a code file.
//!
//! The 1,000-application fault-injection test is in `sync_faults.rs`.

mod common;
mod support;

use daiban_agent_core::store::deliveries::ProofInput;
use daiban_agent_core::store::Target;
use daiban_agent_core::sync::{self, EngineOptions, RetryPolicy, SyncClient, SyncError, SyncSettings, SyncStatus};
use daiban_agent_core::Store;
use daiban_proto::status::{Decision, Stage};
use daiban_proto::sync::{EventResult, PushRequest, PushResponse, PROTOCOL_HEADER};
use daiban_proto::text::Remark;
use daiban_proto::{AppStatus, DeliveryMode, ItemStatus, PhotoHash, Rating};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::fault_proxy::{FaultKind, FaultProxy, ScriptedFault};
use support::*;
use tokio::sync::watch;

fn open_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn sync_client(store: &Store) -> SyncClient {
    SyncClient::new(store.clone(), test_config()).unwrap()
}

/// Real photographs, one after the other (different each time).
fn real_photos() -> impl FnMut() -> Vec<u8> {
    let mut n = 0;
    move || {
        n += 1;
        common::photo(n)
    }
}

async fn enrolled_store(centre_url: &str, code: &str) -> (tempfile::TempDir, Store) {
    let (dir, store) = open_store();
    sync::enrol(&store, centre_url, code, "王村代办员的手机").await.unwrap();
    (dir, store)
}

/// Engine options whose timers are an hour away: only `offline_probe` (or a trigger) moves it.
fn quiet_engine(config: sync::SyncConfig, offline_probe: RetryPolicy) -> EngineOptions {
    let hour = Duration::from_secs(3600);
    EngineOptions { config, busy_interval: hour, idle_interval: hour, offline_probe, ..EngineOptions::default() }
}

/// Wait (bounded) until the engine's status satisfies `want`.
async fn status_until(rx: &mut watch::Receiver<SyncStatus>, what: &str, want: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let wait = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            if want(&rx.borrow_and_update()) {
                return rx.borrow().clone();
            }
            rx.changed().await.expect("engine alive");
        }
    });
    wait.await.unwrap_or_else(|_| panic!("engine never reached: {what}; status {:?}", rx.borrow()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrolment_saves_the_token_and_explains_failures() {
    let centre = TestCentre::start().await;
    let (_d, store) = open_store();
    let code = centre.demo_code();
    let e = sync::enrol(&store, &format!("{}/", centre.url), &format!("  {}\n", code.to_lowercase()), "王村代办员的手机").await.unwrap();
    assert_eq!((e.village_name.zh.as_str(), e.township.zh.as_str()), ("王家村", "桃源镇"));
    assert_eq!(e.centre_url, centre.url, "trailing slash dropped");
    assert_eq!(store.enrolment().unwrap(), Some(e.clone()), "kept in the store");
    let auth = centre.store.authenticate_device(&e.token).await.unwrap();
    assert_eq!(auth.device_id.to_string(), e.device_id);

    // The same code again: it is spent.
    let (_d2, other) = open_store();
    let used = sync::enrol(&other, &centre.url, &code, "另一部手机").await.unwrap_err();
    assert!(matches!(used, SyncError::EnrolmentCode), "{used:?}");
    assert!(used.to_string().starts_with("注册码不对、已用过或已过期"), "{used}");
    let wrong = sync::enrol(&other, &centre.url, "AAAA-BBBB", "另一部手机").await.unwrap_err();
    assert!(matches!(wrong, SyncError::EnrolmentCode));
    // A field the centre refuses is named.
    let fresh = centre.new_code().await;
    match sync::enrol(&other, &centre.url, &fresh, "   ").await.unwrap_err() {
        SyncError::Refused { field, message, .. } => {
            assert_eq!(field.as_deref(), Some("device_name"));
            assert!(message.contains("设备名称"), "{message}");
        }
        e => panic!("{e:?}"),
    }
    // Nothing listens: unreachable, Chinese first. A bad address is caught before any request.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = sync::enrol(&other, &dead, &fresh, "另一部手机").await.unwrap_err();
    assert!(matches!(down, SyncError::Unreachable(_)) && down.to_string().starts_with("连不上便民服务中心"), "{down}");
    assert!(matches!(sync::enrol(&other, "centre.example", &fresh, "x").await, Err(SyncError::BadUrl(_))));
    assert_eq!(other.enrolment().unwrap(), None, "failed enrolments store nothing");
    // An app speaking another protocol version hears it must update.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/enrol", centre.url))
        .header(PROTOCOL_HEADER, "99")
        .json(&serde_json::json!({"code": fresh, "device_name": "x"}))
        .send()
        .await
        .unwrap();
    let body: daiban_proto::sync::ErrorBody = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    let e = SyncError::Incompatible(body.message);
    assert!(e.stops_sync() && e.to_string().starts_with("应用版本与便民服务中心不兼容"), "{e}");
    centre.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_travels_there_and_back_until_delivered_and_rated() {
    let centre = TestCentre::start().await;
    let (_d, store) = enrolled_store(&centre.url, &centre.demo_code()).await;
    let client = sync_client(&store);
    let status = client.status();
    let mut photo = real_photos();

    // Captured offline: a resident, an elderly card application with five real photos.
    let app = capture(&store, 1, "elderly_card", &mut photo);
    let rev1 = photos_of(&store, app);
    assert_eq!(rev1.len(), 5);
    let r = client.run_once().await.unwrap();
    assert_eq!((r.events_pushed, r.events_quarantined), (2, 0), "{r:?}");
    assert_eq!((r.photos_uploaded, r.photos_skipped, r.photos_failed), (5, 0, 0), "{r:?}");
    let photo_bytes: u64 = store.application(app).unwrap().materials.iter().flat_map(|m| &m.photos).map(|p| p.bytes).sum();
    assert_eq!(r.bytes_sent, photo_bytes, "each photo byte sent once");
    assert!(r.changes_applied >= 2, "catalogue and receipt: {r:?}");
    let s = status.borrow().clone();
    assert!(s.enrolled && s.online && !s.stopped && s.last_success.is_some() && s.last_error.is_none(), "{s:?}");
    assert!(s.data_version > 0 && !s.running());

    let at_centre = centre.store.application(centre.township, app).await.unwrap().expect("application at the centre");
    assert_eq!((at_centre.revision, at_centre.stage), (1, Stage::Received));
    assert_eq!(assert_photos_identical(&centre, &store, rev1.clone()).await, 5);
    assert_eq!(store.application(app).unwrap().status, AppStatus::Received);
    assert!(store.outbox_summary().unwrap().is_empty());

    // The reviewer returns it: the ID card is blurred.
    let reason = "身份证反面模糊,请重拍";
    let ret = Decision::Return { reason: Remark::parse(reason).unwrap(), materials: vec!["id_card".into()] };
    centre.store.decide(centre.reviewer, app, 1, ret).await.unwrap();
    let r = client.run_once().await.unwrap();
    assert_eq!((r.events_pushed, r.photos_uploaded, r.changes_applied), (0, 0, 1), "{r:?}");
    let d = store.application(app).unwrap();
    assert_eq!((d.status, d.return_reason.as_deref()), (AppStatus::Returned, Some(reason)));
    assert!(d.materials.iter().find(|m| m.kind.code == "id_card").unwrap().requested_again);

    // The agent re-takes the back of the ID card and resubmits: revision 2, one new photo.
    let blurred = d.materials.iter().find(|m| m.kind.code == "id_card").unwrap().photos[1].hash;
    store.remove_photo(app, "id_card", &blurred).unwrap();
    let retaken = store.add_photo(app, "id_card", &large_photo(0)).unwrap();
    assert_eq!(store.submit(app).unwrap(), 2);
    assert!(!rev1.contains(&retaken.hash));
    let r = client.run_once().await.unwrap();

    assert_eq!((r.events_pushed, r.photos_uploaded, r.photos_skipped), (1, 1, 0), "only the new photo travels: {r:?}");
    assert_eq!(r.bytes_sent, retaken.bytes);
    let revisions = centre.store.revisions(centre.township, app).await.unwrap();
    assert_eq!(revisions.iter().map(|r| r.record.revision).collect::<Vec<_>>(), [1, 2]);
    assert!(revisions[1].record.photos().any(|p| p.hash == retaken.hash));
    assert_photos_identical(&centre, &store, [retaken.hash]).await;

    // Accepted, approved, result ready for home delivery: a delivery task arrives.
    for d in [
        Decision::Accept,
        Decision::Approve { item: "elderly_card".into() },
        Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
    ] {
        centre.store.decide(centre.reviewer, app, 2, d).await.unwrap();
    }
    let r = client.run_once().await.unwrap();
    assert!(r.changes_applied >= 4, "{r:?}");
    assert_eq!(store.application(app).unwrap().status, AppStatus::ResultReady);
    let tasks = store.deliveries(true).unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!((tasks[0].application_id, tasks[0].mode), (app, DeliveryMode::Home));

    // Delivered at home with the resident's signature, and rated.
    let png = daiban_agent_core::signature::to_png(&[vec![(10.0, 10.0), (200.0, 80.0), (300.0, 20.0)]], 340, 180, 4.0).unwrap();
    store.confirm_delivery(tasks[0].id, "王秀英1", ProofInput::SignaturePng(&png)).unwrap();
    store.rate_delivery(tasks[0].id, Rating::VerySatisfied, "不用跑腿,很方便").unwrap();
    let r = client.run_once().await.unwrap();
    assert_eq!((r.events_pushed, r.photos_uploaded), (2, 1), "delivery + rating, and the signature image: {r:?}");
    let at_centre = centre.store.application(centre.township, app).await.unwrap().unwrap();
    assert_eq!(at_centre.items, vec![("elderly_card".to_string(), ItemStatus::Rated)]);
    let audit = centre.store.audit_log(centre.township, app).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    assert!(actions.contains(&"delivered") && actions.contains(&"rated"), "{actions:?}");
    // staff see who signed, the signature, and what the resident said
    let delivered = &audit.iter().find(|a| a.action == "delivered").unwrap().detail;
    assert_eq!(delivered["recipient"], "王秀英1");
    assert_eq!(delivered["proof"]["kind"], "signature");
    let rated = &audit.iter().find(|a| a.action == "rated").unwrap().detail;
    assert_eq!(rated["comment"], "不用跑腿,很方便");
    let signature = store.deliveries(false).unwrap();
    assert_eq!(signature[0].rating, Some(Rating::VerySatisfied));
    let all: Vec<PhotoHash> = store.application(app).unwrap().materials.iter().flat_map(|m| m.photos.iter().map(|p| p.hash)).collect();
    assert_photos_identical(&centre, &store, all).await;

    let summary = store.outbox_summary().unwrap();
    assert!(summary.is_empty() && summary.quarantined == 0, "{summary:?}");
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
    centre.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_and_replays_create_nothing_twice_and_known_photos_are_not_sent_again() {
    let centre = TestCentre::start().await;
    // Everything goes through a proxy that loses the answer to the first push: the centre has
    // applied the events, the phone never heard.
    let proxy = FaultProxy::start(centre.addr, None).await;
    proxy.script(ScriptedFault { marker: b"POST /api/v1/push", occurrence: 1, after: 0, kind: FaultKind::Cut });
    let (_d, store) = enrolled_store(&proxy.url(), &centre.demo_code()).await;
    let client = sync_client(&store);
    let photos: Vec<Vec<u8>> = (0..6).map(common::photo).collect();
    let mut next = photos.clone().into_iter();
    let apps: Vec<_> = (0..2).map(|i| capture(&store, 10 + i, "residence_certificate", &mut || next.next().unwrap())).collect();
    let events = store.due_events(chrono::Utc::now(), 100).unwrap();
    assert_eq!(events.len(), 4);

    let r = client.run_once().await.unwrap();
    assert_eq!(proxy.stats.cuts.load(Ordering::Relaxed), 1, "{}", proxy.stats.summary());
    assert!(r.retries >= 1, "the push was repeated: {r:?}");
    assert_eq!((r.events_pushed, r.events_quarantined, r.photos_uploaded), (4, 0, 4), "{r:?}");
    for app in &apps {
        assert_eq!(centre.store.revisions(centre.township, *app).await.unwrap().len(), 1, "one revision, not two");
    }
    let page = centre.store.inbox(centre.township, Default::default(), None, 100).await.unwrap();
    assert_eq!(page.rows.len(), 2);

    // The very same outbox pushed again (a phone restored from a backup): same answers, nothing new.
    let token = store.enrolment().unwrap().unwrap().token;
    let resp: PushResponse = reqwest::Client::new()
        .post(format!("{}/api/v1/push", centre.url))
        .header(PROTOCOL_HEADER, "1")
        .bearer_auth(&token)
        .json(&PushRequest { events: events.iter().map(|e| e.event.clone()).collect(), queue_len: 0 })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(resp.outcomes.iter().all(|o| o.result == EventResult::Applied), "{resp:?}");
    assert_eq!(centre.store.inbox(centre.township, Default::default(), None, 100).await.unwrap().rows.len(), 2);
    for app in &apps {
        assert_eq!(centre.store.revisions(centre.township, *app).await.unwrap().len(), 1);
    }

    // A second phone of the village captures with the same ID card photos (the same resident's
    // card, photographed into identical files): the centre has them, not a byte is re-sent.
    let (_d2, second) = enrolled_store(&proxy.url(), &centre.new_code().await).await;
    let mut again = photos.into_iter();
    let app = capture(&second, 12, "residence_certificate", &mut || again.next().unwrap());
    assert!(photos_of(&second, app).iter().all(|h| photos_of(&store, apps[0]).contains(h)), "same files, same hashes");
    let up_before = proxy.stats.bytes_up.load(Ordering::Relaxed);
    let r = sync_client(&second).run_once().await.unwrap();
    let up = proxy.stats.bytes_up.load(Ordering::Relaxed) - up_before;
    assert_eq!((r.photos_uploaded, r.photos_skipped, r.bytes_sent), (0, 2, 0), "{r:?}");
    let smallest = store.application(apps[0]).unwrap().materials.iter().flat_map(|m| &m.photos).map(|p| p.bytes).min().unwrap();
    assert!(up < smallest, "only text went up ({up} bytes through the proxy; a photo is {smallest})");
    assert!(second.outbox_summary().unwrap().is_empty());
    centre.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_stops_syncing_and_keeps_everything() {
    let centre = TestCentre::start().await;
    let (_d, store) = enrolled_store(&centre.url, &centre.demo_code()).await;
    let client = sync_client(&store);
    let mut photo = real_photos();
    let sent = capture(&store, 20, "residence_certificate", &mut photo);
    client.run_once().await.unwrap();
    let waiting = capture(&store, 21, "residence_certificate", &mut photo);
    let before = store.outbox_summary().unwrap();
    assert_eq!((before.pending_events, before.pending_photos), (2, 2));

    let device = store.enrolment().unwrap().unwrap().device_id.parse().unwrap();
    centre.store.revoke_device(centre.admin, device).await.unwrap();
    let err = client.run_once().await.unwrap_err();
    assert!(matches!(err, SyncError::Revoked), "{err:?}");
    let s = client.status().borrow().clone();
    assert!(s.stopped && s.online && !s.running(), "{s:?}");
    assert!(s.last_error.as_deref().unwrap().starts_with("本设备已被镇便民服务中心停用"), "{s:?}");

    // Nothing lost, nothing quarantined: the queue waits for a new enrolment.
    assert_eq!(store.outbox_summary().unwrap(), before);
    assert!(store.quarantined_events().unwrap().is_empty());
    assert_eq!(store.application(waiting).unwrap().status, AppStatus::Queued);
    assert_eq!(store.application(sent).unwrap().status, AppStatus::Received);
    assert!(store.enrolment().unwrap().is_some(), "the enrolment is kept (the agent decides)");
    assert!(photos_of(&store, waiting).iter().all(|h| store.photos().contains(h)));
    assert_eq!(centre.store.application(centre.township, waiting).await.unwrap(), None);

    // Enrolled again with a new code: the same queue goes through.
    sync::enrol(&store, &centre.url, &centre.new_code().await, "王村代办员的手机").await.unwrap();
    let r = client.run_once().await.unwrap();
    assert_eq!((r.events_pushed, r.photos_uploaded), (2, 2), "{r:?}");
    assert!(!client.status().borrow().stopped);
    assert!(centre.store.application(centre.township, waiting).await.unwrap().is_some());
    centre.stop().await;
}

/// Upload the same captured data through a faithful proxy and through one that cuts the 4th
/// PATCH 20 KiB in: the difference in bytes sent up is what the resume cost. The centre keeps
/// the 20 KiB that reached it, so only the rest of that chunk goes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_upload_resumes_from_the_last_byte_the_centre_got() {
    // Photos large enough that the 4th chunk is well inside the first photo.
    let chunk = test_config().chunk_size as u64;
    let big: Vec<Vec<u8>> = (0..2).map(large_photo).collect();
    let (dir0, store) = open_store();
    let mut it = big.into_iter();
    let app = capture(&store, 30, "residence_certificate", &mut || it.next().unwrap());
    let first = store.photos_to_upload(10).unwrap();
    assert!(first.is_empty(), "nothing acknowledged yet");
    let sizes: Vec<u64> = store.application(app).unwrap().materials.iter().flat_map(|m| &m.photos).map(|p| p.bytes).collect();
    assert!(sizes[0] > 5 * chunk, "the first photo spans more than 5 chunks: {sizes:?}");
    drop(store);

    let mut up = Vec::new();
    for cut in [false, true] {
        let copy = tempfile::tempdir().unwrap();
        copy_dir(dir0.path(), copy.path());
        let store = Store::open(copy.path()).unwrap();
        let centre = TestCentre::start().await;
        let proxy = FaultProxy::start(centre.addr, None).await;
        sync::enrol(&store, &proxy.url(), &centre.demo_code(), "王村代办员的手机").await.unwrap();
        if cut {
            proxy.script(ScriptedFault { marker: b"PATCH ", occurrence: 4, after: 20 * 1024, kind: FaultKind::Drop });
        }
        let start = proxy.stats.bytes_up.load(Ordering::Relaxed);
        let r = sync_client(&store).run_once().await.unwrap();
        up.push(proxy.stats.bytes_up.load(Ordering::Relaxed) - start);
        assert_eq!(r.photos_uploaded, 2, "{r:?}");
        assert_eq!(proxy.stats.drops.load(Ordering::Relaxed), u64::from(cut), "{}", proxy.stats.summary());
        let total: u64 = sizes.iter().sum();
        if cut {
            assert!(r.retries >= 1);
            // (the proxy counts the 20 KiB from the request line: its headers are part of them)
            let again = r.bytes_sent - total;
            assert!(
                again > 0 && again <= chunk - 20 * 1024 + 1024,
                "re-sent at most the part of the cut chunk that had not arrived: {again} bytes"
            );
        } else {
            assert_eq!(r.bytes_sent, total);
        }
        assert_photos_identical(&centre, &store, photos_of(&store, app)).await;
        centre.stop().await;
    }
    let resent = up[1] as i64 - up[0] as i64;
    println!("photos {sizes:?}, chunk {chunk}: a cut 20 KiB into the 4th PATCH cost {resent} more bytes up than an uncut upload");
    // what the proxy took of the cut chunk beyond 20 KiB and threw away, sent again, plus a
    // HEAD and a PATCH's headers; not the 20 KiB the centre kept
    assert!(resent > 0 && resent < 20 * 1024, "the 20 KiB that arrived are not sent again: {resent}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_wait_for_wifi_or_the_data_budget_text_does_not() {
    let centre = TestCentre::start().await;
    let (_d, store) = enrolled_store(&centre.url, &centre.demo_code()).await;
    let metered = Arc::new(AtomicBool::new(true));
    let m = metered.clone();
    let client = sync_client(&store).with_network(Arc::new(move || Some(m.load(Ordering::Relaxed))));
    let mut n = 0;
    let app = capture(&store, 40, "disability_subsidies", &mut || {
        n += 1;
        large_photo(n)
    });
    let total: u64 = store.application(app).unwrap().materials.iter().flat_map(|m| &m.photos).map(|p| p.bytes).sum();
    assert!(total > 1024 * 1024, "more photos than a 1 MB budget: {total}");
    store.set_sync_settings(&SyncSettings { photos_wifi_only: true, monthly_budget_mb: None }).unwrap();

    let r = client.run_once().await.unwrap();
    let distinct = photos_of(&store, app).into_iter().collect::<std::collections::HashSet<_>>().len() as u32;
    assert_eq!((r.events_pushed, r.photos_uploaded, r.photos_held), (2, 0, distinct), "text goes on mobile data: {r:?}");
    assert!(client.status().borrow().photos_held);
    assert!(centre.store.application(centre.township, app).await.unwrap().is_some());

    // Mobile data with a 1 MB monthly budget: photos go until the budget is spent.
    store.set_sync_settings(&SyncSettings { photos_wifi_only: false, monthly_budget_mb: Some(1) }).unwrap();
    let r = client.run_once().await.unwrap();
    let month = chrono::Local::now().format("%Y-%m").to_string();
    let spent = store.metered_photo_bytes(&month).unwrap();
    assert!(r.photos_uploaded >= 1 && r.photos_held >= 1, "{r:?}");
    assert_eq!(spent, r.bytes_sent);
    assert!(spent <= 1024 * 1024, "{spent}");

    // Wi-Fi: the rest goes, and is not counted against the budget.
    metered.store(false, Ordering::Relaxed);
    let r2 = client.run_once().await.unwrap();
    assert_eq!(r.photos_uploaded + r2.photos_uploaded, distinct, "{r2:?}");
    assert_eq!(store.metered_photo_bytes(&month).unwrap(), spent);
    assert!(!client.status().borrow().photos_held);
    assert_photos_identical(&centre, &store, photos_of(&store, app)).await;
    centre.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_enrols_itself_syncs_in_the_background_and_stops_when_revoked() {
    let centre = TestCentre::start().await;
    let (_d, store) = open_store();
    let app = capture(&store, 50, "residence_certificate", &mut real_photos());
    let options = EngineOptions { config: test_config(), ..EngineOptions::default() };
    let handle = sync::start_with(store.clone(), Some(centre.url.clone()), Some(centre.code_file.clone()), options);
    let mut rx = handle.status();
    let s = status_until(&mut rx, "enrolled and synced", |s| s.enrolled && s.last_success.is_some()).await;
    assert!(s.online && s.data_version > 0 && s.last_error.is_none(), "{s:?}");
    assert_eq!(store.enrolment().unwrap().unwrap().village_name.zh, "王家村");
    assert_eq!(store.application(app).unwrap().status, AppStatus::Received);
    assert!(store.outbox_summary().unwrap().is_empty());

    // Captured later, sent at once when the agent taps "sync now".
    let later = capture(&store, 51, "residence_certificate", &mut real_photos());
    let seen = s.data_version;
    handle.trigger();
    status_until(&mut rx, "second run", |s| s.data_version > seen && !s.running() && store.outbox_summary().unwrap().is_empty()).await;
    assert!(centre.store.application(centre.township, later).await.unwrap().is_some());

    // Revoked: the next run stops with a clear message; the data stays.
    let device = store.enrolment().unwrap().unwrap().device_id.parse().unwrap();
    centre.store.revoke_device(centre.admin, device).await.unwrap();
    let waiting = store
        .create_draft(store.add_resident(&common::resident(52, 1950)).unwrap(), &Target::Item("residence_certificate".into()))
        .unwrap();
    handle.trigger();
    let s = status_until(&mut rx, "stopped", |s| s.stopped).await;
    assert!(s.last_error.unwrap().contains("停用"));
    assert_eq!(store.application(waiting).unwrap().status, AppStatus::Draft);
    drop(handle);
    drop(rx);
    centre.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_probes_while_offline_and_syncs_when_the_network_returns() {
    let centre = TestCentre::start().await;
    let proxy = FaultProxy::start(centre.addr, None).await;
    let (_d, store) = enrolled_store(&proxy.url(), &centre.demo_code()).await;
    let app = capture(&store, 60, "residence_certificate", &mut real_photos());
    proxy.set_down(true);
    // Timers far away: only the probe can bring the engine back.
    let options = quiet_engine(
        test_config(),
        RetryPolicy { attempts: 0, min_delay: Duration::from_millis(50), max_delay: Duration::from_millis(200) },
    );
    let handle = sync::start_with(store.clone(), None, None, options);
    let mut rx = handle.status();
    let s = status_until(&mut rx, "offline", |s| s.last_error.is_some() && !s.running()).await;
    assert!(!s.online && !s.stopped, "{s:?}");
    let why = s.last_error.as_deref().unwrap();
    assert!(why.starts_with("网络中断") || why.starts_with("连不上便民服务中心"), "{s:?}");
    assert_eq!(store.application(app).unwrap().status, AppStatus::Queued, "waits on the phone");

    proxy.set_down(false);
    let s = status_until(&mut rx, "back online and synced", |s| s.last_success.is_some() && !s.running()).await;
    assert!(s.online && s.last_error.is_none(), "{s:?}");
    assert_eq!(store.application(app).unwrap().status, AppStatus::Received);
    assert!(store.outbox_summary().unwrap().is_empty());
    centre.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_network_coming_back_ends_a_back_off_at_once() {
    let centre = TestCentre::start().await;
    let proxy = FaultProxy::start(centre.addr, None).await;
    let (_d, store) = enrolled_store(&proxy.url(), &centre.demo_code()).await;
    let app = capture(&store, 70, "residence_certificate", &mut real_photos());
    proxy.set_down(true);
    // A failed request waits at least 10 minutes before its retry, and the engine's own
    // timers are an hour away: only the wake-up can bring the run back within the bound.
    let long = Duration::from_secs(600);
    let config = sync::SyncConfig { retry: RetryPolicy { attempts: 3, min_delay: long, max_delay: long }, ..test_config() };
    let options =
        quiet_engine(config, RetryPolicy { attempts: 0, min_delay: Duration::from_secs(3600), max_delay: Duration::from_secs(3600) });
    let handle = sync::start_with(store.clone(), None, None, options);
    let mut rx = handle.status();
    status_until(&mut rx, "pushing", |s| s.running()).await;
    // the push is refused and the run sleeps in its back-off
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.application(app).unwrap().status, AppStatus::Queued);
    assert!(rx.borrow().last_success.is_none());

    proxy.set_down(false);
    handle.trigger(); // the connectivity callback
    let synced = tokio::time::timeout(
        Duration::from_secs(60),
        status_until(&mut rx, "synced after the wake-up", |s| s.last_success.is_some() && !s.running()),
    )
    .await;
    let s = synced.unwrap_or_else(|_| panic!("still in its back-off: {:?}", rx.borrow()));
    assert!(s.online && s.last_error.is_none(), "{s:?}");
    assert_eq!(store.application(app).unwrap().status, AppStatus::Received);
    assert!(store.outbox_summary().unwrap().is_empty());
    assert!(centre.store.application(centre.township, app).await.unwrap().is_some());
    drop(handle);
    drop(rx);
    centre.stop().await;
}

/// A centre behind a proxy that cuts the answer to the first enrolment after its first bytes
/// (the centre has enrolled the phone; the phone does not learn it).
async fn centre_losing_the_first_enrolment_answer() -> (TestCentre, FaultProxy) {
    let centre = TestCentre::start().await;
    let proxy = FaultProxy::start(centre.addr, None).await;
    proxy.script(ScriptedFault { marker: b"POST /api/v1/enrol", occurrence: 1, after: 20, kind: FaultKind::Cut });
    (centre, proxy)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_answer_lost_on_the_way_is_asked_for_again_with_the_same_code() {
    let (centre, proxy) = centre_losing_the_first_enrolment_answer().await;
    let (_d, store) = open_store();
    let e = sync::enrol(&store, &proxy.url(), &centre.demo_code(), "王村代办员的手机").await.unwrap();
    assert_eq!(proxy.stats.cuts.load(Ordering::Relaxed), 1, "the first answer was cut: the enrolment above is the second ask");
    let auth = centre.store.authenticate_device(&e.token).await.unwrap();
    assert_eq!(auth.device_id.to_string(), e.device_id);
    assert_eq!(centre.store.devices(centre.township).await.unwrap().len(), 1, "enrolled once, not twice");
    assert_eq!(store.enrolment().unwrap(), Some(e));
    centre.stop().await;
}

/// The app is killed (here: the enrolment abandoned) after the centre enrolled the phone but
/// before its answer arrived. Trying the same code again sends the key saved with the first
/// try and gets the same enrolment, instead of finding the code spent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_abandoned_before_its_answer_is_finished_by_the_same_code() {
    let (centre, proxy) = centre_losing_the_first_enrolment_answer().await;
    let (_d, store) = open_store();
    let code = centre.demo_code();
    let first = tokio::spawn({
        let (store, url, code) = (store.clone(), proxy.url(), code.clone());
        async move { sync::enrol(&store, &url, &code, "王村代办员的手机").await }
    });
    // the centre has enrolled the device; the phone is waiting to ask again: kill it
    let waited = std::time::Instant::now();
    while centre.store.devices(centre.township).await.unwrap().is_empty() {
        assert!(waited.elapsed() < Duration::from_secs(10), "the centre never got the enrolment");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled(), "abandoned before the answer came");
    assert_eq!(store.enrolment().unwrap(), None);

    // typed again, differently: lower case, a space for the hyphen
    let retyped = format!(" {} ", code.to_lowercase().replace('-', " "));
    let e = sync::enrol(&store, &proxy.url(), &retyped, "王村代办员的手机").await.unwrap();
    let devices = centre.store.devices(centre.township).await.unwrap();
    assert_eq!(devices.len(), 1, "the same device, not a second one");
    assert_eq!(devices[0].id.to_string(), e.device_id);
    assert_eq!(centre.store.authenticate_device(&e.token).await.unwrap().device_id.to_string(), e.device_id);
    assert_eq!(store.meta("enrol.pending").unwrap(), None, "the saved key is dropped once enrolled");
    centre.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_centre_with_its_own_certificate_is_trusted_by_the_pin_in_its_link_and_only_then() {
    let (centre, der) = TestCentre::start_tls().await;
    let pin = sync::CertPin::of(&der).to_string();
    let (_d, store) = open_store();
    // No public CA vouches for it: refused at once (not retried), clearly, nothing saved.
    let e = sync::enrol(&store, &centre.url, &centre.demo_code(), "王村代办员的手机").await.unwrap_err();
    assert!(matches!(e, SyncError::UntrustedCertificate(_)) && e.stops_sync(), "{e:?}");
    assert!(e.to_string().starts_with("便民服务中心的证书不受信任"), "{e}");
    let wrong = sync::CertPin::of(b"another certificate").to_string();
    let e = sync::enrol_pinned(&store, &centre.url, &centre.demo_code(), "王村代办员的手机", Some(&wrong)).await.unwrap_err();
    assert!(matches!(e, SyncError::UntrustedCertificate(_)), "another pin: {e:?}");
    assert!(sync::enrol_pinned(&store, &centre.url, &centre.demo_code(), "x", Some("sha256:12")).await.is_err(), "a malformed pin");
    assert_eq!(store.enrolment().unwrap(), None);

    // The pin from the link: enrolled, the pin kept, and every later request trusts it.
    let e = sync::enrol_pinned(&store, &centre.url, &centre.demo_code(), "王村代办员的手机", Some(&pin)).await.unwrap();
    assert_eq!(e.cert_pin.map(|p| p.to_string()), Some(pin.clone()));
    assert_eq!(store.enrolment().unwrap().unwrap().cert_pin, e.cert_pin, "kept with the enrolment");
    let app = capture(&store, 80, "residence_certificate", &mut real_photos());
    let report = sync_client(&store).run_once().await.unwrap();
    assert!(report.photos_uploaded > 0, "{report:?}");
    assert_eq!(store.application(app).unwrap().status, AppStatus::Received);
    assert_photos_identical(&centre, &store, photos_of(&store, app)).await;
    centre.stop().await;
}

/// With nothing to send, the engine still asks the centre for news every
/// [`sync::engine::IDLE_INTERVAL`], so a return for correction reaches a phone that is open and
/// online within a minute without a tap; and an idle ask is small (bytes measured through the
/// proxy, reported as bytes per hour at the default interval).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_reaches_an_idle_online_phone_within_a_minute_and_idle_polls_are_small() {
    let centre = TestCentre::start().await;
    let proxy = FaultProxy::start(centre.addr, None).await;
    let (_d, store) = enrolled_store(&proxy.url(), &centre.demo_code()).await;
    let app = capture(&store, 1, "elderly_card", &mut real_photos());
    let client = sync_client(&store);
    client.run_once().await.unwrap();
    assert_eq!(store.application(app).unwrap().status, AppStatus::Received);

    // An idle run, as the engine makes it every interval: bytes both ways.
    let counted = |p: &FaultProxy| p.stats.bytes_up.load(Ordering::Relaxed) + p.stats.bytes_down.load(Ordering::Relaxed);
    let before = counted(&proxy);
    const RUNS: u64 = 10;
    for _ in 0..RUNS {
        let r = client.run_once().await.unwrap();
        assert_eq!((r.events_pushed, r.photos_uploaded, r.changes_applied), (0, 0, 0), "{r:?}");
    }
    let per_run = (counted(&proxy) - before) / RUNS;
    let per_hour = per_run * 3600 / sync::engine::IDLE_INTERVAL.as_secs();
    eprintln!("idle poll: {per_run} B per run, {per_hour} B per hour at {:?}", sync::engine::IDLE_INTERVAL);
    assert!(per_run < 1024, "an idle ask stays under 1 KB both ways: {per_run} B");
    drop(client);

    // The engine with its default timers; the reviewer returns the application after its
    // first run, and the phone shows it within a minute.
    let defaults = EngineOptions::default();
    assert!(defaults.idle_interval <= Duration::from_secs(45));
    let handle = sync::start_with(store.clone(), None, None, EngineOptions { config: test_config(), ..defaults });
    let mut rx = handle.status();
    status_until(&mut rx, "first run", |s| s.last_success.is_some() && !s.running()).await;
    let reason = Remark::parse("户口簿本人页缺失,请补拍").unwrap();
    centre.store.decide(centre.reviewer, app, 1, Decision::Return { reason, materials: vec!["household_register".into()] }).await.unwrap();
    let decided = std::time::Instant::now();
    while store.application(app).unwrap().status != AppStatus::Returned {
        assert!(decided.elapsed() < Duration::from_secs(60), "the return did not reach the phone within a minute");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("return reached the idle phone after {:.1} s", decided.elapsed().as_secs_f64());
    drop(handle);
    centre.stop().await;
}
