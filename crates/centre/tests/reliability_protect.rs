//! Data protection on the centre:
//!
//! - **TLS**: the real binary with `--tls-cert/--tls-key` (a certificate made in the test with
//!   rcgen) serves the whole sync exchange over HTTPS to a rustls reqwest client that trusts
//!   it, refuses plain HTTP and clients that do not trust it, and marks staff cookies Secure.
//! - **ID numbers masked in logs**: the real binary logging at TRACE for every module while
//!   devices push residents, send ID numbers the wrong way (as a JSON number, with a wrong
//!   check digit, in a URL), upload photos and pull, and staff open the application and reveal
//!   the number: the full number appears nowhere in the log.
//! - **Retention**: with a clock moved forward, photos of closed cases (rejected, delivered,
//!   rated) are purged once their retention period is over — bytes and record — while photos
//!   of open cases (and a closed case's photo reused by an open one) stay, applications,
//!   revisions and decisions stay, each purge is audited, a second run finds nothing, and a
//!   later application that reuses a purged photo uploads it again.

mod reliability_support;

use chrono::{Duration, Utc};
use daiban_centre::api::{self, ApiConfig, AppState};
use daiban_centre::blobs::{FsPhotoBlobs, PhotoBlobs};
use daiban_centre::retention;
use daiban_proto::record::{DeliveryRecord, Proof, RatingRecord};
use daiban_proto::status::{AppStatus, Decision, DeliveryMode};
use daiban_proto::sync::{ChangeBody, EventBody, EventResult, PROTOCOL_HEADER};
use daiban_proto::text::{PersonName, Remark};
use daiban_proto::{PhotoHash, Rating};
use reliability_support::store::*;
use reliability_support::*;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_centre_speaks_https_with_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let codes = seed_world(dir.path(), 1).await;
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &key_pem).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let centre = CentreProcess::start(dir.path(), &["--tls-cert", cert_path.to_str().unwrap(), "--tls-key", key_path.to_str().unwrap()]);
    let base = format!("https://{}", centre.addr);

    let trusting =
        reqwest::Client::builder().add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap()).build().unwrap();
    let enrolled = enrol(&trusting, &base, &codes[0]).await.unwrap();
    let dev = SimDevice::new(&base, enrolled.token, trusting.clone(), Arc::default());
    let photo = variant(&base_jpeg(), 1);
    let r = resident_n(1);
    let a = application_with(&r, std::slice::from_ref(&photo));
    let out = dev.push(&[upsert(&r), submit(&a)]).await.unwrap();
    assert!(out.iter().all(|o| o.result == EventResult::Applied));
    assert!(dev.upload(&photo, 8 * 1024, &mut UploadState::default()).await.unwrap(), "photo sent over TLS");
    assert!(dev.missing(vec![PhotoHash::of(&photo)]).await.unwrap().is_empty());
    let page = dev.pull(0).await.unwrap();
    assert!(page.changes.iter().any(|c| matches!(c.body, ChangeBody::Received { application_id, .. } if application_id == a.id)));

    // plain HTTP on the TLS port gets nowhere; a client that does not trust the certificate
    // (the phone with the public roots only) refuses to talk
    let plain = reqwest::Client::new().get(format!("http://{}/api/openapi.json", centre.addr)).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success(), "plain HTTP must not be served");
    let untrusting = reqwest::Client::new().get(format!("{base}/api/openapi.json")).header(PROTOCOL_HEADER, "1").send().await;
    let e = untrusting.expect_err("an unknown certificate is refused");
    assert!(format!("{e:?}").to_lowercase().contains("certificate"), "{e:?}");

    // staff cookies are Secure under TLS
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = http.get(format!("{base}/staff/login")).send().await.unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("Secure") && cookie.contains("HttpOnly"), "{cookie}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_id_numbers_never_reach_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let codes = seed_world(dir.path(), 1).await;
    let centre = CentreProcess::start_logging(dir.path(), &[], "trace");
    let base = centre.url();
    let http = http_client();
    let dev = SimDevice::new(&base, enrol(&http, &base, &codes[0]).await.unwrap().token, http.clone(), Arc::default());
    let residents: Vec<_> = (1..=5).map(resident_n).collect();
    let ids: Vec<String> = residents.iter().map(|r| r.id_number.expose().to_string()).collect();
    let photo = variant(&base_jpeg(), 5);
    let apps: Vec<_> = residents.iter().map(|r| application_with(r, std::slice::from_ref(&photo))).collect();
    let mut events = Vec::new();
    for (r, a) in residents.iter().zip(&apps) {
        events.push(upsert(r));
        events.push(submit(a));
    }
    assert!(dev.push(&events).await.unwrap().iter().all(|o| o.result == EventResult::Applied));
    dev.upload(&photo, 16 * 1024, &mut UploadState::default()).await.unwrap();
    dev.pull(0).await.unwrap();

    // the wrong ways to send an ID number (each refused, none of them logged in full)
    let mut wrong = serde_json::to_value(daiban_proto::sync::PushRequest { events: vec![upsert(&residents[0])], queue_len: 0 }).unwrap();
    let numeric = ids.iter().find(|i| !i.ends_with('X')).expect("an ID number of digits only");
    wrong["events"][0]["resident"]["id_number"] = serde_json::json!(numeric.parse::<u64>().unwrap());
    let send = |body: serde_json::Value| {
        http.post(format!("{base}/api/v1/push")).header(PROTOCOL_HEADER, "1").bearer_auth(&dev.token).json(&body).send()
    };
    let number_resp = send(wrong.clone()).await.unwrap();
    assert_eq!(number_resp.status(), 400);
    let answer = number_resp.text().await.unwrap();
    assert!(!answer.contains(numeric.as_str()), "not echoed to the client either: {answer}");
    let mut bad_check = ids[2].clone();
    bad_check.replace_range(17.., if bad_check.ends_with('0') { "1" } else { "0" });
    wrong["events"][0]["resident"]["id_number"] = bad_check.clone().into();
    assert_eq!(send(wrong.clone()).await.unwrap().status(), 400);
    for path in [format!("/api/v1/residents/{}", ids[3]), format!("/api/v1/changes?after=0&q={}", ids[3])] {
        let resp = http.get(format!("{base}{path}")).header(PROTOCOL_HEADER, "1").bearer_auth(&dev.token).send().await.unwrap();
        assert!(resp.status().as_u16() < 500);
    }

    // staff open the application (masked) and reveal the number (audited, shown once)
    let mut staff = reliability_support::web::StaffClient::signed_in(&base, "admin").await;
    let page = staff.get(&format!("/staff/applications/{}", apps[4].id)).await;
    assert_eq!(page.status, 200);
    assert!(!page.text().contains(&ids[4]), "masked on the page");
    let csrf = page.csrf();
    let revealed = staff.post(&format!("/staff/applications/{}/reveal", apps[4].id), &[("csrf", &csrf)]).await;
    assert!(revealed.text().contains(&ids[4]), "the reveal shows it to the staff member");
    staff.get(&format!("/staff/inbox?village={}", ids[0])).await;

    // then the log, at TRACE for every module
    let log = std::fs::read_to_string(centre.log_path()).unwrap();
    assert!(
        log.lines().count() > 20 && log.contains("TRACE") && log.contains("request refused") && log.contains("answered status="),
        "the log really was at TRACE: {} lines:\n{log}",
        log.lines().count()
    );
    assert!(log.contains("3706"), "masked forms do appear (so the check would see them)");
    for id in ids.iter().chain([&bad_check]) {
        assert!(!log.contains(id.as_str()), "full ID number {}… in the log", &id[..6]);
        assert!(!log.contains(&id[..15]), "the first 15 digits of an ID number in the log");
    }
    eprintln!("log check: {} lines at TRACE, {} bytes, no full ID number among {} sent", log.lines().count(), log.len(), ids.len() + 1);
}

