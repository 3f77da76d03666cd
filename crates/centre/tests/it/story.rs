//! Storage stories: each story function runs against SQLite (a temp file) and PostgreSQL (a
//! fresh database), so both backends are held to the same behaviour.

use crate::support::*;
use chrono::Duration;
use daiban_centre::catalogue::default_catalogue;
use daiban_centre::store::{china_date, InboxFilter, Rules, Store, StoreError};
use daiban_proto::record::{DeliveryRecord, Proof, RatingRecord};
use daiban_proto::status::{AppStatus, Decision, DeliveryMode, ItemStatus, Stage};
use daiban_proto::sync::{ChangeBody, EnrolRequest, ErrorCode, EventBody, EventResult};
use daiban_proto::text::{PersonName, Remark};
use daiban_proto::{PhotoHash, Rating, ResidentId};
use std::collections::BTreeSet;
use std::sync::Arc;

fn code_of<T: std::fmt::Debug>(r: Result<T, StoreError>) -> ErrorCode {
    match r {
        Err(StoreError::Refused(r)) => r.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn remark(s: &str) -> Remark {
    Remark::parse(s).unwrap()
}

async fn enrolment_and_revocation(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let code = s.create_enrolment_code(w.admin, w.village_a, Duration::hours(1)).await.unwrap();
    // typed sloppily: lower case, spaces, no hyphen
    let typed = format!(" {} ", code.code.replace('-', " ").to_lowercase());
    let resp = s.enrol(EnrolRequest { code: typed, device_name: "王家村代办员的手机".into(), device_key: None }).await.unwrap();
    assert_eq!(resp.village_code, "370611101201");
    assert_eq!(resp.village_name.zh, "王家村");
    assert_eq!(resp.township.zh, "桃源镇");
    let auth = s.authenticate_device(&resp.token).await.unwrap();
    assert_eq!((auth.device_id, auth.village_id, auth.township_id), (resp.device_id, w.village_a, w.township));

    let again = s.enrol(EnrolRequest { code: code.code.clone(), device_name: "第二台".into(), device_key: None }).await;
    assert_eq!(code_of(again), ErrorCode::EnrolmentCode, "a code works once");
    let expired = s.create_enrolment_code(w.admin, w.village_a, Duration::seconds(-1)).await.unwrap();
    assert_eq!(
        code_of(s.enrol(EnrolRequest { code: expired.code, device_name: "x".into(), device_key: None }).await),
        ErrorCode::EnrolmentCode
    );
    assert_eq!(
        code_of(s.enrol(EnrolRequest { code: "NOPE-NOPE".into(), device_name: "x".into(), device_key: None }).await),
        ErrorCode::EnrolmentCode
    );
    let blank_name = s.create_enrolment_code(w.admin, w.village_a, Duration::hours(1)).await.unwrap();
    assert_eq!(
        code_of(s.enrol(EnrolRequest { code: blank_name.code, device_name: "  ".into(), device_key: None }).await),
        ErrorCode::Validation
    );

    assert_eq!(code_of(s.create_enrolment_code(w.reviewer, w.village_a, Duration::hours(1)).await), ErrorCode::Forbidden);
    assert_eq!(code_of(s.create_enrolment_code(w.other_admin, w.village_a, Duration::hours(1)).await), ErrorCode::NotFound);
    assert_eq!(code_of(s.revoke_device(w.other_admin, resp.device_id).await), ErrorCode::NotFound);
    assert_eq!(code_of(s.revoke_device(w.reviewer, resp.device_id).await), ErrorCode::Forbidden);
    assert!(s.authenticate_device(&resp.token).await.is_ok(), "refused revocations changed nothing");

    s.touch_device(resp.device_id, Some(7)).await.unwrap();
    s.revoke_device(w.admin, resp.device_id).await.unwrap();
    assert_eq!(code_of(s.authenticate_device(&resp.token).await), ErrorCode::Revoked);
    assert_eq!(code_of(s.authenticate_device("dbn_not-a-token").await), ErrorCode::Unauthorized);
    let devices = s.devices(w.township).await.unwrap();
    let d = devices.iter().find(|d| d.id == resp.device_id).unwrap();
    assert!(d.revoked_at.is_some() && d.last_seen_at.is_some());
    assert_eq!((d.queue_len, d.name.as_str(), d.village_name.zh.as_str()), (7, "王家村代办员的手机", "王家村"));
    assert!(s.devices(w.other_township).await.unwrap().is_empty(), "other township sees no devices of ours");
}

/// A phone that makes its own device key can ask again when the answer was lost: the same
/// code with the same key gets the same answer, anything else does not.
async fn enrolment_with_a_device_key_is_idempotent(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let key = format!("dbn_{}", "7f".repeat(32));
    let other_key = format!("dbn_{}", "a3".repeat(32));
    let ask =
        |code: &str, key: &str| EnrolRequest {
            code: code.into(), device_name: "王家村代办员的手机".into(), device_key: Some(key.into())
        };
    let code = s.create_enrolment_code(w.admin, w.village_a, Duration::hours(1)).await.unwrap();
    let first = s.enrol(ask(&code.code, &key)).await.unwrap();
    assert_eq!(first.token, key, "the phone's key is the token");
    assert_eq!(s.authenticate_device(&key).await.unwrap().device_id, first.device_id);
    let again = s.enrol(ask(&code.code, &key)).await.unwrap();
    assert_eq!(again, first, "asked again: the same answer");
    assert_eq!(s.devices(w.township).await.unwrap().len(), 1, "one device, not two");
    assert_eq!(code_of(s.enrol(ask(&code.code, &other_key)).await), ErrorCode::EnrolmentCode, "another phone cannot reuse the code");
    assert_eq!(code_of(s.enrol(EnrolRequest { device_key: None, ..ask(&code.code, &key) }).await), ErrorCode::EnrolmentCode);

    let fresh = s.create_enrolment_code(w.admin, w.village_b, Duration::hours(1)).await.unwrap();
    assert_eq!(code_of(s.enrol(ask(&fresh.code, "dbn_short")).await), ErrorCode::Validation, "malformed key");
    assert_eq!(code_of(s.enrol(ask(&fresh.code, &key)).await), ErrorCode::Validation, "a key already in use");
    assert_eq!(s.enrol(ask(&code.code, &key)).await.unwrap(), first, "the refusals left the first enrolment as it was");
    let used_elsewhere = s.create_enrolment_code(w.admin, w.village_b, Duration::hours(1)).await.unwrap();
    s.enrol(ask(&used_elsewhere.code, &other_key)).await.unwrap();
    assert_eq!(code_of(s.enrol(ask(&used_elsewhere.code, &key)).await), ErrorCode::EnrolmentCode, "a code used by another phone");

    s.revoke_device(w.admin, first.device_id).await.unwrap();
    assert_eq!(code_of(s.enrol(ask(&code.code, &key)).await), ErrorCode::EnrolmentCode, "no replay for a revoked device");
}

async fn staff_accounts(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let ok = s.verify_staff_password("reviewer", PASSWORD).await.unwrap().expect("right password");
    assert_eq!((ok.id, ok.display_name.as_str()), (w.reviewer, "李审核"));
    assert!(s.verify_staff_password("reviewer", "wrong").await.unwrap().is_none());
    assert!(s.verify_staff_password("nobody", PASSWORD).await.unwrap().is_none());
    let (_, hash) = s.staff_credentials("reviewer").await.unwrap().unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
    let dup = daiban_centre::store::NewStaff {
        township_id: w.township,
        username: "reviewer".into(),
        display_name: "另一个".into(),
        role: daiban_centre::store::Role::Reviewer,
        password: "x".into(),
    };
    assert_eq!(code_of(s.create_staff(dup).await), ErrorCode::Conflict);
}

async fn push_is_idempotent(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev, _) = w.device(w.village_a).await;
    let r = resident(1);
    let a = application(r.id);
    let (e1, e2) = (upsert(&r), submit(&a));
    push_ok(s, dev, &[e1.clone(), e2.clone()]).await;
    // the phone lost the acknowledgement and sends the same events again
    push_ok(s, dev, &[e1, e2.clone()]).await;
    assert_eq!(s.revisions(w.township, a.id).await.unwrap().len(), 1);
    let received =
        s.pull(w.village_a, 0, 500).await.unwrap().changes.into_iter().filter(|c| matches!(c.body, ChangeBody::Received { .. })).count();
    assert_eq!(received, 1, "one Received change, not two");

    // a rejected event keeps its rejection, word for word
    let mut bad = application(r.id);
    bad.items = vec!["no_such_item".into()];
    let bad = submit(&bad);
    let first = push_rejected(s, dev, &bad, ErrorCode::Validation).await;
    assert!(first.contains("no_such_item") && first.starts_with("事项"), "{first}");
    assert_eq!(push_rejected(s, dev, &bad, ErrorCode::Validation).await, first);

    // the same event id from another device is not theirs to replay
    let (other, _) = w.device(w.village_a).await;
    push_rejected(s, other, &e2, ErrorCode::Conflict).await;
}

async fn concurrent_duplicate_push(store: Arc<dyn Store>) {
    let w = world(store).await;
    let (dev, _) = w.device(w.village_a).await;
    let r = resident(2);
    push_ok(w.store.as_ref(), dev, &[upsert(&r)]).await;
    let a = application(r.id);
    let e = submit(&a);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (s, e) = (w.store.clone(), e.clone());
            tokio::spawn(async move { s.ingest(dev, e).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert!(outcomes.iter().all(|o| o.result == EventResult::Applied && o.event_id == e.id), "{outcomes:?}");
    assert_eq!(w.store.revisions(w.township, a.id).await.unwrap().len(), 1);
    let feed = w.store.pull(w.village_a, 0, 500).await.unwrap();
    assert_eq!(feed.changes.iter().filter(|c| matches!(c.body, ChangeBody::Received { .. })).count(), 1);
    let page = w.store.inbox(w.township, InboxFilter::default(), None, 50).await.unwrap();
    assert_eq!(page.rows.len(), 1, "exactly one application");
}

async fn revision_rules(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev, _) = w.device(w.village_a).await;
    let r = resident(3);
    push_ok(s, dev, &[upsert(&r)]).await;
    let a1 = application(r.id);
    let mut early = a1.clone();
    early.revision = 2;
    push_rejected(s, dev, &submit(&early), ErrorCode::Conflict).await;
    push_ok(s, dev, &[submit(&a1)]).await;
    let mut a2 = a1.clone();
    a2.revision = 2;
    a2.note = Some(remark("补拍了身份证反面"));
    let msg = push_rejected(s, dev, &submit(&a2), ErrorCode::Conflict).await;
    assert!(msg.contains("退回补正"), "{msg}");

    let ret = Decision::Return { reason: remark("身份证反面模糊,请重拍"), materials: vec!["id_card".into()] };
    assert_eq!(s.decide(w.reviewer, a1.id, 1, ret.clone()).await.unwrap().status, AppStatus::Returned);
    assert_eq!(code_of(s.decide(w.reviewer, a1.id, 1, ret).await), ErrorCode::Conflict, "already returned");
    let mut a3 = a1.clone();
    a3.revision = 3;
    push_rejected(s, dev, &submit(&a3), ErrorCode::Conflict).await;
    let mut other_items = a2.clone();
    other_items.items = vec!["veteran_card".into()];
    push_rejected(s, dev, &submit(&other_items), ErrorCode::Validation).await;
    push_ok(s, dev, &[submit(&a2)]).await;
    let state = s.application(w.township, a1.id).await.unwrap().unwrap();
    assert_eq!((state.revision, state.stage, state.status), (2, Stage::Received, AppStatus::Received));
    // an old revision sent again under a new event id is refused, and nothing is rewritten
    let msg = push_rejected(s, dev, &submit(&a1), ErrorCode::Conflict).await;
    assert!(msg.contains("修订1"), "{msg}");
    let revs = s.revisions(w.township, a1.id).await.unwrap();
    assert_eq!(revs.iter().map(|r| r.record.clone()).collect::<Vec<_>>(), vec![a1.clone(), a2.clone()]);
    assert_eq!(code_of(s.decide(w.reviewer, a1.id, 1, Decision::Accept).await), ErrorCode::Conflict, "stale revision");
    s.decide(w.reviewer, a1.id, 2, Decision::Accept).await.unwrap();
}

async fn village_and_township_isolation(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev_a, _) = w.device(w.village_a).await;
    let (dev_b, _) = w.device(w.village_b).await;
    let (dev_c, _) = w.device(w.village_c).await;
    let r = resident(4);
    let a = application(r.id);
    push_ok(s, dev_a, &[upsert(&r), submit(&a)]).await;

    push_rejected(s, dev_b, &upsert(&r), ErrorCode::Forbidden).await;
    let mut theirs = application(r.id);
    theirs.id = daiban_proto::ApplicationId::new();
    push_rejected(s, dev_b, &submit(&theirs), ErrorCode::Forbidden).await;
    push_rejected(s, dev_c, &submit(&theirs), ErrorCode::Forbidden).await;
    let mut rating = rating_event(&a, daiban_proto::DeliveryId::new(), Rating::Satisfied);
    push_rejected(s, dev_b, &rating, ErrorCode::Forbidden).await;
    if let EventBody::RatingGiven { rating: r } = &mut rating.body {
        r.application_id = daiban_proto::ApplicationId::new();
    }
    rating.id = daiban_proto::EventId::new();
    push_rejected(s, dev_a, &rating, ErrorCode::NotFound).await;
    let unknown_resident = application(ResidentId::new());
    push_rejected(s, dev_a, &submit(&unknown_resident), ErrorCode::Validation).await;

    assert_eq!(code_of(s.decide(w.other_admin, a.id, 1, Decision::Accept).await), ErrorCode::NotFound);
    assert!(s.application(w.other_township, a.id).await.unwrap().is_none());
    assert!(s.revisions(w.other_township, a.id).await.unwrap().is_empty());
    assert!(s.audit_log(w.other_township, a.id).await.unwrap().is_empty());
    assert!(s.inbox(w.other_township, InboxFilter::default(), None, 50).await.unwrap().rows.is_empty());
    assert_eq!(code_of(s.reveal_id_number(w.other_admin, r.id).await), ErrorCode::NotFound);
    assert_eq!(s.reveal_id_number(w.reviewer, r.id).await.unwrap(), r.id_number);
    assert!(s.photo_upload_allowed(dev_a, a.materials[0].photos[0].hash).await.unwrap());
    assert!(!s.photo_upload_allowed(dev_b, a.materials[0].photos[0].hash).await.unwrap());
    let photo = a.materials[0].photos[0].clone();
    assert_eq!(s.photo_for_upload(dev_a, photo.hash).await.unwrap(), Some(false), "its village's device may upload it; not there yet");
    assert_eq!(s.photo_for_upload(dev_b, photo.hash).await.unwrap(), None, "another village's device may not");
    s.complete_upload("no-such-upload", photo.hash, photo.bytes).await.unwrap();
    assert_eq!(s.photo_for_upload(dev_a, photo.hash).await.unwrap(), Some(true), "stored: nothing to send");
    assert_eq!(s.photo_for_upload(dev_b, photo.hash).await.unwrap(), None, "stored or not, not for another village");

    let b_feed = s.pull(w.village_b, 0, 500).await.unwrap();
    assert!(b_feed.changes.iter().all(|c| matches!(c.body, ChangeBody::Catalogue { .. })), "{:?}", b_feed.changes);
}

fn rating_event(a: &daiban_proto::ApplicationRecord, delivery: daiban_proto::DeliveryId, rating: Rating) -> daiban_proto::sync::Event {
    event(EventBody::RatingGiven {
        rating: RatingRecord {
            delivery_id: delivery,
            application_id: a.id,
            item: a.items[0].clone(),
            rating,
            comment: Some(remark("等了太久")),
            rated_at: chrono::Utc::now(),
        },
    })
}

async fn decisions_flow_to_pull_with_paging(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev, _) = w.device(w.village_a).await;
    let mut apps = Vec::new();
    for i in 0..4 {
        let r = resident(10 + i);
        let a = application(r.id);
        push_ok(s, dev, &[upsert(&r), submit(&a)]).await;
        apps.push(a);
    }
    for a in &apps {
        let st = s.decide(w.reviewer, a.id, 1, Decision::Accept).await.unwrap();
        let accepted = st.accepted_at.unwrap();
        let want = Rules::default().calendar.add_working_days(china_date(accepted), 5);
        assert_eq!(st.deadline, want, "elderly_card: 5 working days from acceptance");
    }
    s.decide(w.reviewer, apps[0].id, 1, Decision::Reject { item: "elderly_card".into(), reason: remark("年龄不满60周岁") }).await.unwrap();
    // catalogue(1) + 4 received + 4 accepted + 1 rejected = 10 changes, pulled 3 at a time
    let (mut cursor, mut seen, mut pages) = (0, Vec::new(), 0);
    loop {
        let page = s.pull(w.village_a, cursor, 3).await.unwrap();
        pages += 1;
        assert!(page.changes.len() <= 3);
        seen.extend(page.changes.iter().map(|c| c.seq));
        cursor = page.cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, (1..=10).collect::<Vec<i64>>(), "gap-free, in order, each once");
    assert_eq!(s.pull(w.village_a, cursor, 3).await.unwrap().changes.len(), 0);
    let all = s.pull(w.village_a, 0, 500).await.unwrap();
    let last = &all.changes.last().unwrap().body;
    match last {
        ChangeBody::Decision { application_id, revision: 1, decision: Decision::Reject { .. }, by, deadline: None } => {
            assert_eq!((*application_id, by.as_str()), (apps[0].id, "李审核"));
        }
        other => panic!("{other:?}"),
    }
    let state = s.application(w.township, apps[0].id).await.unwrap().unwrap();
    assert_eq!((state.status, state.items[0].1), (AppStatus::Rejected, ItemStatus::Rejected));
    let actions: Vec<String> = s.audit_log(w.township, apps[0].id).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["submitted", "decision.accept", "decision.reject"]);
    assert_eq!(code_of(s.decide(w.reviewer, apps[1].id, 1, Decision::Approve { item: "nope".into() }).await), ErrorCode::Conflict);
}

