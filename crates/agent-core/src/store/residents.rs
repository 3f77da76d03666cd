//! The resident register on the device: add, edit, search.
//!
//! Residents stay on the phone until they have an application: the first submission puts the
//! resident's record in the outbox just before the application (minimum necessary), and later
//! edits of a resident the centre already knows are queued in the same transaction as the edit.

use super::{parse_str, parse_ts, ts, Result, Store, StoreError};
use crate::forms::{FieldError, ResidentInput};
use chrono::{NaiveDate, Utc};
use daiban_proto::sync::{Event, EventBody};
use daiban_proto::text::{Address, PersonName, Phone};
use daiban_proto::{EventId, IdNumber, ResidentId, ResidentRecord, Sex};
use rusqlite::{params, OptionalExtension, Row, Transaction};

/// What resident lists show: the ID number is masked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResidentSummary {
    pub id: ResidentId,
    pub name: String,
    pub id_masked: String,
    pub birth_date: NaiveDate,
    pub sex: Sex,
    pub village_group: Option<String>,
    pub elderly: bool,
    pub mobility_limited: bool,
    /// Applications not yet closed.
    pub open_applications: u32,
}

impl ResidentSummary {
    pub fn age_on(&self, today: NaiveDate) -> u32 {
        daiban_proto::id_number::age_between(self.birth_date, today)
    }
}

const RESIDENT_COLS: &str = "id, name, id_number, phone, village_group, address, elderly, mobility_limited, updated_at";

fn record_from_row(r: &Row) -> rusqlite::Result<ResidentRecord> {
    let opt = |i: usize| -> rusqlite::Result<Option<String>> { r.get(i) };
    Ok(ResidentRecord {
        id: parse_str(&r.get::<_, String>(0)?)?,
        name: PersonName::parse(&r.get::<_, String>(1)?).map_err(conv)?,
        id_number: IdNumber::parse(&r.get::<_, String>(2)?).map_err(conv)?,
        phone: opt(3)?.map(|p| Phone::parse(&p)).transpose().map_err(conv)?,
        village_group: opt(4)?.map(|p| Address::parse(&p)).transpose().map_err(conv)?,
        address: opt(5)?.map(|p| Address::parse(&p)).transpose().map_err(conv)?,
        elderly: r.get(6)?,
        mobility_limited: r.get(7)?,
        updated_at: parse_ts(&r.get::<_, String>(8)?)?,
    })
}

fn conv<E: std::error::Error + Send + Sync + 'static>(e: E) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
}

pub(crate) fn resident_tx(tx: &Transaction, id: ResidentId) -> Result<ResidentRecord> {
    tx.query_row(&format!("SELECT {RESIDENT_COLS} FROM residents WHERE id = ?1"), [id.to_string()], record_from_row)
        .optional()?
        .ok_or(StoreError::NotFound("居民"))
}

