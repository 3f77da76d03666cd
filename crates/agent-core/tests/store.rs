//! The local store end to end on a real SQLite file with real photographs: the resident
//! register, capture with photos and reuse, submission into the outbox, the centre's answers
//! and decisions, delivery with signature and rating, and survival across reopen.

mod common;

use common::{fill_required, photo, resident};
use daiban_agent_core::forms::ResidentForm;
use daiban_agent_core::store::deliveries::ProofInput;
use daiban_agent_core::store::{OutboxState, Target, TimelineEvent};
use daiban_agent_core::{Store, StoreError};
use daiban_proto::status::Decision;
use daiban_proto::sync::{Change, ChangeBody, DeliveryTask, ErrorCode, EventBody, EventOutcome, EventResult};
use daiban_proto::text::Remark;
use daiban_proto::{AppStatus, DeliveryId, DeliveryMode, ItemStatus, Rating};
use std::collections::BTreeMap;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn elderly_card_answers() -> BTreeMap<String, String> {
    BTreeMap::from([("phone".to_string(), "13800138000".to_string())])
}

/// Photograph every required material (enough photos for each).
fn photograph_required(store: &Store, app: daiban_proto::ApplicationId) {
    let d = store.application(app).unwrap();
    for (i, m) in d.materials.iter().filter(|m| m.required).enumerate() {
        for k in m.photos.len()..usize::from(m.kind.photos.max(1)) {
            store.add_photo(app, &m.kind.code, &photo(i * 3 + k)).unwrap();
        }
    }
}

fn change(seq: i64, body: ChangeBody) -> Change {
    Change { seq, at: chrono::Utc::now(), body }
}

#[test]
fn resident_register_validates_searches_and_masks() {
    let (_d, store) = open();
    let a = store.add_resident(&resident(1, 1950)).unwrap();
    store.add_resident(&resident(2, 1990)).unwrap();

    // The same ID number twice is refused with a message naming the field and the resident.
    match store.add_resident(&resident(1, 1950)) {
        Err(StoreError::Invalid(errs)) => {
            assert_eq!(errs[0].field, "id_number");
            assert!(errs[0].message.contains("王秀英1"), "{}", errs[0].message);
        }
        other => panic!("expected a duplicate error, got {other:?}"),
    }
    assert_eq!(store.resident_count().unwrap(), 2);

    let rec = store.resident(a).unwrap();
    let last4 = &rec.id_number.expose()[14..];
    let hits = store.search_residents(last4, 10).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].id_masked, rec.id_number.masked());
    assert!(!hits[0].id_masked.contains(&rec.id_number.expose()[6..14]), "birth date is masked");
    assert!(hits[0].elderly, "born 1950 counts as elderly");
    assert_eq!(store.search_residents("王秀英2", 10).unwrap().len(), 1);
    assert_eq!(store.search_residents("第三村民", 10).unwrap().len(), 2);
    assert_eq!(store.search_residents("%", 10).unwrap().len(), 0, "LIKE wildcards are literal");

    // Editing: bad input changes nothing.
    let bad = ResidentForm { name: "".into(), id_number: "123".into(), ..Default::default() };
    assert!(bad.parse(common::today()).is_err());
    let mut changed = resident(1, 1950);
    changed.address = Some(daiban_proto::text::Address::parse("李家庄5号").unwrap());
    store.update_resident(a, &changed).unwrap();
    assert_eq!(store.resident(a).unwrap().address.unwrap().as_str(), "李家庄5号");
    // Not yet known to the centre: editing queues nothing.
    assert_eq!(store.outbox_summary().unwrap().pending_events, 0);
}

