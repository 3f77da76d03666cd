//! The sync API over real HTTP: a centre served on 127.0.0.1:0, driven with reqwest.

use crate::support::*;
use chrono::Duration;
use daiban_centre::api::{self, ApiConfig, AppState};
use daiban_centre::blobs::FsPhotoBlobs;
use daiban_proto::status::Decision;
use daiban_proto::sync::{
    ChangeBody, EnrolRequest, EnrolResponse, ErrorBody, ErrorCode, Event, EventResult, PhotosMissingRequest, PhotosMissingResponse,
    PullResponse, PushRequest, PushResponse, PROTOCOL_HEADER,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use tokio::sync::oneshot;

/// Largest JSON body of the test centre (small, so the 413 test stays small).
pub const JSON_LIMIT: usize = 256 * 1024;

/// A centre on a loopback port, seeded with [`World`].
pub struct Centre {
    pub base: String,
    pub world: World,
    pub photos: FsPhotoBlobs,
    pub uploads: PathBuf,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
    _store: TestStore,
}

impl Centre {
    pub async fn start() -> Self {
        let store = sqlite_store().await;
        let world = world(store.store.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let photos = FsPhotoBlobs::new(dir.path().join("photos")).unwrap();
        let uploads = dir.path().join("uploads");
        let mut config = ApiConfig::new(&uploads);
        config.json_body_limit = JSON_LIMIT;
        let state = AppState::new(world.store.clone(), std::sync::Arc::new(photos.clone()), config).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(api::serve(listener, state, async {
            let _ = stopped.await;
        }));
        Self {
            base,
            world,
            photos,
            uploads,
            http: reqwest::Client::new(),
            stop: Some(stop),
            server: Some(server),
            _dir: dir,
            _store: store,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the protocol header (and the device token, if any).
    pub fn request(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let r = self.http.request(method, self.url(path)).header(PROTOCOL_HEADER, "1");
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Enrol a device of `village` over HTTP; returns its token.
    pub async fn enrol(&self, village: daiban_centre::store::VillageId) -> (EnrolResponse, daiban_centre::store::DeviceAuth) {
        let admin = if village == self.world.village_c { self.world.other_admin } else { self.world.admin };
        let code = self.world.store.create_enrolment_code(admin, village, Duration::hours(1)).await.unwrap();
        let resp = self
            .request(reqwest::Method::POST, "/api/v1/enrol", None)
            .json(&EnrolRequest { code: code.code, device_name: "测试手机".into(), device_key: None })
            .send()
            .await
            .unwrap();
        let enrolled: EnrolResponse = ok_json(resp).await;
        let auth = self.world.store.authenticate_device(&enrolled.token).await.unwrap();
        (enrolled, auth)
    }

    pub async fn push(&self, token: &str, events: &[Event]) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/api/v1/push", Some(token))
            .json(&PushRequest { events: events.to_vec(), queue_len: 3 })
            .send()
            .await
            .unwrap()
    }

    pub async fn pull(&self, token: &str, after: i64) -> PullResponse {
        ok_json(self.request(reqwest::Method::GET, &format!("/api/v1/changes?after={after}"), Some(token)).send().await.unwrap()).await
    }

    /// Stop accepting, finish what is in flight, and check the server ended cleanly.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap().unwrap();
    }
}

pub async fn ok_json<T: DeserializeOwned>(resp: reqwest::Response) -> T {
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The response must be an error with this status and code.
pub async fn error(resp: reqwest::Response, status: u16, code: ErrorCode) -> ErrorBody {
    assert_eq!(resp.status().as_u16(), status, "{:?}", resp.headers());
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: ErrorBody = resp.json().await.unwrap();
    assert_eq!(body.code, code, "{body:?}");
    body
}

#[tokio::test]
async fn enrol_push_pull_round_trip() {
    let c = Centre::start().await;
    let (dev, auth) = c.enrol(c.world.village_a).await;
    assert_eq!(dev.village_name.zh, "王家村");
    let r = resident(1);
    let a = application(r.id);
    let events = [upsert(&r), submit(&a)];
    let first: PushResponse = ok_json(c.push(&dev.token, &events).await).await;
    assert!(first.outcomes.iter().all(|o| o.result == EventResult::Applied));
    assert_eq!(first.outcomes.iter().map(|o| o.event_id).collect::<Vec<_>>(), events.iter().map(|e| e.id).collect::<Vec<_>>());
    let replay: PushResponse = ok_json(c.push(&dev.token, &events).await).await;
    assert_eq!(replay, first, "a replay gets the same answer");

    let page = c.pull(&dev.token, 0).await;
    assert!(matches!(page.changes[0].body, ChangeBody::Catalogue { .. }));
    assert!(
        matches!(page.changes[1].body, ChangeBody::Received { application_id, revision: 1, deadline: Some(_) } if application_id == a.id)
    );
    assert_eq!((page.cursor, page.more), (2, false));
    let ret = Decision::Return {
        reason: daiban_proto::text::Remark::parse("户口簿本人页缺失").unwrap(),
        materials: vec!["household_register".into()],
    };
    c.world.store.decide(c.world.reviewer, a.id, 1, ret.clone()).await.unwrap();
    let next = c.pull(&dev.token, page.cursor).await;
    assert!(
        matches!(&next.changes[..], [ch] if matches!(&ch.body, ChangeBody::Decision { decision, by, .. } if *decision == ret && by == "李审核"))
    );
    assert_eq!(next.cursor, 3);

    let missing: PhotosMissingResponse = ok_json(
        c.request(reqwest::Method::POST, "/api/v1/photos/missing", Some(&dev.token))
            .json(&PhotosMissingRequest { hashes: a.photos().map(|p| p.hash).collect() })
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(missing.missing, a.photos().map(|p| p.hash).collect::<Vec<_>>());
    let devices = c.world.store.devices(c.world.township).await.unwrap();
    let d = devices.iter().find(|d| d.id == auth.device_id).unwrap();
    assert_eq!(d.queue_len, 3, "queue length reported by the push");
    c.stop().await;
}

#[tokio::test]
async fn auth_failures() {
    let c = Centre::start().await;
    let (dev, auth) = c.enrol(c.world.village_a).await;
    let (other, _) = c.enrol(c.world.village_b).await;
    let r = resident(2);
    ok_json::<PushResponse>(c.push(&dev.token, &[upsert(&r)]).await).await;

    let no_token = c.request(reqwest::Method::GET, "/api/v1/changes", None).send().await.unwrap();
    error(no_token, 401, ErrorCode::Unauthorized).await;
    let bad = c.request(reqwest::Method::GET, "/api/v1/changes", Some("dbn_forged")).send().await.unwrap();
    error(bad, 401, ErrorCode::Unauthorized).await;
    let bad_code = c
        .request(reqwest::Method::POST, "/api/v1/enrol", None)
        .json(&EnrolRequest { code: "AAAA-BBBB".into(), device_name: "x".into(), device_key: None })
        .send()
        .await
        .unwrap();
    let body = error(bad_code, 403, ErrorCode::EnrolmentCode).await;
    assert!(body.message.starts_with("注册码"), "{}", body.message);

    // another village's device may not touch this village's resident
    let resp: PushResponse = ok_json(c.push(&other.token, &[upsert(&r)]).await).await;
    assert!(
        matches!(&resp.outcomes[0].result, EventResult::Rejected { code: ErrorCode::Forbidden, message } if message.contains("其他村"))
    );
    assert!(c.pull(&other.token, 0).await.changes.iter().all(|ch| matches!(ch.body, ChangeBody::Catalogue { .. })));

    // revocation takes effect on the very next request
    c.world.store.revoke_device(c.world.admin, auth.device_id).await.unwrap();
    let revoked = c.push(&dev.token, &[upsert(&resident(3))]).await;
    error(revoked, 401, ErrorCode::Revoked).await;
    let revoked = c.request(reqwest::Method::GET, "/api/v1/changes", Some(&dev.token)).send().await.unwrap();
    error(revoked, 401, ErrorCode::Revoked).await;
    c.stop().await;
}

#[tokio::test]
async fn protocol_version_is_checked() {
    let c = Centre::start().await;
    let (dev, _) = c.enrol(c.world.village_a).await;
    let missing = c.http.get(c.url("/api/v1/changes")).bearer_auth(&dev.token).send().await.unwrap();
    error(missing, 400, ErrorCode::ProtocolVersion).await;
    let newer = c.http.get(c.url("/api/v1/changes")).bearer_auth(&dev.token).header(PROTOCOL_HEADER, "2").send().await.unwrap();
    let body = error(newer, 426, ErrorCode::ProtocolVersion).await;
    assert!(body.message.contains("升级"), "{}", body.message);
    let garbage = c.http.post(c.url("/api/v1/enrol")).header(PROTOCOL_HEADER, "v1").json(&serde_json::json!({})).send().await.unwrap();
    error(garbage, 400, ErrorCode::ProtocolVersion).await;
    // tus speaks its own version header
    let tus = c.http.post(c.url("/api/v1/uploads")).bearer_auth(&dev.token).header("Upload-Length", "10").send().await.unwrap();
    assert_eq!(tus.headers()["tus-version"], "1.0.0");
    assert_eq!(tus.headers()["tus-resumable"], "1.0.0");
    error(tus, 412, ErrorCode::ProtocolVersion).await;
    c.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_clear_errors() {
    let c = Centre::start().await;
    let (dev, _) = c.enrol(c.world.village_a).await;
    let huge = vec![b'x'; JSON_LIMIT + 1];
    let resp = c
        .request(reqwest::Method::POST, "/api/v1/push", Some(&dev.token))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    error(resp, 413, ErrorCode::PayloadTooLarge).await;
    let many: Vec<Event> = (0..101).map(|i| upsert(&resident(i))).collect();
    let body = error(c.push(&dev.token, &many).await, 413, ErrorCode::PayloadTooLarge).await;
    assert_eq!(body.field.as_deref(), Some("events"));

    let malformed = c
        .request(reqwest::Method::POST, "/api/v1/push", Some(&dev.token))
        .header("content-type", "application/json")
        .body("{\"events\": [")
        .send()
        .await
        .unwrap();
    error(malformed, 400, ErrorCode::BadRequest).await;
    let mut bad_id = serde_json::to_value(PushRequest { events: vec![upsert(&resident(1))], queue_len: 0 }).unwrap();
    bad_id["events"][0]["resident"]["id_number"] = "110105194912310021".into();
    let resp = c.request(reqwest::Method::POST, "/api/v1/push", Some(&dev.token)).json(&bad_id).send().await.unwrap();
    let body = error(resp, 400, ErrorCode::BadRequest).await;
    assert!(body.message.contains("身份证号校验位"), "{}", body.message);
    assert!(!body.message.contains("110105194912310021"), "the full ID number is not echoed back");
    let cursor = c.request(reqwest::Method::GET, "/api/v1/changes?after=-5", Some(&dev.token)).send().await.unwrap();
    error(cursor, 400, ErrorCode::BadRequest).await;
    let cursor = c.request(reqwest::Method::GET, "/api/v1/changes?after=abc", Some(&dev.token)).send().await.unwrap();
    error(cursor, 400, ErrorCode::BadRequest).await;
    c.stop().await;
}

#[tokio::test]
async fn openapi_lists_every_route_the_router_serves() {
    let doc = serde_json::to_value(api::openapi()).unwrap();
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    documented.sort();
    let served = [
        ("GET", "/api/openapi.json"),
        ("GET", "/api/v1/changes"),
        ("POST", "/api/v1/enrol"),
        ("POST", "/api/v1/photos/missing"),
        ("POST", "/api/v1/push"),
        ("OPTIONS", "/api/v1/uploads"),
        ("POST", "/api/v1/uploads"),
        ("HEAD", "/api/v1/uploads/{id}"),
        ("PATCH", "/api/v1/uploads/{id}"),
    ];
    let mut want: Vec<(String, String)> = served.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    want.sort();
    assert_eq!(documented, want);
    // and each documented operation is really routed: an unrouted one would get the
    // fallback's "no such endpoint" (404) or 405, a routed one reaches its handler (JSON error
    // or success)
    let c = Centre::start().await;
    for (method, path) in &documented {
        let url = c.url(&path.replace("{id}", "0123456789abcdef0123456789abcdef"));
        let resp = c.http.request(method.parse().unwrap(), url).send().await.unwrap();
        let status = resp.status();
        let json = resp.headers().get("content-type").is_some_and(|v| v == "application/json");
        let text = resp.text().await.unwrap();
        let routed = status.is_success() || (json && !text.contains("no such endpoint"));
        assert!(routed && status != StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {status} {text}");
    }
    let served = c.http.get(c.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&served.text().await.unwrap()).unwrap(), doc);
    c.stop().await;
}

#[tokio::test]
async fn the_health_check_answers_without_a_login() {
    let c = Centre::start().await;
    let resp = c.http.get(c.url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<serde_json::Value>().await.unwrap()["status"], "ok");
    c.stop().await;
}

#[tokio::test]
async fn sync_answers_are_gzipped_for_clients_that_ask_and_staff_pages_are_not() {
    let c = Centre::start().await;
    let (dev, _) = c.enrol(c.world.village_a).await;
    // the world's township has published its catalogue: the first pull carries it
    // a client that decodes nothing by itself, so the encoding stays visible
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let pull = |gzip: bool| {
        let r = raw.get(c.url("/api/v1/changes?after=0")).header(PROTOCOL_HEADER, "1").bearer_auth(&dev.token);
        if gzip {
            r.header("accept-encoding", "gzip")
        } else {
            r
        }
    };
    let plain = pull(false).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let zipped = pull(true).send().await.unwrap();
    assert_eq!(zipped.status(), 200);
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let zipped = zipped.bytes().await.unwrap();
    let mut decoded = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut decoded).unwrap();
    let (a, b): (PullResponse, PullResponse) = (serde_json::from_slice(&plain).unwrap(), serde_json::from_slice(&decoded).unwrap());
    assert_eq!(a, b, "the same answer");
    assert!(!a.changes.is_empty(), "the catalogue is in the feed");
    assert!(zipped.len() * 3 < plain.len(), "catalogue JSON compresses well: {} of {} bytes", zipped.len(), plain.len());

    let page = raw.get(c.url("/staff/login")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers().get("content-encoding").is_none(), "staff pages carry CSRF tokens: never compressed");
}