async fn delivery_task_and_rating(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev, _) = w.device(w.village_a).await;
    let r = resident(20);
    let a = application(r.id);
    push_ok(s, dev, &[upsert(&r), submit(&a)]).await;
    for d in [
        Decision::Accept,
        Decision::Approve { item: "elderly_card".into() },
        Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
    ] {
        s.decide(w.reviewer, a.id, 1, d).await.unwrap();
    }
    let feed = s.pull(w.village_a, 0, 500).await.unwrap();
    let task = feed
        .changes
        .iter()
        .find_map(|c| match &c.body {
            ChangeBody::DeliveryTask { task } => Some(task.clone()),
            _ => None,
        })
        .expect("a delivery task for home delivery");
    assert_eq!((task.application_id, task.resident_id, task.mode), (a.id, r.id, DeliveryMode::Home));
    assert_eq!(task.result.zh, "老年人优待证");

    let proof_photo = photo_ref(b"signature png");
    let delivered = event(EventBody::DeliveryConfirmed {
        delivery: DeliveryRecord {
            delivery_id: task.id,
            application_id: a.id,
            item: "elderly_card".into(),
            recipient: PersonName::parse("王秀英").unwrap(),
            proof: Proof::Signature { photo: proof_photo.clone() },
            delivered_at: chrono::Utc::now(),
        },
    });
    // rating before delivery is refused
    push_rejected(s, dev, &rating_event(&a, task.id, Rating::VeryDissatisfied), ErrorCode::Conflict).await;
    push_ok(s, dev, std::slice::from_ref(&delivered)).await;
    assert!(s.photo_upload_allowed(dev, proof_photo.hash).await.unwrap(), "proof photo may now be uploaded");
    let mut again = delivered.clone();
    again.id = daiban_proto::EventId::new();
    push_rejected(s, dev, &again, ErrorCode::Conflict).await;
    assert_eq!(s.application(w.township, a.id).await.unwrap().unwrap().status, AppStatus::Delivered);

    push_rejected(s, dev, &rating_event(&a, daiban_proto::DeliveryId::new(), Rating::Satisfied), ErrorCode::Validation).await;
    push_ok(s, dev, &[rating_event(&a, task.id, Rating::VeryDissatisfied)]).await;
    push_rejected(s, dev, &rating_event(&a, task.id, Rating::Satisfied), ErrorCode::Conflict).await;
    let st = s.application(w.township, a.id).await.unwrap().unwrap();
    assert_eq!((st.status, st.items[0].1), (AppStatus::Rated, ItemStatus::Rated));
    let bad = s.ratings_needing_follow_up(w.township).await.unwrap();
    assert_eq!(bad.len(), 1);
    assert_eq!((bad[0].application_id, bad[0].rating, bad[0].comment.as_deref()), (a.id, Rating::VeryDissatisfied, Some("等了太久")));
    assert!(s.ratings_needing_follow_up(w.other_township).await.unwrap().is_empty());

    // collected at the centre: no delivery task goes to the phone
    let r2 = resident(21);
    let b = application(r2.id);
    push_ok(s, dev, &[upsert(&r2), submit(&b)]).await;
    for d in [
        Decision::Accept,
        Decision::Approve { item: "elderly_card".into() },
        Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Centre },
    ] {
        s.decide(w.reviewer, b.id, 1, d).await.unwrap();
    }
    let after = s.pull(w.village_a, feed.cursor, 500).await.unwrap();
    assert!(!after.changes.iter().any(|c| matches!(c.body, ChangeBody::DeliveryTask { .. })));
}

