//! Centre ingest benchmark (issue 6, part 3): how much a centre on this machine takes in,
//! on SQLite and on PostgreSQL, against the raw cost of storing the same data without the
//! protocol, measured in the same run; and how that compares with a whole city at its peak.
//!
//! The real centre (`api::serve`, the whole router) listens on 127.0.0.1:0. A load generator
//! in the same process (its own tokio runtime; both share the machine's CPUs) plays many
//! enrolled devices at once, each with its own HTTP client and connection, speaking the sync
//! protocol with the `daiban-proto` types exactly as agent-core does: enrol with a one-time
//! code, `POST /api/v1/push`, tus `POST` + `PATCH` (agent-core's chunks on a fast link: the
//! whole photo, up to 1 MiB, without a chunk checksum), `GET /api/v1/changes`. Every device sends as fast as it is answered (closed loop), so the
//! figures are capacity; the latencies are those under that full load.
//!
//! Phases per backend (each for `DAIBAN_BENCH_SECONDS`, default 15, after 2 s of warm-up):
//! 1. **events**: each push carries one application as a phone submits it (the resident's
//!    record and the application, 2 events).
//! 2. **applications with photos**: a push of 2 events, then its 3 photos over tus (real
//!    photographs, 2000 px, JPEG quality 80, each made unique with a JPEG comment).
//! 3. **idle pulls**: `GET /api/v1/changes` at the device's cursor (nothing new), what every
//!    idle phone does every 15 minutes.
//!
//! Baselines, same machine, same run, same bytes:
//! * events: the same event JSON inserted with bare SQL into a one-table database with the
//!   same durability (SQLite WAL + `synchronous=FULL`; PostgreSQL: the same server), one
//!   connection, one transaction per push — the unavoidable cost of storing the rows;
//! * photos: the same photo files written, fsynced and renamed into a fan-out directory (and
//!   the directory fsynced) in one thread — what durable content-addressed storage costs;
//! * pulls: none (reported for the city's polling load only).
//!
//! City at peak (Yantai: ~13,000 agents; peak 100 applications a minute): 100/60 × 2 events/s,
//! 100/60 × 3 photos/s of the mean size used here, 13,000 / 900 s idle pulls/s. Target:
//! capacity ≥ 100 × that.
//!
//! `cargo bench -p daiban-centre --bench ingest`. PostgreSQL from `DAIBAN_BENCH_PG_URL`, else
//! `DAIBAN_TEST_PG_URL`, else `scripts/ensure-postgres.sh` (a test cluster, which runs with
//! fsync off: the bench prints the server's durability settings next to its figures).
//! `DAIBAN_BENCH_DEVICES` (default 64), `DAIBAN_BENCH_BACKENDS` (`sqlite,postgres`).

#[path = "../tests/it/support.rs"]
#[allow(dead_code)]
mod it_support;
mod support;

use axum::body::Bytes;
use base64::Engine;
use daiban_centre::api::{self, ApiConfig, AppState};
use daiban_centre::blobs::FsPhotoBlobs;
use daiban_centre::store::{self as centre_store, DatabaseUrl, Rules};
use daiban_proto::record::MaterialRecord;
use daiban_proto::sync::{EnrolRequest, EnrolResponse, Event, EventResult, PullResponse, PushRequest, PushResponse, PROTOCOL_HEADER};
use daiban_proto::{ApplicationRecord, PhotoHash, PhotoRef, ResidentRecord, PROTOCOL_VERSION};
use it_support::{application, resident, submit, upsert, world, World};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env_or, ms, ratio, Samples, Table, Targets};

/// agent-core's largest chunk (`SyncConfig::chunk_size`), which its chunk sizer reaches on any
/// link faster than 2G: over the loopback every photo is one PATCH.
const CHUNK: usize = 1024 * 1024;
const WARM_UP: Duration = Duration::from_secs(2);
const CITY_AGENTS: f64 = 13_000.0;
const CITY_PEAK_APPS_PER_S: f64 = 100.0 / 60.0;
const EVENTS_PER_APP: f64 = 2.0;
const PHOTOS_PER_APP: f64 = 3.0;
const IDLE_PULL_INTERVAL_S: f64 = 15.0 * 60.0;
const HEADROOM: f64 = 100.0;

