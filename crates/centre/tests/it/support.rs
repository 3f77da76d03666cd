//! Test helpers: real stores (a SQLite file in a temp dir, a fresh PostgreSQL database), a
//! seeded world of two townships, and builders for the records devices send.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use daiban_centre::catalogue::default_catalogue;
use daiban_centre::store::{self, DatabaseUrl, DeviceAuth, NewStaff, Role, Rules, StaffId, Store, TownshipId, VillageCode, VillageId};
use daiban_proto::catalogue::L10n;
use daiban_proto::id_number::make_id_number;
use daiban_proto::record::MaterialRecord;
use daiban_proto::sync::{EnrolRequest, Event, EventBody, EventResult};
use daiban_proto::text::PersonName;
use daiban_proto::{ApplicationId, ApplicationRecord, EventId, PhotoHash, PhotoRef, ResidentId, ResidentRecord};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tempfile::TempDir;

/// A store and what keeps it alive (the temp dir of a SQLite file).
pub struct TestStore {
    pub store: Arc<dyn Store>,
    pub _dir: Option<TempDir>,
}

/// The file name of [`sqlite_store`]'s database in its temp dir.
pub const SQLITE_FILE: &str = "centre.sqlite3";

pub async fn sqlite_store() -> TestStore {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::Sqlite(dir.path().join(SQLITE_FILE));
    TestStore { store: store::open(&url, Rules::default()).await.unwrap(), _dir: Some(dir) }
}

