//! Resumable photo uploads: tus 1.0.0 core with the `creation` and `checksum` extensions, at
//! `/api/v1/uploads`, so any standard tus client can upload to the centre.
//!
//! - `POST` creates an upload. `Upload-Length` is required; `Upload-Metadata` must contain
//!   `sha256` (the photo's content address, hex). The photo must be referenced by an
//!   application or delivery already pushed from the device's village (text travels first).
//!   **If the centre already has the photo, the answer is `201 Created` with `Upload-Offset`
//!   equal to `Upload-Length`**: the upload is complete and no byte needs to be sent.
//! - `HEAD` reports `Upload-Offset`: every byte below it is on disk (fsynced), so a client
//!   whose connection broke resumes from there and re-sends at most the chunk in flight.
//! - `PATCH` appends a chunk at `Upload-Offset` (else `409`). With `Upload-Checksum`
//!   (`sha1` or `sha256`) the chunk is verified and refused with `460` on mismatch, nothing of
//!   it kept; without one, whatever arrived before a broken connection is kept. When the last
//!   byte arrives, the whole file's SHA-256 is checked against the announced hash: a match
//!   moves it into the photo store, a mismatch discards the upload (`460`; start again), and
//!   so does a file that is not a whole JPEG of a sane size (`422`, see [`crate::photo_check`]).
//!
//! Each upload belongs to the device that created it; others get `404`. Two requests cannot
//! write one upload at once: a `HEAD` or `PATCH` of its owner stops a request still writing it
//! (that request is dead on the client's side — see `claim_superseding`), which keeps what it
//! received; `423 Locked` only if it does not stop within seconds.

use crate::api::error::too_large;
use crate::api::{AppError, AppState, Device};
use crate::store::{Upload, UploadId};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use daiban_proto::sync::{ErrorBody, ErrorCode};
use daiban_proto::PhotoHash;
use futures_util::StreamExt;
use sha2::digest::DynDigest;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{watch, Notify};

const TUS_VERSION: &str = "1.0.0";
const TUS_RESUMABLE: HeaderName = HeaderName::from_static("tus-resumable");
const UPLOAD_OFFSET: HeaderName = HeaderName::from_static("upload-offset");
const UPLOAD_LENGTH: HeaderName = HeaderName::from_static("upload-length");

/// Uploads being written right now: one writer per upload, and a way to tell it to stop.
#[derive(Default)]
pub(crate) struct InFlight(Mutex<HashMap<String, Slot>>);

struct Slot {
    /// Set when a newer request for the upload arrived: the writer keeps what it has and ends.
    stop: watch::Sender<bool>,
    /// Woken when the writer has released the upload.
    released: Arc<Notify>,
}

/// The claim on an upload; released when dropped.
struct Writing {
    set: Arc<InFlight>,
    id: String,
    /// Turns `true` when a newer request for this upload wants it.
    stop: watch::Receiver<bool>,
}

impl Drop for Writing {
    fn drop(&mut self) {
        let slot = self.set.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.id);
        if let Some(slot) = slot {
            slot.released.notify_waiters();
        }
    }
}

/// Claim `id` if no request is writing it.
fn claim(set: &Arc<InFlight>, id: &str) -> Option<Writing> {
    let mut map = set.0.lock().unwrap_or_else(|p| p.into_inner());
    if map.contains_key(id) {
        return None;
    }
    let (stop, rx) = watch::channel(false);
    map.insert(id.to_string(), Slot { stop, released: Arc::default() });
    Some(Writing { set: set.clone(), id: id.to_string(), stop: rx })
}

/// How long a request waits for the stale writer it superseded to let go.
const SUPERSEDE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Claim `id`, stopping a request that is still writing it. A client sends one request per
/// upload at a time, so when a new one comes the old one is dead on the client's side: its
/// connection broke somewhere the centre has not noticed yet (a phone that changed cells or
/// lost signal sends no reset; the centre would otherwise wait `upload_idle_timeout` for
/// bytes). The old writer keeps what it received, records its offset and lets go; then the
/// new request reads the upload. Call only for an upload the device owns.
async fn claim_superseding(set: &Arc<InFlight>, id: &str) -> Result<Writing, AppError> {
    let deadline = tokio::time::Instant::now() + SUPERSEDE_WAIT;
    loop {
        let released = {
            let map = set.0.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(id) {
                None => None,
                Some(slot) => {
                    slot.stop.send_replace(true);
                    Some(slot.released.clone())
                }
            }
        };
        let Some(released) = released else {
            if let Some(w) = claim(set, id) {
                return Ok(w);
            }
            continue;
        };
        let notified = released.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        // released between the look-up and `enable`: look again
        if !set.0.lock().unwrap_or_else(|p| p.into_inner()).get(id).is_some_and(|s| Arc::ptr_eq(&s.released, &released)) {
            continue;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(locked());
        }
    }
}

