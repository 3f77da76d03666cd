//! Helpers of the staff web UI tests (each `tests/web_*.rs` binary uses a part of them):
//! the storage test world of `tests/it/support.rs`, a real centre on 127.0.0.1:0 with the
//! staff UI, applications submitted through the real store as a phone would (with real
//! JPEG photos uploaded the way the tus endpoint completes them), and a small cookie-keeping
//! HTTP client for staff pages.
#![allow(dead_code)]

#[path = "../it/support.rs"]
pub mod store;

use daiban_centre::api::{self, ApiConfig, AppState};
use daiban_centre::blobs::{FsPhotoBlobs, PhotoBlobs};
use daiban_centre::store::{DeviceAuth, Upload, UploadId};
use daiban_centre::web::WebConfig;
use daiban_proto::record::MaterialRecord;
use daiban_proto::{ApplicationId, ApplicationRecord, PhotoHash, PhotoRef, ResidentRecord};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use std::collections::BTreeMap;
use std::path::Path;
use store::*;
use tokio::sync::oneshot;

/// A centre with the staff UI on a loopback port, seeded with the two-township [`World`].
pub struct WebCentre {
    pub base: String,
    pub world: World,
    pub blobs: FsPhotoBlobs,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
    _store: TestStore,
}

impl WebCentre {
    pub async fn start() -> Self {
        Self::start_with(WebConfig::default()).await
    }

    pub async fn start_with(web: WebConfig) -> Self {
        let store = sqlite_store().await;
        let world = world(store.store.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsPhotoBlobs::new(dir.path().join("photos")).unwrap();
        let state = AppState::new(world.store.clone(), std::sync::Arc::new(blobs.clone()), ApiConfig::new(dir.path().join("uploads")))
            .unwrap()
            .with_web(web);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(api::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Self { base, world, blobs, stop: Some(stop), server: Some(server), _dir: dir, _store: store }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The photo store's directory.
    pub fn photos_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("photos")
    }

    /// The SQLite file behind the centre (benchmarks query it directly for a baseline).
    pub fn sqlite_path(&self) -> std::path::PathBuf {
        self._store._dir.as_ref().expect("a SQLite store").path().join(SQLITE_FILE)
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.unwrap().unwrap();
        }
    }

    /// Push the resident and the application through the store, as the sync API does for a
    /// phone, then upload `photos` (bytes of the application's photos, any order).
    pub async fn submit(&self, device: DeviceAuth, resident: &ResidentRecord, app: &ApplicationRecord, photos: &[Vec<u8>]) {
        push_ok(self.world.store.as_ref(), device, &[upsert(resident), submit(app)]).await;
        for bytes in photos {
            self.upload(device, bytes).await;
        }
    }

    /// A photo arriving whole: the same steps as a completed tus upload.
    pub async fn upload(&self, device: DeviceAuth, bytes: &[u8]) {
        let s = self.world.store.as_ref();
        let hash = PhotoHash::of(bytes);
        assert!(s.photo_upload_allowed(device, hash).await.unwrap(), "the photo belongs to a submitted application");
        let id = UploadId::new().to_string();
        let now = chrono::Utc::now();
        s.create_upload(Upload {
            id: id.clone(),
            device_id: device.device_id,
            hash,
            length: bytes.len() as u64,
            offset: 0,
            created_at: now,
        })
        .await
        .unwrap();
        let part = self._dir.path().join(format!("{id}.part"));
        std::fs::write(&part, bytes).unwrap();
        self.blobs.put_file(&hash, &part).await.unwrap();
        s.complete_upload(&id, hash, bytes.len() as u64).await.unwrap();
    }
}

/// A real JPEG of about `width` pixels across: a photograph from the machine's wallpapers
/// (cropped differently per `seed`, so every photo has its own hash), or a drawn gradient
/// when none is installed.
pub fn jpeg(seed: u32, width: u32) -> (Vec<u8>, u32, u32) {
    let source = [
        "/usr/share/wallpapers/FallenLeaf/contents/images/1280x1024.jpg",
        "/usr/share/wallpapers/FallenLeaf/contents/images/1920x1080.jpg",
    ]
    .iter()
    .find_map(|p| image::open(Path::new(p)).ok());
    let img = match source {
        Some(img) => {
            let (w, h) = (img.width(), img.height());
            let crop = img.crop_imm((seed * 37) % (w / 4), (seed * 23) % (h / 4), w * 3 / 4, h * 3 / 4);
            crop.resize(width, width, image::imageops::FilterType::Triangle)
        }
        None => image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, width * 3 / 4, |x, y| {
            image::Rgb([(x * 255 / width) as u8, (y + seed * 40) as u8, (seed * 60) as u8])
        })),
    };
    let mut out = std::io::Cursor::new(Vec::new());
    img.to_rgb8().write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    (out.into_inner(), img.width(), img.height())
}