#[test]
fn capture_submit_and_reuse() {
    let (dir, store) = open();
    let r = store.add_resident(&resident(7, 1948)).unwrap();
    let app = store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();

    // Submitting an empty draft lists every problem and changes nothing.
    let errs = match store.submit(app) {
        Err(StoreError::Invalid(e)) => e,
        other => panic!("expected validation errors, got {other:?}"),
    };
    assert!(errs.iter().any(|e| e.field == "material:id_card" && e.message.contains("2")), "{errs:?}");
    assert_eq!(store.application(app).unwrap().status, AppStatus::Draft);
    assert_eq!(store.outbox_summary().unwrap().pending_events, 0);

    fill_required(&store, app);
    store.save_fields(app, &elderly_card_answers(), Some("老人腿脚不便")).unwrap();
    photograph_required(&store, app);
    let d = store.application(app).unwrap();
    assert!(d.materials.iter().all(|m| m.complete()), "{:?}", d.materials);
    let id_card = d.materials.iter().find(|m| m.kind.code == "id_card").unwrap();
    assert_eq!(id_card.photos.len(), 2);
    assert!(id_card.photos.iter().all(|p| p.width.max(p.height) <= 2000 && p.bytes > 10_000));
    for p in &id_card.photos {
        assert!(store.photos().contains(&p.hash), "photo file is on disk");
    }

    assert_eq!(store.submit(app).unwrap(), 1);
    let d = store.application(app).unwrap();
    assert_eq!(d.status, AppStatus::Queued);
    assert!(!d.editable());
    assert!(matches!(store.submit(app), Err(StoreError::State(_))), "a queued application cannot be submitted twice");
    assert!(matches!(store.add_photo(app, "id_card", &photo(9)), Err(StoreError::State(_))));

    // The resident goes first, then the application, in one transaction with the change.
    let due = store.due_events(chrono::Utc::now(), 10).unwrap();
    assert_eq!(due.len(), 2);
    assert!(matches!(due[0].event.body, EventBody::ResidentUpserted { .. }));
    let EventBody::ApplicationSubmitted { application } = &due[1].event.body else { panic!() };
    assert_eq!(application.id, app);
    assert_eq!(application.fields.get("phone").map(String::as_str), Some("13800138000"));
    assert_eq!(application.note.as_ref().unwrap().as_str(), "老人腿脚不便");
    let sent_photos = application.photos().count();
    assert!(sent_photos >= 3, "id card (2) + photo: {sent_photos}");

    // A second application for the same resident can reuse the ID card and household register.
    let app2 = store.create_draft(r, &Target::Item("longevity_allowance".into())).unwrap();
    let reusable = store.reusable_materials(app2).unwrap();
    let offer = reusable.iter().find(|m| m.material == "id_card").expect("id card offered for reuse");
    assert_eq!(offer.from, app);
    store.reuse_material(app2, "id_card", app).unwrap();
    let d2 = store.application(app2).unwrap();
    let reused = d2.materials.iter().find(|m| m.kind.code == "id_card").unwrap();
    assert_eq!(reused.photos, id_card.photos, "same photos, not new copies");
    assert_eq!(reused.reused_from, Some(app));
    assert!(store.reusable_materials(app2).unwrap().iter().all(|m| m.material != "id_card"), "not offered again");
    // A non-reusable material cannot be reused.
    assert!(store.reuse_material(app2, "photo_1inch", app).is_err());

    // Everything survives closing and reopening.
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.application(app).unwrap().status, AppStatus::Queued);
    assert_eq!(store.application(app2).unwrap().materials.iter().find(|m| m.kind.code == "id_card").unwrap().photos.len(), 2);
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
}

#[test]
fn bundle_uses_one_form_and_one_set_of_materials() {
    let (_d, store) = open();
    let r = store.add_resident(&resident(3, 1940)).unwrap();
    let app = store.create_draft(r, &Target::Bundle("elderly_care".into())).unwrap();
    let d = store.application(app).unwrap();
    assert_eq!(d.items.len(), 3);
    let codes: Vec<_> = d.materials.iter().map(|m| m.kind.code.as_str()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "id_card").count(), 1, "{codes:?}");
    let keys: Vec<_> = d.field_specs.iter().map(|f| f.key.as_str()).collect();
    let mut dedup = keys.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(keys.len(), dedup.len(), "each field asked once: {keys:?}");
    fill_required(&store, app);
    photograph_required(&store, app);
    store.submit(app).unwrap();
    let due = store.due_events(chrono::Utc::now(), 10).unwrap();
    let EventBody::ApplicationSubmitted { application } = &due[1].event.body else { panic!() };
    assert_eq!(application.bundle.as_deref(), Some("elderly_care"));
    assert_eq!(application.items.len(), 3);
}

