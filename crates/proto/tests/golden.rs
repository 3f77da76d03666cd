//! Frozen wire format: every message type is serialised from a fixed sample and compared
//! with the JSON checked in under `tests/golden/`. A failing test means a change would break
//! phones already in the field; changes must be additive. To accept a deliberate additive
//! change, run with `UPDATE_GOLDEN=1` and review the diff.

use chrono::{DateTime, TimeZone, Utc};
use daiban_proto::record::{DeliveryRecord, Proof, RatingRecord};
use daiban_proto::status::Decision;
use daiban_proto::sync::*;
use daiban_proto::text::{Address, PersonName, Phone, Remark};
use daiban_proto::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use uuid::Uuid;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 30, 0).unwrap()
}
fn uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 | n)
}
fn photo(n: u8) -> PhotoRef {
    PhotoRef { hash: PhotoHash([n; 32]), bytes: 245_000 + n as u64, width: 1600, height: 1200 }
}

fn check<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, v: &T) {
    let json = serde_json::to_string_pretty(v).unwrap() + "\n";
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.json"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &json).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("missing golden file {path:?}"));
    assert_eq!(json, want, "wire format of {name} changed");
    let back: T = serde_json::from_str(&want).unwrap();
    assert_eq!(&back, v, "{name} does not round-trip");
}

fn resident() -> ResidentRecord {
    ResidentRecord {
        id: ResidentId(uuid(1)),
        name: PersonName::parse("王秀英").unwrap(),
        id_number: IdNumber::parse("11010519491231002X").unwrap(),
        phone: Some(Phone::parse("13800138000").unwrap()),
        village_group: Some(Address::parse("第三村民小组").unwrap()),
        address: Some(Address::parse("王家村东街12号").unwrap()),
        elderly: true,
        mobility_limited: false,
        updated_at: t0(),
    }
}

fn application() -> ApplicationRecord {
    ApplicationRecord {
        id: ApplicationId(uuid(2)),
        revision: 1,
        resident_id: ResidentId(uuid(1)),
        bundle: None,
        items: vec!["elderly_card".into()],
        fields: BTreeMap::from([("phone".to_string(), "13800138000".to_string())]),
        materials: vec![
            MaterialRecord { code: "id_card".into(), photos: vec![photo(1), photo(2)], reused_from: Some(ApplicationId(uuid(9))) },
            MaterialRecord { code: "photo_1inch".into(), photos: vec![photo(3)], reused_from: None },
        ],
        catalogue_version: 3,
        note: Some(Remark::parse("老人行动不便,请送证上门").unwrap()),
        created_at: t0(),
        submitted_at: t0(),
    }
}

#[test]
fn push_request() {
    let events = vec![
        Event { id: EventId(uuid(10)), created_at: t0(), body: EventBody::ResidentUpserted { resident: resident() } },
        Event { id: EventId(uuid(11)), created_at: t0(), body: EventBody::ApplicationSubmitted { application: application() } },
        Event {
            id: EventId(uuid(12)),
            created_at: t0(),
            body: EventBody::DeliveryConfirmed {
                delivery: DeliveryRecord {
                    delivery_id: DeliveryId(uuid(20)),
                    application_id: ApplicationId(uuid(2)),
                    item: "elderly_card".into(),
                    recipient: PersonName::parse("王秀英").unwrap(),
                    proof: Proof::Signature { photo: photo(4) },
                    delivered_at: t0(),
                },
            },
        },
        Event {
            id: EventId(uuid(13)),
            created_at: t0(),
            body: EventBody::RatingGiven {
                rating: RatingRecord {
                    delivery_id: DeliveryId(uuid(20)),
                    application_id: ApplicationId(uuid(2)),
                    item: "elderly_card".into(),
                    rating: Rating::VerySatisfied,
                    comment: Some(Remark::parse("不用跑腿,很方便").unwrap()),
                    rated_at: t0(),
                },
            },
        },
    ];
    check("push_request", &PushRequest { events, queue_len: 7 });
}

#[test]
fn push_response() {
    check(
        "push_response",
        &PushResponse {
            outcomes: vec![
                EventOutcome { event_id: EventId(uuid(10)), result: EventResult::Applied },
                EventOutcome {
                    event_id: EventId(uuid(11)),
                    result: EventResult::Rejected { code: ErrorCode::Validation, message: "事项 x 不存在".into() },
                },
            ],
        },
    );
}

#[test]
fn pull_response() {
    let changes = vec![
        Change { seq: 41, at: t0(), body: ChangeBody::Received { application_id: ApplicationId(uuid(2)), revision: 1, deadline: None } },
        Change {
            seq: 42,
            at: t0(),
            body: ChangeBody::Decision {
                application_id: ApplicationId(uuid(2)),
                revision: 1,
                decision: Decision::Return {
                    reason: Remark::parse("身份证反面照片模糊,请重拍").unwrap(),
                    materials: vec!["id_card".into()],
                },
                by: "李审核".into(),
                deadline: None,
            },
        },
        Change {
            seq: 43,
            at: t0(),
            body: ChangeBody::Decision {
                application_id: ApplicationId(uuid(2)),
                revision: 2,
                decision: Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
                by: "李审核".into(),
                deadline: None,
            },
        },
        Change {
            seq: 44,
            at: t0(),
            body: ChangeBody::DeliveryTask {
                task: DeliveryTask {
                    id: DeliveryId(uuid(20)),
                    application_id: ApplicationId(uuid(2)),
                    item: "elderly_card".into(),
                    resident_id: ResidentId(uuid(1)),
                    mode: DeliveryMode::Home,
                    result: catalogue::L10n::new("老年人优待证", "Senior citizen card"),
                    note: None,
                },
            },
        },
    ];
    check("pull_response", &PullResponse { changes, cursor: 44, more: false });
}

#[test]
fn enrolment_and_errors() {
    check("enrol_request", &EnrolRequest { code: "K7PQ-2M9X".into(), device_name: "王家村代办员".into(), device_key: None });
    check(
        "enrol_response",
        &EnrolResponse {
            device_id: DeviceId(uuid(30)),
            token: "dbn_0123456789abcdef".into(),
            township: catalogue::L10n::new("桃源镇", "Taoyuan"),
            village_code: "370611101201".into(),
            village_name: catalogue::L10n::new("王家村", "Wangjia village"),
        },
    );
    check("error_body", &ErrorBody { code: ErrorCode::Validation, message: "身份证号校验位不对".into(), field: Some("id_number".into()) });
}