fn locked() -> AppError {
    AppError::new(ErrorCode::Conflict, "此上传正在写入,请稍后重试 / this upload is being written, retry shortly")
        .with_status(StatusCode::LOCKED)
}

/// Every tus response says `Tus-Resumable`; every request but `OPTIONS` must send it.
pub(super) async fn protocol(req: Request, next: Next) -> Response {
    let ok = req.method() == Method::OPTIONS || req.headers().get(&TUS_RESUMABLE).is_some_and(|v| v == TUS_VERSION);
    let mut resp = if ok {
        next.run(req).await
    } else {
        let mut r = AppError::new(ErrorCode::ProtocolVersion, "需要 Tus-Resumable: 1.0.0 / this server speaks tus 1.0.0")
            .with_status(StatusCode::PRECONDITION_FAILED)
            .into_response();
        r.headers_mut().insert("tus-version", HeaderValue::from_static(TUS_VERSION));
        r
    };
    resp.headers_mut().insert(TUS_RESUMABLE, HeaderValue::from_static(TUS_VERSION));
    resp
}

fn header_u64(headers: &HeaderMap, name: &HeaderName) -> Result<Option<u64>, AppError> {
    headers
        .get(name)
        .map(|v| v.to_str().ok().and_then(|s| s.trim().parse().ok()))
        .map(|v| {
            v.ok_or_else(|| {
                AppError::bad_request(format!("{name} 应为非负整数 / {name} must be a non-negative integer")).with_field(name.as_str())
            })
        })
        .transpose()
}

/// `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
fn metadata(headers: &HeaderMap) -> Result<HashMap<String, String>, AppError> {
    let bad = || AppError::bad_request("Upload-Metadata 格式有误 / malformed Upload-Metadata").with_field("Upload-Metadata");
    let Some(raw) = headers.get("upload-metadata") else {
        return Ok(HashMap::new());
    };
    let raw = raw.to_str().map_err(|_| bad())?;
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, ' ');
            let key = it.next().ok_or_else(bad)?.to_string();
            let value = match it.next() {
                Some(v) => base64::engine::general_purpose::STANDARD.decode(v.trim()).map_err(|_| bad())?,
                None => Vec::new(),
            };
            Ok((key, String::from_utf8(value).map_err(|_| bad())?))
        })
        .collect()
}

fn staging_path(s: &AppState, id: &UploadId) -> PathBuf {
    s.config.upload_dir.join(format!("{id}.part"))
}

fn no_content(offset: u64) -> Response {
    (StatusCode::NO_CONTENT, [(UPLOAD_OFFSET, offset.to_string())]).into_response()
}

/// Discover the server's tus capabilities.
#[utoipa::path(
    options, path = "/api/v1/uploads", tag = "uploads",
    responses((status = 204, description = "tus capabilities", headers(
        ("Tus-Version" = String, description = "1.0.0"),
        ("Tus-Extension" = String, description = "creation,checksum"),
        ("Tus-Checksum-Algorithm" = String, description = "sha1,sha256"),
        ("Tus-Max-Size" = u64, description = "largest photo in bytes"),
    )))
)]
pub(super) async fn options(State(s): State<AppState>) -> Response {
    (
        StatusCode::NO_CONTENT,
        [
            ("tus-version", TUS_VERSION.to_string()),
            ("tus-extension", "creation,checksum".to_string()),
            ("tus-checksum-algorithm", "sha1,sha256".to_string()),
            ("tus-max-size", s.config.max_photo_bytes.to_string()),
        ],
    )
        .into_response()
}

