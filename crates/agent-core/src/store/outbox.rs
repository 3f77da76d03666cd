//! The outbox: every change the agent makes, in order, waiting to go to the centre.
//!
//! Events are written by the same transaction as the change they describe. The sync engine
//! reads pending events in order, pushes them, and records the centre's answer per event:
//! applied → `sent`; permanently refused → `quarantined` (the reason is shown to the agent and
//! the rest of the queue carries on); transient failure → stays `pending` with a later
//! `next_attempt_at`. Photos an event refers to are uploaded after the event is `sent`.

use super::applications::{add_timeline_tx, refresh_status_tx, TimelineEvent};
use super::{parse_json, parse_ts, ts, Result, Store};
use chrono::{DateTime, Utc};
use daiban_proto::sync::{Event, EventOutcome, EventResult};
use daiban_proto::{ApplicationId, EventId, PhotoHash, PhotoRef};
use rusqlite::{params, Transaction};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxState {
    Pending,
    Sent,
    Quarantined,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub seq: i64,
    pub event: Event,
    pub state: OutboxState,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// What the home screen and the sync indicator show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutboxSummary {
    /// Events not yet acknowledged by the centre.
    pub pending_events: u32,
    /// Applications among them.
    pub pending_applications: u32,
    /// Events the centre refused (need the agent's attention).
    pub quarantined: u32,
    /// Photos still to upload (of acknowledged or pending events) and their size.
    pub pending_photos: u32,
    pub pending_photo_bytes: u64,
}

impl OutboxSummary {
    pub fn is_empty(&self) -> bool {
        self.pending_events == 0 && self.pending_photos == 0
    }
}

pub(crate) fn enqueue_tx(tx: &Transaction, ev: &Event, app: Option<ApplicationId>) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO outbox(event_id, kind, application_id, json, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            ev.id.to_string(),
            ev.body.kind(),
            app.map(|a| a.to_string()),
            serde_json::to_string(ev).expect("event serialises"),
            ts(ev.created_at)
        ],
    )?;
    let seq = tx.last_insert_rowid();
    for h in ev.body.photos() {
        tx.execute("INSERT OR IGNORE INTO outbox_photos(seq, hash) VALUES (?1, ?2)", params![seq, h.to_hex()])?;
    }
    Ok(())
}

fn entry(r: &rusqlite::Row) -> rusqlite::Result<OutboxEntry> {
    let state: String = r.get(2)?;
    Ok(OutboxEntry {
        seq: r.get(0)?,
        event: parse_json(&r.get::<_, String>(1)?)?,
        state: match state.as_str() {
            "sent" => OutboxState::Sent,
            "quarantined" => OutboxState::Quarantined,
            _ => OutboxState::Pending,
        },
        attempts: r.get(3)?,
        last_error: r.get(4)?,
    })
}