async fn catalogue_publishing(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let mut v2 = default_catalogue();
    v2.version = 2;
    assert_eq!(code_of(s.publish_catalogue(w.reviewer, v2.clone()).await), ErrorCode::Forbidden);
    let mut broken = v2.clone();
    broken.bundles[0].items.push("nope".into());
    assert_eq!(code_of(s.publish_catalogue(w.admin, broken).await), ErrorCode::Validation);
    assert_eq!(s.publish_catalogue(w.admin, v2.clone()).await.unwrap(), 2);
    assert_eq!(code_of(s.publish_catalogue(w.admin, v2.clone()).await), ErrorCode::Conflict, "same version twice");
    for village in [w.village_a, w.village_b] {
        let versions: Vec<u32> = s
            .pull(village, 0, 500)
            .await
            .unwrap()
            .changes
            .into_iter()
            .filter_map(|c| match c.body {
                ChangeBody::Catalogue { catalogue } => Some(catalogue.version),
                _ => None,
            })
            .collect();
        assert_eq!(versions, [1, 2]);
    }
    assert_eq!(s.pull(w.village_c, 0, 500).await.unwrap().changes.len(), 1, "other township keeps its own");
    assert_eq!(s.catalogue(w.township, None).await.unwrap().unwrap().version, 2);
    assert_eq!(s.catalogue(w.township, Some(1)).await.unwrap().unwrap().version, 1);
    // a village added later starts with the current catalogue
    let late = s
        .create_village(
            w.township,
            daiban_centre::store::VillageCode::parse("370611101209").unwrap(),
            daiban_proto::catalogue::L10n::new("新村", "New"),
        )
        .await
        .unwrap();
    let first = s.pull(late, 0, 500).await.unwrap();
    assert!(matches!(&first.changes[..], [c] if matches!(&c.body, ChangeBody::Catalogue { catalogue } if catalogue.version == 2)));
    // applications name the version they were captured with; unknown versions are refused
    let (dev, _) = w.device(w.village_a).await;
    let r = resident(30);
    let mut a = application(r.id);
    a.catalogue_version = 9;
    push_ok(s, dev, &[upsert(&r)]).await;
    push_rejected(s, dev, &submit(&a), ErrorCode::Validation).await;
    a.catalogue_version = 2;
    a.bundle = Some("elderly_care".into());
    push_rejected(s, dev, &submit(&a), ErrorCode::Validation).await;
    a.items = vec!["elderly_card".into(), "longevity_allowance".into(), "elderly_care_subsidy".into()];
    push_ok(s, dev, &[submit(&a)]).await;
}

