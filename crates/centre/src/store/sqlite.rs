//! Embedded SQLite backend (the default).
//!
//! One file in WAL mode with `synchronous=FULL` (an acknowledged push survives a power cut);
//! only [`Mode::WriteRelaxed`] transactions (a tus upload's creation and offset, when a device was
//! last heard from) commit with `NORMAL`.
//! SQLite allows one writer at a time, so there is exactly one writer connection, used under a
//! mutex, and a small pool of read-only connections that read in parallel with it. All SQLite
//! calls are blocking, so every transaction runs on tokio's blocking pool; the domain
//! operation's future is driven there by a trivial executor (its `Tx` calls never wait).
//!
//! Because the writer is single, write transactions are serial: claiming an event id, reading
//! an application "for update" and appending to a change feed need no extra locking here.

use crate::store::error::{Result, StoreError};
use crate::store::inbox_sql::{inbox_query, Param};
use crate::store::model::*;
use crate::store::tx::{Claim, DeliveryRow, DeviceRow, EnrolmentCodeRow, Tx};
use crate::store::{Backend, Mode, TxFn};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use daiban_proto::catalogue::{Catalogue, L10n};
use daiban_proto::record::{DeliveryRecord, RatingRecord};
use daiban_proto::status::{AppStatus, ItemStatus, Stage};
use daiban_proto::sync::{Change, ChangeBody, DeliveryTask, EventResult};
use daiban_proto::{ApplicationId, ApplicationRecord, DeliveryId, DeviceId, EventId, PhotoHash, Rating, ResidentId, ResidentRecord};
use rusqlite::types::{ToSqlOutput, Type};
use rusqlite::{params, Connection, OptionalExtension, Row, ToSql};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use uuid::Uuid;

mod retention_tx;
mod staff_tx;

/// Reader connections (WAL lets them read while the writer writes).
const READERS: usize = 4;

/// Schema migrations, append-only; the schema version is SQLite's `user_version`.
///
/// (`rusqlite_migration` would be the crate for this, but no release of it builds against the
/// rusqlite 0.41 this workspace uses: 1.0 imports the removed `NO_PARAMS`, 2.x pins 0.40.)
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/sqlite/V1__init.sql"),
    include_str!("migrations/sqlite/V2__staff_web.sql"),
    include_str!("migrations/sqlite/V3__agents.sql"),
];

/// Apply the migrations the database has not seen yet, each in its own transaction.
fn migrate(conn: &mut Connection) -> Result<()> {
    let current: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = current as usize;
    if current > MIGRATIONS.len() {
        return Err(StoreError::Backend(
            format!("database schema version {current} is newer than this build ({})", MIGRATIONS.len()).into(),
        ));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)?;
        tx.commit()?;
    }
    Ok(())
}

pub struct SqliteBackend {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

impl SqliteBackend {
    /// Open or create the database file and bring its schema up to date.
    pub async fn open(path: &Path) -> Result<Self> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut writer = Connection::open(&path)?;
            let mode: String = writer.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Backend(format!("SQLite refused WAL mode (got {mode})").into()));
            }
            configure(&writer)?;
            migrate(&mut writer)?;
            let readers = (0..READERS)
                .map(|_| {
                    let c = Connection::open(&path)?;
                    configure(&c)?;
                    c.pragma_update(None, "query_only", "ON")?;
                    Ok(c)
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Self {
                writer: Arc::new(Mutex::new(writer)),
                readers: Arc::new(Mutex::new(readers)),
                reader_slots: Arc::new(Semaphore::new(READERS)),
            })
        })
        .await?
    }
}

/// Run `f` in a transaction on `conn` (on a blocking thread).
fn run_in_tx<R>(conn: &mut Connection, mode: Mode, f: TxFn<R>) -> Result<R> {
    in_tx(conn, mode, |conn| futures_executor::block_on(f(&mut SqliteTx { conn })))
}

/// Run `body` in a transaction: commit on `Ok`, roll back on `Err`. However `body` or the
/// COMMIT ends — an error, a failed COMMIT (which leaves SQLite's transaction open), a panic —
/// [`Reset`] hands the connection back with no transaction open and at `synchronous=FULL`.
fn in_tx<R>(conn: &mut Connection, mode: Mode, body: impl FnOnce(&mut Connection) -> Result<R>) -> Result<R> {
    let relaxed = mode == Mode::WriteRelaxed;
    let guard = Reset { conn, relaxed };
    if relaxed {
        // the WAL is fsynced by the next FULL commit (or checkpoint), not by this one
        guard.conn.execute_batch("PRAGMA synchronous=NORMAL")?;
    }
    guard.conn.execute_batch(if mode == Mode::Read { "BEGIN" } else { "BEGIN IMMEDIATE" })?;
    let value = body(&mut *guard.conn)?;
    guard.conn.execute_batch("COMMIT")?;
    Ok(value)
}