#[test]
fn outcomes_decisions_correction_delivery_and_rating() {
    let (_d, store) = open();
    let r = store.add_resident(&resident(5, 1945)).unwrap();
    let app = store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();
    fill_required(&store, app);
    photograph_required(&store, app);
    store.submit(app).unwrap();

    // The centre applies both events; photos then become due for upload.
    let due = store.due_events(chrono::Utc::now(), 10).unwrap();
    assert!(store.photos_to_upload(100).unwrap().is_empty(), "photos wait for their event");
    let outcomes: Vec<_> = due.iter().map(|e| EventOutcome { event_id: e.event.id, result: EventResult::Applied }).collect();
    store.record_outcomes(&outcomes).unwrap();
    store.record_outcomes(&outcomes).unwrap(); // a replayed answer changes nothing
    let to_upload = store.photos_to_upload(100).unwrap();
    assert!(to_upload.len() >= 3);
    store.mark_photo_uploaded(&to_upload[0].hash).unwrap();
    assert_eq!(store.photos_to_upload(100).unwrap().len(), to_upload.len() - 1);
    assert_eq!(store.outbox_summary().unwrap().pending_events, 0);

    // Received, then returned for correction with the ID card to redo.
    store.apply_change(&change(1, ChangeBody::Received { application_id: app, revision: 1, deadline: None })).unwrap();
    assert_eq!(store.application(app).unwrap().status, AppStatus::Received);
    let ret = Decision::Return { reason: Remark::parse("身份证反面模糊，请重拍").unwrap(), materials: vec!["id_card".into()] };
    store
        .apply_change(&change(
            2,
            ChangeBody::Decision { application_id: app, revision: 1, decision: ret, by: "李审核".into(), deadline: None },
        ))
        .unwrap();
    let d = store.application(app).unwrap();
    assert_eq!(d.status, AppStatus::Returned);
    assert_eq!(d.return_reason.as_deref(), Some("身份证反面模糊，请重拍"));
    assert!(d.materials.iter().find(|m| m.kind.code == "id_card").unwrap().requested_again);
    assert!(d.editable());
    assert_eq!(store.pull_cursor().unwrap(), 2);
    // A repeated page is ignored.
    store.apply_change(&change(2, ChangeBody::Received { application_id: app, revision: 1, deadline: None })).unwrap();
    assert_eq!(store.application(app).unwrap().status, AppStatus::Returned);

    // Sending it back as it was is refused, naming the material the centre asked for again.
    match store.submit(app) {
        Err(StoreError::Invalid(errs)) => {
            assert_eq!(errs.len(), 1, "{errs:?}");
            assert_eq!(errs[0].field, "material:id_card");
            assert!(errs[0].message.contains("请拍新的照片替换"), "{errs:?}");
        }
        other => panic!("resubmitting unchanged must be refused: {other:?}"),
    }
    assert_eq!(store.application(app).unwrap().status, AppStatus::Returned, "nothing changed by the refusal");

    // The agent re-takes the photo and resubmits: revision 2 of the same application.
    let old = d.materials.iter().find(|m| m.kind.code == "id_card").unwrap().photos[1].hash;
    store.remove_photo(app, "id_card", &old).unwrap();
    assert!(store.photos().contains(&old), "revision 1 still refers to the old photo");
    store.add_photo(app, "id_card", &photo(11)).unwrap();
    assert_eq!(store.submit(app).unwrap(), 2);
    let due = store.due_events(chrono::Utc::now(), 10).unwrap();
    assert_eq!(due.len(), 1, "the resident is not sent again: {due:?}");
    let EventBody::ApplicationSubmitted { application } = &due[0].event.body else { panic!() };
    assert_eq!((application.id, application.revision), (app, 2));
    store.record_outcomes(&[EventOutcome { event_id: due[0].event.id, result: EventResult::Applied }]).unwrap();

    let by = || "李审核".to_string();
    for (seq, body) in [
        (3, ChangeBody::Received { application_id: app, revision: 2, deadline: None }),
        (4, ChangeBody::Decision { application_id: app, revision: 2, decision: Decision::Accept, by: by(), deadline: None }),
        (
            5,
            ChangeBody::Decision {
                application_id: app,
                revision: 2,
                decision: Decision::Approve { item: "elderly_card".into() },
                by: by(),
                deadline: None,
            },
        ),
        (
            6,
            ChangeBody::Decision {
                application_id: app,
                revision: 2,
                decision: Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
                by: by(),
                deadline: None,
            },
        ),
    ] {
        store.apply_change(&change(seq, body)).unwrap();
    }
    assert_eq!(store.application(app).unwrap().status, AppStatus::ResultReady);
    let delivery = DeliveryId::new();
    let task = DeliveryTask {
        id: delivery,
        application_id: app,
        item: "elderly_card".into(),
        resident_id: r,
        mode: DeliveryMode::Home,
        result: daiban_proto::catalogue::L10n::new("老年人优待证", "Senior card"),
        note: None,
    };
    store.apply_change(&change(7, ChangeBody::DeliveryTask { task })).unwrap();
    let open = store.deliveries(true).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].address.as_deref(), Some("王家村东街12号"));

    // Rating before delivery is refused; delivery with an empty signature is refused.
    assert!(matches!(store.rate_delivery(delivery, Rating::Satisfied, ""), Err(StoreError::State(_))));
    let png = daiban_agent_core::signature::to_png(&[vec![(10.0, 10.0), (200.0, 80.0), (300.0, 20.0)]], 340, 180, 4.0).unwrap();
    store.confirm_delivery(delivery, "王秀英5", ProofInput::SignaturePng(&png)).unwrap();
    assert!(matches!(store.confirm_delivery(delivery, "王秀英5", ProofInput::SignaturePng(&png)), Err(StoreError::State(_))));
    store.rate_delivery(delivery, Rating::VerySatisfied, "不用跑腿，很方便").unwrap();
    let d = store.application(app).unwrap();
    assert_eq!(d.status, AppStatus::Rated);
    assert_eq!(d.items[0].2, ItemStatus::Rated);
    let kinds: Vec<_> = d.timeline.iter().map(|t| std::mem::discriminant(&t.event)).collect();
    assert!(kinds.contains(&std::mem::discriminant(&TimelineEvent::Rated { item: String::new(), rating: Rating::Neutral })));
    let due = store.due_events(chrono::Utc::now(), 10).unwrap();
    assert_eq!(due.iter().map(|e| e.event.body.kind()).collect::<Vec<_>>(), ["delivery_confirmed", "rating_given"]);
    let EventBody::DeliveryConfirmed { delivery: rec } = &due[0].event.body else { panic!() };
    assert!(store.photos().contains(&rec.proof.photo().hash), "signature stored as a photo");
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
}