async fn inbox_filters_and_paging(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev_a, _) = w.device(w.village_a).await;
    let (dev_b, _) = w.device(w.village_b).await;
    let mut ids = BTreeSet::new();
    for i in 0..7u16 {
        let (dev, r) = (if i % 2 == 0 { dev_a } else { dev_b }, resident(40 + i));
        let mut a = application(r.id);
        if i == 6 {
            a.items = vec!["residence_certificate".into()];
            a.materials.clear();
        }
        push_ok(s, dev, &[upsert(&r), submit(&a)]).await;
        ids.insert(a.id);
        if i < 2 {
            s.decide(w.reviewer, a.id, 1, Decision::Accept).await.unwrap();
        }
    }
    let (mut after, mut rows) = (None, Vec::new());
    loop {
        let page = s.inbox(w.township, InboxFilter::default(), after, 3).await.unwrap();
        rows.extend(page.rows);
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    assert_eq!(rows.iter().map(|r| r.id).collect::<BTreeSet<_>>(), ids);
    assert!(rows.windows(2).all(|p| p[0].cursor().to_string() < p[1].cursor().to_string() || p[0].deadline < p[1].deadline));
    assert!(rows.iter().all(|r| r.resident_name == "王秀英"));
    let count = |f: InboxFilter| async move { s.inbox(w.township, f, None, 100).await.unwrap().rows.len() };
    assert_eq!(count(InboxFilter { status: Some(AppStatus::Accepted), ..Default::default() }).await, 2);
    assert_eq!(count(InboxFilter { village: Some(w.village_a), ..Default::default() }).await, 4);
    assert_eq!(count(InboxFilter { device: Some(dev_b.device_id), ..Default::default() }).await, 3);
    assert_eq!(count(InboxFilter { item: Some("residence_certificate".into()), ..Default::default() }).await, 1);
    let far = chrono::Utc::now().date_naive() + Duration::days(400);
    assert_eq!(count(InboxFilter { overdue_on: Some(far), ..Default::default() }).await, 7);
    assert_eq!(count(InboxFilter { overdue_on: Some(chrono::Utc::now().date_naive()), ..Default::default() }).await, 0);
    let cursor = rows[2].cursor();
    assert_eq!(cursor.to_string().parse::<daiban_centre::store::InboxCursor>().unwrap(), cursor);
}

