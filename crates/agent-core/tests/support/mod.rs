//! Helpers of the sync tests: the real centre (SQLite in a temp dir, seeded like the demo)
//! served on 127.0.0.1:0, a sync configuration with short timeouts, capture of complete
//! applications through the agent store, and distinct small real photographs by the thousand.

#![allow(dead_code)]

pub mod fault_proxy;

use crate::common;
use chrono::Duration as ChronoDuration;
use daiban_agent_core::store::Target;
use daiban_agent_core::sync::{RetryPolicy, SyncConfig};
use daiban_agent_core::Store;
use daiban_centre::api::{self, ApiConfig, AppState};
use daiban_centre::blobs::{FsPhotoBlobs, PhotoBlobs};
use daiban_centre::demo;
use daiban_centre::store::{self as centre_store, DatabaseUrl, Rules, StaffId, TownshipId, VillageCode, VillageId};
use daiban_proto::{ApplicationId, PhotoHash};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// The township centre, for real, on a loopback port.
pub struct TestCentre {
    pub url: String,
    pub addr: SocketAddr,
    pub store: Arc<dyn centre_store::Store>,
    pub blobs: FsPhotoBlobs,
    pub township: TownshipId,
    pub village: VillageId,
    pub admin: StaffId,
    pub reviewer: StaffId,
    /// The demo's enrolment code file (one fresh code for 王家村).
    pub code_file: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestCentre {
    /// A seeded centre (桃源镇, its villages, staff, catalogue, an enrolment code).
    pub async fn start() -> Self {
        Self::serve(None).await
    }

    /// The same centre over HTTPS, with a self-made certificate for 127.0.0.1 that no public
    /// CA signed; also returns the certificate (DER).
    pub async fn start_tls() -> (Self, Vec<u8>) {
        use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        let der = cert.cert.der().to_vec();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(der.clone())], key)
            .unwrap();
        (Self::serve(Some(Arc::new(config))).await, der)
    }

    async fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = centre_store::open(&DatabaseUrl::Sqlite(dir.path().join("centre.sqlite3")), Rules::default()).await.unwrap();
        let seeded = demo::seed(store.as_ref(), dir.path()).await.unwrap();
        let (reviewer, _) = store.staff_credentials(demo::STAFF[1].0).await.unwrap().unwrap();
        let village = store.village_by_code(&VillageCode::parse(demo::VILLAGES[0].0).unwrap()).await.unwrap().unwrap().id;
        let blobs = FsPhotoBlobs::new(dir.path().join("photos")).unwrap();
        // (production timeouts: a request the fault proxy cut without a reset holds its upload
        // only until the client asks again, which stops it)
        let config = ApiConfig::new(dir.path().join("uploads"));
        let state = AppState::new(store.clone(), Arc::new(blobs.clone()), config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let server = match tls {
            Some(config) => tokio::spawn(daiban_centre::tls::serve(listener, config, state, shutdown)),
            None => tokio::spawn(api::serve(listener, state, shutdown)),
        };
        Self {
            url: format!("{scheme}://{addr}"),
            addr,
            store,
            blobs,
            township: seeded.township,
            village,
            admin: seeded.admin.id,
            reviewer: reviewer.id,
            code_file: dir.path().join(demo::ENROLMENT_CODE_FILE),
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
        }
    }

    /// The code the demo seeding wrote.
    pub fn demo_code(&self) -> String {
        std::fs::read_to_string(&self.code_file).unwrap().trim().to_string()
    }

    /// A fresh one-time code for 王家村.
    pub async fn new_code(&self) -> String {
        self.store.create_enrolment_code(self.admin, self.village, ChronoDuration::hours(1)).await.unwrap().code
    }

    /// Every application in the township's inbox, page by page, in inbox order (a doubled
    /// application shows up twice).
    pub async fn application_ids(&self) -> Vec<ApplicationId> {
        let (mut ids, mut cursor) = (Vec::new(), None);
        loop {
            let page = self.store.inbox(self.township, Default::default(), cursor, 500).await.unwrap();
            ids.extend(page.rows.iter().map(|r| r.id));
            cursor = page.next;
            if cursor.is_none() {
                return ids;
            }
        }
    }

    /// SHA-256 of the photo as the centre stores it, if it has it.
    pub async fn photo_sha256(&self, hash: &PhotoHash) -> Option<[u8; 32]> {
        self.blobs.get(hash).await.unwrap().map(|b| Sha256::digest(&b).into())
    }

    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap().unwrap();
    }
}