fn main() -> ExitCode {
    let seconds: u64 = env_or("DAIBAN_BENCH_SECONDS", 15);
    let devices: usize = env_or("DAIBAN_BENCH_DEVICES", 64);
    let backends = std::env::var("DAIBAN_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    println!("## Centre ingest\n");
    println!("machine: {}\n", support::machine());
    let photos = Arc::new(PhotoSource::new());
    println!(
        "{devices} devices, {seconds} s per phase after {} s warm-up; photos: {} real photographs at 2000 px, mean {:.0} KB\n",
        WARM_UP.as_secs(),
        photos.bases.len(),
        photos.mean_bytes() / 1000.0
    );
    let phase = Duration::from_secs(seconds);
    let need_events = CITY_PEAK_APPS_PER_S * EVENTS_PER_APP;
    let need_mb = CITY_PEAK_APPS_PER_S * PHOTOS_PER_APP * photos.mean_bytes() / 1e6;
    let need_pulls = CITY_AGENTS / IDLE_PULL_INTERVAL_S;
    let mut targets = Targets::default();
    let mut table = Table::new(&[
        "backend",
        "what",
        "ours",
        "p50 ms",
        "p99 ms",
        "baseline (bare storage)",
        "ours ÷ baseline",
        "city peak needs",
        "headroom",
    ]);
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        settle();
        let runtime = || tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
        // The centre and the load generator each get a runtime of 2 workers (the machine's
        // CPUs are shared between them).
        let (server_rt, load_rt) = (runtime(), runtime());
        let mut centre = server_rt.block_on(Centre::start(backend));
        println!("### {} ({})\n", centre.label, centre.durability);
        let r = load_rt.block_on(load(&centre, devices, phase, &photos));
        server_rt.block_on(centre.stop());
        let base_phase = phase.min(Duration::from_secs(10));
        settle();
        let baseline_events_per_s = load_rt.block_on(baseline_events(&centre.db, base_phase));
        settle();
        let baseline_mb_per_s = baseline_photos(&centre.dir.path().join("baseline-photos"), &photos, base_phase);
        let secs = phase.as_secs_f64();
        let name = format!("{} ({})", centre.label, centre.durability);
        let rows = [
            Measure {
                what: "events/s (pushes of 2)",
                ours: r.events.units as f64 / secs,
                tally: &r.events,
                baseline: Some(baseline_events_per_s),
                need: Some(need_events),
            },
            Measure {
                what: "photo MB/s (with their applications; latency per photo)",
                ours: r.photos.units as f64 / 1e6 / secs,
                tally: &r.photos,
                baseline: Some(baseline_mb_per_s),
                need: Some(need_mb),
            },
            Measure { what: "of which tus PATCHes/s", ours: r.patches.units as f64 / secs, tally: &r.patches, baseline: None, need: None },
            Measure { what: "idle pulls/s", ours: r.pulls.units as f64 / secs, tally: &r.pulls, baseline: None, need: Some(need_pulls) },
        ];
        for m in &rows {
            table.row(m.cells(&name));
            if let Some(need) = m.need {
                targets.check(m.ours >= HEADROOM * need, format!("{}: {} {:.1} ≥ 100 × {need:.2}", centre.label, m.what, m.ours));
            }
        }
        println!();
    }
    table.print();
    targets.exit_code()
}

/// One row of the report: a rate of ours, its latencies, the baseline's rate, the city's need.
struct Measure<'a> {
    what: &'static str,
    ours: f64,
    tally: &'a Tally,
    baseline: Option<f64>,
    need: Option<f64>,
}

impl Measure<'_> {
    fn cells(&self, backend: &str) -> Vec<String> {
        let f1 = |d: Duration| format!("{:.1}", ms(d));
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "–".into());
        vec![
            backend.to_string(),
            self.what.to_string(),
            format!("{:.1}", self.ours),
            f1(self.tally.latency.p50()),
            f1(self.tally.latency.p99()),
            or_dash(self.baseline.map(|b| format!("{b:.1}"))),
            or_dash(self.baseline.map(|b| ratio(self.ours, b))),
            or_dash(self.need.map(|n| format!("{n:.2}"))),
            or_dash(self.need.map(|n| format!("{:.0}×", self.ours / n))),
        ]
    }
}

/// Real photographs as a phone would send them, each copy made unique (a new content address)
/// by a JPEG comment segment carrying a serial number.
struct PhotoSource {
    bases: Vec<Base>,
    next: AtomicU64,
}

/// A base photograph without its end-of-image marker, and the SHA-256 state after those
/// bytes: a unique photo made from it is hashed from there (as a phone, which hashed the
/// photo when it was taken, never hashes it again to upload it).
struct Base {
    body: Bytes,
    hashed: Sha256,
}

