//! Helpers of the reliability suites (`tests/reliability_*.rs`): the real `daiban-centre`
//! binary as a child process that can be SIGKILLed and restarted on the same files, a
//! lightweight simulated device that speaks the sync protocol with reqwest and the proto types
//! (push, pull, photos/missing, resumable tus uploads) and times every request, cheap distinct
//! real JPEGs, and a digest of everything the centre stores about applications.
//!
//! The storage test world (two townships, staff, catalogue) comes from `tests/it/support.rs`,
//! the staff UI's cookie-keeping client from `tests/web_support` (which includes the former).
#![allow(dead_code)]

#[path = "../web_support/mod.rs"]
pub mod web;

pub use web::store;

use base64::Engine;
use daiban_proto::record::MaterialRecord;
use daiban_proto::sync::{
    EnrolRequest, EnrolResponse, ErrorBody, Event, EventOutcome, PhotosMissingRequest, PhotosMissingResponse, PullResponse, PushRequest,
    PushResponse, PROTOCOL_HEADER,
};
use daiban_proto::{ApplicationRecord, PhotoHash, PhotoRef, ResidentRecord};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ------------------------------------------------------------------ the centre process

/// The real `daiban-centre serve` on a fixed loopback port, over a SQLite file and a photo
/// directory that outlive the process: it can be killed with SIGKILL and started again on the
/// same files and port.
pub struct CentreProcess {
    pub dir: PathBuf,
    pub addr: SocketAddr,
    child: Option<Child>,
    /// Extra arguments after the required ones (e.g. `--tls-cert`).
    extra: Vec<String>,
    log_filter: String,
}

impl CentreProcess {
    pub fn db_path(dir: &Path) -> PathBuf {
        dir.join("centre.sqlite3")
    }

    /// Start the binary on a free loopback port with its data in `dir` (the database must be
    /// seeded already, e.g. with [`store::world`]).
    pub fn start(dir: &Path, extra: &[&str]) -> Self {
        Self::start_logging(dir, extra, "warn")
    }

    /// [`CentreProcess::start`] with this `RUST_LOG` filter (the log is [`CentreProcess::log_path`]).
    pub fn start_logging(dir: &Path, extra: &[&str], filter: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut c = Self {
            dir: dir.to_path_buf(),
            addr: ([127, 0, 0, 1], port).into(),
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            log_filter: filter.to_string(),
        };
        c.spawn();
        c
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The process has not died (a panic that took the server down would show here).
    pub fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_daiban-centre"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(self.addr.to_string())
            .arg("--database")
            .arg(format!("sqlite:{}", Self::db_path(&self.dir).display()))
            .arg("--photos")
            .arg(self.dir.join("photos"))
            .args(&self.extra)
            .env("RUST_LOG", &self.log_filter)
            .stdin(Stdio::null())
            .stdout(self.log())
            .stderr(self.log());
        self.child = Some(cmd.spawn().expect("start daiban-centre"));
        self.wait_ready();
    }

    /// The server's log (every run of it appends), for reading after a failure.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("centre.log")
    }

    fn log(&self) -> std::fs::File {
        std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).unwrap()
    }

    /// The binary binds its port only after opening (and migrating) the database, so an
    /// accepted connection means it is ready.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("daiban-centre exited during start-up: {status}");
            }
            assert!(Instant::now() < deadline, "daiban-centre not listening after 60 s");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL: no shutdown handler runs, nothing is flushed.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "kill first");
        self.spawn();
    }

    /// Resident set size of the centre process (KiB), from `/proc`.
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }
}

impl Drop for CentreProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `VmRSS` of a process in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// Seed the two-township [`store::World`] into the centre's database in `dir`, and make
/// `per_village` enrolment codes for each of villages A and B (A's first).
pub async fn seed_world(dir: &Path, per_village: usize) -> Vec<String> {
    let db = daiban_centre::store::DatabaseUrl::Sqlite(CentreProcess::db_path(dir));
    let w = store::world(daiban_centre::store::open(&db, Default::default()).await.unwrap()).await;
    let mut codes = Vec::new();
    for village in [w.village_a, w.village_b] {
        for _ in 0..per_village {
            codes.push(w.store.create_enrolment_code(w.admin, village, chrono::Duration::hours(2)).await.unwrap().code);
        }
    }
    codes
}