#[test]
fn refused_submission_is_quarantined_and_reopened_without_blocking_the_rest() {
    let (_d, store) = open();
    let r1 = store.add_resident(&resident(8, 1950)).unwrap();
    let r2 = store.add_resident(&resident(9, 1951)).unwrap();
    let mut apps = vec![];
    for r in [r1, r2] {
        let app = store.create_draft(r, &Target::Item("residence_certificate".into())).unwrap();
        fill_required(&store, app);
        photograph_required(&store, app);
        store.submit(app).unwrap();
        apps.push(app);
    }
    let due = store.due_events(chrono::Utc::now(), 10).unwrap();
    assert_eq!(due.len(), 4);
    let refused =
        due.iter().find(|e| matches!(&e.event.body, EventBody::ApplicationSubmitted { application } if application.id == apps[0])).unwrap();
    let outcomes: Vec<_> = due
        .iter()
        .map(|e| EventOutcome {
            event_id: e.event.id,
            result: if e.event.id == refused.event.id {
                EventResult::Rejected { code: ErrorCode::Validation, message: "事项已停办".into() }
            } else {
                EventResult::Applied
            },
        })
        .collect();
    store.record_outcomes(&outcomes).unwrap();
    let q = store.quarantined_events().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].state, OutboxState::Quarantined);
    assert!(q[0].last_error.as_deref().unwrap().contains("事项已停办"));
    let d = store.application(apps[0]).unwrap();
    assert_eq!(d.status, AppStatus::Draft, "editable again");
    assert!(d.return_reason.unwrap().contains("事项已停办"));
    assert_eq!(store.application(apps[1]).unwrap().status, AppStatus::Queued, "the other one went through");
    assert_eq!(store.outbox_summary().unwrap().pending_events, 0);
    // Fixed and resubmitted: a new event for revision 1 again.
    assert_eq!(store.submit(apps[0]).unwrap(), 1);
    assert_eq!(store.outbox_summary().unwrap().pending_events, 1);
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
}

#[test]
fn deleting_a_draft_removes_its_photos_but_keeps_shared_ones() {
    let (_d, store) = open();
    let r = store.add_resident(&resident(4, 1950)).unwrap();
    let a = store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();
    let p = store.add_photo(a, "id_card", &photo(0)).unwrap();
    let b = store.create_draft(r, &Target::Item("longevity_allowance".into())).unwrap();
    store.reuse_material(b, "id_card", a).unwrap();
    let own = store.add_photo(b, "photo_1inch", &photo(1)).unwrap();
    store.delete_draft(b).unwrap();
    assert!(!store.photos().contains(&own.hash), "a photo only the draft used is deleted");
    assert!(store.photos().contains(&p.hash), "a photo another application uses is kept");
    assert!(matches!(store.application(b), Err(StoreError::NotFound(_))));
    assert_eq!(store.check_integrity().unwrap(), Vec::<String>::new());
}