/// A tus upload's record: offsets move (committed without a power-cut fsync, see
/// `Mode::WriteRelaxed`, and still read back at once and by every later transaction), only its
/// device sees it, completion records the photo, a discarded one is gone.
async fn upload_offsets_and_completion(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (device, _) = w.device(w.village_a).await;
    let (other, _) = w.device(w.village_a).await;
    let bytes = b"\xFF\xD8 not really a photo, the store does not look".to_vec();
    let hash = PhotoHash::of(&bytes);
    let id = daiban_centre::store::UploadId::new().to_string();
    let upload = daiban_centre::store::Upload {
        id: id.clone(),
        device_id: device.device_id,
        hash,
        length: 300_000,
        offset: 0,
        created_at: chrono::Utc::now(),
    };
    s.create_upload(upload).await.unwrap();
    for offset in [131_072, 262_144] {
        s.set_upload_offset(&id, offset).await.unwrap();
        assert_eq!(s.upload(device.device_id, &id).await.unwrap().unwrap().offset, offset);
    }
    assert!(s.upload(other.device_id, &id).await.unwrap().is_none(), "another device's upload is not found");
    // a write with full durability after the relaxed ones sees them
    let (_, code) = w.device(w.village_b).await;
    assert!(!code.is_empty());
    assert_eq!(s.upload(device.device_id, &id).await.unwrap().unwrap().offset, 262_144);
    assert_eq!(s.photos_missing(vec![hash]).await.unwrap(), vec![hash]);
    s.complete_upload(&id, hash, 300_000).await.unwrap();
    assert!(s.photos_missing(vec![hash]).await.unwrap().is_empty(), "the photo is recorded");

    let dropped = daiban_centre::store::UploadId::new().to_string();
    let upload = daiban_centre::store::Upload {
        id: dropped.clone(),
        device_id: device.device_id,
        hash: PhotoHash::of(b"other"),
        length: 10,
        offset: 0,
        created_at: chrono::Utc::now(),
    };
    s.create_upload(upload).await.unwrap();
    s.set_upload_offset(&dropped, 5).await.unwrap();
    s.discard_upload(&dropped).await.unwrap();
    assert!(s.upload(device.device_id, &dropped).await.unwrap().is_none());
}