// ------------------------------------------------------------------ photos

/// A real photograph (a wallpaper installed by scripts/setup.sh, 640 px wide, a few dozen KB
/// as JPEG), encoded once.
pub fn base_jpeg() -> Vec<u8> {
    let img = image::open(WALLPAPER).expect("wallpapers installed (scripts/setup.sh)");
    let mut out = std::io::Cursor::new(Vec::new());
    img.resize(640, 640, image::imageops::FilterType::Triangle).to_rgb8().write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

pub const WALLPAPER: &str = "/usr/share/wallpapers/FallenLeaf/contents/images/1280x1024.jpg";

/// A distinct, valid JPEG made from `base` at no cost: a comment segment (`COM`) carrying
/// `n` right after the start-of-image marker.
pub fn variant(base: &[u8], n: u64) -> Vec<u8> {
    let text = format!("daiban test photo {n}");
    let len = (text.len() + 2) as u16;
    let mut out = Vec::with_capacity(base.len() + text.len() + 4);
    out.extend_from_slice(&base[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&base[2..]);
    out
}

pub fn photo_ref_of(bytes: &[u8]) -> PhotoRef {
    PhotoRef { hash: PhotoHash::of(bytes), bytes: bytes.len() as u64, width: 640, height: 480 }
}

/// An elderly-card application of `resident` whose ID-card material carries `photos`.
pub fn application_with(resident: &ResidentRecord, photos: &[Vec<u8>]) -> ApplicationRecord {
    let mut a = store::application(resident.id);
    a.materials =
        vec![MaterialRecord { code: "id_card".into(), photos: photos.iter().map(|p| photo_ref_of(p)).collect(), reused_from: None }];
    a
}

/// A resident with an ID number that differs for every `n` (birth date and sequence).
pub fn resident_n(n: u32) -> ResidentRecord {
    let mut r = store::resident((n % 1000) as u16);
    let birth = chrono::NaiveDate::from_ymd_opt(1930, 1, 1).unwrap() + chrono::Duration::days(i64::from(n / 1000));
    r.id_number = daiban_proto::id_number::make_id_number("370611", birth, (n % 1000) as u16);
    r
}

// ------------------------------------------------------------------ timing

/// Latencies and errors per request kind, shared by many simulated devices.
#[derive(Default)]
pub struct Metrics {
    samples: Mutex<BTreeMap<&'static str, Vec<u32>>>,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests on the wire right now (the kill tests count kills that land inside one).
    pub in_flight: AtomicI64,
    pub requests: AtomicU64,
}

impl Metrics {
    fn record(&self, kind: &'static str, took: Duration, ok: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.samples.lock().unwrap().entry(kind).or_default().push(took.as_micros().min(u32::MAX as u128) as u32);
        if !ok {
            *self.errors.lock().unwrap().entry(kind).or_default() += 1;
        }
    }

    /// `(kind, count, errors, p50 ms, p99 ms, max ms)`, sorted by kind.
    pub fn table(&self) -> Vec<(&'static str, usize, u64, f64, f64, f64)> {
        let samples = self.samples.lock().unwrap();
        let errors = self.errors.lock().unwrap();
        samples
            .iter()
            .map(|(kind, v)| {
                let mut v = v.clone();
                v.sort_unstable();
                let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
                (*kind, v.len(), errors.get(kind).copied().unwrap_or(0), q(0.5), q(0.99), q(1.0))
            })
            .collect()
    }

    pub fn total_errors(&self) -> u64 {
        self.errors.lock().unwrap().values().sum()
    }
}

// ------------------------------------------------------------------ the simulated device

/// What went wrong with one request.
#[derive(Debug)]
pub enum Failure {
    /// No answer (connection refused, reset, cut).
    Transport(String),
    /// An HTTP error with the centre's [`ErrorBody`] if it sent one.
    Status(StatusCode, Option<ErrorBody>),
    /// A 2xx whose body did not parse.
    Garbled(String),
}

impl Failure {
    /// Worth trying again as it is.
    pub fn is_transient(&self) -> bool {
        match self {
            Failure::Transport(_) | Failure::Garbled(_) => true,
            Failure::Status(s, _) => s.is_server_error() || *s == StatusCode::LOCKED || *s == StatusCode::CONFLICT,
        }
    }
}

/// A device that speaks the sync protocol directly (no local store): light enough to run
/// thousands in one process.
#[derive(Clone)]
pub struct SimDevice {
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
    pub metrics: Arc<Metrics>,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).pool_max_idle_per_host(2).build().unwrap()
}

/// Exchange a code for a token over HTTP.
pub async fn enrol(http: &reqwest::Client, base: &str, code: &str) -> Result<EnrolResponse, Failure> {
    let req = http.post(format!("{base}/api/v1/enrol")).header(PROTOCOL_HEADER, "1").json(&EnrolRequest {
        code: code.into(),
        device_name: "模拟设备".into(),
        device_key: None,
    });
    json(req).await
}

async fn json<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder) -> Result<T, Failure> {
    let resp = req.send().await.map_err(|e| Failure::Transport(e.to_string()))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| Failure::Transport(e.to_string()))?;
    if !status.is_success() {
        return Err(Failure::Status(status, serde_json::from_slice(&body).ok()));
    }
    serde_json::from_slice(&body).map_err(|e| Failure::Garbled(e.to_string()))
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn offset_header(resp: &reqwest::Response) -> Result<u64, Failure> {
    resp.headers()
        .get("upload-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Failure::Garbled("no Upload-Offset".into()))
}

/// Where a photo upload stands between attempts (kept by the caller across failures).
#[derive(Clone, Debug, Default)]
pub struct UploadState {
    pub url: Option<String>,
}

impl SimDevice {
    pub fn new(base: &str, token: String, http: reqwest::Client, metrics: Arc<Metrics>) -> Self {
        Self { base: base.to_string(), token, http, metrics }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{path}", self.base) };
        self.http.request(method, url).header(PROTOCOL_HEADER, "1").bearer_auth(&self.token)
    }

    async fn timed<T>(&self, kind: &'static str, f: impl std::future::Future<Output = Result<T, Failure>>) -> Result<T, Failure> {
        self.metrics.in_flight.fetch_add(1, Ordering::SeqCst);
        let started = Instant::now();
        let r = f.await;
        self.metrics.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.metrics.record(kind, started.elapsed(), r.is_ok());
        r
    }

    pub async fn push(&self, events: &[Event]) -> Result<Vec<EventOutcome>, Failure> {
        let req = self.request(Method::POST, "/api/v1/push").json(&PushRequest { events: events.to_vec(), queue_len: 0 });
        self.timed("push", async { json::<PushResponse>(req).await.map(|r| r.outcomes) }).await
    }

    pub async fn pull(&self, after: i64) -> Result<PullResponse, Failure> {
        let req = self.request(Method::GET, &format!("/api/v1/changes?after={after}"));
        self.timed("pull", json(req)).await
    }

    pub async fn missing(&self, hashes: Vec<PhotoHash>) -> Result<Vec<PhotoHash>, Failure> {
        let req = self.request(Method::POST, "/api/v1/photos/missing").json(&PhotosMissingRequest { hashes });
        self.timed("photos_missing", async { json::<PhotosMissingResponse>(req).await.map(|r| r.missing) }).await
    }

    fn tus(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        self.request(method, url).header("Tus-Resumable", "1.0.0")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, Failure> {
        let resp = req.send().await.map_err(|e| Failure::Transport(e.to_string()))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let body = resp.bytes().await.ok().and_then(|b| serde_json::from_slice(&b).ok());
        Err(Failure::Status(status, body))
    }

    /// tus `POST`: the upload URL and the offset (equal to the length when the centre has it).
    pub async fn tus_create(&self, bytes: &[u8]) -> Result<(String, u64), Failure> {
        let hash = PhotoHash::of(bytes);
        let req = self
            .tus(Method::POST, "/api/v1/uploads")
            .header("Upload-Length", bytes.len().to_string())
            .header("Upload-Metadata", format!("sha256 {}", b64(hash.to_hex().as_bytes())));
        self.timed("tus_create", async {
            let resp = self.send(req).await?;
            let loc = resp.headers().get("location").and_then(|v| v.to_str().ok()).ok_or_else(|| Failure::Garbled("no Location".into()))?;
            Ok((format!("{}{loc}", self.base), offset_header(&resp)?))
        })
        .await
    }

    pub async fn tus_head(&self, url: &str) -> Result<u64, Failure> {
        let req = self.tus(Method::HEAD, url);
        self.timed("tus_head", async { offset_header(&self.send(req).await?) }).await
    }

    /// tus `PATCH` of one chunk with its SHA-256 checksum; the new offset.
    pub async fn tus_patch(&self, url: &str, offset: u64, chunk: &[u8]) -> Result<u64, Failure> {
        let req = self
            .tus(Method::PATCH, url)
            .header("Content-Type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .header("Upload-Checksum", format!("sha256 {}", b64(&Sha256::digest(chunk))))
            .body(chunk.to_vec());
        self.timed("tus_patch", async { offset_header(&self.send(req).await?) }).await
    }

    /// Upload `bytes` in `chunk`-sized PATCHes, resuming where `state` says (HEAD). One
    /// attempt: a failure leaves `state` ready for the next one. `Ok(true)` if bytes were
    /// sent, `Ok(false)` if the centre had the photo already.
    pub async fn upload(&self, bytes: &[u8], chunk: usize, state: &mut UploadState) -> Result<bool, Failure> {
        let len = bytes.len() as u64;
        let mut offset = match &state.url {
            Some(url) => match self.tus_head(url).await {
                Ok(o) => o,
                Err(Failure::Status(StatusCode::NOT_FOUND, _)) => {
                    state.url = None;
                    return Box::pin(self.upload(bytes, chunk, state)).await;
                }
                Err(e) => return Err(e),
            },
            None => {
                let (url, offset) = self.tus_create(bytes).await?;
                if offset == len {
                    return Ok(false);
                }
                state.url = Some(url);
                offset
            }
        };
        let url = state.url.clone().unwrap();
        while offset < len {
            let end = (offset as usize + chunk).min(bytes.len());
            match self.tus_patch(&url, offset, &bytes[offset as usize..end]).await {
                Ok(o) => offset = o,
                Err(Failure::Status(StatusCode::NOT_FOUND, _)) => {
                    state.url = None;
                    return Err(Failure::Status(StatusCode::NOT_FOUND, None));
                }
                Err(e) => return Err(e),
            }
        }
        state.url = None;
        Ok(true)
    }
}

// ------------------------------------------------------------------ what the centre stores

/// SHA-256 over every row the centre keeps about residents, applications, their revisions,
/// photos, events, change feeds, deliveries, ratings and the audit log (read-only connection,
/// safe while the server runs). Equal digests = nothing stored changed.
pub fn db_digest(db: &Path) -> String {
    db_digest_of(db, &["processed_events"])
}

/// The tables of [`db_digest`]: what the centre keeps about residents and their applications.
pub const RECORD_TABLES: [&str; 10] = [
    "residents",
    "applications",
    "application_items",
    "application_revisions",
    "photos",
    "photo_refs",
    "changes",
    "deliveries",
    "ratings",
    "audit_log",
];

/// [`RECORD_TABLES`] and `extra` tables, digested.
pub fn db_digest_of(db: &Path, extra: &[&str]) -> String {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let tables = RECORD_TABLES.iter().chain(extra);
    let mut h = Sha256::new();
    for t in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM {t} ORDER BY 1, 2")).unwrap();
        let cols = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..cols {
                let v: rusqlite::types::Value = row.get(i).unwrap();
                h.update(format!("{v:?}\u{1f}").as_bytes());
            }
            h.update(b"\n");
        }
        h.update(t.as_bytes());
    }
    hex::encode(h.finalize())
}

/// One value of the database (read-only connection).
pub fn db_query<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> Vec<T> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = conn.prepare(sql).unwrap();
    st.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}
