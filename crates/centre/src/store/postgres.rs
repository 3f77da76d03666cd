//! PostgreSQL backend (tokio-postgres with a deadpool pool; refinery migrations).
//!
//! Writes run in transactions at READ COMMITTED; reads, and writes that are one statement
//! ([`Mode::WriteOne`], [`Mode::WriteRelaxed`]), run without BEGIN/COMMIT — each statement sees
//! committed data as it would inside such a transaction, and one statement is atomic — which
//! saves two or three round trips each (a photo upload makes six in all). Relaxed writes use
//! their own connections with `synchronous_commit=off`. Where two requests could race, the
//! schema's unique keys and row locks make them wait for each other instead of both
//! proceeding:
//!
//! - Duplicate pushes of one event: `claim_event` inserts the event id with `ON CONFLICT DO
//!   NOTHING`. A second transaction inserting the same id blocks on the unique index until the
//!   first commits, then sees the row (and the stored outcome, written in the same
//!   transaction) and returns it; if the first rolled back, the second proceeds as new.
//! - Applications are read `FOR UPDATE` before they change, so a staff decision and an
//!   agent's resubmission of the same application are applied one after the other.
//! - The change feed must be gap-free for readers: a sequence (or `MAX(seq)+1`) would let a
//!   transaction that took seq 8 commit before one that took seq 7, and a device that pulled
//!   "after 6" in between would move its cursor to 8 and never see 7. Instead each village row
//!   holds its last seq, and `append_change` increments it with `UPDATE … RETURNING`, which
//!   locks that village row until commit. Appends to one village are therefore serialised and
//!   commit in seq order: once seq N is visible, every seq below N is too. Publishing a
//!   catalogue to several villages locks them in id order, and every other transaction locks
//!   at most one village after its application row, so the locks cannot deadlock.

use crate::store::error::{Result, StoreError};
use crate::store::inbox_sql::{inbox_query, Param};
use crate::store::model::*;
use crate::store::tx::{Claim, DeliveryRow, DeviceRow, EnrolmentCodeRow, Tx};
use crate::store::{Backend, Mode, TxFn};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use daiban_proto::catalogue::{Catalogue, L10n};
use daiban_proto::record::{DeliveryRecord, RatingRecord};
use daiban_proto::status::{AppStatus, ItemStatus, Stage};
use daiban_proto::sync::{Change, ChangeBody, DeliveryTask, EventResult};
use daiban_proto::{ApplicationId, ApplicationRecord, DeliveryId, DeviceId, EventId, PhotoHash, Rating, ResidentId, ResidentRecord};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{NoTls, Row};
use uuid::Uuid;

mod retention_tx;
mod staff_tx;

mod embedded {
    refinery::embed_migrations!("src/store/migrations/postgres");
}

/// Connections kept by the pool.
const POOL_SIZE: usize = 16;
/// Connections kept for relaxed writes.
const RELAXED_POOL_SIZE: usize = 8;

pub struct PgBackend {
    pool: Pool,
    /// Connections whose commits do not wait for the WAL to reach the disk
    /// (`synchronous_commit=off`), for [`Mode::WriteRelaxed`].
    relaxed: Pool,
}

impl PgBackend {
    /// Connect to `url` (`postgres://user@host:port/db`) and bring the schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        let config: tokio_postgres::Config = url.parse()?;
        let pool = |mut config: tokio_postgres::Config, size: usize, relaxed: bool| {
            if relaxed {
                let options = format!("{} -c synchronous_commit=off", config.get_options().unwrap_or_default());
                config.options(options.trim());
            }
            let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
            Pool::builder(manager).max_size(size).build().map_err(StoreError::backend)
        };
        let (durable, relaxed) = (pool(config.clone(), POOL_SIZE, false)?, pool(config, RELAXED_POOL_SIZE, true)?);
        let mut client = durable.get().await?;
        embedded::migrations::runner().run_async(&mut **client).await.map_err(StoreError::backend)?;
        Ok(Self { pool: durable, relaxed })
    }
}

#[async_trait]
impl Backend for PgBackend {
    async fn transact<R: Send + 'static>(&self, mode: Mode, f: TxFn<R>) -> Result<R> {
        if mode != Mode::Write {
            // Reads: at READ COMMITTED every statement sees its own snapshot, inside a
            // transaction or not, so they need no BEGIN and COMMIT (two round trips saved per
            // read: a device request's authentication is one). Single-statement writes are
            // atomic by themselves and commit on their own; relaxed ones on a connection that
            // does not wait for the WAL.
            let client = if mode == Mode::WriteRelaxed { self.relaxed.get().await? } else { self.pool.get().await? };
            let mut tx = PgTx { c: Conn::Auto(&client) };
            return f(&mut tx).await;
        }
        let mut client = self.pool.get().await?;
        let t = client.build_transaction().start().await?;
        let mut tx = PgTx { c: Conn::Tx(t) };
        let result = f(&mut tx).await;
        let Conn::Tx(t) = tx.c else { unreachable!("writes run in a transaction") };
        match result {
            Ok(v) => {
                t.commit().await?;
                Ok(v)
            }
            // Dropping the transaction rolls it back.
            Err(e) => Err(e),
        }
    }
}