/// Put the resident's current record in the outbox unless that exact version is already there.
pub(crate) fn queue_resident_tx(tx: &Transaction, id: ResidentId) -> Result<()> {
    let (updated, queued): (String, Option<String>) =
        tx.query_row("SELECT updated_at, queued_at FROM residents WHERE id = ?1", [id.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if queued.as_deref() == Some(updated.as_str()) {
        return Ok(());
    }
    let resident = resident_tx(tx, id)?;
    super::outbox::enqueue_tx(
        tx,
        &Event { id: EventId::new(), created_at: Utc::now(), body: EventBody::ResidentUpserted { resident } },
        None,
    )?;
    tx.execute("UPDATE residents SET queued_at = updated_at WHERE id = ?1", [id.to_string()])?;
    Ok(())
}

/// Run `sql` (an INSERT or UPDATE of one resident) with the resident's columns bound as
/// ?1 id, ?2 name, ?3 id_number, ?4 phone, ?5 group, ?6 address, ?7 elderly, ?8 mobility,
/// ?9 birth date, ?10 sex, ?11 now. Returns the rows changed.
fn write_resident(tx: &Transaction, id: ResidentId, input: &ResidentInput, now: &str, sql: &str) -> rusqlite::Result<usize> {
    tx.execute(
        sql,
        params![
            id.to_string(),
            input.name.as_str(),
            input.id_number.expose(),
            input.phone.as_ref().map(|p| p.as_str()),
            input.village_group.as_ref().map(|p| p.as_str()),
            input.address.as_ref().map(|p| p.as_str()),
            input.elderly,
            input.mobility_limited,
            input.id_number.birth_date().to_string(),
            input.id_number.sex().en(),
            now,
        ],
    )
}

fn duplicate_id(tx: &Transaction, input: &ResidentInput, except: Option<ResidentId>) -> Result<()> {
    let other: Option<(String, String)> = tx
        .query_row("SELECT id, name FROM residents WHERE id_number = ?1", [input.id_number.expose()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    match other {
        Some((id, name)) if Some(id.as_str()) != except.map(|e| e.to_string()).as_deref() => {
            Err(StoreError::Invalid(vec![FieldError::new(
                "id_number",
                "身份证号",
                format!("该身份证号已登记（居民：{name}），请勿重复添加 / already registered (resident: {name})"),
            )]))
        }
        _ => Ok(()),
    }
}

impl Store {
    /// Add a resident to the register.
    pub fn add_resident(&self, input: &ResidentInput) -> Result<ResidentId> {
        let id = ResidentId::new();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        duplicate_id(&tx, input, None)?;
        write_resident(
            &tx,
            id,
            input,
            &ts(self.now()),
            "INSERT INTO residents(id, name, id_number, phone, village_group, address, elderly, mobility_limited,
                                   birth_date, sex, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Change a resident's data. If the centre already has this resident, the new version is
    /// queued in the same transaction.
    pub fn update_resident(&self, id: ResidentId, input: &ResidentInput) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        duplicate_id(&tx, input, Some(id))?;
        let n = write_resident(
            &tx,
            id,
            input,
            &ts(self.now()),
            "UPDATE residents SET name = ?2, id_number = ?3, phone = ?4, village_group = ?5, address = ?6,
                    elderly = ?7, mobility_limited = ?8, birth_date = ?9, sex = ?10, updated_at = ?11
             WHERE id = ?1",
        )?;
        if n == 0 {
            return Err(StoreError::NotFound("居民"));
        }
        let known_to_centre: bool =
            tx.query_row("SELECT queued_at IS NOT NULL FROM residents WHERE id = ?1", [id.to_string()], |r| r.get(0))?;
        if known_to_centre {
            queue_resident_tx(&tx, id)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn resident(&self, id: ResidentId) -> Result<ResidentRecord> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        resident_tx(&tx, id)
    }

    /// Search by name, the digits of the ID number (any part, e.g. the last four), phone or
    /// village group. An empty query lists everyone, most recently changed first.
    pub fn search_residents(&self, query: &str, limit: u32) -> Result<Vec<ResidentSummary>> {
        let q = query.trim();
        let like = format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        self.resident_summaries(
            "?1 = '' OR r.name LIKE ?2 ESCAPE '\\' OR r.id_number LIKE ?2 ESCAPE '\\'
             OR r.phone LIKE ?2 ESCAPE '\\' OR r.village_group LIKE ?2 ESCAPE '\\'
             ORDER BY (r.name = ?1) DESC, r.updated_at DESC LIMIT ?3",
            params![q, like, limit],
        )
    }

    /// Resident list lines for a `WHERE …` clause (with its ORDER/LIMIT) over `residents r`.
    fn resident_summaries(&self, clause: &str, params: impl rusqlite::Params) -> Result<Vec<ResidentSummary>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT r.id, r.name, r.id_number, r.birth_date, r.sex, r.village_group, r.elderly, r.mobility_limited,
                    (SELECT count(*) FROM applications a WHERE a.resident_id = r.id
                       AND a.status NOT IN ('rejected', 'delivered', 'rated'))
             FROM residents r WHERE {clause}"
        ))?;
        let rows = st.query_map(params, |r| {
            let idn: String = r.get(2)?;
            let id_number = IdNumber::parse(&idn).map_err(conv)?;
            Ok(ResidentSummary {
                id: parse_str(&r.get::<_, String>(0)?)?,
                name: r.get(1)?,
                id_masked: id_number.masked(),
                birth_date: parse_str(&r.get::<_, String>(3)?)?,
                sex: if r.get::<_, String>(4)? == "male" { Sex::Male } else { Sex::Female },
                village_group: r.get(5)?,
                elderly: r.get(6)?,
                mobility_limited: r.get(7)?,
                open_applications: r.get(8)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn resident_count(&self) -> Result<u32> {
        Ok(self.conn().query_row("SELECT count(*) FROM residents", [], |r| r.get(0))?)
    }

    /// Residents whose birthday within the next `days` days makes them `age` (e.g. 60: the
    /// elderly card; 80: the old-age allowance) — for proactive reminders (主动服务).
    pub fn residents_reaching_age(&self, age: u32, today: NaiveDate, days: u32) -> Result<Vec<(ResidentSummary, NaiveDate)>> {
        // Candidates born between (today − age years) and (today + days − age years), a range
        // on the birth_date index (ISO dates sort as text); the exact birthday is checked below.
        let end = today + chrono::Duration::days(days as i64);
        let shift = |d: NaiveDate| d.with_year_safe(chrono::Datelike::year(&d) - age as i32).unwrap_or(d).to_string();
        let candidates = self.resident_summaries(
            "r.birth_date BETWEEN ?1 AND ?2 ORDER BY r.birth_date",
            params![shift(today - chrono::Duration::days(1)), shift(end + chrono::Duration::days(1))],
        )?;
        Ok(candidates
            .into_iter()
            .filter_map(|r| {
                let y = chrono::Datelike::year(&r.birth_date) + age as i32;
                let day = r.birth_date.with_year_safe(y)?;
                (day >= today && day <= end).then_some((r, day))
            })
            .collect())
    }
}

trait WithYearSafe {
    fn with_year_safe(&self, y: i32) -> Option<NaiveDate>;
}

impl WithYearSafe for NaiveDate {
    /// Same day in year `y`; 29 February becomes 1 March in a common year.
    fn with_year_safe(&self, y: i32) -> Option<NaiveDate> {
        use chrono::Datelike;
        self.with_year(y).or_else(|| NaiveDate::from_ymd_opt(y, 3, 1))
    }
}