/// Create an upload for one photo (tus `creation`).
#[utoipa::path(
    post, path = "/api/v1/uploads", tag = "uploads",
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "the photo's size in bytes"),
        ("Upload-Metadata" = String, Header, description = "must include `sha256 <base64 of the hex SHA-256>`"),
    ),
    security(("device_token" = [])),
    responses(
        (status = 201, description = "created; `Location` is the upload URL. `Upload-Offset` equals `Upload-Length` when the centre already has the photo: nothing to send",
         headers(("Location" = String), ("Upload-Offset" = u64))),
        (status = 400, body = ErrorBody, description = "missing or malformed `Upload-Length` / `Upload-Metadata`"),
        (status = 403, body = ErrorBody, description = "`forbidden`: no application of this village refers to the photo"),
        (status = 412, body = ErrorBody, description = "missing or unsupported `Tus-Resumable`"),
        (status = 413, body = ErrorBody, description = "larger than `Tus-Max-Size`"),
    )
)]
pub(super) async fn create(State(s): State<AppState>, Device(device): Device, headers: HeaderMap) -> Result<Response, AppError> {
    if headers.contains_key("upload-defer-length") {
        return Err(AppError::bad_request("不支持 Upload-Defer-Length / deferred length is not supported"));
    }
    let length = header_u64(&headers, &UPLOAD_LENGTH)?
        .ok_or_else(|| AppError::bad_request("缺少 Upload-Length / Upload-Length is required").with_field("Upload-Length"))?;
    if length > s.config.max_photo_bytes {
        return Err(too_large());
    }
    if length == 0 {
        return Err(AppError::bad_request("照片不能为空 / an empty photo").with_field("Upload-Length"));
    }
    let hash: PhotoHash = metadata(&headers)?.get("sha256").and_then(|h| h.parse().ok()).ok_or_else(|| {
        AppError::bad_request("Upload-Metadata 需含 sha256(照片的SHA-256,十六进制) / Upload-Metadata must carry the photo's sha256 (hex)")
            .with_field("Upload-Metadata")
    })?;
    let Some(have_it) = s.store.photo_for_upload(device, hash).await? else {
        return Err(AppError::new(
            ErrorCode::Forbidden,
            "本村已上传的申请中没有这张照片,请先同步申请 / no application of this village refers to this photo; push the application first",
        ));
    };
    let id = UploadId::new();
    // (the staging file is made by the first PATCH)
    let offset = if have_it { length } else { 0 };
    let upload = Upload { id: id.to_string(), device_id: device.device_id, hash, length, offset, created_at: chrono::Utc::now() };
    s.store.create_upload(upload).await?;
    Ok((StatusCode::CREATED, [("location", format!("/api/v1/uploads/{id}")), (UPLOAD_OFFSET.as_str(), offset.to_string())]).into_response())
}

/// The device's upload, or 404 (also for ids that are not ours or not ids at all).
async fn own_upload(s: &AppState, device: &crate::store::DeviceAuth, id: &str) -> Result<(UploadId, Upload), AppError> {
    let not_found = || AppError::new(ErrorCode::NotFound, "上传不存在 / no such upload");
    let id: UploadId = id.parse().map_err(|_| not_found())?;
    let upload = s.store.upload(device.device_id, &id.to_string()).await?.ok_or_else(not_found)?;
    Ok((id, upload))
}

/// An unfinished upload whose staging file is gone: the centre died (SIGKILL, power cut)
/// after moving the finished file into the photo store but before recording it, or while
/// moving it. Finish from what is on disk: if the photo store has the photo (moved whole, as
/// the move is a rename), record it and report the upload complete; if not, its bytes are
/// lost, so the upload is dropped and the client gets `404` and starts a fresh one. Without
/// this, every `PATCH` of such an upload failed with `500` for ever. Call it only while no
/// request writes the upload (under [`claim`]).
async fn recover_lost_staging(s: &AppState, id: &UploadId, u: Upload) -> Result<Upload, AppError> {
    // Nothing received yet, nothing to lose. (If the centre died after storing such an upload
    // whole but before recording it, the client sends it again and it is stored again.)
    if u.offset == 0 || u.offset >= u.length || tokio::fs::try_exists(staging_path(s, id)).await? {
        return Ok(u);
    }
    if s.blobs.exists(&u.hash).await? {
        s.store.complete_upload(&u.id, u.hash, u.length).await?;
        tracing::warn!(photo = %u.hash, upload = %u.id, "upload finished after a restart: the photo was stored but not yet recorded");
        return Ok(Upload { offset: u.length, ..u });
    }
    s.store.discard_upload(&u.id).await?;
    tracing::warn!(upload = %u.id, "upload dropped after a restart: its staging file is gone");
    Err(AppError::new(ErrorCode::NotFound, "上传已失效,请重新上传 / the upload was lost, start a new one"))
}

