//! Uploading one photo with tus 1.0 (core + `creation`), resumable at byte level.
//!
//! 1. If an earlier upload of this photo was interrupted, its URL is in the store: `HEAD` it for
//!    the offset the centre has durably (a 404 means it is gone: start again).
//! 2. Otherwise `POST` a new upload announcing the photo's SHA-256 in `Upload-Metadata`. When the
//!    centre already has the photo it answers `Upload-Offset == Upload-Length`: nothing is sent.
//! 3. `PATCH` the rest from the offset, in chunks sized to the link ([`ChunkSizer`]: about
//!    [`CHUNK_SECONDS`] of sending at the rate the last chunks went, at most
//!    [`SyncConfig::chunk_size`](super::SyncConfig); on a fast link a whole photo is one
//!    chunk). Chunks carry no `Upload-Checksum`, so the centre keeps every byte that reached
//!    it before a connection broke: after a cut the client asks `HEAD` and re-sends only what
//!    was still on its way, not the chunk. Integrity is checked once, over the whole photo:
//!    the centre compares its SHA-256 with the announced content address and discards an
//!    upload that does not match (the client then starts it again); TLS protects the bytes on
//!    the way. (A per-chunk checksum made every cut cost the whole chunk in flight: over an
//!    emulated 2G link with a cut a minute, 33 KB per cut.)
//!    `409` (offset moved), `423` (the centre is still closing the broken request) and `460`
//!    (a centre that verified a checksum) all mean "ask the offset again and go on".
//!
//! A chunk body is streamed in small pieces: a PATCH during which no piece was taken for
//! `stall_timeout` (or whose answer does not come within it) is abandoned, but a slow, moving
//! upload has no time limit.

use super::error::SyncError;
use super::http::{check, Api};
use crate::store::Store;
use base64::Engine;
use bytes::Bytes;
use daiban_proto::PhotoRef;
use futures_util::StreamExt;
use reqwest::{Method, RequestBuilder, Response, Url};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const TUS_RESUMABLE: &str = "Tus-Resumable";
const TUS_VERSION: &str = "1.0.0";
/// Pieces a chunk is streamed in: small enough that the stall watchdog sees progress often on
/// a 2G link (4 KiB ≈ 0.5 s at 8 KB/s).
const PIECE: usize = 4 * 1024;

/// How long sending one chunk should take. Each chunk costs a request's headers, an fsync at
/// the centre and a round trip waiting for its answer; a cut costs nothing of it that had
/// arrived. So chunks are long: on 2G (two uploads sharing ~18 KB/s) about a whole photo, on
/// anything faster a whole photo. Measured over emulated 2G/3G links with a cut a minute
/// (`benches/link`, docs/benchmarks.md).
const CHUNK_SECONDS: f64 = 30.0;
/// The smallest chunk: below this the ~0.5 KB of headers per request and the centre's fsync
/// per chunk start to count.
const MIN_CHUNK: usize = 16 * 1024;
/// The first chunk of a run, before the link's rate is known: small enough to be answered
/// within seconds on 2G, so the rate (and with it the number of uploads at a time) is known
/// early.
const FIRST_CHUNK: usize = 64 * 1024;
/// Bytes per second of one upload above which the link counts as fast (about 400 kbit/s for
/// two uploads together).
const FAST_UPLOAD: f64 = 24.0 * 1024.0;

/// Chunk sizes that follow the link: the rate the last chunks went at (bytes over the time
/// from sending to the answer, round trip included), times [`CHUNK_SECONDS`], within
/// [`MIN_CHUNK`] and the configured `chunk_size`. Shared by the uploads of one run.
#[derive(Debug, Default)]
pub(crate) struct ChunkSizer {
    /// Bytes per second, smoothed; `None` until a chunk has gone.
    rate: Mutex<Option<f64>>,
}

impl ChunkSizer {
    /// The size of the next chunk; before anything was measured, a small one (the link may
    /// be 2G).
    fn next(&self, max: usize) -> usize {
        let min = MIN_CHUNK.min(max);
        match *self.rate.lock().unwrap_or_else(|p| p.into_inner()) {
            None => FIRST_CHUNK.clamp(min, max),
            Some(rate) => ((rate * CHUNK_SECONDS) as usize).clamp(min, max),
        }
    }

    /// How many uploads may run at once: `max`, but at most two until the link has shown it
    /// is faster than 2G/EDGE ([`FAST_UPLOAD`] per upload). On a fast link a third upload
    /// fills the gaps the others leave while they wait for an answer or a lost segment; on a
    /// slow one two already keep it busy, and more would only add request headers (smaller
    /// chunks each).
    pub(crate) fn uploads_at_a_time(&self, max: usize) -> usize {
        let max = max.max(1);
        match *self.rate.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(rate) if rate >= FAST_UPLOAD => max,
            _ => max.min(2),
        }
    }

    fn observe(&self, bytes: u64, took: Duration) {
        let now = bytes as f64 / took.as_secs_f64().max(0.001);
        let mut rate = self.rate.lock().unwrap_or_else(|p| p.into_inner());
        *rate = Some(rate.map_or(now, |before| (before + now) / 2.0));
    }
}