/// An application for `items` whose materials carry real JPEGs; returns it with the photo
/// bytes to upload.
pub fn application_with_photos(
    resident: &ResidentRecord,
    items: &[&str],
    materials: &[(&str, u32)],
    seed: u32,
) -> (ApplicationRecord, Vec<Vec<u8>>) {
    let mut bytes = Vec::new();
    let mut records = Vec::new();
    for (i, (code, count)) in materials.iter().enumerate() {
        let mut photos = Vec::new();
        for k in 0..*count {
            let (b, w, h) = jpeg(seed * 10 + i as u32 * 3 + k, 640);
            photos.push(PhotoRef { hash: PhotoHash::of(&b), bytes: b.len() as u64, width: w, height: h });
            bytes.push(b);
        }
        records.push(MaterialRecord { code: code.to_string(), photos, reused_from: None });
    }
    let mut app = application(resident.id);
    app.id = ApplicationId::new();
    app.items = items.iter().map(|s| s.to_string()).collect();
    app.materials = records;
    app.fields =
        BTreeMap::from([("phone".to_string(), "13800001234".to_string()), ("emergency_contact".to_string(), "王建国".to_string())]);
    (app, bytes)
}

/// A resident with a name and flags of our choosing.
pub fn named_resident(seq: u16, name: &str, elderly: bool) -> ResidentRecord {
    let mut r = resident(seq);
    r.name = daiban_proto::text::PersonName::parse(name).unwrap();
    r.elderly = elderly;
    r
}

/// A browser-less staff member: keeps cookies, never follows redirects.
pub struct StaffClient {
    pub base: String,
    pub http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

/// What a staff page answered.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub content_type: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Page {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The CSRF token in the page's forms.
    pub fn csrf(&self) -> String {
        let t = self.text();
        let at = t.find("name=\"csrf\" value=\"").expect("a form with a csrf field") + 19;
        t[at..at + t[at..].find('"').unwrap()].to_string()
    }
}

impl StaffClient {
    pub fn new(base: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { base: base.to_string(), http, cookies: BTreeMap::new() }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let resp = req.header(COOKIE, cookie).send().await.unwrap();
        for c in resp.headers().get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page {
            status: resp.status(),
            location: resp.headers().get(LOCATION).map(|v| v.to_str().unwrap().to_string()),
            content_type: resp.headers().get(CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()),
            headers: resp.headers().clone(),
            body: resp.bytes().await.unwrap().to_vec(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.http.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }

    /// Log in through the login form; the answer to the form's POST.
    pub async fn login(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/staff/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        self.post("/staff/login", &[("username", username), ("password", password), ("csrf", &csrf)]).await
    }

    /// Logged in (or the test fails).
    pub async fn signed_in(base: &str, username: &str) -> Self {
        let mut c = Self::new(base);
        let resp = c.login(username, PASSWORD).await;
        assert_eq!((resp.status, resp.location.as_deref()), (StatusCode::SEE_OTHER, Some("/staff/inbox")), "{}", resp.text());
        c
    }
}