/// Agents as people: on the roster by an admin of their township only, with a valid name and
/// phone; a code issued to an agent enrols a phone of the agent's village that is theirs; a
/// second phone for the same agent keeps the first one's history under the same person.
async fn agents_and_their_phones(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let zhang = s.add_agent(w.admin, w.village_a, "张代办", "13900001111").await.unwrap();
    assert_eq!(code_of(s.add_agent(w.reviewer, w.village_a, "王代办", "13900002222").await), ErrorCode::Forbidden);
    assert_eq!(code_of(s.add_agent(w.other_admin, w.village_a, "王代办", "13900002222").await), ErrorCode::NotFound);
    assert_eq!(code_of(s.add_agent(w.admin, w.village_a, "王代办", "12345").await), ErrorCode::Validation);
    let roster = s.agents(w.township).await.unwrap();
    assert_eq!(roster.iter().map(|a| (a.name.as_str(), a.phone.as_str())).collect::<Vec<_>>(), [("张代办", "13900001111")]);
    assert!(s.agents(w.other_township).await.unwrap().is_empty());
    assert_eq!(code_of(s.create_agent_enrolment_code(w.other_admin, zhang, Duration::hours(1)).await), ErrorCode::NotFound);

    let mut phones = Vec::new();
    for name in ["旧手机", "新手机"] {
        let code = s.create_agent_enrolment_code(w.admin, zhang, Duration::hours(1)).await.unwrap();
        assert_eq!((code.village_id, code.agent_id), (w.village_a, Some(zhang)));
        let enrolled = s.enrol(EnrolRequest { code: code.code, device_name: name.into(), device_key: None }).await.unwrap();
        phones.push(enrolled.device_id);
    }
    let anonymous = s.create_enrolment_code(w.admin, w.village_a, Duration::hours(1)).await.unwrap();
    let other = s.enrol(EnrolRequest { code: anonymous.code, device_name: "代办员手机".into(), device_key: None }).await.unwrap().device_id;
    s.revoke_device(w.admin, phones[0]).await.unwrap();
    let devices = s.devices(w.township).await.unwrap();
    for id in &phones {
        let d = devices.iter().find(|d| d.id == *id).unwrap();
        assert_eq!(d.agent.as_ref().map(|a| a.id), Some(zhang));
        assert_eq!(d.label(), "张代办 13900001111", "reviewers see the person, whichever phone");
    }
    let d = devices.iter().find(|d| d.id == other).unwrap();
    assert_eq!((d.agent.is_none(), d.label().as_str()), (true, "代办员手机"));
}

macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let t = crate::support::sqlite_store().await;
                    super::$story(t.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $story() {
                    let t = crate::support::pg_store().await;
                    super::$story(t.store.clone()).await;
                }
            )*
        }
    };
}

stories!(
    enrolment_and_revocation,
    enrolment_with_a_device_key_is_idempotent,
    staff_accounts,
    push_is_idempotent,
    concurrent_duplicate_push,
    revision_rules,
    village_and_township_isolation,
    decisions_flow_to_pull_with_paging,
    delivery_task_and_rating,
    catalogue_publishing,
    inbox_filters_and_paging,
    upload_offsets_and_completion,
    agents_and_their_phones,
);
