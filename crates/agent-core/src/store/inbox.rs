//! Applying what the centre sends back: receipts, review decisions (including returns for
//! correction with the reason and the materials to add), delivery tasks and new catalogues.
//!
//! Each change is applied in its own transaction together with the new cursor, so a crash
//! between two changes neither loses nor repeats one. Decisions use the same state machine as
//! the centre (`proto::status::apply_decision`).

use super::applications::{add_timeline_tx, app_exists, item_statuses_tx, refresh_status_tx, stage_tx, TimelineEvent};
use super::{install_catalogue_tx, ts, CatalogueSource, Result, Store};
use daiban_proto::status::{apply_decision, Decision, Stage};
use daiban_proto::sync::{Change, ChangeBody};
use daiban_proto::ApplicationId;
use rusqlite::{params, Transaction};
use std::sync::Arc;

/// Meta key of the pull cursor (last applied change seq).
pub const CURSOR_KEY: &str = "sync.cursor";

impl Store {
    /// The cursor to send with the next pull.
    pub fn pull_cursor(&self) -> Result<i64> {
        Ok(self.meta(CURSOR_KEY)?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Start the change feed from the beginning (the device moved to another centre or
    /// village, whose feed has its own sequence). Applying a change again is harmless:
    /// decisions are checked against the local state, deliveries and catalogues are keyed.
    /// The catalogue in use stays until the new centre's first one replaces it, whatever its
    /// version.
    pub fn reset_pull_cursor(&self) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM meta WHERE key = ?1", [CURSOR_KEY])?;
        tx.execute("UPDATE catalogue SET from_centre = 0", [])?;
        tx.commit()?;
        Ok(())
    }

    /// Apply one change from the centre and advance the cursor, atomically. A change at or
    /// before the cursor (a repeated page) is ignored.
    pub fn apply_change(&self, change: &Change) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let cursor: i64 = tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [CURSOR_KEY], |r| r.get::<_, String>(0))
            .map(|v| v.parse().unwrap_or(0))
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(0) } else { Err(e) })?;
        if change.seq <= cursor {
            return Ok(());
        }
        let mut new_catalogue = None;
        match &change.body {
            ChangeBody::Received { application_id, revision, deadline } => {
                if is_current_revision(&tx, *application_id, *revision)? && stage_tx(&tx, *application_id)? == Stage::Queued {
                    tx.execute("UPDATE applications SET stage = 'received' WHERE id = ?1", [application_id.to_string()])?;
                    refresh_status_tx(&tx, *application_id)?;
                    set_deadline_tx(&tx, *application_id, *deadline)?;
                }
                if app_exists(&tx, *application_id)? {
                    add_timeline_tx(&tx, *application_id, change.at, &TimelineEvent::Received { revision: *revision })?;
                }
            }
            ChangeBody::Decision { application_id, revision, decision, by, deadline } => {
                apply_decision_tx(&tx, *application_id, *revision, decision)?;
                if is_current_revision(&tx, *application_id, *revision)? {
                    set_deadline_tx(&tx, *application_id, *deadline)?;
                }
                if app_exists(&tx, *application_id)? {
                    add_timeline_tx(
                        &tx,
                        *application_id,
                        change.at,
                        &TimelineEvent::Decision { decision: decision.clone(), by: by.clone() },
                    )?;
                }
            }
            ChangeBody::DeliveryTask { task } => {
                tx.execute(
                    "INSERT INTO deliveries(id, application_id, item, resident_id, mode, result, note, received_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT(id) DO NOTHING",
                    params![
                        task.id.to_string(),
                        task.application_id.to_string(),
                        task.item,
                        task.resident_id.to_string(),
                        serde_json::to_value(task.mode).unwrap().as_str().unwrap_or("home"),
                        serde_json::to_string(&task.result).unwrap(),
                        task.note,
                        ts(change.at),
                    ],
                )?;
                if app_exists(&tx, task.application_id)? {
                    add_timeline_tx(&tx, task.application_id, change.at, &TimelineEvent::DeliveryTask { item: task.item.clone() })?;
                }
            }
            ChangeBody::Catalogue { catalogue } => {
                if install_catalogue_tx(&tx, catalogue, CatalogueSource::Centre)? {
                    new_catalogue = Some(catalogue.clone());
                }
            }
        }
        tx.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![CURSOR_KEY, change.seq.to_string()],
        )?;
        tx.commit()?;
        if let Some(c) = new_catalogue {
            self.set_catalogue_cache(Arc::new(c));
        }
        Ok(())
    }
}

/// Keep the centre's deadline (a change without one, from an older centre or a decision
/// other than acceptance, leaves it as it is).
fn set_deadline_tx(tx: &Transaction, app: ApplicationId, deadline: Option<chrono::NaiveDate>) -> rusqlite::Result<()> {
    if let Some(d) = deadline {
        tx.execute("UPDATE applications SET deadline = ?2 WHERE id = ?1", params![app.to_string(), d.to_string()])?;
    }
    Ok(())
}

fn is_current_revision(tx: &Transaction, app: ApplicationId, revision: u32) -> rusqlite::Result<bool> {
    tx.query_row("SELECT EXISTS(SELECT 1 FROM applications WHERE id = ?1 AND revision = ?2)", params![app.to_string(), revision], |r| {
        r.get(0)
    })
}

/// Apply a decision to the local copy. Decisions about an older revision, or about an
/// application this device does not have (reinstalled phone), only advance the cursor.
fn apply_decision_tx(tx: &Transaction, app: ApplicationId, revision: u32, d: &Decision) -> Result<()> {
    if !is_current_revision(tx, app, revision)? {
        return Ok(());
    }
    let mut stage = stage_tx(tx, app)?;
    if stage == Stage::Queued {
        // The receipt may be on a later page than an immediate decision; both mean the centre has it.
        stage = Stage::Received;
    }
    let mut items = item_statuses_tx(tx, app)?;
    let new_stage = match apply_decision(stage, &mut items, d) {
        Ok(s) => s,
        Err(e) => {
            // The centre validated this transition against its own state, which is the truth;
            // a mismatch means the local copy is behind. Record and keep going.
            tracing::warn!(%app, "decision does not fit local state: {e}");
            return Ok(());
        }
    };
    tx.execute("UPDATE applications SET stage = ?2 WHERE id = ?1", params![app.to_string(), new_stage.as_str()])?;
    for (item, status) in &items {
        tx.execute(
            "UPDATE application_items SET status = ?3 WHERE application_id = ?1 AND item = ?2",
            params![app.to_string(), item, status.as_str()],
        )?;
    }
    if let Decision::Return { reason, materials } = d {
        tx.execute(
            "UPDATE applications SET return_reason = ?2, return_materials = ?3 WHERE id = ?1",
            params![app.to_string(), reason.as_str(), serde_json::to_string(materials).unwrap()],
        )?;
    }
    refresh_status_tx(tx, app)?;
    Ok(())
}