/// Where a [`PgTx`]'s statements go: a transaction (writes), or the connection itself, each
/// statement committing on its own (reads, single-statement writes).
enum Conn<'a> {
    Tx(deadpool_postgres::Transaction<'a>),
    Auto(&'a deadpool_postgres::Client),
}

pub(crate) struct PgTx<'a> {
    c: Conn<'a>,
}

type P<'a> = &'a (dyn ToSql + Sync);

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("unexpected {what} in database: {value}").into())
}

fn parse<T>(what: &str, s: String, f: fn(&str) -> Option<T>) -> Result<T> {
    f(&s).ok_or_else(|| corrupt(what, &s))
}

fn json<T: serde::de::DeserializeOwned>(r: &Row, col: usize) -> Result<T> {
    Ok(r.try_get::<_, Json<T>>(col)?.0)
}

fn l10n(r: &Row, zh: usize) -> Result<L10n> {
    Ok(L10n { zh: r.try_get(zh)?, en: r.try_get(zh + 1)? })
}

fn u32_col(r: &Row, col: usize) -> Result<u32> {
    let v: i32 = r.try_get(col)?;
    u32::try_from(v).map_err(|_| corrupt("negative number", &v.to_string()))
}

fn agent_row(r: &Row) -> Result<Agent> {
    Ok(Agent { id: AgentId(r.try_get(0)?), village_id: VillageId(r.try_get(1)?), name: r.try_get(2)?, phone: r.try_get(3)? })
}

fn township_row(r: &Row) -> Result<Township> {
    Ok(Township { id: TownshipId(r.try_get(0)?), code: r.try_get(1)?, name: l10n(r, 2)? })
}

fn village_row(r: &Row) -> Result<Village> {
    Ok(Village {
        id: VillageId(r.try_get(0)?),
        township_id: TownshipId(r.try_get(1)?),
        code: parse("village code", r.try_get(2)?, |s| VillageCode::parse(s).ok())?,
        name: l10n(r, 3)?,
    })
}

fn staff_row(r: &Row) -> Result<Staff> {
    Ok(Staff {
        id: StaffId(r.try_get(0)?),
        township_id: TownshipId(r.try_get(1)?),
        username: r.try_get(2)?,
        display_name: r.try_get(3)?,
        role: parse("role", r.try_get(4)?, Role::parse)?,
        active: r.try_get(5)?,
    })
}

fn device_row(r: &Row) -> Result<DeviceRow> {
    Ok(DeviceRow {
        auth: DeviceAuth {
            device_id: DeviceId(r.try_get(0)?),
            village_id: VillageId(r.try_get(1)?),
            township_id: TownshipId(r.try_get(2)?),
        },
        revoked: r.try_get::<_, Option<DateTime<Utc>>>(3)?.is_some(),
    })
}

const APPLICATION_COLUMNS: &str = "id, township_id, village_id, resident_id, device_id, bundle, items, stage, status, \
     revision, catalogue_version, received_at, accepted_at, deadline, updated_at";

fn application_row(r: &Row) -> Result<ApplicationState> {
    let codes: Vec<String> = json(r, 6)?;
    Ok(ApplicationState {
        id: ApplicationId(r.try_get(0)?),
        township_id: TownshipId(r.try_get(1)?),
        village_id: VillageId(r.try_get(2)?),
        resident_id: ResidentId(r.try_get(3)?),
        device_id: DeviceId(r.try_get(4)?),
        bundle: r.try_get(5)?,
        items: codes.into_iter().map(|c| (c, ItemStatus::Pending)).collect(),
        stage: parse("stage", r.try_get(7)?, Stage::parse)?,
        status: parse("status", r.try_get(8)?, AppStatus::parse)?,
        revision: u32_col(r, 9)?,
        catalogue_version: u32_col(r, 10)?,
        received_at: r.try_get(11)?,
        accepted_at: r.try_get(12)?,
        deadline: r.try_get(13)?,
        updated_at: r.try_get(14)?,
    })
}

fn delivery_row(r: &Row) -> Result<DeliveryRow> {
    Ok(DeliveryRow { task: json(r, 0)?, delivered: r.try_get::<_, Option<DateTime<Utc>>>(1)?.is_some() })
}

