//! Storage stories of the staff web UI, each run against SQLite (a temp file) and PostgreSQL
//! (a fresh database): sessions and their expiry, admin-made accounts, township scope of
//! residents, photos and the audit log, bad-rating follow-up, statistics.

mod web_support;

use chrono::Duration;
use daiban_centre::store::{secret, Actor, NewStaff, Role, SessionPolicy, StatsPeriod, Store, StoreError, Timing};
use daiban_proto::record::{DeliveryRecord, Proof, RatingRecord};
use daiban_proto::status::{AppStatus, Decision, DeliveryMode, ItemStatus};
use daiban_proto::sync::{ChangeBody, ErrorCode, EventBody};
use daiban_proto::text::{PersonName, Remark};
use daiban_proto::Rating;
use std::sync::Arc;
use web_support::store::*;

fn code_of<T: std::fmt::Debug>(r: Result<T, StoreError>) -> ErrorCode {
    match r {
        Err(StoreError::Refused(r)) => r.code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn remark(s: &str) -> Remark {
    Remark::parse(s).unwrap()
}

async fn sessions_expire_and_end(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let policy = SessionPolicy::default();
    s.start_staff_session(w.reviewer, secret::fingerprint("token-1"), policy).await.unwrap();
    let found = s.staff_session(&secret::fingerprint("token-1"), policy).await.unwrap().expect("a live session");
    assert_eq!((found.staff.id, found.staff.role), (w.reviewer, Role::Reviewer));
    assert!(found.expires_at > found.created_at && found.last_seen_at == found.created_at);
    assert!(s.staff_session(&secret::fingerprint("token-2"), policy).await.unwrap().is_none(), "unknown token");
    // the same stored session judged by a stricter policy: idle for "too long" already
    let strict = SessionPolicy { idle: Duration::zero(), max: Duration::hours(1) };
    assert!(s.staff_session(&secret::fingerprint("token-1"), strict).await.unwrap().is_none());
    // a session started with no lifetime is over at once
    s.start_staff_session(w.admin, secret::fingerprint("short"), SessionPolicy { idle: Duration::hours(1), max: Duration::zero() })
        .await
        .unwrap();
    assert!(s.staff_session(&secret::fingerprint("short"), policy).await.unwrap().is_none(), "past its absolute end");
    s.touch_staff_session(&secret::fingerprint("token-1")).await.unwrap();
    let touched = s.staff_session(&secret::fingerprint("token-1"), policy).await.unwrap().unwrap();
    assert!(touched.last_seen_at >= found.last_seen_at);
    s.end_staff_session(&secret::fingerprint("token-1")).await.unwrap();
    assert!(s.staff_session(&secret::fingerprint("token-1"), policy).await.unwrap().is_none(), "logged out");
    let logins = s.township_audit(w.township, None, 50).await.unwrap().into_iter().filter(|(_, e)| e.action == "staff.login").count();
    assert_eq!(logins, 2, "every login is audited");
}

async fn admins_add_staff_to_their_own_township(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let new = |township, username: &str| NewStaff {
        township_id: township,
        username: username.into(),
        display_name: "张审核".into(),
        role: Role::Reviewer,
        password: "a long enough password".into(),
    };
    let id = s.add_staff(w.admin, new(w.township, "zhang")).await.unwrap();
    let ok = s.verify_staff_password("zhang", "a long enough password").await.unwrap().unwrap();
    assert_eq!((ok.id, ok.township_id), (id, w.township));
    assert_eq!(code_of(s.add_staff(w.reviewer, new(w.township, "li2")).await), ErrorCode::Forbidden, "reviewers cannot add staff");
    assert_eq!(code_of(s.add_staff(w.other_admin, new(w.township, "intruder")).await), ErrorCode::NotFound, "not into another township");
    assert_eq!(code_of(s.add_staff(w.admin, new(w.township, "zhang")).await), ErrorCode::Conflict);
    assert!(s.staff_credentials("li2").await.unwrap().is_none() && s.staff_credentials("intruder").await.unwrap().is_none());
    let names: Vec<String> = s.staff_of(w.township).await.unwrap().into_iter().map(|s| s.username).collect();
    assert_eq!(names, ["admin", "zhang", "reviewer"], "admins first, then by display name");
    assert_eq!(s.staff_of(w.other_township).await.unwrap().len(), 1);
    let audit = s.township_audit(w.township, None, 10).await.unwrap();
    assert!(audit.iter().any(|(_, e)| e.action == "staff.create" && e.actor == Actor::Staff { id: w.admin }));
}

async fn residents_photos_and_audit_stay_in_their_township(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev, _) = w.device(w.village_a).await;
    let r = resident(60);
    let a = application(r.id);
    push_ok(s, dev, &[upsert(&r), submit(&a)]).await;
    let hash = a.materials[0].photos[0].hash;
    assert_eq!(s.resident(w.township, r.id).await.unwrap().unwrap().id_number, r.id_number);
    assert!(s.resident(w.other_township, r.id).await.unwrap().is_none());
    assert!(s.photo_in_township(w.township, hash).await.unwrap());
    assert!(!s.photo_in_township(w.other_township, hash).await.unwrap());
    assert!(!s.photo_in_township(w.township, daiban_proto::PhotoHash::of(b"never referred to")).await.unwrap());
    s.reveal_id_number(w.reviewer, r.id).await.unwrap();
    let ours = s.township_audit(w.township, None, 500).await.unwrap();
    let (first_id, reveal) = &ours[0];
    assert_eq!((reveal.action.as_str(), &reveal.actor), ("reveal_id_number", &Actor::Staff { id: w.reviewer }), "newest first");
    assert_eq!(reveal.detail["resident_id"], serde_json::json!(r.id));
    assert!(ours.windows(2).all(|p| p[0].0 > p[1].0));
    let older = s.township_audit(w.township, Some(*first_id), 2).await.unwrap();
    assert_eq!(older.len(), 2);
    assert!(older.iter().all(|(id, _)| id < first_id), "keyset paging");
    assert!(s.township_audit(w.other_township, None, 500).await.unwrap().iter().all(|(_, e)| e.township_id == w.other_township));
}

/// Accept, approve, result ready (home), deliver and rate one application.
async fn through_to_rating(w: &World, dev: daiban_centre::store::DeviceAuth, seq: u16, rating: Rating) -> daiban_proto::ApplicationRecord {
    let s = w.store.as_ref();
    let r = resident(seq);
    let a = application(r.id);
    push_ok(s, dev, &[upsert(&r), submit(&a)]).await;
    for d in [
        Decision::Accept,
        Decision::Approve { item: "elderly_card".into() },
        Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
    ] {
        s.decide(w.reviewer, a.id, 1, d).await.unwrap();
    }
    let task = s
        .pull(dev.village_id, 0, 500)
        .await
        .unwrap()
        .changes
        .into_iter()
        .find_map(|c| match c.body {
            ChangeBody::DeliveryTask { task } if task.application_id == a.id => Some(task),
            _ => None,
        })
        .unwrap();
    let now = chrono::Utc::now();
    let delivered = DeliveryRecord {
        delivery_id: task.id,
        application_id: a.id,
        item: "elderly_card".into(),
        recipient: PersonName::parse("王秀英").unwrap(),
        proof: Proof::Photo { photo: photo_ref(format!("handover {seq}").as_bytes()) },
        delivered_at: now,
    };
    let rated = RatingRecord {
        delivery_id: task.id,
        application_id: a.id,
        item: "elderly_card".into(),
        rating,
        comment: Some(remark("等得太久了")),
        rated_at: now,
    };
    push_ok(s, dev, &[event(EventBody::DeliveryConfirmed { delivery: delivered }), event(EventBody::RatingGiven { rating: rated })]).await;
    a
}

async fn bad_ratings_are_followed_up_once(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev, _) = w.device(w.village_a).await;
    let bad = through_to_rating(&w, dev, 70, Rating::Dissatisfied).await;
    let good = through_to_rating(&w, dev, 71, Rating::VerySatisfied).await;
    assert_eq!(s.ratings_needing_follow_up(w.township).await.unwrap().len(), 1);
    let note = remark("已电话回访,说明了办理时限");
    assert_eq!(code_of(s.follow_up_rating(w.other_admin, bad.id, "elderly_card".into(), note.clone()).await), ErrorCode::NotFound);
    assert_eq!(code_of(s.follow_up_rating(w.reviewer, good.id, "elderly_card".into(), note.clone()).await), ErrorCode::Validation);
    assert_eq!(code_of(s.follow_up_rating(w.reviewer, bad.id, "nope".into(), note.clone()).await), ErrorCode::NotFound);
    s.follow_up_rating(w.reviewer, bad.id, "elderly_card".into(), note.clone()).await.unwrap();
    assert!(s.ratings_needing_follow_up(w.township).await.unwrap().is_empty());
    assert_eq!(code_of(s.follow_up_rating(w.admin, bad.id, "elderly_card".into(), note).await), ErrorCode::Conflict);
    let entry = s.audit_log(w.township, bad.id).await.unwrap().into_iter().find(|e| e.action == "rating.follow_up").expect("audited");
    assert_eq!(entry.detail["note"], "已电话回访,说明了办理时限");
}