/// SHA-256 of the photo as the phone keeps it (the file is sealed at rest; this is its
/// verified plain content, the bytes that were uploaded).
pub fn phone_sha256(store: &Store, hash: &PhotoHash) -> [u8; 32] {
    Sha256::digest(store.photos().read(hash).unwrap()).into()
}

/// A large real photograph (several megapixels, over 1.5 MB as taken), different for each `n`:
/// the store turns it into a document JPEG of a few hundred KB.
pub fn large_photo(n: usize) -> Vec<u8> {
    let mut large: Vec<(u64, PathBuf)> = common::real_photos()
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
        .filter(|(len, _)| *len > 1_500_000)
        .collect();
    large.sort();
    assert!(large.len() >= 4, "need a few photos over 1.5 MB");
    std::fs::read(&large[n % large.len()].1).unwrap()
}

/// Every photo of these applications' submitted revisions is at the centre, byte-identical.
pub async fn assert_photos_identical(centre: &TestCentre, store: &Store, photos: impl IntoIterator<Item = PhotoHash>) -> usize {
    let mut n = 0;
    for h in photos {
        let at_centre = centre.photo_sha256(&h).await.unwrap_or_else(|| panic!("photo {h} is not at the centre"));
        assert_eq!(at_centre, phone_sha256(store, &h), "photo {h} differs between phone and centre");
        n += 1;
    }
    n
}

/// Short timeouts and back-offs so that a fault-injection run takes minutes. The queue
/// back-off is zero: every run may retry at once.
pub fn test_config() -> SyncConfig {
    SyncConfig {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(10),
        stall_timeout: Duration::from_millis(1500),
        chunk_size: 32 * 1024,
        parallel_uploads: 2,
        retry: RetryPolicy { attempts: 6, min_delay: Duration::from_millis(5), max_delay: Duration::from_millis(100) },
        queue_backoff: RetryPolicy { attempts: 0, min_delay: Duration::ZERO, max_delay: Duration::ZERO },
    }
}

/// A resident (`n` varies the name and ID number) and a submitted application for `item`,
/// every required material photographed with photos from `photo`.
pub fn capture(store: &Store, n: u16, item: &str, photo: &mut dyn FnMut() -> Vec<u8>) -> ApplicationId {
    let resident = store.add_resident(&common::resident(n, 1950)).unwrap();
    let app = store.create_draft(resident, &Target::Item(item.into())).unwrap();
    common::fill_required(store, app);
    let d = store.application(app).unwrap();
    for m in d.materials.iter().filter(|m| m.required) {
        for _ in 0..m.kind.photos.max(1) {
            store.add_photo(app, &m.kind.code, &photo()).unwrap();
        }
    }
    store.submit(app).unwrap();
    app
}

/// Every photo hash of an application's current materials.
pub fn photos_of(store: &Store, app: ApplicationId) -> Vec<PhotoHash> {
    store.application(app).unwrap().materials.iter().flat_map(|m| m.photos.iter().map(|p| p.hash)).collect()
}

/// Distinct real photographs, small and cheap to make: a few wallpapers processed once to
/// `edge` pixels, then for each serial number a variant with the number drawn into the top
/// row as black and white 8×8 blocks (so every JPEG, and its hash, is different).
pub struct PhotoFactory {
    bases: Vec<image::RgbImage>,
}

impl PhotoFactory {
    pub fn new(bases: usize, edge: u32) -> Self {
        let opts = daiban_agent_core::photo::PipelineOptions { max_long_edge: edge, quality: 85 };
        let bases = (0..bases)
            .map(|i| {
                let small = daiban_agent_core::photo::process(&common::photo(i), &opts).unwrap();
                image::load_from_memory(small.jpeg()).unwrap().to_rgb8()
            })
            .collect();
        Self { bases }
    }

    /// Photo number `n` (as the camera would hand it over: a JPEG).
    pub fn photo(&self, n: u32) -> Vec<u8> {
        let mut img = self.bases[n as usize % self.bases.len()].clone();
        for bit in 0..24 {
            let v = if (n >> bit) & 1 == 1 { 255 } else { 0 };
            for y in 0..8 {
                for x in 0..8 {
                    img.put_pixel(bit * 8 + x, y, image::Rgb([v, v, v]));
                }
            }
        }
        let mut out = Vec::new();
        let (w, h) = (img.width() as u16, img.height() as u16);
        jpeg_encoder::Encoder::new(&mut out, 92).encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb).unwrap();
        out
    }
}