#[test]
fn data_at_rest_is_encrypted_and_needs_the_key() {
    let (dir, store) = open();
    let input = resident(21, 1950);
    let idn = input.id_number.expose().to_string();
    let r = store.add_resident(&input).unwrap();
    let app = store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();
    store.save_fields(app, &elderly_card_answers(), Some("家住村东头")).unwrap();
    let p = store.add_photo(app, "id_card", &photo(0)).unwrap();
    let jpeg = store.photos().read(&p.hash).unwrap();
    assert_eq!(&jpeg[..2], b"\xff\xd8", "read() gives the plain JPEG");
    assert_eq!(store.photos().size(&p.hash).unwrap(), jpeg.len() as u64);
    drop(store);

    // Nothing sensitive is on disk in the clear: not the ID number, the name, the note, nor
    // any part of the photo.
    let needles: Vec<Vec<u8>> =
        vec![idn.into_bytes(), "王秀英21".as_bytes().to_vec(), "家住村东头".as_bytes().to_vec(), jpeg[100..164].to_vec()];
    let mut files = 0;
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().unwrap() == daiban_agent_core::store::KEY_FILE {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            files += 1;
            for n in &needles {
                assert!(!bytes.windows(n.len()).any(|w| w == n.as_slice()), "{} holds plaintext", path.display());
            }
            assert!(!bytes.starts_with(b"\xff\xd8") && !bytes.starts_with(b"SQLite format 3"), "{} is not encrypted", path.display());
        }
    }
    assert!(files >= 2, "database and photo were scanned");

    // The right key opens it; another key does not (and says so).
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.resident(r).unwrap().id_number.expose(), input.id_number.expose());
    drop(store);
    std::fs::remove_file(dir.path().join(daiban_agent_core::store::KEY_FILE)).unwrap();
    assert!(matches!(Store::open(dir.path()), Err(StoreError::WrongKey)));
}

#[test]
fn reminders_find_residents_turning_an_age_soon() {
    let (_d, store) = open();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let make = |n: u16, birth: chrono::NaiveDate| {
        let id = daiban_proto::id_number::make_id_number("370611", birth, n);
        let input = ResidentForm { name: format!("居民{n}"), id_number: id.expose().into(), ..Default::default() }.parse(today).unwrap();
        store.add_resident(&input).unwrap()
    };
    let d = |y, m, day| chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap();
    let soon = make(1, d(1966, 12, 10)); // turns 60 on 10 Dec 2026
    make(2, d(1966, 11, 22)); // turned 60 yesterday
    make(3, d(1967, 1, 30)); // in 68 days
    let today_60 = make(4, d(1966, 11, 23)); // today
    make(5, d(1990, 12, 1)); // far too young
    let found = store.residents_reaching_age(60, today, 30).unwrap();
    let ids: Vec<_> = found.iter().map(|(r, _)| r.id).collect();
    assert_eq!(ids, vec![soon, today_60].into_iter().rev().collect::<Vec<_>>(), "{found:?}");
    assert_eq!(found[1].1, d(2026, 12, 10));
}

/// A new application's phone field starts with the resident's phone from the register.
#[test]
fn a_new_application_is_filled_with_the_residents_phone() {
    let (_d, store) = open();
    let r = store.add_resident(&resident(1, 1950)).unwrap();
    let app = store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();
    let fields = store.application(app).unwrap().fields;
    assert_eq!(fields.get("phone").map(String::as_str), Some("13800138000"));
    assert_eq!(fields.len(), 1, "other phone fields (an emergency contact's) stay empty: {fields:?}");
    // a resident without a phone: the field stays empty for the agent to fill
    let mut no_phone = resident(2, 1950);
    no_phone.phone = None;
    let r = store.add_resident(&no_phone).unwrap();
    let app = store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();
    assert_eq!(store.application(app).unwrap().fields.get("phone"), None);
}