/// How far an upload got.
#[utoipa::path(
    head, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(("id" = String, Path), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    security(("device_token" = [])),
    responses(
        (status = 200, description = "bytes received and durable", headers(("Upload-Offset" = u64), ("Upload-Length" = u64), ("Cache-Control" = String, description = "no-store"))),
        (status = 404, description = "no such upload of this device"),
    )
)]
pub(super) async fn head(State(s): State<AppState>, Device(device): Device, Path(id): Path<String>) -> Result<Response, AppError> {
    let (id, _) = own_upload(&s, &device, &id).await?;
    // A client asks after its PATCH failed: a request still writing the upload is that dead
    // PATCH, so it is stopped and the offset read after it recorded what it received.
    let _writing = claim_superseding(&s.uploads_in_flight, &id.to_string()).await?;
    let (id, u) = own_upload(&s, &device, &id.to_string()).await?;
    let u = recover_lost_staging(&s, &id, u).await?;
    Ok((
        StatusCode::OK,
        [
            (UPLOAD_OFFSET, u.offset.to_string()),
            (UPLOAD_LENGTH, u.length.to_string()),
            (axum::http::header::CACHE_CONTROL, "no-store".into()),
        ],
    )
        .into_response())
}

/// A chunk's `Upload-Checksum`: a hasher and the digest it must produce.
type ChunkChecksum = (Box<dyn DynDigest + Send>, Vec<u8>);

fn chunk_checksum(headers: &HeaderMap) -> Result<Option<ChunkChecksum>, AppError> {
    let Some(v) = headers.get("upload-checksum") else {
        return Ok(None);
    };
    let bad = |what: &str| AppError::bad_request(format!("Upload-Checksum {what}")).with_field("Upload-Checksum");
    let v = v.to_str().map_err(|_| bad("格式有误 / is malformed"))?;
    let (algo, digest) = v.trim().split_once(' ').ok_or_else(|| bad("格式有误 / is malformed"))?;
    let digest = base64::engine::general_purpose::STANDARD.decode(digest.trim()).map_err(|_| bad("不是 base64 / is not base64"))?;
    let hasher: Box<dyn DynDigest + Send> = match algo {
        "sha1" => Box::new(sha1::Sha1::default()),
        "sha256" => Box::new(Sha256::default()),
        _ => return Err(bad("算法不支持(支持 sha1、sha256)/ algorithm not supported (sha1, sha256)")),
    };
    Ok(Some((hasher, digest)))
}

fn checksum_mismatch(message: &str) -> AppError {
    AppError::new(ErrorCode::ChecksumMismatch, message)
}