fn upload_row(r: &Row) -> Result<Upload> {
    Ok(Upload {
        id: r.try_get(0)?,
        device_id: DeviceId(r.try_get(1)?),
        hash: parse("photo hash", r.try_get(2)?, |s| s.parse().ok())?,
        length: r.try_get::<_, i64>(3)? as u64,
        offset: r.try_get::<_, i64>(4)? as u64,
        created_at: r.try_get(5)?,
    })
}

fn audit_row(r: &Row) -> Result<AuditEntry> {
    Ok(AuditEntry {
        at: r.try_get(0)?,
        township_id: TownshipId(r.try_get(1)?),
        actor: json(r, 2)?,
        application_id: r.try_get::<_, Option<Uuid>>(3)?.map(ApplicationId),
        action: r.try_get(4)?,
        detail: r.try_get(5)?,
    })
}

fn param(p: &Param) -> P<'_> {
    match p {
        Param::Int(v) => v,
        Param::Text(v) => v,
        Param::Uuid(v) => v,
        Param::Date(v) => v,
        Param::Time(v) => v,
    }
}

/// `$c.$method(args)` on whichever connection a [`PgTx`] holds.
macro_rules! on_conn {
    ($c:expr, $method:ident($($arg:expr),*)) => {
        match &$c {
            Conn::Tx(t) => t.$method($($arg),*).await,
            Conn::Auto(c) => c.$method($($arg),*).await,
        }
    };
}