/// A centre in process (the retention purge runs against its [`AppState`]).
struct Local {
    state: AppState,
    base: String,
    world: World,
    blobs: FsPhotoBlobs,
    _dir: tempfile::TempDir,
    _store: TestStore,
}

async fn local() -> Local {
    let store = sqlite_store().await;
    let world = world(store.store.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let blobs = FsPhotoBlobs::new(dir.path().join("photos")).unwrap();
    let state = AppState::new(world.store.clone(), Arc::new(blobs.clone()), ApiConfig::new(dir.path().join("uploads"))).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::serve(listener, state.clone(), std::future::pending()));
    Local { state, base, world, blobs, _dir: dir, _store: store }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_of_closed_cases_are_purged_after_the_retention_period() {
    let c = local().await;
    let (w, s) = (&c.world, c.world.store.clone());
    let (device, token) = w.device(w.village_a).await;
    let dev = SimDevice::new(&c.base, token, http_client(), Arc::default());
    let base = base_jpeg();
    let p: Vec<Vec<u8>> = (0..6).map(|i| variant(&base, 100 + i)).collect();
    let h: Vec<PhotoHash> = p.iter().map(|b| PhotoHash::of(b)).collect();
    // X: rejected (p0, p1); Y: delivered home and rated (p2; handover proof p3); Z: still in
    // review (p4, and p0 reused from X)
    let (rx, ry, rz) = (resident_n(1), resident_n(2), resident_n(3));
    let x = application_with(&rx, &p[0..2]);
    let y = application_with(&ry, &p[2..3]);
    let z = application_with(&rz, &[p[4].clone(), p[0].clone()]);
    let out = dev.push(&[upsert(&rx), submit(&x), upsert(&ry), submit(&y), upsert(&rz), submit(&z)]).await.unwrap();
    assert!(out.iter().all(|o| o.result == EventResult::Applied), "{out:?}");
    for b in [&p[0], &p[1], &p[2], &p[4]] {
        dev.upload(b, 16 * 1024, &mut UploadState::default()).await.unwrap();
    }
    s.decide(w.reviewer, x.id, 1, Decision::Reject { item: "elderly_card".into(), reason: Remark::parse("不符合条件").unwrap() })
        .await
        .unwrap();
    for d in [
        Decision::Accept,
        Decision::Approve { item: "elderly_card".into() },
        Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
    ] {
        s.decide(w.reviewer, y.id, 1, d).await.unwrap();
    }
    let task = s.pull(w.village_a, 0, 500).await.unwrap().changes.into_iter().find_map(|ch| match ch.body {
        ChangeBody::DeliveryTask { task } => Some(task),
        _ => None,
    });
    let task = task.expect("a delivery task for Y");
    let proof = Proof::Photo { photo: photo_ref_of(&p[3]) };
    let delivery = DeliveryRecord {
        delivery_id: task.id,
        application_id: y.id,
        item: "elderly_card".into(),
        recipient: PersonName::parse("王秀英").unwrap(),
        proof,
        delivered_at: Utc::now(),
    };
    let rating = RatingRecord {
        delivery_id: task.id,
        application_id: y.id,
        item: "elderly_card".into(),
        rating: Rating::Satisfied,
        comment: None,
        rated_at: Utc::now(),
    };
    push_ok(s.as_ref(), device, &[event(EventBody::DeliveryConfirmed { delivery }), event(EventBody::RatingGiven { rating })]).await;
    dev.upload(&p[3], 16 * 1024, &mut UploadState::default()).await.unwrap();
    let status = |id| {
        let s = s.clone();
        async move { s.application(w.township, id).await.unwrap().unwrap().status }
    };
    assert_eq!((status(x.id).await, status(y.id).await, status(z.id).await), (AppStatus::Rejected, AppStatus::Rated, AppStatus::Received));
    let held = |hash: PhotoHash| {
        let blobs = c.blobs.clone();
        async move { blobs.exists(&hash).await.unwrap() }
    };
    for i in [0, 1, 2, 3, 4] {
        assert!(held(h[i]).await, "photo {i} stored");
    }

    // within the period: nothing goes
    let keep = Duration::days(30);
    assert_eq!(retention::purge(&c.state, keep, Utc::now()).await.unwrap().photos, 0);
    assert_eq!(retention::purge(&c.state, keep, Utc::now() + Duration::days(29)).await.unwrap().photos, 0);
    // 31 days on: X's own photo and Y's photo and proof go; p0 (reused by open Z) and Z's stay
    let report = retention::purge(&c.state, keep, Utc::now() + Duration::days(31)).await.unwrap();
    assert_eq!(report.photos, 3);
    for (i, kept) in [(0, true), (1, false), (2, false), (3, false), (4, true)] {
        assert_eq!(held(h[i]).await, kept, "photo {i} kept = {kept}");
        assert_eq!(s.photos_missing(vec![h[i]]).await.unwrap().is_empty(), kept, "record of photo {i}");
    }
    assert_eq!(retention::purge(&c.state, keep, Utc::now() + Duration::days(31)).await.unwrap().photos, 0, "idempotent");
    // what is kept: applications, revisions naming the photos, decisions, the audit trail
    for id in [x.id, y.id, z.id] {
        assert_eq!(s.revisions(w.township, id).await.unwrap().len(), 1, "{id}: its revision, naming its photos, is kept");
    }
    assert_eq!(status(y.id).await, AppStatus::Rated);
    let audit_x = s.audit_log(w.township, x.id).await.unwrap();
    assert!(audit_x.iter().any(|e| e.action == "decision.reject"));
    let purged: Vec<_> = audit_x.iter().filter(|e| e.action == "photo.purged").collect();
    assert_eq!(purged.len(), 1, "one audit entry for X's purged photo: {audit_x:?}");
    assert_eq!(purged[0].detail["photo"], h[1].to_hex());
    assert_eq!(s.audit_log(w.township, y.id).await.unwrap().iter().filter(|e| e.action == "photo.purged").count(), 2);
    assert!(s.audit_log(w.township, z.id).await.unwrap().iter().all(|e| e.action != "photo.purged"));

    // the staff UI says the purged photo is not there (404), the kept one is served
    let mut staff = reliability_support::web::StaffClient::signed_in(&c.base, "reviewer").await;
    assert_eq!(staff.get(&format!("/staff/photos/{}", h[1])).await.status, 404);
    assert_eq!(staff.get(&format!("/staff/photos/{}", h[0])).await.status, 200);

    // Z closes later; once its period is over, p0 and p4 go too
    s.decide(w.reviewer, z.id, 1, Decision::Reject { item: "elderly_card".into(), reason: Remark::parse("材料不全").unwrap() })
        .await
        .unwrap();
    assert_eq!(retention::purge(&c.state, keep, Utc::now() + Duration::days(31)).await.unwrap().photos, 2);
    assert!(!held(h[0]).await && !held(h[4]).await);

    // a new application reusing a purged photo gets it uploaded again
    let r4 = resident_n(4);
    let again = application_with(&r4, &p[1..2]);
    assert!(dev.push(&[upsert(&r4), submit(&again)]).await.unwrap().iter().all(|o| o.result == EventResult::Applied));
    assert_eq!(dev.missing(vec![h[1]]).await.unwrap(), vec![h[1]]);
    assert!(dev.upload(&p[1], 16 * 1024, &mut UploadState::default()).await.unwrap(), "sent again");
    assert_eq!(c.blobs.get(&h[1]).await.unwrap().as_deref(), Some(&p[1][..]));
    assert_eq!(retention::purge(&c.state, keep, Utc::now() + Duration::days(31)).await.unwrap().photos, 0, "open again: kept");
}

/// The retention rule in the store, on both backends: only photos whose every application is
/// closed and old enough are candidates, and forgetting one re-checks the rule.
async fn retention_rule(store: std::sync::Arc<dyn daiban_centre::store::Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (device, _) = w.device(w.village_a).await;
    let (ra, rb) = (resident_n(1), resident_n(2));
    let shared = variant(b"\xFF\xD8shared", 1);
    let closed = application_with(&ra, &[variant(b"\xFF\xD8own", 2), shared.clone()]);
    let open = application_with(&rb, std::slice::from_ref(&shared));
    push_ok(s, device, &[upsert(&ra), submit(&closed), upsert(&rb), submit(&open)]).await;
    for p in closed.photos() {
        let id = daiban_centre::store::UploadId::new().to_string();
        let upload = daiban_centre::store::Upload {
            id: id.clone(),
            device_id: device.device_id,
            hash: p.hash,
            length: p.bytes,
            offset: 0,
            created_at: Utc::now(),
        };
        s.create_upload(upload).await.unwrap();
        s.complete_upload(&id, p.hash, p.bytes).await.unwrap();
    }
    s.decide(w.reviewer, closed.id, 1, Decision::Reject { item: "elderly_card".into(), reason: Remark::parse("不符合").unwrap() })
        .await
        .unwrap();
    let own = closed.materials[0].photos[0].hash;
    let later = Utc::now() + Duration::days(1);
    assert!(s.closed_photos(Utc::now() - Duration::days(1), 100).await.unwrap().is_empty(), "not old enough");
    assert_eq!(s.closed_photos(later, 100).await.unwrap(), vec![own], "the shared photo of an open case is no candidate");
    assert!(!s.forget_closed_photo(PhotoHash::of(&shared), later).await.unwrap(), "re-checked: refused");
    assert!(s.forget_closed_photo(own, later).await.unwrap());
    assert!(!s.forget_closed_photo(own, later).await.unwrap(), "already gone");
    assert!(s.closed_photos(later, 100).await.unwrap().is_empty());
    assert_eq!(s.photos_missing(vec![own]).await.unwrap(), vec![own]);
}

#[tokio::test]
async fn retention_rule_on_sqlite() {
    let t = sqlite_store().await;
    retention_rule(t.store.clone()).await;
}

#[tokio::test]
async fn retention_rule_on_postgres() {
    let t = pg_store().await;
    retention_rule(t.store.clone()).await;
}