/// One photo to upload: a base photograph's body followed by its own tail.
struct Photo {
    hash: PhotoHash,
    body: Bytes,
    tail: Bytes,
}

impl Photo {
    fn len(&self) -> usize {
        self.body.len() + self.tail.len()
    }
}

impl PhotoSource {
    fn new() -> Self {
        let dir = Path::new("/usr/share/backgrounds");
        let names = [
            "Bridge_by_Sander_Klootwijk.jpg",
            "sunset_by_Aitzol_Berasategi.jpg",
            "Wine_by_Jakkub_Mede.jpg",
            "friends_by_Aitzol_Berasategi.jpg",
        ];
        let bases: Vec<Base> = names
            .iter()
            .filter_map(|n| image::open(dir.join(n)).ok())
            .map(|img| {
                let img = img.resize(2000, 2000, image::imageops::FilterType::Lanczos3).to_rgb8();
                let mut out = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).expect("encode JPEG");
                assert!(out.ends_with(&[0xFF, 0xD9]));
                out.truncate(out.len() - 2);
                let mut hashed = Sha256::new();
                hashed.update(&out);
                Base { body: Bytes::from(out), hashed }
            })
            .collect();
        assert!(!bases.is_empty(), "needs the real photographs of lomiri-wallpapers (scripts/setup.sh) in {}", dir.display());
        Self { bases, next: AtomicU64::new(0) }
    }

    fn mean_bytes(&self) -> f64 {
        self.bases.iter().map(|b| b.body.len() as f64 + 2.0).sum::<f64>() / self.bases.len() as f64
    }

    /// A new photo: a base photograph with `COM "daiban-bench <n>"` before its end-of-image
    /// marker.
    fn next(&self) -> Photo {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let base = &self.bases[n as usize % self.bases.len()];
        let comment = format!("daiban-bench {n}");
        let mut tail = vec![0xFF, 0xFE];
        tail.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
        tail.extend_from_slice(comment.as_bytes());
        tail.extend_from_slice(&[0xFF, 0xD9]);
        let mut hasher = base.hashed.clone();
        hasher.update(&tail);
        Photo { hash: PhotoHash(hasher.finalize().into()), body: base.body.clone(), tail: Bytes::from(tail) }
    }
}

/// Where the centre keeps its data (the baselines use the same place).
enum Db {
    Sqlite { dir: PathBuf },
    Postgres { url: String },
}

/// The real centre on a loopback port, with the two-township world of the storage tests.
struct Centre {
    label: &'static str,
    durability: String,
    db: Db,
    base: String,
    world: World,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

impl Centre {
    async fn start(backend: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (label, db, url) = match backend {
            "sqlite" => {
                let url = DatabaseUrl::Sqlite(dir.path().join("centre.sqlite3"));
                ("SQLite", Db::Sqlite { dir: dir.path().to_path_buf() }, url)
            }
            "postgres" => {
                if let Ok(url) = std::env::var("DAIBAN_BENCH_PG_URL") {
                    std::env::set_var("DAIBAN_TEST_PG_URL", url);
                }
                let url = it_support::pg_database().await;
                ("PostgreSQL", Db::Postgres { url: url.clone() }, DatabaseUrl::Postgres(url))
            }
            other => panic!("unknown backend {other} (sqlite, postgres)"),
        };
        let durability = durability(&db).await;
        let store = centre_store::open(&url, Rules::default()).await.unwrap();
        let world = world(store.clone()).await;
        let blobs = FsPhotoBlobs::new(dir.path().join("photos")).unwrap();
        let state = AppState::new(store, Arc::new(blobs), ApiConfig::new(dir.path().join("uploads"))).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(api::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Self { label, durability, db, base, world, stop, server, dir }
    }

    /// Stop serving; the data stays for the baselines until the centre is dropped.
    async fn stop(&mut self) {
        let (stop, _) = tokio::sync::oneshot::channel();
        let _ = std::mem::replace(&mut self.stop, stop).send(());
        (&mut self.server).await.unwrap().unwrap();
    }
}

/// Flush what earlier phases left in the page cache (gigabytes of photos) to disk, so that
/// the kernel writing it back in the background does not slow the next phase down: each
/// phase, and each backend, is measured from the same clean start.
fn settle() {
    let _ = std::process::Command::new("sync").status();
}

/// What the load generator measured.
struct Load {
    events: Tally,
    photos: Tally,
    patches: Tally,
    pulls: Tally,
}

async fn load(centre: &Centre, devices: usize, phase: Duration, photos: &Arc<PhotoSource>) -> Load {
    let fleet = enrol_fleet(&centre.base, &centre.world, devices).await;
    settle();
    let events = phase_events(&fleet, phase).await;
    eprintln!("{}: events phase done", centre.label);
    settle();
    let (photos, patches) = phase_photos(&fleet, phase, photos).await;
    eprintln!("{}: photo phase done", centre.label);
    settle();
    let pulls = phase_pulls(&fleet, phase).await;
    eprintln!("{}: pull phase done", centre.label);
    Load { events, photos, patches, pulls }
}

/// The durability settings the figures were measured under.
async fn durability(db: &Db) -> String {
    match db {
        Db::Sqlite { .. } => "WAL, synchronous=FULL, on disk".into(),
        Db::Postgres { url } => {
            let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            let mut out = Vec::new();
            for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
                let row = client.query_one(&format!("SHOW {setting}"), &[]).await.unwrap();
                out.push(format!("{setting}={}", row.get::<_, String>(0)));
            }
            let version = client.query_one("SHOW server_version", &[]).await.unwrap().get::<_, String>(0);
            format!("PostgreSQL {}, {}", version.split_whitespace().next().unwrap_or_default(), out.join(", "))
        }
    }
}

/// One simulated phone: its own HTTP client (own connections) and token.
struct Device {
    http: reqwest::Client,
    token: String,
}

impl Device {
    fn req(&self, method: reqwest::Method, url: String) -> reqwest::RequestBuilder {
        self.http.request(method, url).header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string()).bearer_auth(&self.token)
    }
}