/// How a photo reached the centre.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Uploaded {
    /// Its bytes were sent (all, or the rest after an earlier interruption).
    Sent,
    /// The centre had it already; nothing was sent.
    AlreadyThere,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn tus(api: &Api, method: Method, url: Url) -> RequestBuilder {
    api.request(method, url).header(TUS_RESUMABLE, TUS_VERSION)
}

fn offset_of(resp: &Response) -> Result<u64, SyncError> {
    resp.headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| SyncError::Interrupted("回应缺少 Upload-Offset / answer without Upload-Offset".into()))
}

fn gone(e: &SyncError) -> bool {
    matches!(e, SyncError::Refused { status: 404 | 410, .. })
}

/// Upload `data` (the photo's verified bytes) unless the centre has it, in chunks sized by
/// `sizer`. `on_sent` is told of every piece handed to the connection (progress, data budget,
/// the run report).
pub(crate) async fn upload_photo(
    api: &Api,
    store: &Store,
    photo: &PhotoRef,
    data: Bytes,
    sizer: &ChunkSizer,
    on_sent: &mut dyn FnMut(u64),
) -> Result<Uploaded, SyncError> {
    let len = data.len() as u64;
    let mut restarts = 0;
    loop {
        let (url, mut offset) = match resume_point(api, store, photo).await? {
            Some(p) => p,
            None => {
                let (url, offset) = create(api, store, photo, len).await?;
                if offset >= len {
                    store.forget_upload_url(&photo.hash)?;
                    return Ok(Uploaded::AlreadyThere);
                }
                (url, offset)
            }
        };
        let mut delays = api.cfg.retry.delays();
        let mut vanished = None;
        while offset < len {
            let end = (offset + sizer.next(api.cfg.chunk_size) as u64).min(len);
            let chunk = data.slice(offset as usize..end as usize);
            let started = Instant::now();
            let err = match patch(api, &url, offset, chunk, on_sent).await {
                Ok(new) if new > offset && new <= len => {
                    tracing::debug!(photo = %photo.hash, offset, new, len, "chunk of {} bytes took {:?}", end - offset, started.elapsed());
                    sizer.observe(new - offset, started.elapsed());
                    offset = new;
                    delays = api.cfg.retry.delays();
                    continue;
                }
                Ok(new) => SyncError::Interrupted(format!("Upload-Offset {new} 不合理 / unexpected Upload-Offset {new} (had {offset})")),
                Err(e) => e,
            };
            let resumable = err.is_transient() || matches!(err, SyncError::Refused { status: 409 | 460, .. });
            if gone(&err) {
                vanished = Some(err);
                break;
            }
            let Some(delay) = delays.next().filter(|_| resumable) else { return Err(err) };
            api.count_retry();
            tracing::debug!(photo = %photo.hash, offset, "resuming in {delay:?}: {err}");
            api.pause(delay).await;
            match head(api, &url).await {
                Ok(at) => offset = at,
                Err(e) if gone(&e) => {
                    vanished = Some(e);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        match vanished {
            None => {
                store.forget_upload_url(&photo.hash)?;
                return Ok(Uploaded::Sent);
            }
            // The centre dropped the upload (expired, or the whole photo failed its hash and
            // was discarded): start a fresh one, but not forever.
            Some(e) => {
                store.forget_upload_url(&photo.hash)?;
                restarts += 1;
                if restarts > 2 {
                    return Err(e);
                }
            }
        }
    }
}

/// The upload to continue, if an earlier one was interrupted and the centre still has it.
async fn resume_point(api: &Api, store: &Store, photo: &PhotoRef) -> Result<Option<(Url, u64)>, SyncError> {
    let Some(saved) = store.upload_url(&photo.hash)? else { return Ok(None) };
    let url = api.url(&saved)?;
    match head(api, &url).await {
        Ok(offset) => Ok(Some((url, offset))),
        Err(e) if gone(&e) || matches!(e, SyncError::Refused { status: 403, .. }) => {
            store.forget_upload_url(&photo.hash)?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// `POST`: a new upload for this photo; its URL is kept in the store, so that a later run (or
/// the app after a restart) resumes it where the centre's bytes end.
async fn create(api: &Api, store: &Store, photo: &PhotoRef, len: u64) -> Result<(Url, u64), SyncError> {
    let collection = api.url("/api/v1/uploads")?;
    let metadata =
        format!("filename {},sha256 {}", b64(format!("{}.jpg", photo.hash.to_hex()).as_bytes()), b64(photo.hash.to_hex().as_bytes()));
    let (location, offset) = api
        .retrying(|| async {
            let req = tus(api, Method::POST, collection.clone())
                .header("Upload-Length", len.to_string())
                .header("Upload-Metadata", metadata.clone())
                .timeout(api.cfg.request_timeout);
            let resp = check(req.send().await.map_err(SyncError::from_transport)?, api.cfg.request_timeout).await?;
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| SyncError::Interrupted("回应缺少 Location / answer without Location".into()))?;
            Ok((location, offset_of(&resp)?))
        })
        .await?;
    let url = api.url(&location)?;
    if offset < len {
        store.set_upload_url(&photo.hash, url.as_str())?;
    }
    Ok((url, offset))
}

/// `HEAD`: how many bytes the centre has durably.
async fn head(api: &Api, url: &Url) -> Result<u64, SyncError> {
    api.retrying(|| async {
        let req = tus(api, Method::HEAD, url.clone()).timeout(api.cfg.request_timeout);
        let resp = check(req.send().await.map_err(SyncError::from_transport)?, api.cfg.request_timeout).await?;
        offset_of(&resp)
    })
    .await
}

/// `PATCH` one chunk at `offset`; the centre's new offset. One try: the caller resumes (from
/// wherever the centre's bytes end, which may be inside this chunk).
async fn patch(api: &Api, url: &Url, offset: u64, chunk: Bytes, on_sent: &mut dyn FnMut(u64)) -> Result<u64, SyncError> {
    let taken = Arc::new(AtomicU64::new(0));
    let activity = Arc::new(Notify::new());
    let pieces: Vec<Bytes> = (0..chunk.len()).step_by(PIECE).map(|i| chunk.slice(i..(i + PIECE).min(chunk.len()))).collect();
    let body = futures_util::stream::iter(pieces).map({
        let (taken, activity) = (taken.clone(), activity.clone());
        move |piece| {
            taken.fetch_add(piece.len() as u64, Ordering::Relaxed);
            activity.notify_one();
            Ok::<_, Infallible>(piece)
        }
    });
    let req = tus(api, Method::PATCH, url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/offset+octet-stream")
        .header("Upload-Offset", offset.to_string())
        .body(reqwest::Body::wrap_stream(body));
    let send = req.send();
    tokio::pin!(send);
    let mut reported = 0;
    let result = loop {
        tokio::select! {
            r = &mut send => break r.map_err(SyncError::from_transport),
            moved = tokio::time::timeout(api.cfg.stall_timeout, activity.notified()) => {
                let now = taken.load(Ordering::Relaxed);
                on_sent(now - reported);
                reported = now;
                if moved.is_err() {
                    break Err(SyncError::Interrupted(format!(
                        "上传停滞超过{}秒 / upload stalled for {:?}", api.cfg.stall_timeout.as_secs(), api.cfg.stall_timeout
                    )));
                }
            }
        }
    };
    on_sent(taken.load(Ordering::Relaxed) - reported);
    let resp = check(result?, api.cfg.stall_timeout).await?;
    offset_of(&resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_follow_the_link_within_bounds() {
        let max = 1024 * 1024;
        let sizer = ChunkSizer::default();
        assert_eq!(sizer.next(max), FIRST_CHUNK, "small until the link is known");
        assert_eq!(sizer.next(8 * 1024), 8 * 1024, "never above the configured size");
        // 2G: 32 KiB answered after 2.2 s (≈ 14.9 KB/s) → about 30 s worth
        sizer.observe(32 * 1024, Duration::from_millis(2200));
        let two_g = sizer.next(max);
        assert!((440_000..450_000).contains(&two_g), "{two_g}");
        // a fast link: smoothed towards it, then capped
        sizer.observe(1024 * 1024, Duration::from_millis(100));
        assert_eq!(sizer.next(max), max);
        // a very slow link: never below the minimum
        let slow = ChunkSizer::default();
        slow.observe(100, Duration::from_secs(10));
        assert_eq!(slow.next(max), MIN_CHUNK);
    }

    #[test]
    fn a_third_upload_only_on_a_link_faster_than_2g() {
        let sizer = ChunkSizer::default();
        assert_eq!(sizer.uploads_at_a_time(3), 2, "unknown link: two");
        assert_eq!(sizer.uploads_at_a_time(1), 1, "never above the setting");
        sizer.observe(32 * 1024, Duration::from_millis(3500)); // 2G share: ~9 KB/s
        assert_eq!(sizer.uploads_at_a_time(3), 2);
        let fast = ChunkSizer::default();
        fast.observe(128 * 1024, Duration::from_secs(2)); // 3G share: 64 KiB/s
        assert_eq!(fast.uploads_at_a_time(3), 3);
        assert_eq!(fast.uploads_at_a_time(0), 1, "at least one");
    }
}