impl Store {
    /// Pending events due at `now`, oldest first.
    pub fn due_events(&self, now: DateTime<Utc>, limit: u32) -> Result<Vec<OutboxEntry>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT seq, json, state, attempts, last_error FROM outbox
             WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
             ORDER BY seq LIMIT ?2",
        )?;
        let rows = st.query_map(params![ts(now), limit], entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Events the centre refused, newest first.
    pub fn quarantined_events(&self) -> Result<Vec<OutboxEntry>> {
        let conn = self.conn();
        let mut st =
            conn.prepare_cached("SELECT seq, json, state, attempts, last_error FROM outbox WHERE state = 'quarantined' ORDER BY seq DESC")?;
        let rows = st.query_map([], entry)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Record the centre's answers. Applied events become `sent`; refused ones are
    /// quarantined, and a refused application becomes editable again with the reason shown.
    pub fn record_outcomes(&self, outcomes: &[EventOutcome]) -> Result<()> {
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for o in outcomes {
            match &o.result {
                EventResult::Applied => {
                    tx.execute(
                        "UPDATE outbox SET state = 'sent', sent_at = ?2, last_error = NULL
                         WHERE event_id = ?1 AND state = 'pending'",
                        params![o.event_id.to_string(), ts(now)],
                    )?;
                }
                EventResult::Rejected { code, message } => {
                    let changed = tx.execute(
                        "UPDATE outbox SET state = 'quarantined', last_error = ?2 WHERE event_id = ?1 AND state = 'pending'",
                        params![o.event_id.to_string(), format!("{message} ({code:?})")],
                    )?;
                    if changed > 0 {
                        reopen_refused_application_tx(&tx, o.event_id, message, now)?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A transient failure: try these events again after `retry_at`.
    pub fn record_retry(&self, events: &[EventId], error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for id in events {
            tx.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3
                 WHERE event_id = ?1 AND state = 'pending'",
                params![id.to_string(), error, ts(retry_at)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Make every pending event due now (connectivity came back; the agent tapped "sync").
    pub fn retry_now(&self) -> Result<()> {
        self.conn().execute("UPDATE outbox SET next_attempt_at = NULL WHERE state = 'pending'", [])?;
        Ok(())
    }

    /// Photos whose events the centre has acknowledged but which it does not have yet,
    /// in queue order.
    pub fn photos_to_upload(&self, limit: u32) -> Result<Vec<PhotoRef>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT p.hash, p.bytes, p.width, p.height FROM photos p
             WHERE p.uploaded = 0 AND EXISTS (
                SELECT 1 FROM outbox_photos op JOIN outbox o ON o.seq = op.seq
                WHERE op.hash = p.hash AND o.state = 'sent')
             ORDER BY (SELECT min(op.seq) FROM outbox_photos op WHERE op.hash = p.hash)
             LIMIT ?1",
        )?;
        let rows = st.query_map([limit], |r| {
            Ok(PhotoRef {
                hash: super::parse_str(&r.get::<_, String>(0)?)?,
                bytes: r.get::<_, i64>(1)? as u64,
                width: r.get(2)?,
                height: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The centre has this photo (uploaded now or earlier).
    pub fn mark_photo_uploaded(&self, hash: &PhotoHash) -> Result<()> {
        self.conn().execute("UPDATE photos SET uploaded = 1 WHERE hash = ?1", [hash.to_hex()])?;
        Ok(())
    }

    pub fn outbox_summary(&self) -> Result<OutboxSummary> {
        let conn = self.conn();
        let (pending_events, pending_applications, quarantined): (u32, u32, u32) = conn.query_row(
            "SELECT coalesce(sum(state = 'pending'), 0),
                    coalesce(sum(state = 'pending' AND kind = 'application_submitted'), 0),
                    coalesce(sum(state = 'quarantined'), 0) FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let (pending_photos, bytes): (u32, i64) = conn.query_row(
            "SELECT count(*), coalesce(sum(p.bytes), 0) FROM photos p
             WHERE p.uploaded = 0 AND EXISTS (
                SELECT 1 FROM outbox_photos op JOIN outbox o ON o.seq = op.seq
                WHERE op.hash = p.hash AND o.state IN ('pending', 'sent'))",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(OutboxSummary { pending_events, pending_applications, quarantined, pending_photos, pending_photo_bytes: bytes as u64 })
    }

    /// When the last attempt at each pending event failed, the error (for the sync screen).
    pub fn last_outbox_error(&self) -> Result<Option<(String, Option<DateTime<Utc>>)>> {
        let conn = self.conn();
        let row: Option<(String, Option<String>)> = rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT last_error, next_attempt_at FROM outbox WHERE state = 'pending' AND last_error IS NOT NULL
             ORDER BY seq LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        ))?;
        Ok(match row {
            Some((e, at)) => Some((e, at.as_deref().map(parse_ts).transpose()?)),
            None => None,
        })
    }
}

/// The centre refused an application's submission: make it editable again, with the
/// centre's reason where a returned application shows its reason.
fn reopen_refused_application_tx(tx: &Transaction, event: EventId, message: &str, now: DateTime<Utc>) -> Result<()> {
    let row: Option<(Option<String>, String)> = rusqlite::OptionalExtension::optional(tx.query_row(
        "SELECT application_id, kind FROM outbox WHERE event_id = ?1",
        [event.to_string()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?;
    let Some((Some(app), kind)) = row else { return Ok(()) };
    if kind != "application_submitted" {
        return Ok(());
    }
    let app: ApplicationId = super::parse_str(&app)?;
    let revision: u32 = tx.query_row("SELECT revision FROM applications WHERE id = ?1", [app.to_string()], |r| r.get(0))?;
    // Revision 1 goes back to draft; a refused correction goes back to "returned" with the
    // previous revision number, so the next submit sends the same revision number again.
    let (stage, rev) = if revision <= 1 { ("draft", 1) } else { ("returned", revision - 1) };
    tx.execute(
        "UPDATE applications SET stage = ?2, revision = ?3, return_reason = ?4 WHERE id = ?1",
        params![app.to_string(), stage, rev, format!("中心拒收：{message}")],
    )?;
    tx.execute("DELETE FROM application_revisions WHERE application_id = ?1 AND revision = ?2", params![app.to_string(), revision])?;
    refresh_status_tx(tx, app)?;
    add_timeline_tx(tx, app, now, &TimelineEvent::Refused { message: message.to_string() })?;
    Ok(())
}