/// Append a chunk at `Upload-Offset`.
#[utoipa::path(
    patch, path = "/api/v1/uploads/{id}", tag = "uploads",
    params(
        ("id" = String, Path),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "must equal the server's offset"),
        ("Upload-Checksum" = Option<String>, Header, description = "`sha1 <base64>` or `sha256 <base64>` of this chunk"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    security(("device_token" = [])),
    responses(
        (status = 204, description = "chunk stored durably; `Upload-Offset` is the new offset (on the last chunk: photo verified and stored)", headers(("Upload-Offset" = u64))),
        (status = 408, body = ErrorBody, description = "no byte came for `upload_idle_timeout`: what arrived is kept (HEAD and resume)"),
        (status = 409, body = ErrorBody, description = "`Upload-Offset` does not match, or a newer request for the upload took over from this one (HEAD and resume)"),
        (status = 413, body = ErrorBody, description = "the chunk goes beyond `Upload-Length`"),
        (status = 415, body = ErrorBody, description = "wrong Content-Type"),
        (status = 423, body = ErrorBody, description = "another request is writing this upload and did not stop within 10 s"),
        (status = 422, body = ErrorBody, description = "`validation` (field `photo`): the whole file is not a JPEG, is cut short or too large a picture (upload discarded)"),
        (status = 460, body = ErrorBody, description = "chunk checksum mismatch (chunk dropped), or the whole photo does not match its sha256 (upload discarded)"),
    )
)]
pub(super) async fn patch(
    State(s): State<AppState>,
    Device(device): Device,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    if headers.get(axum::http::header::CONTENT_TYPE).is_none_or(|v| v != "application/offset+octet-stream") {
        return Err(
            AppError::bad_request("Content-Type 应为 application/offset+octet-stream").with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        );
    }
    let offset = header_u64(&headers, &UPLOAD_OFFSET)?
        .ok_or_else(|| AppError::bad_request("缺少 Upload-Offset / Upload-Offset is required").with_field("Upload-Offset"))?;
    let mut checksum = chunk_checksum(&headers)?;
    // Claim the id, then read the upload once: under the claim no other request moves its
    // offset. (Claiming an id that is not this device's only makes a concurrent request on
    // it wait a moment; the read below refuses it with 404.) If a request is still writing
    // it, the upload's owner may stop that one (see `claim_superseding`).
    let canonical = id.parse::<UploadId>().map(|i| i.to_string()).unwrap_or(id);
    let mut writing = match claim(&s.uploads_in_flight, &canonical) {
        Some(w) => w,
        None => {
            own_upload(&s, &device, &canonical).await?;
            claim_superseding(&s.uploads_in_flight, &canonical).await?
        }
    };
    let (id, u) = own_upload(&s, &device, &canonical).await?;
    let u = recover_lost_staging(&s, &id, u).await?;
    if offset != u.offset {
        return Err(AppError::new(
            ErrorCode::Conflict,
            format!("Upload-Offset 应为 {}(收到 {offset}) / Upload-Offset must be {}", u.offset, u.offset),
        )
        .with_field("Upload-Offset"));
    }
    if u.offset == u.length {
        return Ok(no_content(u.offset));
    }

    let path = staging_path(&s, &id);
    let mut file = Staging::new(path.clone(), offset);
    let room = u.length - offset;
    let mut written: u64 = 0;
    let mut stream = body.into_data_stream();
    let cut = loop {
        let next = tokio::select! {
            n = tokio::time::timeout(s.config.upload_idle_timeout, stream.next()) => n,
            _ = writing.stop.wait_for(|stop| *stop) => break Some(("superseded by a newer request", StatusCode::CONFLICT)),
        };
        let frame = match next {
            // (a client still there is told to resume: 408 is worth a retry to any HTTP client)
            Err(_) => break Some(("stalled", StatusCode::REQUEST_TIMEOUT)),
            Ok(None) => break None,
            Ok(Some(Err(_))) => break Some(("connection broke", StatusCode::BAD_REQUEST)),
            Ok(Some(Ok(bytes))) => bytes,
        };
        if written + frame.len() as u64 > room {
            file.truncate(offset).await?;
            return Err(AppError::new(ErrorCode::PayloadTooLarge, "数据超出 Upload-Length / data beyond Upload-Length"));
        }
        if let Some((h, _)) = checksum.as_mut() {
            h.update(&frame);
        }
        written += frame.len() as u64;
        file.push(&frame).await?;
    };
    // A request that ended early but had brought every byte of the upload (its end-of-body
    // never came, or a newer request stopped it just then) finishes it like any last chunk:
    // recording an offset equal to the length without storing the photo would tell the
    // client the photo is there when it is not.
    let cut = cut.filter(|_| checksum.is_some() || written < room);
    if let Some((why, status)) = cut {
        // A chunk with a checksum is all or nothing; without one, keep what arrived.
        if checksum.is_some() {
            file.truncate(offset).await?;
        } else if written > 0 {
            file.write(true).await?;
            s.store.set_upload_offset(&u.id, offset + written).await?;
        }
        return Err(AppError::bad_request(format!(
            "上传中断({why}),请从 Upload-Offset 继续 / upload interrupted ({why}); resume from Upload-Offset"
        ))
        .with_status(status));
    }
    if let Some((h, want)) = checksum {
        if h.finalize().as_ref() != want.as_slice() {
            file.truncate(offset).await?;
            return Err(checksum_mismatch("本段数据校验失败,请重发 / chunk checksum mismatch, send it again"));
        }
    }
    let new_offset = offset + written;
    if new_offset < u.length {
        file.write(true).await?;
        s.store.set_upload_offset(&u.id, new_offset).await?;
        return Ok(no_content(new_offset));
    }
    // The last chunk: no fsync here, the photo store fsyncs the file as it moves it in (a
    // crash before that resumes from the last recorded offset). The write, the hash and the
    // JPEG check are one call on the blocking pool.
    let (hash, check) = file.finish().await?;
    if hash != u.hash {
        tokio::fs::remove_file(&path).await?;
        s.store.discard_upload(&u.id).await?;
        return Err(checksum_mismatch(
            "照片内容与其SHA-256不符,已丢弃,请重新上传 / the photo does not match its sha256; upload discarded, start again",
        ));
    }
    if let Err(why) = check {
        tokio::fs::remove_file(&path).await?;
        s.store.discard_upload(&u.id).await?;
        return Err(AppError::new(ErrorCode::Validation, format!("{why}，已丢弃 / upload discarded")).with_field("photo"));
    }
    let _gate = s.photo_gate.lock(&u.hash).await;
    s.blobs.put_file(&u.hash, &path).await?;
    s.store.complete_upload(&u.id, u.hash, u.length).await?;
    tracing::info!(photo = %u.hash, bytes = u.length, device = %device.device_id, "photo stored");
    Ok(no_content(new_offset))
}

