//! The baseline the sync engine is measured against: the common practice of existing tools,
//! one `multipart/form-data` POST per submission (the application's events as JSON and its
//! photos), retried from the first byte whenever anything goes wrong.
//!
//! * [`router`]: `POST /baseline/submit` on the centre's own state and store, authenticated
//!   with the device token like the sync API. It reads the whole body, then ingests the
//!   events (exactly once, by event id, as a push would) and stores each photo the centre
//!   does not have yet (verified by its SHA-256, as a finished tus upload would), and answers
//!   200. A body cut short stores nothing.
//! * [`Submission`] / [`send_all`]: the client. Submissions go one after another; a failed
//!   attempt (transport error or non-2xx) is retried from the start after an exponential
//!   back-off with jitter (2 s doubling to 30 s, the sync engine's own retry policy), or as
//!   soon as the link comes back, whichever is first.

use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use daiban_centre::api::{AppError, AppState, Device};
use daiban_centre::store::{Upload, UploadId};
use daiban_proto::sync::{ErrorCode, Event};
use daiban_proto::PhotoHash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;

/// Largest submission accepted (3 photos of up to a few MB each).
const BODY_LIMIT: usize = 32 * 1024 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new().route("/baseline/submit", post(submit)).layer(DefaultBodyLimit::max(BODY_LIMIT)).with_state(state)
}

fn bad(message: String) -> AppError {
    AppError::bad_request(message)
}

async fn submit(State(s): State<AppState>, Device(device): Device, mut form: Multipart) -> Result<StatusCode, AppError> {
    // the whole body first: nothing is stored from a cut submission
    let mut events: Vec<Event> = Vec::new();
    let mut photos: Vec<Vec<u8>> = Vec::new();
    while let Some(field) = form.next_field().await.map_err(|e| bad(format!("multipart: {e}")))? {
        let name = field.name().unwrap_or_default().to_string();
        let data = field.bytes().await.map_err(|e| bad(format!("multipart: {e}")))?;
        match name.as_str() {
            "events" => events = serde_json::from_slice(&data).map_err(|e| bad(format!("events: {e}")))?,
            "photo" => photos.push(data.to_vec()),
            other => return Err(bad(format!("unknown part {other}"))),
        }
    }
    for event in events {
        s.store.ingest(device, event).await?;
    }
    for bytes in photos {
        let hash = PhotoHash::of(&bytes);
        if s.store.photos_missing(vec![hash]).await?.is_empty() {
            continue;
        }
        if !s.store.photo_upload_allowed(device, hash).await? {
            return Err(AppError::new(ErrorCode::Forbidden, "no application refers to this photo"));
        }
        let id = UploadId::new().to_string();
        let length = bytes.len() as u64;
        s.store
            .create_upload(Upload { id: id.clone(), device_id: device.device_id, hash, length, offset: 0, created_at: chrono::Utc::now() })
            .await?;
        let part = s.config.upload_dir.join(format!("{id}.part"));
        tokio::fs::write(&part, &bytes).await?;
        s.blobs.put_file(&hash, &part).await?;
        s.store.complete_upload(&id, hash, length).await?;
    }
    Ok(StatusCode::OK)
}

/// One application as the baseline sends it: its events and its photos.
pub struct Submission {
    pub events: Vec<Event>,
    pub photos: Vec<Vec<u8>>,
}

impl Submission {
    fn form(&self) -> reqwest::multipart::Form {
        let events = serde_json::to_vec(&self.events).expect("events serialise");
        let mut form =
            reqwest::multipart::Form::new().part("events", reqwest::multipart::Part::bytes(events).mime_str("application/json").unwrap());
        for p in &self.photos {
            let name = format!("{}.jpg", PhotoHash::of(p).to_hex());
            form = form.part("photo", reqwest::multipart::Part::bytes(p.clone()).file_name(name).mime_str("image/jpeg").unwrap());
        }
        form
    }
}

/// What the baseline client did.
#[derive(Debug, Default)]
pub struct BaselineReport {
    pub delivered: AtomicU64,
    pub attempts: AtomicU64,
}

/// Send every submission in order, each retried from the start until it succeeds; stops early
/// when `give_up` fires (the time budget). `link_up` turns `true` when the link comes back.
pub async fn send_all(
    base: &str,
    token: &str,
    submissions: &[Submission],
    mut link_up: watch::Receiver<bool>,
    report: &BaselineReport,
    give_up: impl std::future::Future<Output = ()>,
) {
    let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(15)).build().unwrap();
    let url = format!("{base}/baseline/submit");
    let work = async {
        for sub in submissions {
            let mut failures = 0u32;
            loop {
                report.attempts.fetch_add(1, Ordering::Relaxed);
                let sent = http.post(&url).bearer_auth(token).multipart(sub.form()).send().await;
                if sent.is_ok_and(|r| r.status().is_success()) {
                    report.delivered.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                let base_delay = Duration::from_secs(2) * 2u32.saturating_pow(failures.min(4));
                let delay = base_delay.min(Duration::from_secs(30));
                let delay = delay + delay.mul_f64(rand::random::<f64>());
                failures += 1;
                link_up.mark_unchanged();
                let back = async {
                    while link_up.changed().await.is_ok() {
                        if *link_up.borrow() {
                            return;
                        }
                    }
                    std::future::pending::<()>().await
                };
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = back => {}
                }
            }
        }
    };
    tokio::select! {
        _ = work => {}
        _ = give_up => {}
    }
}