/// The server URL from `DAIBAN_TEST_PG_URL`, or from `scripts/ensure-postgres.sh` (which
/// starts a throwaway cluster when none answers). Panics — the test FAILS — when PostgreSQL
/// cannot be had.
pub fn pg_server_url() -> String {
    if let Ok(url) = std::env::var("DAIBAN_TEST_PG_URL") {
        return url;
    }
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-postgres.sh");
    // Output goes to files and only the script's exit is awaited: a server it starts must never
    // be able to keep a pipe of ours open.
    let out = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (out.path().join("stdout"), out.path().join("stderr"));
    let status = std::process::Command::new("bash")
        .arg(&script)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .status()
        .expect("run scripts/ensure-postgres.sh");
    assert!(
        status.success(),
        "PostgreSQL is not available: {}\n{}",
        script.display(),
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    std::fs::read_to_string(&stdout).unwrap().trim().to_string()
}

/// A fresh, empty database on the test server.
pub async fn pg_database() -> String {
    let server = pg_server_url();
    let (client, conn) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {server}: {e}"));
    tokio::spawn(conn);
    let name = format!("daiban_test_{}", uuid::Uuid::new_v4().simple());
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
    format!("{base}/{name}")
}

pub async fn pg_store() -> TestStore {
    let url = DatabaseUrl::Postgres(pg_database().await);
    TestStore { store: store::open(&url, Rules::default()).await.unwrap(), _dir: None }
}

/// Two townships: 桃源镇 with villages A and B, and 杏花乡 with village C.
pub struct World {
    pub store: Arc<dyn Store>,
    pub township: TownshipId,
    pub village_a: VillageId,
    pub village_b: VillageId,
    pub admin: StaffId,
    pub reviewer: StaffId,
    pub other_township: TownshipId,
    pub village_c: VillageId,
    pub other_admin: StaffId,
}

pub const PASSWORD: &str = "correct horse 电池";

async fn staff(s: &dyn Store, township: TownshipId, username: &str, name: &str, role: Role) -> StaffId {
    let new = NewStaff { township_id: township, username: username.into(), display_name: name.into(), role, password: PASSWORD.into() };
    s.create_staff(new).await.unwrap()
}

pub async fn world(store: Arc<dyn Store>) -> World {
    let s = store.as_ref();
    let township = s.create_township("370611101", L10n::new("桃源镇", "Taoyuan")).await.unwrap();
    let village = |code: &str| VillageCode::parse(code).unwrap();
    let village_a = s.create_village(township, village("370611101201"), L10n::new("王家村", "Wangjia")).await.unwrap();
    let village_b = s.create_village(township, village("370611101202"), L10n::new("李家庄", "Lijiazhuang")).await.unwrap();
    let admin = staff(s, township, "admin", "王镇管", Role::TownshipAdmin).await;
    let reviewer = staff(s, township, "reviewer", "李审核", Role::Reviewer).await;
    s.publish_catalogue(admin, default_catalogue()).await.unwrap();
    let other_township = s.create_township("370611102", L10n::new("杏花乡", "Xinghua")).await.unwrap();
    let village_c = s.create_village(other_township, village("370611102201"), L10n::new("河东村", "Hedong")).await.unwrap();
    let other_admin = staff(s, other_township, "other_admin", "赵管理", Role::TownshipAdmin).await;
    s.publish_catalogue(other_admin, default_catalogue()).await.unwrap();
    World { store, township, village_a, village_b, admin, reviewer, other_township, village_c, other_admin }
}

impl World {
    /// Enrol a new device in `village` (code made by that township's admin).
    pub async fn device(&self, village: VillageId) -> (DeviceAuth, String) {
        let admin = if village == self.village_c { self.other_admin } else { self.admin };
        let code = self.store.create_enrolment_code(admin, village, Duration::hours(1)).await.unwrap();
        let resp = self.store.enrol(EnrolRequest { code: code.code, device_name: "测试手机".into(), device_key: None }).await.unwrap();
        (self.store.authenticate_device(&resp.token).await.unwrap(), resp.token)
    }
}

pub fn resident(seq: u16) -> ResidentRecord {
    ResidentRecord {
        id: ResidentId::new(),
        name: PersonName::parse("王秀英").unwrap(),
        id_number: make_id_number("370611", NaiveDate::from_ymd_opt(1950, 3, 1).unwrap(), seq),
        phone: None,
        village_group: None,
        address: None,
        elderly: true,
        mobility_limited: false,
        updated_at: Utc.with_ymd_and_hms(2026, 11, 20, 8, 0, 0).unwrap(),
    }
}

pub fn photo_ref(bytes: &[u8]) -> PhotoRef {
    PhotoRef { hash: PhotoHash::of(bytes), bytes: bytes.len() as u64, width: 1600, height: 1200 }
}

/// Revision 1 of an elderly-card application with one ID-card photo.
pub fn application(resident: ResidentId) -> ApplicationRecord {
    ApplicationRecord {
        id: ApplicationId::new(),
        revision: 1,
        resident_id: resident,
        bundle: None,
        items: vec!["elderly_card".into()],
        fields: BTreeMap::new(),
        materials: vec![MaterialRecord {
            code: "id_card".into(),
            photos: vec![photo_ref(format!("id card of {resident}").as_bytes())],
            reused_from: None,
        }],
        catalogue_version: 1,
        note: None,
        created_at: Utc::now(),
        submitted_at: Utc::now(),
    }
}

pub fn event(body: EventBody) -> Event {
    Event { id: EventId::new(), created_at: Utc::now(), body }
}

pub fn upsert(r: &ResidentRecord) -> Event {
    event(EventBody::ResidentUpserted { resident: r.clone() })
}

pub fn submit(a: &ApplicationRecord) -> Event {
    event(EventBody::ApplicationSubmitted { application: a.clone() })
}

/// Push events that must be applied.
pub async fn push_ok(s: &dyn Store, device: DeviceAuth, events: &[Event]) {
    for e in events {
        let out = s.ingest(device, e.clone()).await.unwrap();
        assert_eq!(out.result, EventResult::Applied, "event {} ({})", e.id, e.body.kind());
    }
}

/// Push one event that must be rejected with `code`; returns the message.
pub async fn push_rejected(s: &dyn Store, device: DeviceAuth, e: &Event, code: daiban_proto::sync::ErrorCode) -> String {
    match s.ingest(device, e.clone()).await.unwrap().result {
        EventResult::Rejected { code: got, message } => {
            assert_eq!(got, code, "{message}");
            message
        }
        EventResult::Applied => panic!("event {} ({}) was applied, expected {code:?}", e.id, e.body.kind()),
    }
}