/// A `PATCH`'s bytes on their way into the upload's staging file: gathered in memory and
/// written with one blocking-pool call per MiB (open, drop bytes past the acknowledged offset,
/// write, fdatasync), instead of one per network frame and file operation — each
/// `tokio::fs` call is a thread hand-off, and they were most of a chunk's cost. The file is
/// made by the first write of the upload.
struct Staging {
    path: PathBuf,
    file: Option<std::fs::File>,
    /// Where the bytes in `buf` go.
    at: u64,
    buf: Vec<u8>,
}

const STAGING_BUFFER: usize = 1 << 20;

/// An uploaded photo's SHA-256, and whether it passed [`crate::photo_check`] (why not).
type Verified = (PhotoHash, Result<(), String>);

fn verify(whole: &[u8]) -> Verified {
    (PhotoHash(Sha256::digest(whole).into()), crate::photo_check::check(whole).map_err(|e| e.to_string()))
}

impl Staging {
    fn new(path: PathBuf, offset: u64) -> Self {
        Self { path, file: None, at: offset, buf: Vec::new() }
    }

    async fn push(&mut self, frame: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(frame);
        if self.buf.len() >= STAGING_BUFFER {
            self.write(false).await?;
        }
        Ok(())
    }

    /// On the blocking pool: open the file if this request has not yet (dropping bytes past
    /// where it starts), write `buf` at `at`.
    fn write_blocking(path: &std::path::Path, file: Option<std::fs::File>, at: u64, buf: &[u8]) -> std::io::Result<std::fs::File> {
        use std::os::unix::fs::FileExt;
        let file = match file {
            Some(f) => f,
            None => {
                let f = std::fs::OpenOptions::new().write(true).read(true).create(true).truncate(false).open(path)?;
                // bytes past the acknowledged offset (a request cut before it answered)
                f.set_len(at)?;
                f
            }
        };
        file.write_all_at(buf, at)?;
        Ok(file)
    }

    /// Write what is gathered, and fdatasync if `sync`.
    async fn write(&mut self, sync: bool) -> std::io::Result<()> {
        let (path, file, at, buf) = (self.path.clone(), self.file.take(), self.at, std::mem::take(&mut self.buf));
        let (file, at) = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
            let file = Self::write_blocking(&path, file, at, &buf)?;
            if sync {
                file.sync_data()?;
            }
            Ok((file, at + buf.len() as u64))
        })
        .await
        .map_err(std::io::Error::other)??;
        (self.file, self.at) = (Some(file), at);
        Ok(())
    }

    /// The upload's last bytes: write them (no fsync: the photo store syncs the file as it
    /// takes it) and verify the whole file, in one blocking call. A photo sent in one request
    /// is still whole in memory and is verified there; otherwise the file is read once.
    async fn finish(mut self) -> std::io::Result<Verified> {
        let (path, file, at, buf) = (self.path.clone(), self.file.take(), self.at, std::mem::take(&mut self.buf));
        tokio::task::spawn_blocking(move || -> std::io::Result<Verified> {
            Self::write_blocking(&path, file, at, &buf)?;
            if at == 0 {
                return Ok(verify(&buf));
            }
            Ok(verify(&std::fs::read(&path)?))
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Drop everything of this request: the file ends at `offset` again, durably.
    async fn truncate(&mut self, offset: u64) -> std::io::Result<()> {
        self.buf.clear();
        let (path, file) = (self.path.clone(), self.file.take());
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let file = match file {
                Some(f) => f,
                None => std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&path)?,
            };
            file.set_len(offset)?;
            file.sync_data()
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::error::status_of;

    #[test]
    fn metadata_parses_tus_pairs() {
        let mut h = HeaderMap::new();
        h.insert("upload-metadata", HeaderValue::from_static("sha256 YWJj,filename aWQuanBn,empty"));
        let m = metadata(&h).unwrap();
        assert_eq!((m["sha256"].as_str(), m["filename"].as_str(), m["empty"].as_str()), ("abc", "id.jpg", ""));
        h.insert("upload-metadata", HeaderValue::from_static("sha256 !!!"));
        assert!(metadata(&h).is_err());
        assert_eq!(status_of(ErrorCode::ChecksumMismatch).as_u16(), 460);
    }
}