/// Puts a connection back the way every transaction expects to find it, on every way out of
/// [`in_tx`] including unwinding: a transaction still open is rolled back, a relaxed write's
/// `synchronous=NORMAL` is undone.
struct Reset<'c> {
    conn: &'c mut Connection,
    relaxed: bool,
}

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::error!(error = %e, "SQLite: rolling back an unfinished transaction failed");
            }
        }
        if self.relaxed {
            if let Err(e) = self.conn.execute_batch("PRAGMA synchronous=FULL") {
                tracing::error!(error = %e, "SQLite: restoring synchronous=FULL failed");
            }
        }
    }
}

/// A reader connection on loan from the pool; it goes back when dropped, also when the
/// transaction on it panicked (else the pool would shrink until reads fail).
struct Reader {
    conn: Option<Connection>,
    pool: Arc<Mutex<Vec<Connection>>>,
}

impl Reader {
    fn take(pool: Arc<Mutex<Vec<Connection>>>) -> Result<Self> {
        let conn = pool.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = conn.ok_or_else(|| StoreError::Backend("no SQLite reader connection free for a held slot".into()))?;
        Ok(Self { conn: Some(conn), pool })
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.lock().unwrap_or_else(|p| p.into_inner()).push(conn);
        }
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn transact<R: Send + 'static>(&self, mode: Mode, f: TxFn<R>) -> Result<R> {
        match mode {
            Mode::Write | Mode::WriteRelaxed | Mode::WriteOne => {
                let writer = self.writer.clone();
                tokio::task::spawn_blocking(move || {
                    let mut conn = writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    run_in_tx(&mut conn, mode, f)
                })
                .await?
            }
            Mode::Read => {
                let _slot = self.reader_slots.clone().acquire_owned().await.map_err(StoreError::backend)?;
                let readers = self.readers.clone();
                tokio::task::spawn_blocking(move || {
                    let mut reader = Reader::take(readers)?;
                    let conn = reader.conn.as_mut().expect("a reader holds its connection until dropped");
                    run_in_tx(conn, mode, f)
                })
                .await?
            }
        }
    }
}

pub(crate) struct SqliteTx<'c> {
    conn: &'c mut Connection,
}

/// A column value that did not parse (a bug or a damaged database, never user input).
fn bad_column(col: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, Type::Text, what.to_string().into())
}

fn json_col<T: serde::de::DeserializeOwned>(r: &Row, col: usize) -> rusqlite::Result<T> {
    let s: String = r.get(col)?;
    serde_json::from_str(&s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(col, Type::Text, Box::new(e)))
}

fn parsed<T>(r: &Row, col: usize, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    let s: String = r.get(col)?;
    parse(&s).ok_or_else(|| bad_column(col, &s))
}

fn uuid_col(r: &Row, col: usize) -> rusqlite::Result<Uuid> {
    r.get(col)
}

fn agent_row(r: &Row) -> rusqlite::Result<Agent> {
    Ok(Agent { id: AgentId(r.get(0)?), village_id: VillageId(r.get(1)?), name: r.get(2)?, phone: r.get(3)? })
}

fn township_row(r: &Row) -> rusqlite::Result<Township> {
    Ok(Township { id: TownshipId(r.get(0)?), code: r.get(1)?, name: L10n { zh: r.get(2)?, en: r.get(3)? } })
}

fn village_row(r: &Row) -> rusqlite::Result<Village> {
    Ok(Village {
        id: VillageId(r.get(0)?),
        township_id: TownshipId(r.get(1)?),
        code: parsed(r, 2, |s| VillageCode::parse(s).ok())?,
        name: L10n { zh: r.get(3)?, en: r.get(4)? },
    })
}

fn staff_row(r: &Row) -> rusqlite::Result<Staff> {
    Ok(Staff {
        id: StaffId(r.get(0)?),
        township_id: TownshipId(r.get(1)?),
        username: r.get(2)?,
        display_name: r.get(3)?,
        role: parsed(r, 4, Role::parse)?,
        active: r.get(5)?,
    })
}

fn device_row(r: &Row) -> rusqlite::Result<DeviceRow> {
    Ok(DeviceRow {
        auth: DeviceAuth { device_id: DeviceId(uuid_col(r, 0)?), village_id: VillageId(r.get(1)?), township_id: TownshipId(r.get(2)?) },
        revoked: r.get::<_, Option<DateTime<Utc>>>(3)?.is_some(),
    })
}