struct Fleet {
    base: String,
    devices: Vec<Arc<Device>>,
    /// Numbers the applications made (varies residents' ID numbers, names photo stand-ins).
    serial: AtomicU64,
}

impl Fleet {
    fn serial(&self) -> u64 {
        self.serial.fetch_add(1, Ordering::Relaxed)
    }
}

/// Enrol `n` devices over HTTP with one-time codes made by the township admin, alternating
/// between the township's two villages.
async fn enrol_fleet(base: &str, w: &World, n: usize) -> Arc<Fleet> {
    let mut devices = Vec::new();
    for i in 0..n {
        let village = if i % 2 == 0 { w.village_a } else { w.village_b };
        let code = w.store.create_enrolment_code(w.admin, village, chrono::Duration::hours(1)).await.unwrap();
        let http = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
        let enrol = http.post(format!("{base}/api/v1/enrol")).header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string()).json(&EnrolRequest {
            code: code.code,
            device_name: format!("压测手机{i}"),
            device_key: None,
        });
        let resp: EnrolResponse = json(enrol).await;
        devices.push(Arc::new(Device { http, token: resp.token }));
    }
    Arc::new(Fleet { base: base.to_string(), devices, serial: AtomicU64::new(0) })
}

/// Completed work of one kind: units (events, bytes, requests) finished inside the measured
/// window, and the latency of each operation started inside it.
#[derive(Default)]
struct Tally {
    units: u64,
    latency: Samples,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.units += other.units;
        self.latency.extend(other.latency);
    }
}

/// The measured window: after the warm-up, for `phase`.
#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

impl Window {
    fn new(phase: Duration) -> Self {
        let from = Instant::now() + WARM_UP;
        Self { from, to: from + phase }
    }

    fn open(&self) -> bool {
        Instant::now() < self.to
    }

    /// Record an operation that started at `start` and just finished.
    fn record(&self, tally: &mut Tally, start: Instant, units: u64) {
        let now = Instant::now();
        if start >= self.from && now <= self.to {
            tally.latency.push(now - start);
        }
        if now >= self.from && now <= self.to {
            tally.units += units;
        }
    }
}

/// A new resident and their elderly-card application with 3 photos (ID card front and back,
/// household register page).
fn new_application(photos: &[PhotoRef; 3], n: u64) -> (ResidentRecord, ApplicationRecord) {
    let r = resident((n % 60_000) as u16);
    let mut a = application(r.id);
    a.materials = vec![
        MaterialRecord { code: "id_card".into(), photos: photos[..2].to_vec(), reused_from: None },
        MaterialRecord { code: "household_register".into(), photos: photos[2..].to_vec(), reused_from: None },
    ];
    a.fields =
        [("phone", "13800001234"), ("emergency_contact", "王建国")].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    (r, a)
}

