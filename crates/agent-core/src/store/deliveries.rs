//! Home delivery of results (送证上门) and the resident's rating (好差评).
//!
//! The centre sends a delivery task when a result is ready for an elderly or less mobile
//! resident. The agent hands it over, proves it with the recipient's on-screen signature or
//! a photo, and records the resident's 5-level rating; each step is one transaction with its
//! outbox event, like every other change.

use super::applications::{add_timeline_tx, app_exists, refresh_status_tx, TimelineEvent};
use super::{insert_photo, parse_json, parse_str, parse_ts, ts, Result, Store, StoreError};
use crate::photo::PipelineOptions;
use chrono::{DateTime, Utc};
use daiban_proto::catalogue::L10n;
use daiban_proto::record::{DeliveryRecord, Proof, RatingRecord};
use daiban_proto::sync::{Event, EventBody};
use daiban_proto::text::{PersonName, Remark};
use daiban_proto::{ApplicationId, DeliveryId, DeliveryMode, EventId, Rating, ResidentId};
use rusqlite::{params, OptionalExtension};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryView {
    pub id: DeliveryId,
    pub application_id: ApplicationId,
    pub item: String,
    pub item_name: L10n,
    pub resident_id: ResidentId,
    pub resident_name: String,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub mode: DeliveryMode,
    pub result: L10n,
    pub note: Option<String>,
    pub received_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub recipient: Option<String>,
    pub rating: Option<Rating>,
    pub comment: Option<String>,
}