fn application_row(r: &Row) -> rusqlite::Result<ApplicationState> {
    let codes: Vec<String> = json_col(r, 6)?;
    Ok(ApplicationState {
        id: ApplicationId(uuid_col(r, 0)?),
        township_id: TownshipId(r.get(1)?),
        village_id: VillageId(r.get(2)?),
        resident_id: ResidentId(uuid_col(r, 3)?),
        device_id: DeviceId(uuid_col(r, 4)?),
        bundle: r.get(5)?,
        items: codes.into_iter().map(|c| (c, ItemStatus::Pending)).collect(),
        stage: parsed(r, 7, Stage::parse)?,
        status: parsed(r, 8, AppStatus::parse)?,
        revision: r.get(9)?,
        catalogue_version: r.get(10)?,
        received_at: r.get(11)?,
        accepted_at: r.get(12)?,
        deadline: r.get(13)?,
        updated_at: r.get(14)?,
    })
}

const APPLICATION_COLUMNS: &str = "id, township_id, village_id, resident_id, device_id, bundle, items, stage, status, \
     revision, catalogue_version, received_at, accepted_at, deadline, updated_at";

fn delivery_row(r: &Row) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow { task: json_col(r, 0)?, delivered: r.get::<_, Option<DateTime<Utc>>>(1)?.is_some() })
}

fn upload_row(r: &Row) -> rusqlite::Result<Upload> {
    Ok(Upload {
        id: r.get(0)?,
        device_id: DeviceId(uuid_col(r, 1)?),
        hash: parsed(r, 2, |s| s.parse().ok())?,
        length: r.get::<_, i64>(3)? as u64,
        offset: r.get::<_, i64>(4)? as u64,
        created_at: r.get(5)?,
    })
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        match self {
            Param::Int(v) => v.to_sql(),
            Param::Text(v) => v.to_sql(),
            Param::Uuid(v) => v.to_sql(),
            Param::Date(v) => v.to_sql(),
            Param::Time(v) => v.to_sql(),
        }
    }
}

impl SqliteTx<'_> {
    fn one<T>(&self, sql: &str, p: impl rusqlite::Params, f: impl FnOnce(&Row) -> rusqlite::Result<T>) -> Result<Option<T>> {
        Ok(self.conn.prepare_cached(sql)?.query_row(p, f).optional()?)
    }

    fn all<T>(&self, sql: &str, p: impl rusqlite::Params, f: impl FnMut(&Row) -> rusqlite::Result<T>) -> Result<Vec<T>> {
        Ok(self.conn.prepare_cached(sql)?.query_map(p, f)?.collect::<rusqlite::Result<Vec<T>>>()?)
    }

    fn exec(&self, sql: &str, p: impl rusqlite::Params) -> Result<usize> {
        Ok(self.conn.prepare_cached(sql)?.execute(p)?)
    }

    fn load_items(&self, mut app: ApplicationState) -> Result<ApplicationState> {
        let statuses = self.all("SELECT status FROM application_items WHERE application_id = ?1 ORDER BY pos", [app.id.0], |r| {
            parsed(r, 0, ItemStatus::parse)
        })?;
        for ((_, s), stored) in app.items.iter_mut().zip(statuses) {
            *s = stored;
        }
        Ok(app)
    }
}