async fn statistics_count_time_and_satisfaction(store: Arc<dyn Store>) {
    let w = world(store).await;
    let s = w.store.as_ref();
    let (dev_a, _) = w.device(w.village_a).await;
    let (dev_b, _) = w.device(w.village_b).await;
    through_to_rating(&w, dev_a, 80, Rating::VerySatisfied).await;
    through_to_rating(&w, dev_b, 81, Rating::VeryDissatisfied).await;
    // one still received, one returned, one accepted in village B
    let mut open = Vec::new();
    for (i, dev) in [dev_a, dev_b, dev_b].into_iter().enumerate() {
        let r = resident(90 + i as u16);
        let a = application(r.id);
        push_ok(s, dev, &[upsert(&r), submit(&a)]).await;
        open.push(a);
    }
    s.decide(w.reviewer, open[1].id, 1, Decision::Return { reason: remark("照片模糊"), materials: vec!["id_card".into()] }).await.unwrap();
    s.decide(w.reviewer, open[2].id, 1, Decision::Accept).await.unwrap();
    // another township's work never shows
    let (dev_c, _) = w.device(w.village_c).await;
    let rc = resident(99);
    push_ok(s, dev_c, &[upsert(&rc), submit(&application(rc.id))]).await;

    let st = s.statistics(w.township, StatsPeriod::default()).await.unwrap();
    let count = |status| st.applications.iter().filter(|c| c.status == status).map(|c| c.count).sum::<u64>();
    assert_eq!(st.applications.iter().map(|c| c.count).sum::<u64>(), 5);
    assert_eq!((count(AppStatus::Rated), count(AppStatus::Received), count(AppStatus::Returned), count(AppStatus::Accepted)), (2, 1, 1, 1));
    assert_eq!(st.applications.iter().map(|c| c.overdue).sum::<u64>(), 0, "nothing is late on its first day");
    assert!(st.applications.iter().all(|c| c.village_id == w.village_a || c.village_id == w.village_b));
    let items: u64 = st.items.iter().filter(|c| c.item == "elderly_card" && c.status == ItemStatus::Rated).map(|c| c.count).sum();
    assert_eq!(items, 2);
    assert_eq!(st.approvals.len(), 2);
    let t = Timing::of(&st.approvals).unwrap();
    assert_eq!((t.approved, t.on_time, t.median_days), (2, 2, 0), "approved the day it was accepted");
    assert!(t.median_hours < 1.0);
    assert_eq!(daiban_centre::store::rating_distribution(&st.ratings), [1, 0, 0, 0, 1]);
    // the overdue count judges deadlines against today: a period in the past holds nothing
    let past = chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
    let old = s.statistics(w.township, StatsPeriod { from: Some(past), to: Some(past) }).await.unwrap();
    assert!(old.applications.is_empty() && old.approvals.is_empty() && old.ratings.is_empty());
    let today = daiban_centre::store::china_date(chrono::Utc::now());
    let now = s.statistics(w.township, StatsPeriod { from: Some(today), to: Some(today) }).await.unwrap();
    assert_eq!(now.approvals.len(), 2);
    assert!(s.statistics(w.other_township, StatsPeriod::default()).await.unwrap().approvals.is_empty());
}

macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let t = crate::web_support::store::sqlite_store().await;
                    super::$story(t.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    let t = crate::web_support::store::pg_store().await;
                    super::$story(t.store.clone()).await;
                }
            )*
        }
    };
}

stories!(
    sessions_expire_and_end,
    admins_add_staff_to_their_own_township,
    residents_photos_and_audit_stay_in_their_township,
    bad_ratings_are_followed_up_once,
    statistics_count_time_and_satisfaction,
);