fn photo_ref(bytes: &[u8]) -> PhotoRef {
    PhotoRef { hash: PhotoHash::of(bytes), bytes: bytes.len() as u64, width: 2000, height: 1500 }
}

/// Photo references for an application whose photos will not be uploaded (the events phase).
fn fake_photos(n: u64) -> [PhotoRef; 3] {
    std::array::from_fn(|i| photo_ref(format!("photo {i} of application {n}").as_bytes()))
}

/// Send; the answer must be a 2xx with this JSON.
async fn json<T: serde::de::DeserializeOwned>(req: reqwest::RequestBuilder) -> T {
    req.send().await.unwrap().error_for_status().unwrap().json().await.unwrap()
}

async fn push(fleet: &Fleet, d: &Device, events: Vec<Event>) {
    let resp: PushResponse =
        json(d.req(reqwest::Method::POST, format!("{}/api/v1/push", fleet.base)).json(&PushRequest { events, queue_len: 0 })).await;
    assert!(resp.outcomes.iter().all(|o| o.result == EventResult::Applied), "every event applied");
}

/// Run `work` on every device until the window closes; merge what they did.
async fn on_every_device<F, Fut, T>(fleet: &Arc<Fleet>, work: F) -> Vec<T>
where
    F: Fn(Arc<Fleet>, usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..fleet.devices.len()).map(|i| tokio::spawn(work(fleet.clone(), i))).collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

async fn phase_events(fleet: &Arc<Fleet>, phase: Duration) -> Tally {
    let window = Window::new(phase);
    let tallies = on_every_device(fleet, move |fleet, i| async move {
        let d = fleet.devices[i].clone();
        let mut tally = Tally::default();
        while window.open() {
            let n = fleet.serial();
            let (r, a) = new_application(&fake_photos(n), n);
            let start = Instant::now();
            push(&fleet, &d, vec![upsert(&r), submit(&a)]).await;
            window.record(&mut tally, start, 2);
        }
        tally
    })
    .await;
    tallies.into_iter().fold(Tally::default(), |mut acc, t| {
        acc.merge(t);
        acc
    })
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// One photo over tus as agent-core sends it on a fast link: create, then the whole photo in
/// one PATCH (its chunk sizer goes up to [`CHUNK`]).
async fn upload(fleet: &Fleet, d: &Device, photo: &Photo, window: &Window, patches: &mut Tally) {
    assert!(photo.len() <= CHUNK, "a photo larger than a chunk");
    let hex = photo.hash.to_hex();
    let resp = d
        .req(reqwest::Method::POST, format!("{}/api/v1/uploads", fleet.base))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", photo.len().to_string())
        .header("Upload-Metadata", format!("filename {},sha256 {}", b64(format!("{hex}.jpg").as_bytes()), b64(hex.as_bytes())))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let start = Instant::now();
    let pieces = [photo.body.clone(), photo.tail.clone()].map(Ok::<_, std::convert::Infallible>);
    let resp = d
        .req(reqwest::Method::PATCH, format!("{}{location}", fleet.base))
        .header("Tus-Resumable", "1.0.0")
        .header("Content-Type", "application/offset+octet-stream")
        .header("Upload-Offset", "0")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(pieces)))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    assert_eq!(resp.headers()["upload-offset"].to_str().unwrap(), photo.len().to_string());
    window.record(patches, start, 1);
}

/// Applications with their photos: (whole photos, PATCH requests).
async fn phase_photos(fleet: &Arc<Fleet>, phase: Duration, photos: &Arc<PhotoSource>) -> (Tally, Tally) {
    let window = Window::new(phase);
    let tallies = on_every_device(fleet, move |fleet, i| {
        let photos = photos.clone();
        async move {
            let d = fleet.devices[i].clone();
            let (mut photos_done, mut patches) = (Tally::default(), Tally::default());
            while window.open() {
                // a new photo is a copy of a base photograph with a comment: a memcpy each
                let batch: [Photo; 3] = std::array::from_fn(|_| photos.next());
                let refs: [PhotoRef; 3] =
                    std::array::from_fn(|k| PhotoRef { hash: batch[k].hash, bytes: batch[k].len() as u64, width: 2000, height: 1500 });
                let n = fleet.serial();
                let (r, a) = new_application(&refs, n);
                push(&fleet, &d, vec![upsert(&r), submit(&a)]).await;
                for photo in &batch {
                    let start = Instant::now();
                    upload(&fleet, &d, photo, &window, &mut patches).await;
                    window.record(&mut photos_done, start, photo.len() as u64);
                }
            }
            (photos_done, patches)
        }
    })
    .await;
    let (mut photos_done, mut patches) = (Tally::default(), Tally::default());
    for (p, c) in tallies {
        photos_done.merge(p);
        patches.merge(c);
    }
    (photos_done, patches)
}