#[async_trait]
impl Tx for SqliteTx<'_> {
    async fn insert_township(&mut self, code: &str, name: &L10n) -> Result<TownshipId> {
        self.exec("INSERT INTO townships (code, name_zh, name_en) VALUES (?1, ?2, ?3)", params![code, name.zh, name.en])?;
        Ok(TownshipId(self.conn.last_insert_rowid()))
    }
    async fn township(&mut self, id: TownshipId) -> Result<Option<Township>> {
        self.one("SELECT id, code, name_zh, name_en FROM townships WHERE id = ?1", [id.0], township_row)
    }
    async fn township_by_code(&mut self, code: &str) -> Result<Option<Township>> {
        self.one("SELECT id, code, name_zh, name_en FROM townships WHERE code = ?1", [code], township_row)
    }
    async fn townships(&mut self) -> Result<Vec<Township>> {
        self.all("SELECT id, code, name_zh, name_en FROM townships ORDER BY code", [], township_row)
    }
    async fn insert_village(&mut self, township: TownshipId, code: &VillageCode, name: &L10n) -> Result<VillageId> {
        self.exec(
            "INSERT INTO villages (township_id, code, name_zh, name_en) VALUES (?1, ?2, ?3, ?4)",
            params![township.0, code.as_str(), name.zh, name.en],
        )?;
        Ok(VillageId(self.conn.last_insert_rowid()))
    }
    async fn village(&mut self, id: VillageId) -> Result<Option<Village>> {
        self.one("SELECT id, township_id, code, name_zh, name_en FROM villages WHERE id = ?1", [id.0], village_row)
    }
    async fn village_by_code(&mut self, code: &VillageCode) -> Result<Option<Village>> {
        self.one("SELECT id, township_id, code, name_zh, name_en FROM villages WHERE code = ?1", [code.as_str()], village_row)
    }
    async fn villages_of(&mut self, township: TownshipId) -> Result<Vec<Village>> {
        self.all(
            "SELECT id, township_id, code, name_zh, name_en FROM villages WHERE township_id = ?1 ORDER BY id",
            [township.0],
            village_row,
        )
    }
    async fn insert_staff(&mut self, new: &NewStaff, password_hash: &str, now: DateTime<Utc>) -> Result<StaffId> {
        self.exec(
            "INSERT INTO staff (township_id, username, display_name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![new.township_id.0, new.username, new.display_name, new.role.as_str(), password_hash, now],
        )?;
        Ok(StaffId(self.conn.last_insert_rowid()))
    }
    async fn staff(&mut self, id: StaffId) -> Result<Option<Staff>> {
        self.one("SELECT id, township_id, username, display_name, role, active FROM staff WHERE id = ?1", [id.0], staff_row)
    }
    async fn staff_credentials(&mut self, username: &str) -> Result<Option<(Staff, String)>> {
        self.one(
            "SELECT id, township_id, username, display_name, role, active, password_hash FROM staff WHERE username = ?1",
            [username],
            |r| Ok((staff_row(r)?, r.get(6)?)),
        )
    }

    async fn insert_enrolment_code(
        &mut self,
        hash: &str,
        village: VillageId,
        by: StaffId,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        self.exec(
            "INSERT INTO enrolment_codes (code_hash, village_id, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![hash, village.0, by.0, now, expires_at],
        )?;
        Ok(())
    }
    async fn enrolment_code_for_update(&mut self, hash: &str) -> Result<Option<EnrolmentCodeRow>> {
        self.one("SELECT id, village_id, expires_at, used_at, agent_id FROM enrolment_codes WHERE code_hash = ?1", [hash], |r| {
            Ok(EnrolmentCodeRow {
                id: r.get(0)?,
                village_id: VillageId(r.get(1)?),
                agent_id: r.get::<_, Option<i64>>(4)?.map(AgentId),
                expires_at: r.get(2)?,
                used: r.get::<_, Option<DateTime<Utc>>>(3)?.is_some(),
            })
        })
    }
    async fn set_code_agent(&mut self, hash: &str, agent: AgentId) -> Result<()> {
        self.exec("UPDATE enrolment_codes SET agent_id = ?2 WHERE code_hash = ?1", params![hash, agent.0])?;
        Ok(())
    }
    async fn set_device_agent(&mut self, device: DeviceId, agent: AgentId) -> Result<()> {
        self.exec("UPDATE devices SET agent_id = ?2 WHERE id = ?1", params![device.0, agent.0])?;
        Ok(())
    }
    async fn insert_agent(&mut self, village: VillageId, name: &str, phone: &str, now: DateTime<Utc>) -> Result<AgentId> {
        self.exec(
            "INSERT INTO agents (village_id, name, phone, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![village.0, name, phone, now],
        )?;
        Ok(AgentId(self.conn.last_insert_rowid()))
    }
    async fn agent(&mut self, id: AgentId) -> Result<Option<Agent>> {
        self.one("SELECT id, village_id, name, phone FROM agents WHERE id = ?1", [id.0], agent_row)
    }
    async fn agents_of(&mut self, township: TownshipId) -> Result<Vec<Agent>> {
        self.all(
            "SELECT a.id, a.village_id, a.name, a.phone FROM agents a JOIN villages v ON v.id = a.village_id \
             WHERE v.township_id = ?1 ORDER BY v.id, a.name, a.id",
            [township.0],
            agent_row,
        )
    }
    async fn use_enrolment_code(&mut self, id: i64, device: DeviceId, now: DateTime<Utc>) -> Result<()> {
        self.exec("UPDATE enrolment_codes SET used_at = ?2, device_id = ?3 WHERE id = ?1", params![id, now, device.0])?;
        Ok(())
    }
    async fn insert_device(&mut self, id: DeviceId, village: VillageId, name: &str, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO devices (id, village_id, name, token_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id.0, village.0, name, token_hash, now],
        )?;
        Ok(())
    }
    async fn device_by_token_hash(&mut self, hash: &str) -> Result<Option<DeviceRow>> {
        self.one(
            "SELECT d.id, d.village_id, v.township_id, d.revoked_at FROM devices d JOIN villages v ON v.id = d.village_id WHERE d.token_hash = ?1",
            [hash],
            device_row,
        )
    }
    async fn device(&mut self, id: DeviceId) -> Result<Option<DeviceRow>> {
        self.one(
            "SELECT d.id, d.village_id, v.township_id, d.revoked_at FROM devices d JOIN villages v ON v.id = d.village_id WHERE d.id = ?1",
            [id.0],
            device_row,
        )
    }
    async fn devices_of(&mut self, township: TownshipId) -> Result<Vec<DeviceInfo>> {
        self.all(
            "SELECT d.id, d.name, d.village_id, v.name_zh, v.name_en, d.enrolled_at, d.revoked_at, d.last_seen_at, d.queue_len, \
                    a.id, a.village_id, a.name, a.phone \
             FROM devices d JOIN villages v ON v.id = d.village_id LEFT JOIN agents a ON a.id = d.agent_id \
             WHERE v.township_id = ?1 ORDER BY v.id, d.enrolled_at",
            [township.0],
            |r| {
                let agent = match r.get::<_, Option<i64>>(9)? {
                    Some(id) => Some(Agent { id: AgentId(id), village_id: VillageId(r.get(10)?), name: r.get(11)?, phone: r.get(12)? }),
                    None => None,
                };
                Ok(DeviceInfo {
                    agent,
                    id: DeviceId(uuid_col(r, 0)?),
                    name: r.get(1)?,
                    village_id: VillageId(r.get(2)?),
                    village_name: L10n { zh: r.get(3)?, en: r.get(4)? },
                    enrolled_at: r.get(5)?,
                    revoked_at: r.get(6)?,
                    last_seen_at: r.get(7)?,
                    queue_len: r.get(8)?,
                })
            },
        )
    }
    async fn revoke_device(&mut self, id: DeviceId, by: StaffId, now: DateTime<Utc>) -> Result<()> {
        self.exec("UPDATE devices SET revoked_at = ?2, revoked_by = ?3 WHERE id = ?1", params![id.0, now, by.0])?;
        Ok(())
    }
    async fn touch_device(&mut self, id: DeviceId, queue_len: Option<u32>, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "UPDATE devices SET last_seen_at = ?2, queue_len = COALESCE(?3, queue_len) WHERE id = ?1",
            params![id.0, now, queue_len],
        )?;
        Ok(())
    }

    async fn claim_event(&mut self, id: EventId, device: DeviceId, kind: &str, now: DateTime<Utc>) -> Result<Claim> {
        let inserted = self.exec(
            "INSERT INTO processed_events (event_id, device_id, kind, processed_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (event_id) DO NOTHING",
            params![id.0, device.0, kind, now],
        )?;
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let done = self.one("SELECT device_id, outcome FROM processed_events WHERE event_id = ?1", [id.0], |r| {
            Ok((DeviceId(uuid_col(r, 0)?), json_col::<EventResult>(r, 1)?))
        })?;
        let (device_id, outcome) = done.ok_or_else(|| StoreError::Backend("claimed event vanished".into()))?;
        Ok(Claim::Done { device_id, outcome })
    }
    async fn store_outcome(&mut self, id: EventId, outcome: &EventResult) -> Result<()> {
        self.exec("UPDATE processed_events SET outcome = ?2 WHERE event_id = ?1", params![id.0, serde_json::to_string(outcome)?])?;
        Ok(())
    }
    async fn savepoint(&mut self) -> Result<()> {
        self.conn.execute_batch("SAVEPOINT event")?;
        Ok(())
    }
    async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.conn.execute_batch("ROLLBACK TO SAVEPOINT event")?;
        Ok(())
    }

    async fn resident_home(&mut self, id: ResidentId) -> Result<Option<(VillageId, DateTime<Utc>)>> {
        self.one("SELECT village_id, updated_at FROM residents WHERE id = ?1", [id.0], |r| Ok((VillageId(r.get(0)?), r.get(1)?)))
    }
    async fn resident(&mut self, id: ResidentId) -> Result<Option<(VillageId, ResidentRecord)>> {
        self.one("SELECT village_id, record FROM residents WHERE id = ?1", [id.0], |r| Ok((VillageId(r.get(0)?), json_col(r, 1)?)))
    }
    async fn upsert_resident(&mut self, village: VillageId, r: &ResidentRecord, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO residents (id, village_id, name, id_number, phone, elderly, mobility_limited, record, updated_at, stored_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, id_number = excluded.id_number, phone = excluded.phone, \
               elderly = excluded.elderly, mobility_limited = excluded.mobility_limited, record = excluded.record, \
               updated_at = excluded.updated_at, stored_at = excluded.stored_at",
            params![
                r.id.0,
                village.0,
                r.name.as_str(),
                r.id_number.expose(),
                r.phone.as_ref().map(|p| p.as_str()),
                r.elderly,
                r.mobility_limited,
                serde_json::to_string(r)?,
                r.updated_at,
                now
            ],
        )?;
        Ok(())
    }
    async fn application(&mut self, id: ApplicationId) -> Result<Option<ApplicationState>> {
        let sql = format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = ?1");
        self.one(&sql, [id.0], application_row)?.map(|a| self.load_items(a)).transpose()
    }
    async fn application_for_update(&mut self, id: ApplicationId) -> Result<Option<ApplicationState>> {
        self.application(id).await
    }
    async fn insert_application(&mut self, a: &ApplicationState) -> Result<bool> {
        let codes: Vec<&String> = a.items.iter().map(|(c, _)| c).collect();
        let inserted = self.exec(
            &format!(
                "INSERT INTO applications ({APPLICATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
                 ON CONFLICT (id) DO NOTHING"
            ),
            params![
                a.id.0,
                a.township_id.0,
                a.village_id.0,
                a.resident_id.0,
                a.device_id.0,
                a.bundle,
                serde_json::to_string(&codes)?,
                a.stage.as_str(),
                a.status.as_str(),
                a.revision,
                a.catalogue_version,
                a.received_at,
                a.accepted_at,
                a.deadline,
                a.updated_at
            ],
        )?;
        if inserted == 0 {
            return Ok(false);
        }
        for (pos, (item, status)) in a.items.iter().enumerate() {
            self.exec(
                "INSERT INTO application_items (application_id, pos, item, status) VALUES (?1, ?2, ?3, ?4)",
                params![a.id.0, pos as i64, item, status.as_str()],
            )?;
        }
        Ok(true)
    }
    async fn update_application(&mut self, a: &ApplicationState) -> Result<()> {
        self.exec(
            "UPDATE applications SET stage = ?2, status = ?3, revision = ?4, catalogue_version = ?5, received_at = ?6, \
               accepted_at = ?7, deadline = ?8, updated_at = ?9 WHERE id = ?1",
            params![
                a.id.0,
                a.stage.as_str(),
                a.status.as_str(),
                a.revision,
                a.catalogue_version,
                a.received_at,
                a.accepted_at,
                a.deadline,
                a.updated_at
            ],
        )?;
        for (pos, (_, status)) in a.items.iter().enumerate() {
            self.exec(
                "UPDATE application_items SET status = ?3 WHERE application_id = ?1 AND pos = ?2",
                params![a.id.0, pos as i64, status.as_str()],
            )?;
        }
        Ok(())
    }
    async fn insert_revision(&mut self, r: &ApplicationRecord, event: EventId, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO application_revisions (application_id, revision, record, event_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![r.id.0, r.revision, serde_json::to_string(r)?, event.0, now],
        )?;
        Ok(())
    }
    async fn revisions(&mut self, id: ApplicationId) -> Result<Vec<StoredRevision>> {
        self.all("SELECT received_at, record FROM application_revisions WHERE application_id = ?1 ORDER BY revision", [id.0], |r| {
            Ok(StoredRevision { received_at: r.get(0)?, record: json_col(r, 1)? })
        })
    }
    async fn insert_photo_refs(&mut self, app: ApplicationId, village: VillageId, hashes: &[PhotoHash]) -> Result<()> {
        for h in hashes {
            self.exec(
                "INSERT INTO photo_refs (hash, village_id, application_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
                params![h.to_hex(), village.0, app.0],
            )?;
        }
        Ok(())
    }
    async fn inbox(
        &mut self,
        township: TownshipId,
        filter: &InboxFilter,
        after: Option<&InboxCursor>,
        limit: u32,
    ) -> Result<Vec<InboxRow>> {
        let (sql, params) = inbox_query(township, filter, after, limit, |n| format!("?{n}"));
        self.all(&sql, rusqlite::params_from_iter(params.iter()), |r| {
            Ok(InboxRow {
                id: ApplicationId(uuid_col(r, 0)?),
                village_id: VillageId(r.get(1)?),
                village_name: L10n { zh: r.get(2)?, en: r.get(3)? },
                resident_id: ResidentId(uuid_col(r, 4)?),
                resident_name: r.get(5)?,
                device_id: DeviceId(uuid_col(r, 6)?),
                bundle: r.get(7)?,
                items: json_col(r, 8)?,
                status: parsed(r, 9, AppStatus::parse)?,
                revision: r.get(10)?,
                received_at: r.get(11)?,
                deadline: r.get::<_, NaiveDate>(12)?,
            })
        })
    }

    async fn insert_delivery(&mut self, t: &DeliveryTask, village: VillageId, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO deliveries (id, application_id, item, village_id, task, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![t.id.0, t.application_id.0, t.item, village.0, serde_json::to_string(t)?, now],
        )?;
        Ok(())
    }
    async fn delivery(&mut self, id: DeliveryId) -> Result<Option<DeliveryRow>> {
        self.one("SELECT task, delivered_at FROM deliveries WHERE id = ?1", [id.0], delivery_row)
    }
    async fn delivery_for_item(&mut self, app: ApplicationId, item: &str) -> Result<Option<DeliveryRow>> {
        self.one(
            "SELECT task, delivered_at FROM deliveries WHERE application_id = ?1 AND item = ?2 ORDER BY created_at DESC LIMIT 1",
            params![app.0, item],
            delivery_row,
        )
    }
    async fn confirm_delivery(&mut self, d: &DeliveryRecord, event: EventId) -> Result<()> {
        self.exec(
            "UPDATE deliveries SET delivered_at = ?2, recipient = ?3, proof = ?4, event_id = ?5 WHERE id = ?1",
            params![d.delivery_id.0, d.delivered_at, d.recipient.as_str(), serde_json::to_string(&d.proof)?, event.0],
        )?;
        Ok(())
    }
    async fn insert_rating(&mut self, r: &RatingRecord, village: VillageId, follow_up: bool, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO ratings (application_id, item, delivery_id, village_id, score, comment, rated_at, stored_at, needs_follow_up) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                r.application_id.0,
                r.item,
                r.delivery_id.0,
                village.0,
                r.rating.score(),
                r.comment.as_ref().map(|c| c.as_str()),
                r.rated_at,
                now,
                follow_up
            ],
        )?;
        Ok(())
    }
    async fn ratings_needing_follow_up(&mut self, township: TownshipId) -> Result<Vec<StoredRating>> {
        self.all(
            "SELECT r.application_id, r.village_id, r.item, r.score, r.comment, r.rated_at, r.needs_follow_up \
             FROM ratings r JOIN villages v ON v.id = r.village_id \
             WHERE v.township_id = ?1 AND r.needs_follow_up = 1 AND r.followed_up_at IS NULL ORDER BY r.rated_at",
            [township.0],
            |r| {
                Ok(StoredRating {
                    application_id: ApplicationId(uuid_col(r, 0)?),
                    village_id: VillageId(r.get(1)?),
                    item: r.get(2)?,
                    rating: Rating::from_score(r.get(3)?).ok_or_else(|| bad_column(3, "score"))?,
                    comment: r.get(4)?,
                    rated_at: r.get(5)?,
                    needs_follow_up: r.get(6)?,
                })
            },
        )
    }

    /// SQLite has one writer, so reading and bumping the village's counter in the same
    /// transaction is already serial: seqs are committed in order, without gaps.
    async fn append_change(&mut self, village: VillageId, at: DateTime<Utc>, body: &ChangeBody) -> Result<i64> {
        let seq: i64 = self
            .one("UPDATE villages SET change_seq = change_seq + 1 WHERE id = ?1 RETURNING change_seq", [village.0], |r| r.get(0))?
            .ok_or_else(|| StoreError::Backend(format!("village {village} missing").into()))?;
        self.exec(
            "INSERT INTO changes (village_id, seq, at, body) VALUES (?1, ?2, ?3, ?4)",
            params![village.0, seq, at, serde_json::to_string(body)?],
        )?;
        Ok(seq)
    }
    async fn changes(&mut self, village: VillageId, after: i64, limit: u32) -> Result<Vec<Change>> {
        self.all(
            "SELECT seq, at, body FROM changes WHERE village_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            params![village.0, after, limit],
            |r| Ok(Change { seq: r.get(0)?, at: r.get(1)?, body: json_col(r, 2)? }),
        )
    }
    async fn insert_audit(&mut self, e: &AuditEntry) -> Result<()> {
        self.exec(
            "INSERT INTO audit_log (at, township_id, actor, application_id, action, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![e.at, e.township_id.0, serde_json::to_string(&e.actor)?, e.application_id.map(|a| a.0), e.action, e.detail.to_string()],
        )?;
        Ok(())
    }
    async fn audit_of(&mut self, app: ApplicationId) -> Result<Vec<AuditEntry>> {
        self.all(
            "SELECT at, township_id, actor, application_id, action, detail FROM audit_log WHERE application_id = ?1 ORDER BY id",
            [app.0],
            |r| {
                Ok(AuditEntry {
                    at: r.get(0)?,
                    township_id: TownshipId(r.get(1)?),
                    actor: json_col(r, 2)?,
                    application_id: r.get::<_, Option<Uuid>>(3)?.map(ApplicationId),
                    action: r.get(4)?,
                    detail: json_col(r, 5)?,
                })
            },
        )
    }
    async fn insert_catalogue(&mut self, township: TownshipId, c: &Catalogue, by: Option<StaffId>, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO catalogues (township_id, version, body, published_at, published_by) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![township.0, c.version, serde_json::to_string(c)?, now, by.map(|s| s.0)],
        )?;
        Ok(())
    }
    async fn catalogue(&mut self, township: TownshipId, version: Option<u32>) -> Result<Option<Catalogue>> {
        self.one(
            "SELECT body FROM catalogues WHERE township_id = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY version DESC LIMIT 1",
            params![township.0, version],
            |r| json_col(r, 0),
        )
    }

    async fn photos_present(&mut self, hashes: &[PhotoHash]) -> Result<Vec<PhotoHash>> {
        let mut out = Vec::new();
        for h in hashes {
            if self.one("SELECT 1 FROM photos WHERE hash = ?1", [h.to_hex()], |_| Ok(()))?.is_some() {
                out.push(*h);
            }
        }
        Ok(out)
    }
    async fn photo_referenced(&mut self, hash: &PhotoHash, village: VillageId) -> Result<bool> {
        Ok(self
            .one("SELECT 1 FROM photo_refs WHERE hash = ?1 AND village_id = ?2 LIMIT 1", params![hash.to_hex(), village.0], |_| Ok(()))?
            .is_some())
    }
    async fn photo_referenced_and_present(&mut self, hash: &PhotoHash, village: VillageId) -> Result<(bool, bool)> {
        let row = self.one(
            "SELECT EXISTS (SELECT 1 FROM photo_refs WHERE hash = ?1 AND village_id = ?2), EXISTS (SELECT 1 FROM photos WHERE hash = ?1)",
            params![hash.to_hex(), village.0],
            |r| Ok((r.get::<_, bool>(0)?, r.get::<_, bool>(1)?)),
        )?;
        Ok(row.unwrap_or((false, false)))
    }
    async fn record_photo_upload(&mut self, id: &str, hash: &PhotoHash, bytes: u64, now: DateTime<Utc>) -> Result<()> {
        self.insert_photo(hash, bytes, now).await?;
        self.set_upload_offset(id, bytes, now).await
    }
    async fn insert_photo(&mut self, hash: &PhotoHash, bytes: u64, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO photos (hash, bytes, stored_at) VALUES (?1, ?2, ?3) ON CONFLICT (hash) DO NOTHING",
            params![hash.to_hex(), bytes as i64, now],
        )?;
        Ok(())
    }
    async fn insert_upload(&mut self, u: &Upload) -> Result<()> {
        self.exec(
            "INSERT INTO uploads (id, device_id, hash, length, received, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            params![u.id, u.device_id.0, u.hash.to_hex(), u.length as i64, u.offset as i64, u.created_at],
        )?;
        Ok(())
    }
    async fn upload(&mut self, id: &str) -> Result<Option<Upload>> {
        self.one("SELECT id, device_id, hash, length, received, created_at FROM uploads WHERE id = ?1", [id], upload_row)
    }
    async fn set_upload_offset(&mut self, id: &str, offset: u64, now: DateTime<Utc>) -> Result<()> {
        self.exec("UPDATE uploads SET received = ?2, updated_at = ?3 WHERE id = ?1", params![id, offset as i64, now])?;
        Ok(())
    }
    async fn delete_upload(&mut self, id: &str) -> Result<()> {
        self.exec("DELETE FROM uploads WHERE id = ?1", [id])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panics() -> TxFn<()> {
        Box::new(|_tx| Box::pin(async { panic!("a bug inside a transaction") }))
    }

    fn nothing() -> TxFn<()> {
        Box::new(|_tx| Box::pin(async { Ok(()) }))
    }

    async fn backend(dir: &tempfile::TempDir) -> SqliteBackend {
        SqliteBackend::open(&dir.path().join("centre.db")).await.expect("open")
    }

    #[tokio::test]
    async fn a_read_that_panics_gives_its_connection_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = backend(&dir).await;
        for _ in 0..READERS + 1 {
            assert!(db.transact(Mode::Read, panics()).await.is_err(), "a panic is an error, not a hang");
        }
        // without the loan guard every panicking read lost its connection and these fail
        for _ in 0..READERS + 1 {
            db.transact(Mode::Read, nothing()).await.expect("reads still work after panics");
        }
        assert_eq!(db.readers.lock().unwrap().len(), READERS);
    }

    #[tokio::test]
    async fn a_write_that_panics_leaves_no_transaction_open_and_synchronous_full() {
        let dir = tempfile::tempdir().unwrap();
        let db = backend(&dir).await;
        for mode in [Mode::Write, Mode::WriteRelaxed] {
            assert!(db.transact(mode, panics()).await.is_err());
            let conn = db.writer.lock().unwrap_or_else(|p| p.into_inner());
            assert!(conn.is_autocommit(), "{mode:?}: the panicked transaction was rolled back");
            let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
            assert_eq!(sync, 2, "{mode:?}: synchronous is FULL again");
        }
        db.transact(Mode::Write, nothing()).await.expect("the next write starts its own transaction");
    }

    #[test]
    fn a_failed_commit_is_rolled_back() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys=ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        // a deferred foreign key makes COMMIT itself fail, and SQLite keeps the transaction open
        let result = in_tx(&mut conn, Mode::Write, |c| Ok(c.execute("INSERT INTO child VALUES (7)", [])?));
        assert!(result.is_err(), "COMMIT fails on the dangling reference");
        assert!(conn.is_autocommit(), "no transaction left open on the writer");
        let rows: i64 = conn.query_row("SELECT count(*) FROM child", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 0);
        in_tx(&mut conn, Mode::Write, |c| Ok(c.execute("INSERT INTO parent VALUES (1)", [])?)).expect("next transaction");
    }
}