/// How the handover is proven, as captured.
pub enum ProofInput<'a> {
    /// The recipient's signature drawn on screen, as PNG.
    SignaturePng(&'a [u8]),
    /// A photo of the handover (camera output).
    Photo(&'a [u8]),
}

impl Store {
    /// Delivery tasks, open ones first (oldest first), then done ones (newest first).
    pub fn deliveries(&self, open_only: bool) -> Result<Vec<DeliveryView>> {
        let cat = self.catalogue();
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT d.id, d.application_id, d.item, d.resident_id, r.name, r.address, r.phone, d.mode, d.result, d.note,
                    d.received_at, d.delivered_at, d.recipient, d.rating, d.comment
             FROM deliveries d LEFT JOIN residents r ON r.id = d.resident_id
             WHERE ?1 = 0 OR d.delivered_at IS NULL OR d.rating IS NULL
             ORDER BY d.delivered_at IS NOT NULL, CASE WHEN d.delivered_at IS NULL THEN d.received_at END,
                      d.delivered_at DESC",
        )?;
        let rows = st.query_map([open_only], |r| {
            let item: String = r.get(2)?;
            let mode: String = r.get(7)?;
            Ok(DeliveryView {
                id: parse_str(&r.get::<_, String>(0)?)?,
                application_id: parse_str(&r.get::<_, String>(1)?)?,
                item_name: cat.item(&item).map(|i| i.name.clone()).unwrap_or_else(|| L10n::new(&item, &item)),
                item,
                resident_id: parse_str(&r.get::<_, String>(3)?)?,
                resident_name: r.get::<_, Option<String>>(4)?.unwrap_or_else(|| "（未登记居民）".into()),
                address: r.get(5)?,
                phone: r.get(6)?,
                mode: if mode == "centre" { DeliveryMode::Centre } else { DeliveryMode::Home },
                result: parse_json(&r.get::<_, String>(8)?)?,
                note: r.get(9)?,
                received_at: parse_ts(&r.get::<_, String>(10)?)?,
                delivered_at: r.get::<_, Option<String>>(11)?.as_deref().map(parse_ts).transpose()?,
                recipient: r.get(12)?,
                rating: r.get::<_, Option<u8>>(13)?.and_then(Rating::from_score),
                comment: r.get(14)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Record the handover with its proof. Durable (proof file and row) on return.
    pub fn confirm_delivery(&self, id: DeliveryId, recipient: &str, proof: ProofInput<'_>) -> Result<()> {
        let recipient = PersonName::parse(recipient)
            .map_err(|e| StoreError::Invalid(vec![crate::forms::FieldError::new("recipient", "签收人", e.to_string())]))?;
        let (photo, signature) = match proof {
            ProofInput::SignaturePng(png) => (self.photos().put_png_signature(png)?, true),
            ProofInput::Photo(raw) => (self.photos().ingest(raw, &PipelineOptions::default())?, false),
        };
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let row: Option<(String, String, Option<String>)> = tx
            .query_row("SELECT application_id, item, delivered_at FROM deliveries WHERE id = ?1", [id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let (app, item, done) = row.ok_or(StoreError::NotFound("送达任务"))?;
        if done.is_some() {
            return Err(StoreError::State("已经确认送达 / already delivered".into()));
        }
        let app: ApplicationId = parse_str(&app)?;
        insert_photo(&tx, &photo, now)?;
        let proof = if signature { Proof::Signature { photo: photo.clone() } } else { Proof::Photo { photo: photo.clone() } };
        tx.execute(
            "UPDATE deliveries SET delivered_at = ?2, recipient = ?3, proof_kind = ?4, proof_hash = ?5 WHERE id = ?1",
            params![id.to_string(), ts(now), recipient.as_str(), if signature { "signature" } else { "photo" }, photo.hash.to_hex()],
        )?;
        set_item_status(&tx, app, &item, "delivered")?;
        let record = DeliveryRecord {
            delivery_id: id,
            application_id: app,
            item: item.clone(),
            recipient: recipient.clone(),
            proof,
            delivered_at: now,
        };
        super::outbox::enqueue_tx(
            &tx,
            &Event { id: EventId::new(), created_at: now, body: EventBody::DeliveryConfirmed { delivery: record } },
            Some(app),
        )?;
        if app_exists(&tx, app)? {
            refresh_status_tx(&tx, app)?;
            add_timeline_tx(&tx, app, now, &TimelineEvent::Delivered { item, recipient: recipient.as_str().into() })?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Record the resident's rating of a delivered result.
    pub fn rate_delivery(&self, id: DeliveryId, rating: Rating, comment: &str) -> Result<()> {
        let comment = match comment.trim() {
            "" => None,
            c => Some(
                Remark::parse(c)
                    .map_err(|e| StoreError::Invalid(vec![crate::forms::FieldError::new("comment", "评价内容", e.to_string())]))?,
            ),
        };
        let now = self.now();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let row: Option<(String, String, Option<String>, Option<u8>)> = tx
            .query_row("SELECT application_id, item, delivered_at, rating FROM deliveries WHERE id = ?1", [id.to_string()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let (app, item, delivered, rated) = row.ok_or(StoreError::NotFound("送达任务"))?;
        if delivered.is_none() {
            return Err(StoreError::State("请先确认送达再评价 / confirm the delivery first".into()));
        }
        if rated.is_some() {
            return Err(StoreError::State("已经评价过 / already rated".into()));
        }
        let app: ApplicationId = parse_str(&app)?;
        tx.execute(
            "UPDATE deliveries SET rating = ?2, comment = ?3, rated_at = ?4 WHERE id = ?1",
            params![id.to_string(), rating.score(), comment.as_ref().map(|c| c.as_str()), ts(now)],
        )?;
        set_item_status(&tx, app, &item, "rated")?;
        let record = RatingRecord { delivery_id: id, application_id: app, item: item.clone(), rating, comment, rated_at: now };
        super::outbox::enqueue_tx(
            &tx,
            &Event { id: EventId::new(), created_at: now, body: EventBody::RatingGiven { rating: record } },
            Some(app),
        )?;
        if app_exists(&tx, app)? {
            refresh_status_tx(&tx, app)?;
            add_timeline_tx(&tx, app, now, &TimelineEvent::Rated { item, rating })?;
        }
        tx.commit()?;
        Ok(())
    }
}

fn set_item_status(tx: &rusqlite::Transaction, app: ApplicationId, item: &str, status: &str) -> rusqlite::Result<()> {
    tx.execute("UPDATE application_items SET status = ?3 WHERE application_id = ?1 AND item = ?2", params![app.to_string(), item, status])?;
    Ok(())
}