impl PgTx<'_> {
    async fn one<T>(&self, sql: &str, p: &[P<'_>], f: impl FnOnce(&Row) -> Result<T>) -> Result<Option<T>> {
        let stmt = on_conn!(self.c, prepare_cached(sql))?;
        on_conn!(self.c, query_opt(&stmt, p))?.as_ref().map(f).transpose()
    }

    async fn all<T>(&self, sql: &str, p: &[P<'_>], f: impl FnMut(&Row) -> Result<T>) -> Result<Vec<T>> {
        let stmt = on_conn!(self.c, prepare_cached(sql))?;
        on_conn!(self.c, query(&stmt, p))?.iter().map(f).collect()
    }

    async fn exec(&self, sql: &str, p: &[P<'_>]) -> Result<u64> {
        let stmt = on_conn!(self.c, prepare_cached(sql))?;
        Ok(on_conn!(self.c, execute(&stmt, p))?)
    }

    async fn id(&self, sql: &str, p: &[P<'_>]) -> Result<i64> {
        let stmt = on_conn!(self.c, prepare_cached(sql))?;
        Ok(on_conn!(self.c, query_one(&stmt, p))?.try_get(0)?)
    }

    async fn batch(&self, sql: &str) -> Result<()> {
        Ok(on_conn!(self.c, batch_execute(sql))?)
    }

    async fn load_application(&self, sql: &str, id: ApplicationId) -> Result<Option<ApplicationState>> {
        let Some(mut app) = self.one(sql, &[&id.0], application_row).await? else {
            return Ok(None);
        };
        let statuses = self
            .all("SELECT status FROM application_items WHERE application_id = $1 ORDER BY pos", &[&id.0], |r| {
                parse("item status", r.try_get(0)?, ItemStatus::parse)
            })
            .await?;
        for ((_, s), stored) in app.items.iter_mut().zip(statuses) {
            *s = stored;
        }
        Ok(Some(app))
    }
}

#[async_trait]
impl Tx for PgTx<'_> {
    async fn insert_township(&mut self, code: &str, name: &L10n) -> Result<TownshipId> {
        self.id("INSERT INTO townships (code, name_zh, name_en) VALUES ($1, $2, $3) RETURNING id", &[&code, &name.zh, &name.en])
            .await
            .map(TownshipId)
    }
    async fn township(&mut self, id: TownshipId) -> Result<Option<Township>> {
        self.one("SELECT id, code, name_zh, name_en FROM townships WHERE id = $1", &[&id.0], township_row).await
    }
    async fn township_by_code(&mut self, code: &str) -> Result<Option<Township>> {
        self.one("SELECT id, code, name_zh, name_en FROM townships WHERE code = $1", &[&code], township_row).await
    }
    async fn townships(&mut self) -> Result<Vec<Township>> {
        self.all("SELECT id, code, name_zh, name_en FROM townships ORDER BY code", &[], township_row).await
    }
    async fn insert_village(&mut self, township: TownshipId, code: &VillageCode, name: &L10n) -> Result<VillageId> {
        self.id(
            "INSERT INTO villages (township_id, code, name_zh, name_en) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&township.0, &code.as_str(), &name.zh, &name.en],
        )
        .await
        .map(VillageId)
    }
    async fn village(&mut self, id: VillageId) -> Result<Option<Village>> {
        self.one("SELECT id, township_id, code, name_zh, name_en FROM villages WHERE id = $1", &[&id.0], village_row).await
    }
    async fn village_by_code(&mut self, code: &VillageCode) -> Result<Option<Village>> {
        self.one("SELECT id, township_id, code, name_zh, name_en FROM villages WHERE code = $1", &[&code.as_str()], village_row).await
    }
    async fn villages_of(&mut self, township: TownshipId) -> Result<Vec<Village>> {
        self.all(
            "SELECT id, township_id, code, name_zh, name_en FROM villages WHERE township_id = $1 ORDER BY id",
            &[&township.0],
            village_row,
        )
        .await
    }
    async fn insert_staff(&mut self, new: &NewStaff, password_hash: &str, now: DateTime<Utc>) -> Result<StaffId> {
        self.id(
            "INSERT INTO staff (township_id, username, display_name, role, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&new.township_id.0, &new.username, &new.display_name, &new.role.as_str(), &password_hash, &now],
        )
        .await
        .map(StaffId)
    }
    async fn staff(&mut self, id: StaffId) -> Result<Option<Staff>> {
        self.one("SELECT id, township_id, username, display_name, role, active FROM staff WHERE id = $1", &[&id.0], staff_row).await
    }
    async fn staff_credentials(&mut self, username: &str) -> Result<Option<(Staff, String)>> {
        self.one(
            "SELECT id, township_id, username, display_name, role, active, password_hash FROM staff WHERE username = $1",
            &[&username],
            |r| Ok((staff_row(r)?, r.try_get(6)?)),
        )
        .await
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
            "INSERT INTO enrolment_codes (code_hash, village_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            &[&hash, &village.0, &by.0, &now, &expires_at],
        )
        .await?;
        Ok(())
    }
    async fn enrolment_code_for_update(&mut self, hash: &str) -> Result<Option<EnrolmentCodeRow>> {
        self.one(
            "SELECT id, village_id, expires_at, used_at, agent_id FROM enrolment_codes WHERE code_hash = $1 FOR UPDATE",
            &[&hash],
            |r| {
                Ok(EnrolmentCodeRow {
                    id: r.try_get(0)?,
                    village_id: VillageId(r.try_get(1)?),
                    agent_id: r.try_get::<_, Option<i64>>(4)?.map(AgentId),
                    expires_at: r.try_get(2)?,
                    used: r.try_get::<_, Option<DateTime<Utc>>>(3)?.is_some(),
                })
            },
        )
        .await
    }
    async fn set_code_agent(&mut self, hash: &str, agent: AgentId) -> Result<()> {
        self.exec("UPDATE enrolment_codes SET agent_id = $2 WHERE code_hash = $1", &[&hash, &agent.0]).await?;
        Ok(())
    }
    async fn set_device_agent(&mut self, device: DeviceId, agent: AgentId) -> Result<()> {
        self.exec("UPDATE devices SET agent_id = $2 WHERE id = $1", &[&device.0, &agent.0]).await?;
        Ok(())
    }
    async fn insert_agent(&mut self, village: VillageId, name: &str, phone: &str, now: DateTime<Utc>) -> Result<AgentId> {
        self.id(
            "INSERT INTO agents (village_id, name, phone, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&village.0, &name, &phone, &now],
        )
        .await
        .map(AgentId)
    }
    async fn agent(&mut self, id: AgentId) -> Result<Option<Agent>> {
        self.one("SELECT id, village_id, name, phone FROM agents WHERE id = $1", &[&id.0], agent_row).await
    }
    async fn agents_of(&mut self, township: TownshipId) -> Result<Vec<Agent>> {
        self.all(
            "SELECT a.id, a.village_id, a.name, a.phone FROM agents a JOIN villages v ON v.id = a.village_id \
             WHERE v.township_id = $1 ORDER BY v.id, a.name, a.id",
            &[&township.0],
            agent_row,
        )
        .await
    }
    async fn use_enrolment_code(&mut self, id: i64, device: DeviceId, now: DateTime<Utc>) -> Result<()> {
        self.exec("UPDATE enrolment_codes SET used_at = $2, device_id = $3 WHERE id = $1", &[&id, &now, &device.0]).await?;
        Ok(())
    }
    async fn insert_device(&mut self, id: DeviceId, village: VillageId, name: &str, token_hash: &str, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO devices (id, village_id, name, token_hash, enrolled_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id.0, &village.0, &name, &token_hash, &now],
        )
        .await?;
        Ok(())
    }
    async fn device_by_token_hash(&mut self, hash: &str) -> Result<Option<DeviceRow>> {
        self.one(
            "SELECT d.id, d.village_id, v.township_id, d.revoked_at FROM devices d JOIN villages v ON v.id = d.village_id WHERE d.token_hash = $1",
            &[&hash],
            device_row,
        )
        .await
    }
    async fn device(&mut self, id: DeviceId) -> Result<Option<DeviceRow>> {
        self.one(
            "SELECT d.id, d.village_id, v.township_id, d.revoked_at FROM devices d JOIN villages v ON v.id = d.village_id WHERE d.id = $1",
            &[&id.0],
            device_row,
        )
        .await
    }
    async fn devices_of(&mut self, township: TownshipId) -> Result<Vec<DeviceInfo>> {
        self.all(
            "SELECT d.id, d.name, d.village_id, v.name_zh, v.name_en, d.enrolled_at, d.revoked_at, d.last_seen_at, d.queue_len, \
                    a.id, a.village_id, a.name, a.phone \
             FROM devices d JOIN villages v ON v.id = d.village_id LEFT JOIN agents a ON a.id = d.agent_id \
             WHERE v.township_id = $1 ORDER BY v.id, d.enrolled_at",
            &[&township.0],
            |r| {
                let agent = match r.try_get::<_, Option<i64>>(9)? {
                    Some(id) => {
                        Some(Agent { id: AgentId(id), village_id: VillageId(r.try_get(10)?), name: r.try_get(11)?, phone: r.try_get(12)? })
                    }
                    None => None,
                };
                Ok(DeviceInfo {
                    agent,
                    id: DeviceId(r.try_get(0)?),
                    name: r.try_get(1)?,
                    village_id: VillageId(r.try_get(2)?),
                    village_name: l10n(r, 3)?,
                    enrolled_at: r.try_get(5)?,
                    revoked_at: r.try_get(6)?,
                    last_seen_at: r.try_get(7)?,
                    queue_len: u32_col(r, 8)?,
                })
            },
        )
        .await
    }
    async fn revoke_device(&mut self, id: DeviceId, by: StaffId, now: DateTime<Utc>) -> Result<()> {
        self.exec("UPDATE devices SET revoked_at = $2, revoked_by = $3 WHERE id = $1", &[&id.0, &now, &by.0]).await?;
        Ok(())
    }
    async fn touch_device(&mut self, id: DeviceId, queue_len: Option<u32>, now: DateTime<Utc>) -> Result<()> {
        let queue_len = queue_len.map(|q| i32::try_from(q).unwrap_or(i32::MAX));
        self.exec("UPDATE devices SET last_seen_at = $2, queue_len = COALESCE($3, queue_len) WHERE id = $1", &[&id.0, &now, &queue_len])
            .await?;
        Ok(())
    }

    async fn claim_event(&mut self, id: EventId, device: DeviceId, kind: &str, now: DateTime<Utc>) -> Result<Claim> {
        let inserted = self
            .exec(
                "INSERT INTO processed_events (event_id, device_id, kind, processed_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (event_id) DO NOTHING",
                &[&id.0, &device.0, &kind, &now],
            )
            .await?;
        if inserted == 1 {
            return Ok(Claim::New);
        }
        let done = self
            .one("SELECT device_id, outcome FROM processed_events WHERE event_id = $1", &[&id.0], |r| {
                Ok((DeviceId(r.try_get(0)?), json::<EventResult>(r, 1)?))
            })
            .await?;
        let (device_id, outcome) = done.ok_or_else(|| StoreError::Backend("claimed event vanished".into()))?;
        Ok(Claim::Done { device_id, outcome })
    }
    async fn store_outcome(&mut self, id: EventId, outcome: &EventResult) -> Result<()> {
        self.exec("UPDATE processed_events SET outcome = $2 WHERE event_id = $1", &[&id.0, &Json(outcome)]).await?;
        Ok(())
    }
    async fn savepoint(&mut self) -> Result<()> {
        self.batch("SAVEPOINT event").await?;
        Ok(())
    }
    async fn rollback_to_savepoint(&mut self) -> Result<()> {
        self.batch("ROLLBACK TO SAVEPOINT event").await?;
        Ok(())
    }

    async fn resident_home(&mut self, id: ResidentId) -> Result<Option<(VillageId, DateTime<Utc>)>> {
        self.one("SELECT village_id, updated_at FROM residents WHERE id = $1", &[&id.0], |r| Ok((VillageId(r.try_get(0)?), r.try_get(1)?)))
            .await
    }
    async fn resident(&mut self, id: ResidentId) -> Result<Option<(VillageId, ResidentRecord)>> {
        self.one("SELECT village_id, record FROM residents WHERE id = $1", &[&id.0], |r| Ok((VillageId(r.try_get(0)?), json(r, 1)?))).await
    }
    async fn upsert_resident(&mut self, village: VillageId, r: &ResidentRecord, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO residents (id, village_id, name, id_number, phone, elderly, mobility_limited, record, updated_at, stored_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, id_number = excluded.id_number, phone = excluded.phone, \
               elderly = excluded.elderly, mobility_limited = excluded.mobility_limited, record = excluded.record, \
               updated_at = excluded.updated_at, stored_at = excluded.stored_at",
            &[
                &r.id.0,
                &village.0,
                &r.name.as_str(),
                &r.id_number.expose(),
                &r.phone.as_ref().map(|p| p.as_str()),
                &r.elderly,
                &r.mobility_limited,
                &Json(r),
                &r.updated_at,
                &now,
            ],
        )
        .await?;
        Ok(())
    }
    async fn application(&mut self, id: ApplicationId) -> Result<Option<ApplicationState>> {
        self.load_application(&format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1"), id).await
    }
    async fn application_for_update(&mut self, id: ApplicationId) -> Result<Option<ApplicationState>> {
        self.load_application(&format!("SELECT {APPLICATION_COLUMNS} FROM applications WHERE id = $1 FOR UPDATE"), id).await
    }
    async fn insert_application(&mut self, a: &ApplicationState) -> Result<bool> {
        let codes: Vec<&String> = a.items.iter().map(|(c, _)| c).collect();
        let inserted = self
            .exec(
                &format!(
                    "INSERT INTO applications ({APPLICATION_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (id) DO NOTHING"
                ),
                &[
                    &a.id.0,
                    &a.township_id.0,
                    &a.village_id.0,
                    &a.resident_id.0,
                    &a.device_id.0,
                    &a.bundle,
                    &Json(&codes),
                    &a.stage.as_str(),
                    &a.status.as_str(),
                    &(a.revision as i32),
                    &(a.catalogue_version as i32),
                    &a.received_at,
                    &a.accepted_at,
                    &a.deadline,
                    &a.updated_at,
                ],
            )
            .await?;
        if inserted == 0 {
            return Ok(false);
        }
        for (pos, (item, status)) in a.items.iter().enumerate() {
            self.exec(
                "INSERT INTO application_items (application_id, pos, item, status) VALUES ($1, $2, $3, $4)",
                &[&a.id.0, &(pos as i32), item, &status.as_str()],
            )
            .await?;
        }
        Ok(true)
    }
    async fn update_application(&mut self, a: &ApplicationState) -> Result<()> {
        self.exec(
            "UPDATE applications SET stage = $2, status = $3, revision = $4, catalogue_version = $5, received_at = $6, \
               accepted_at = $7, deadline = $8, updated_at = $9 WHERE id = $1",
            &[
                &a.id.0,
                &a.stage.as_str(),
                &a.status.as_str(),
                &(a.revision as i32),
                &(a.catalogue_version as i32),
                &a.received_at,
                &a.accepted_at,
                &a.deadline,
                &a.updated_at,
            ],
        )
        .await?;
        for (pos, (_, status)) in a.items.iter().enumerate() {
            self.exec(
                "UPDATE application_items SET status = $3 WHERE application_id = $1 AND pos = $2",
                &[&a.id.0, &(pos as i32), &status.as_str()],
            )
            .await?;
        }
        Ok(())
    }
    async fn insert_revision(&mut self, r: &ApplicationRecord, event: EventId, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO application_revisions (application_id, revision, record, event_id, received_at) VALUES ($1, $2, $3, $4, $5)",
            &[&r.id.0, &(r.revision as i32), &Json(r), &event.0, &now],
        )
        .await?;
        Ok(())
    }
    async fn revisions(&mut self, id: ApplicationId) -> Result<Vec<StoredRevision>> {
        self.all("SELECT received_at, record FROM application_revisions WHERE application_id = $1 ORDER BY revision", &[&id.0], |r| {
            Ok(StoredRevision { received_at: r.try_get(0)?, record: json(r, 1)? })
        })
        .await
    }
    async fn insert_photo_refs(&mut self, app: ApplicationId, village: VillageId, hashes: &[PhotoHash]) -> Result<()> {
        let hashes: Vec<String> = hashes.iter().map(PhotoHash::to_hex).collect();
        self.exec(
            "INSERT INTO photo_refs (hash, village_id, application_id) SELECT h, $2, $3 FROM unnest($1::TEXT[]) AS h \
             ON CONFLICT DO NOTHING",
            &[&hashes, &village.0, &app.0],
        )
        .await?;
        Ok(())
    }
    async fn inbox(
        &mut self,
        township: TownshipId,
        filter: &InboxFilter,
        after: Option<&InboxCursor>,
        limit: u32,
    ) -> Result<Vec<InboxRow>> {
        let (sql, params) = inbox_query(township, filter, after, limit, |n| format!("${n}"));
        let params: Vec<P<'_>> = params.iter().map(param).collect();
        self.all(&sql, &params, |r| {
            Ok(InboxRow {
                id: ApplicationId(r.try_get(0)?),
                village_id: VillageId(r.try_get(1)?),
                village_name: l10n(r, 2)?,
                resident_id: ResidentId(r.try_get(4)?),
                resident_name: r.try_get(5)?,
                device_id: DeviceId(r.try_get(6)?),
                bundle: r.try_get(7)?,
                items: json(r, 8)?,
                status: parse("status", r.try_get(9)?, AppStatus::parse)?,
                revision: u32_col(r, 10)?,
                received_at: r.try_get(11)?,
                deadline: r.try_get(12)?,
            })
        })
        .await
    }

    async fn insert_delivery(&mut self, t: &DeliveryTask, village: VillageId, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO deliveries (id, application_id, item, village_id, task, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&t.id.0, &t.application_id.0, &t.item, &village.0, &Json(t), &now],
        )
        .await?;
        Ok(())
    }
    async fn delivery(&mut self, id: DeliveryId) -> Result<Option<DeliveryRow>> {
        self.one("SELECT task, delivered_at FROM deliveries WHERE id = $1", &[&id.0], delivery_row).await
    }
    async fn delivery_for_item(&mut self, app: ApplicationId, item: &str) -> Result<Option<DeliveryRow>> {
        self.one(
            "SELECT task, delivered_at FROM deliveries WHERE application_id = $1 AND item = $2 ORDER BY created_at DESC LIMIT 1",
            &[&app.0, &item],
            delivery_row,
        )
        .await
    }
    async fn confirm_delivery(&mut self, d: &DeliveryRecord, event: EventId) -> Result<()> {
        self.exec(
            "UPDATE deliveries SET delivered_at = $2, recipient = $3, proof = $4, event_id = $5 WHERE id = $1",
            &[&d.delivery_id.0, &d.delivered_at, &d.recipient.as_str(), &Json(&d.proof), &event.0],
        )
        .await?;
        Ok(())
    }
    async fn insert_rating(&mut self, r: &RatingRecord, village: VillageId, follow_up: bool, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO ratings (application_id, item, delivery_id, village_id, score, comment, rated_at, stored_at, needs_follow_up) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &r.application_id.0,
                &r.item,
                &r.delivery_id.0,
                &village.0,
                &i16::from(r.rating.score()),
                &r.comment.as_ref().map(|c| c.as_str()),
                &r.rated_at,
                &now,
                &follow_up,
            ],
        )
        .await?;
        Ok(())
    }
    async fn ratings_needing_follow_up(&mut self, township: TownshipId) -> Result<Vec<StoredRating>> {
        self.all(
            "SELECT r.application_id, r.village_id, r.item, r.score, r.comment, r.rated_at, r.needs_follow_up \
             FROM ratings r JOIN villages v ON v.id = r.village_id \
             WHERE v.township_id = $1 AND r.needs_follow_up AND r.followed_up_at IS NULL ORDER BY r.rated_at",
            &[&township.0],
            |r| {
                let score: i16 = r.try_get(3)?;
                Ok(StoredRating {
                    application_id: ApplicationId(r.try_get(0)?),
                    village_id: VillageId(r.try_get(1)?),
                    item: r.try_get(2)?,
                    rating: Rating::from_score(score as u8).ok_or_else(|| corrupt("score", &score.to_string()))?,
                    comment: r.try_get(4)?,
                    rated_at: r.try_get(5)?,
                    needs_follow_up: r.try_get(6)?,
                })
            },
        )
        .await
    }

    /// See the module documentation: the `UPDATE` locks the village row until commit, which
    /// makes each village's feed commit in seq order (gap-free for readers).
    async fn append_change(&mut self, village: VillageId, at: DateTime<Utc>, body: &ChangeBody) -> Result<i64> {
        let seq = self.id("UPDATE villages SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq", &[&village.0]).await?;
        self.exec("INSERT INTO changes (village_id, seq, at, body) VALUES ($1, $2, $3, $4)", &[&village.0, &seq, &at, &Json(body)]).await?;
        Ok(seq)
    }
    async fn changes(&mut self, village: VillageId, after: i64, limit: u32) -> Result<Vec<Change>> {
        self.all(
            "SELECT seq, at, body FROM changes WHERE village_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            &[&village.0, &after, &i64::from(limit)],
            |r| Ok(Change { seq: r.try_get(0)?, at: r.try_get(1)?, body: json(r, 2)? }),
        )
        .await
    }
    async fn insert_audit(&mut self, e: &AuditEntry) -> Result<()> {
        self.exec(
            "INSERT INTO audit_log (at, township_id, actor, application_id, action, detail) VALUES ($1, $2, $3, $4, $5, $6)",
            &[&e.at, &e.township_id.0, &Json(&e.actor), &e.application_id.map(|a| a.0), &e.action, &e.detail],
        )
        .await?;
        Ok(())
    }
    async fn audit_of(&mut self, app: ApplicationId) -> Result<Vec<AuditEntry>> {
        self.all(
            "SELECT at, township_id, actor, application_id, action, detail FROM audit_log WHERE application_id = $1 ORDER BY id",
            &[&app.0],
            audit_row,
        )
        .await
    }
    async fn insert_catalogue(&mut self, township: TownshipId, c: &Catalogue, by: Option<StaffId>, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO catalogues (township_id, version, body, published_at, published_by) VALUES ($1, $2, $3, $4, $5)",
            &[&township.0, &(c.version as i32), &Json(c), &now, &by.map(|s| s.0)],
        )
        .await?;
        Ok(())
    }
    async fn catalogue(&mut self, township: TownshipId, version: Option<u32>) -> Result<Option<Catalogue>> {
        let version = version.map(|v| v as i32);
        self.one(
            "SELECT body FROM catalogues WHERE township_id = $1 AND ($2::INTEGER IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
            &[&township.0, &version],
            |r| json(r, 0),
        )
        .await
    }

    async fn photos_present(&mut self, hashes: &[PhotoHash]) -> Result<Vec<PhotoHash>> {
        let hashes: Vec<String> = hashes.iter().map(PhotoHash::to_hex).collect();
        self.all("SELECT hash FROM photos WHERE hash = ANY($1)", &[&hashes], |r| parse("photo hash", r.try_get(0)?, |s| s.parse().ok()))
            .await
    }
    async fn photo_referenced(&mut self, hash: &PhotoHash, village: VillageId) -> Result<bool> {
        Ok(self
            .one("SELECT 1 FROM photo_refs WHERE hash = $1 AND village_id = $2 LIMIT 1", &[&hash.to_hex(), &village.0], |_| Ok(()))
            .await?
            .is_some())
    }
    async fn photo_referenced_and_present(&mut self, hash: &PhotoHash, village: VillageId) -> Result<(bool, bool)> {
        let row = self
            .one(
                "SELECT EXISTS (SELECT 1 FROM photo_refs WHERE hash = $1 AND village_id = $2), EXISTS (SELECT 1 FROM photos WHERE hash = $1)",
                &[&hash.to_hex(), &village.0],
                |r| Ok((r.try_get::<_, bool>(0)?, r.try_get::<_, bool>(1)?)),
            )
            .await?;
        Ok(row.unwrap_or((false, false)))
    }
    async fn record_photo_upload(&mut self, id: &str, hash: &PhotoHash, bytes: u64, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "WITH stored AS (INSERT INTO photos (hash, bytes, stored_at) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING) \
             UPDATE uploads SET received = $2, updated_at = $3 WHERE id = $4",
            &[&hash.to_hex(), &(bytes as i64), &now, &id],
        )
        .await?;
        Ok(())
    }
    async fn insert_photo(&mut self, hash: &PhotoHash, bytes: u64, now: DateTime<Utc>) -> Result<()> {
        self.exec(
            "INSERT INTO photos (hash, bytes, stored_at) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING",
            &[&hash.to_hex(), &(bytes as i64), &now],
        )
        .await?;
        Ok(())
    }
    async fn insert_upload(&mut self, u: &Upload) -> Result<()> {
        self.exec(
            "INSERT INTO uploads (id, device_id, hash, length, received, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            &[&u.id, &u.device_id.0, &u.hash.to_hex(), &(u.length as i64), &(u.offset as i64), &u.created_at],
        )
        .await?;
        Ok(())
    }
    async fn upload(&mut self, id: &str) -> Result<Option<Upload>> {
        self.one("SELECT id, device_id, hash, length, received, created_at FROM uploads WHERE id = $1", &[&id], upload_row).await
    }
    async fn set_upload_offset(&mut self, id: &str, offset: u64, now: DateTime<Utc>) -> Result<()> {
        self.exec("UPDATE uploads SET received = $2, updated_at = $3 WHERE id = $1", &[&id, &(offset as i64), &now]).await?;
        Ok(())
    }
    async fn delete_upload(&mut self, id: &str) -> Result<()> {
        self.exec("DELETE FROM uploads WHERE id = $1", &[&id]).await?;
        Ok(())
    }
}