/// A return that names no material: resubmitting with nothing changed is refused with a
/// message saying so; changing an answer is enough.
#[test]
fn a_returned_application_goes_back_only_when_something_changed() {
    let (_d, store) = open();
    let r = store.add_resident(&resident(3, 1950)).unwrap();
    let app = store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();
    store.save_fields(app, &elderly_card_answers(), None).unwrap();
    photograph_required(&store, app);
    assert_eq!(store.submit(app).unwrap(), 1);
    store.apply_change(&change(1, ChangeBody::Received { application_id: app, revision: 1, deadline: None })).unwrap();
    let ret = Decision::Return { reason: Remark::parse("联系电话打不通，请核实").unwrap(), materials: vec![] };
    store
        .apply_change(&change(
            2,
            ChangeBody::Decision { application_id: app, revision: 1, decision: ret, by: "李审核".into(), deadline: None },
        ))
        .unwrap();
    match store.submit(app) {
        Err(StoreError::Invalid(errs)) => {
            assert!(errs.iter().any(|e| e.field == "submit" && e.message.contains("还没有做任何修改")), "{errs:?}")
        }
        other => panic!("{other:?}"),
    }
    let fixed = BTreeMap::from([("phone".to_string(), "13900139000".to_string())]);
    store.save_fields(app, &fixed, None).unwrap();
    assert_eq!(store.submit(app).unwrap(), 2);
}

/// A real township's catalogue starts at version 1 too: its first one replaces the built-in
/// one anyway, then only newer ones do; it stays across a restart; after a move to another
/// centre that centre's first catalogue comes in, again whatever its version.
#[test]
fn the_townships_own_catalogue_replaces_the_built_in_one() {
    let (dir, store) = open();
    let builtin = daiban_agent_core::catalogue::builtin();
    assert_eq!(store.catalogue().township.zh, builtin.township.zh);
    let township = |zh: &str, version: u32| {
        let mut c = builtin.clone();
        c.version = version;
        c.township = daiban_proto::catalogue::L10n::new(zh, zh);
        c.items.retain(|i| i.code != "veteran_card");
        c.bundles.retain(|b| b.items.iter().all(|i| i != "veteran_card"));
        ChangeBody::Catalogue { catalogue: c }
    };
    store.apply_change(&change(1, township("杏花镇", builtin.version))).unwrap();
    let now = store.catalogue();
    assert_eq!((now.township.zh.as_str(), now.version), ("杏花镇", builtin.version), "taken although its version is the built-in's");
    assert!(now.item("veteran_card").is_none(), "the township's own items");
    // not the same version again, nor an older one
    store.apply_change(&change(2, township("别的镇", builtin.version))).unwrap();
    assert_eq!(store.catalogue().township.zh, "杏花镇");
    store.apply_change(&change(3, township("杏花镇", builtin.version + 1))).unwrap();
    assert_eq!(store.catalogue().version, builtin.version + 1);
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!((store.catalogue().township.zh.as_str(), store.catalogue().version), ("杏花镇", builtin.version + 1), "after a restart");
    // enrolled elsewhere: the next centre's first catalogue, version 1
    store.reset_pull_cursor().unwrap();
    store.apply_change(&change(1, township("梨园镇", 1))).unwrap();
    assert_eq!((store.catalogue().township.zh.as_str(), store.catalogue().version), ("梨园镇", 1));
}

/// The centre's deadline arrives with 已接收 and again with acceptance (it runs from there);
/// other decisions leave it as it is.
#[test]
fn the_deadline_comes_from_the_centre() {
    let (_dir, store) = open();
    let r = store.add_resident(&resident(40, 1950)).unwrap();
    let app = store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();
    store.save_fields(app, &elderly_card_answers(), None).unwrap();
    photograph_required(&store, app);
    store.submit(app).unwrap();
    assert_eq!(store.application(app).unwrap().deadline, None);
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 12, d);
    store.apply_change(&change(1, ChangeBody::Received { application_id: app, revision: 1, deadline: day(14) })).unwrap();
    assert_eq!(store.application(app).unwrap().deadline, day(14));
    let accept =
        ChangeBody::Decision { application_id: app, revision: 1, decision: Decision::Accept, by: "李审核".into(), deadline: day(18) };
    store.apply_change(&change(2, accept)).unwrap();
    assert_eq!(store.application(app).unwrap().deadline, day(18));
    let approve = ChangeBody::Decision {
        application_id: app,
        revision: 1,
        decision: Decision::Approve { item: "elderly_card".into() },
        by: "李审核".into(),
        deadline: None,
    };
    store.apply_change(&change(3, approve)).unwrap();
    assert_eq!(store.application(app).unwrap().deadline, day(18));
}