async fn phase_pulls(fleet: &Arc<Fleet>, phase: Duration) -> Tally {
    let window = Window::new(phase);
    let tallies = on_every_device(fleet, move |fleet, i| async move {
        let d = fleet.devices[i].clone();
        let pull = |after: i64| {
            let req = d.req(reqwest::Method::GET, format!("{}/api/v1/changes?after={after}", fleet.base));
            json::<PullResponse>(req)
        };
        // catch up first: an idle phone asks at its cursor and gets nothing new
        let mut cursor = 0;
        loop {
            let page = pull(cursor).await;
            cursor = page.cursor;
            if !page.more {
                break;
            }
        }
        let mut tally = Tally::default();
        while window.open() {
            let start = Instant::now();
            let page = pull(cursor).await;
            assert!(page.changes.is_empty());
            window.record(&mut tally, start, 1);
        }
        tally
    })
    .await;
    tallies.into_iter().fold(Tally::default(), |mut acc, t| {
        acc.merge(t);
        acc
    })
}

/// Baseline: the same two events per push as JSON rows, inserted with bare SQL, one
/// transaction per push, one connection; events per second.
async fn baseline_events(db: &Db, phase: Duration) -> f64 {
    let batch = |n: u64| {
        let (r, a) = new_application(&fake_photos(n), n);
        [upsert(&r), submit(&a)].map(|e| (e.id.0, e.body.kind().to_string(), serde_json::to_string(&e).unwrap()))
    };
    let start = Instant::now();
    let mut events = 0u64;
    match db {
        Db::Sqlite { dir } => {
            let mut conn = rusqlite::Connection::open(dir.join("baseline.sqlite3")).unwrap();
            let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).unwrap();
            conn.pragma_update(None, "synchronous", "FULL").unwrap();
            conn.execute_batch("CREATE TABLE events (id BLOB PRIMARY KEY, kind TEXT NOT NULL, body TEXT NOT NULL)").unwrap();
            while start.elapsed() < phase {
                let tx = conn.transaction().unwrap();
                for (id, kind, body) in batch(events) {
                    tx.execute(
                        "INSERT INTO events (id, kind, body) VALUES (?1, ?2, ?3)",
                        rusqlite::params![id.as_bytes().to_vec(), kind, body],
                    )
                    .unwrap();
                }
                tx.commit().unwrap();
                events += 2;
            }
        }
        Db::Postgres { url } => {
            let (mut client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(conn);
            client
                .batch_execute("CREATE TABLE baseline_events (id UUID PRIMARY KEY, kind TEXT NOT NULL, body JSONB NOT NULL)")
                .await
                .unwrap();
            let insert = client.prepare("INSERT INTO baseline_events (id, kind, body) VALUES ($1, $2, $3::text::jsonb)").await.unwrap();
            while start.elapsed() < phase {
                let tx = client.transaction().await.unwrap();
                for (id, kind, body) in batch(events) {
                    tx.execute(&insert, &[&id, &kind, &body]).await.unwrap();
                }
                tx.commit().await.unwrap();
                events += 2;
            }
        }
    }
    events as f64 / start.elapsed().as_secs_f64()
}

/// Baseline: the same photos stored durably by content address with nothing else: write a
/// temp file, fsync, rename into `ab/cdef…`, fsync the directory; one thread; MB/s.
fn baseline_photos(root: &Path, photos: &PhotoSource, phase: Duration) -> f64 {
    use std::io::Write;
    std::fs::create_dir_all(root).unwrap();
    let start = Instant::now();
    let mut bytes = 0u64;
    while start.elapsed() < phase {
        let photo = photos.next();
        let (dir, file) = photo.hash.shard_path();
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let tmp = dir.join(format!(".tmp-{file}"));
        let mut f = std::fs::File::create(&tmp).unwrap();
        f.write_all(&photo.body).unwrap();
        f.write_all(&photo.tail).unwrap();
        f.sync_all().unwrap();
        std::fs::rename(&tmp, dir.join(file)).unwrap();
        std::fs::File::open(&dir).unwrap().sync_all().unwrap();
        bytes += photo.len() as u64;
    }
    bytes as f64 / 1e6 / start.elapsed().as_secs_f64()
}
