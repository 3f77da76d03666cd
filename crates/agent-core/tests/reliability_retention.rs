//! Retention on the phone: once an application is closed at the centre (here: rejected), its
//! photos are uploaded and the retention period is over (a clock moved forward), the purge
//! deletes their files — and only theirs: an open application's photos stay, the store passes
//! its integrity check, the purged photos are no longer offered for reuse, the application
//! and its history stay, and a second purge finds nothing.

mod common;
mod support;

use chrono::{Duration, Utc};
use daiban_agent_core::store::Target;
use daiban_agent_core::sync::SyncClient;
use daiban_agent_core::Store;
use daiban_proto::status::Decision;
use daiban_proto::text::Remark;
use daiban_proto::{AppStatus, PhotoHash};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_of_closed_cases_leave_the_phone_after_the_retention_period() {
    let centre = TestCentre::start().await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    daiban_agent_core::sync::enrol(&store, &centre.url, &centre.demo_code(), "保存期限测试").await.unwrap();
    let photos = PhotoFactory::new(1, 480);
    let mut n = 0;
    let mut shot = || {
        n += 1;
        photos.photo(n)
    };
    let closed = capture(&store, 1, "pension_certification", &mut shot);
    let open = capture(&store, 2, "pension_certification", &mut shot);
    let client = SyncClient::new(store.clone(), test_config()).unwrap();
    client.run_once().await.unwrap();
    assert!(store.outbox_summary().unwrap().is_empty(), "everything uploaded");
    let reason = Remark::parse("不符合认证条件").unwrap();
    centre.store.decide(centre.reviewer, closed, 1, Decision::Reject { item: "pension_certification".into(), reason }).await.unwrap();
    client.run_once().await.unwrap();
    assert_eq!(store.application(closed).unwrap().status, AppStatus::Rejected);
    assert_eq!(store.application(open).unwrap().status, AppStatus::Received);
    let (closed_photos, open_photos) = (photos_of(&store, closed), photos_of(&store, open));

    // a new application of the closed one's resident is offered its photos for reuse, so far
    let resident = store.application(closed).unwrap().resident.id;
    let draft = store.create_draft(resident, &Target::Item("pension_certification".into())).unwrap();
    assert!(!store.reusable_materials(draft).unwrap().is_empty(), "reuse offered before the purge");

    let keep = Duration::days(30);
    assert_eq!(store.purge_closed_photos(keep, Utc::now()).unwrap().photos, 0, "within the period");
    let report = store.purge_closed_photos(keep, Utc::now() + Duration::days(31)).unwrap();
    assert_eq!((report.photos, report.files_removed), (closed_photos.len(), closed_photos.len()));
    for h in &closed_photos {
        assert!(!store.photos().contains(h), "file of {h:?} deleted");
        assert!(daiban_agent_core::thumbnail::thumbnail(&store, h).is_err());
        assert!(store.photo_purged(h).unwrap(), "the screens can tell why");
    }
    for h in &open_photos {
        assert!(!store.photo_purged(h).unwrap());
        assert_eq!(PhotoHash::of(&store.photos().read(h).unwrap()), *h, "open case's photo kept whole");
    }
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new(), "a purged file is not a missing file");
    assert!(store.reusable_materials(draft).unwrap().is_empty(), "purged photos are not offered for reuse");
    let kept = store.application(closed).unwrap();
    assert_eq!(
        (kept.status, kept.materials.iter().map(|m| m.photos.len()).sum::<usize>()),
        (AppStatus::Rejected, closed_photos.len()),
        "the application and its record stay"
    );
    assert_eq!(store.purge_closed_photos(keep, Utc::now() + Duration::days(31)).unwrap(), Default::default(), "nothing more to do");
    assert_eq!(store.sweep_photos().unwrap(), 0);
    centre.stop().await;
}
