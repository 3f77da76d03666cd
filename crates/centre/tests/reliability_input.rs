//! Bad input, two ways.
//!
//! 1. **A corpus of hostile requests** sent over HTTP to the real `daiban-centre` binary:
//!    oversize and malformed bodies, wrong content types and protocol versions, invalid ID
//!    numbers, overlong strings, path tricks in upload ids and photo hashes, wrong checksums,
//!    truncated / corrupt / bomb / non-JPEG photos, forged tokens. Each must get its 4xx with
//!    a machine-readable `ErrorBody` (code, Chinese-first message); after each one the server
//!    is still up and serves a normal request, and at the end nothing stored has changed (a
//!    digest of every record table). Then text full of SQL metacharacters, path tricks and
//!    control characters in every free-text field is accepted and stored exactly as sent
//!    (control characters aside, which the protocol strips).
//! 2. **Property-based decoding** (proptest, a bounded number of cases): random bytes and
//!    mutations of valid requests thrown at the router in process — push bodies, pull
//!    cursors, enrolment bodies, tus headers — never get a 5xx, and every 4xx is an
//!    `ErrorBody`; random and mutated files never get past [`daiban_centre::photo_check`]
//!    unless they are whole JPEGs of a sane size, and the check never panics.
//!
//! `DAIBAN_LONG=1` runs 20× the property cases.

mod reliability_support;

use axum::body::Body;
use daiban_centre::api::{self, ApiConfig, AppState};
use daiban_centre::blobs::FsPhotoBlobs;
use daiban_centre::photo_check;
use daiban_proto::sync::{ErrorBody, ErrorCode, Event, EventResult, PushRequest, PROTOCOL_HEADER};
use daiban_proto::text::{Address, PersonName, Remark};
use daiban_proto::PhotoHash;
use proptest::prelude::*;
use reliability_support::store::*;
use reliability_support::*;
use reqwest::Method;
use std::sync::Arc;
use tower::ServiceExt;

fn long() -> bool {
    std::env::var("DAIBAN_LONG").is_ok_and(|v| v == "1")
}

/// The answer must be `status` with an `ErrorBody` of `code` whose message starts in Chinese.
async fn refused(what: &str, resp: reqwest::Response, status: u16, code: ErrorCode) -> ErrorBody {
    let got = resp.status().as_u16();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    assert_eq!(ct.as_deref(), Some("application/json"), "{what}");
    let body: ErrorBody = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not an ErrorBody ({e}): {text}"));
    assert_eq!(body.code, code, "{what}: {body:?}");
    let chinese = body.message.find(|c: char| ('\u{4e00}'..='\u{9fff}').contains(&c));
    let english = body.message.find("/ ");
    assert!(chinese.is_some() && chinese < english, "{what}: a Chinese message first: {}", body.message);
    body
}

/// A JPEG whose SOF0 header claims 60000×60000 pixels (a decompression bomb).
fn bomb(jpeg: &[u8]) -> Vec<u8> {
    let mut b = jpeg.to_vec();
    let sof = b.windows(2).position(|w| w == [0xFF, 0xC0]).expect("baseline JPEG");
    b[sof + 5..sof + 9].copy_from_slice(&[0xEA, 0x60, 0xEA, 0x60]);
    b
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_clear_refusals_and_damage_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let codes = seed_world(dir.path(), 2).await;
    let mut centre = CentreProcess::start(dir.path(), &[]);
    let base = centre.url();
    let http = http_client();
    let dev = SimDevice::new(&base, enrol(&http, &base, &codes[0]).await.unwrap().token, http.clone(), Arc::default());
    let token = dev.token.clone();
    let unpooled = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let fresh = SimDevice::new(&base, token.clone(), unpooled, Arc::default());

    // One good application whose materials also name hostile "photos" (so the centre lets
    // them be uploaded and must look at their bytes).
    let good = variant(&base_jpeg(), 1);
    let mut truncated = variant(&good, 2);
    truncated.truncate(truncated.len() * 2 / 3);
    let mut corrupt = vec![0xFF, 0xD8, 0xFF];
    corrupt.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0\x90\x91h6".to_vec();
    let bad_photos: Vec<(&str, Vec<u8>)> = vec![
        ("truncated JPEG", truncated),
        ("corrupt JPEG", corrupt),
        ("bomb JPEG (60000×60000 header)", bomb(&variant(&good, 3))),
        ("PNG instead of JPEG", png),
        ("plain text", b"../../etc/passwd\0; DROP TABLE photos;--".to_vec()),
    ];
    let r = resident_n(1);
    let mut photos = vec![good.clone()];
    photos.extend(bad_photos.iter().map(|(_, b)| b.clone()));
    let a = application_with(&r, &photos);
    let out = dev.push(&[upsert(&r), submit(&a)]).await.unwrap();
    assert!(out.iter().all(|o| o.result == EventResult::Applied), "{out:?}");
    let db = CentreProcess::db_path(dir.path());
    let before = db_digest(&db);

    let req = |m: Method, path: &str| http.request(m, format!("{base}{path}")).header(PROTOCOL_HEADER, "1").bearer_auth(&token);
    let tus = |m: Method, path: &str| http.request(m, format!("{base}{path}")).header("Tus-Resumable", "1.0.0").bearer_auth(&token);
    let push_json = |body: serde_json::Value| req(Method::POST, "/api/v1/push").json(&body);
    let valid_push = serde_json::to_value(PushRequest { events: vec![upsert(&resident_n(2))], queue_len: 0 }).unwrap();
    let with = |path: &[&str], value: serde_json::Value| {
        let mut v = valid_push.clone();
        let mut at = &mut v;
        for p in path {
            at = match p.parse::<usize>() {
                Ok(i) => &mut at[i],
                Err(_) => &mut at[*p],
            };
        }
        *at = value;
        v
    };
    let full_id = r.id_number.expose().to_string();
    let mut wrong_check = full_id.clone();
    wrong_check.replace_range(17.., if full_id.ends_with('0') { "1" } else { "0" });

    use ErrorCode::*;
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, ErrorCode)> = vec![
        (
            "oversize body (9 MiB)",
            req(Method::POST, "/api/v1/push")
                .header("content-type", "application/json")
                .body(format!("{{\"events\":[],\"x\":\"{}\"}}", "x".repeat(9 << 20))),
            413,
            PayloadTooLarge,
        ),
        (
            "101 events in one push",
            push_json(
                serde_json::to_value(PushRequest { events: (0..101).map(|i| upsert(&resident_n(i))).collect(), queue_len: 0 }).unwrap(),
            ),
            413,
            PayloadTooLarge,
        ),
        (
            "truncated JSON",
            req(Method::POST, "/api/v1/push").header("content-type", "application/json").body("{\"events\": ["),
            400,
            BadRequest,
        ),
        ("JSON of the wrong shape", push_json(serde_json::json!({"events": "all of them"})), 400, BadRequest),
        ("JSON null", push_json(serde_json::Value::Null), 400, BadRequest),
        ("empty body", req(Method::POST, "/api/v1/push").header("content-type", "application/json"), 400, BadRequest),
        (
            "JSON nested 100,000 deep",
            req(Method::POST, "/api/v1/push").header("content-type", "application/json").body("[".repeat(100_000)),
            400,
            BadRequest,
        ),
        (
            "invalid UTF-8",
            req(Method::POST, "/api/v1/push").header("content-type", "application/json").body(vec![b'{', 0xFF, 0xFE, b'}']),
            400,
            BadRequest,
        ),
        ("number beyond u32", push_json(serde_json::json!({"events": [], "queue_len": 1e300})), 400, BadRequest),
        ("unknown event type", push_json(with(&["events", "0", "type"], "drop_table".into())), 400, BadRequest),
        ("event id not a UUID", push_json(with(&["events", "0", "id"], "../../etc/passwd".into())), 400, BadRequest),
        (
            "text/plain body",
            req(Method::POST, "/api/v1/push").header("content-type", "text/plain").body(valid_push.to_string()),
            415,
            BadRequest,
        ),
        ("no content type", req(Method::POST, "/api/v1/push").body(valid_push.to_string()), 415, BadRequest),
        (
            "protocol version 2",
            http.get(format!("{base}/api/v1/changes")).header(PROTOCOL_HEADER, "2").bearer_auth(&token),
            426,
            ProtocolVersion,
        ),
        (
            "protocol version 0",
            http.get(format!("{base}/api/v1/changes")).header(PROTOCOL_HEADER, "0").bearer_auth(&token),
            426,
            ProtocolVersion,
        ),
        (
            "protocol version with SQL",
            http.get(format!("{base}/api/v1/changes")).header(PROTOCOL_HEADER, "1; DROP TABLE devices").bearer_auth(&token),
            400,
            ProtocolVersion,
        ),
        (
            "protocol version beyond u32",
            http.get(format!("{base}/api/v1/changes")).header(PROTOCOL_HEADER, "99999999999999999999").bearer_auth(&token),
            400,
            ProtocolVersion,
        ),
        ("no protocol header", http.get(format!("{base}/api/v1/changes")).bearer_auth(&token), 400, ProtocolVersion),
        (
            "ID number with a wrong check digit",
            push_json(with(&["events", "0", "resident", "id_number"], wrong_check.into())),
            400,
            BadRequest,
        ),
        (
            "ID number as a JSON number",
            push_json(with(&["events", "0", "resident", "id_number"], serde_json::json!(370611195003011234u64))),
            400,
            BadRequest,
        ),
        ("17-character ID number", push_json(with(&["events", "0", "resident", "id_number"], full_id[..17].into())), 400, BadRequest),
        (
            "ID number with letters",
            push_json(with(&["events", "0", "resident", "id_number"], "37061119500301ABCD".into())),
            400,
            BadRequest,
        ),
        ("name of 10,000 characters", push_json(with(&["events", "0", "resident", "name"], "王".repeat(10_000).into())), 400, BadRequest),
        (
            "address of 100,000 characters",
            push_json(with(&["events", "0", "resident", "address"], "东".repeat(100_000).into())),
            400,
            BadRequest,
        ),
        ("empty name", push_json(with(&["events", "0", "resident", "name"], " \u{0} ".into())), 400, BadRequest),
        ("phone with SQL", push_json(with(&["events", "0", "resident", "phone"], "138'; DROP TABLE residents;--".into())), 400, BadRequest),
        (
            "photo hash with a path",
            req(Method::POST, "/api/v1/photos/missing").json(&serde_json::json!({"hashes": ["../../../etc/passwd"]})),
            400,
            BadRequest,
        ),
        (
            "photo hash with NUL",
            req(Method::POST, "/api/v1/photos/missing").json(&serde_json::json!({"hashes": [format!("{}\0", "a".repeat(63))]})),
            400,
            BadRequest,
        ),
        (
            "2,001 hashes",
            req(Method::POST, "/api/v1/photos/missing").json(&serde_json::json!({"hashes": vec![PhotoHash::of(b"x").to_hex(); 2001]})),
            413,
            PayloadTooLarge,
        ),
        ("cursor -1", req(Method::GET, "/api/v1/changes?after=-1"), 400, BadRequest),
        ("cursor not a number", req(Method::GET, "/api/v1/changes?after=1%27%20OR%201%3D1"), 400, BadRequest),
        ("cursor 1e99", req(Method::GET, "/api/v1/changes?after=1e99"), 400, BadRequest),
        ("cursor NUL", req(Method::GET, "/api/v1/changes?after=%00"), 400, BadRequest),
        (
            "enrolment code with SQL",
            req(Method::POST, "/api/v1/enrol").json(&serde_json::json!({"code": "' OR 1=1 --", "device_name": "x"})),
            403,
            EnrolmentCode,
        ),
        (
            "enrolment code of 1 MiB",
            req(Method::POST, "/api/v1/enrol").json(&serde_json::json!({"code": "A".repeat(1 << 20), "device_name": "x"})),
            403,
            EnrolmentCode,
        ),
        (
            "device name of 10,000 characters",
            req(Method::POST, "/api/v1/enrol").json(&serde_json::json!({"code": codes[1], "device_name": "机".repeat(10_000)})),
            422,
            Validation,
        ),
        (
            "device name of control characters",
            req(Method::POST, "/api/v1/enrol").json(&serde_json::json!({"code": codes[1], "device_name": "\u{0}\u{7}\u{1b}"})),
            422,
            Validation,
        ),
        (
            "token of 10,000 characters",
            http.get(format!("{base}/api/v1/changes")).header(PROTOCOL_HEADER, "1").bearer_auth("x".repeat(10_000)),
            401,
            Unauthorized,
        ),
        (
            "token with SQL",
            http.get(format!("{base}/api/v1/changes")).header(PROTOCOL_HEADER, "1").bearer_auth("' OR '1'='1"),
            401,
            Unauthorized,
        ),
        (
            "Basic instead of Bearer",
            http.get(format!("{base}/api/v1/changes")).header(PROTOCOL_HEADER, "1").basic_auth("admin", Some("admin")),
            401,
            Unauthorized,
        ),
        (
            "upload id ../",
            tus(Method::PATCH, "/api/v1/uploads/..%2F..%2Fcentre.sqlite3")
                .header("content-type", "application/offset+octet-stream")
                .header("Upload-Offset", "0")
                .body("x"),
            404,
            NotFound,
        ),
        (
            "upload id %2e%2e",
            tus(Method::PATCH, "/api/v1/uploads/%2e%2e")
                .header("content-type", "application/offset+octet-stream")
                .header("Upload-Offset", "0")
                .body("x"),
            404,
            NotFound,
        ),
        (
            "upload id with NUL",
            tus(Method::PATCH, "/api/v1/uploads/abc%00def")
                .header("content-type", "application/offset+octet-stream")
                .header("Upload-Offset", "0")
                .body("x"),
            404,
            NotFound,
        ),
        ("unknown endpoint", req(Method::GET, "/api/v1/residents/..%2f..%2fetc%2fpasswd"), 404, NotFound),
        ("method not allowed", req(Method::DELETE, "/api/v1/push"), 405, BadRequest),
        (
            "sha256 metadata with a path",
            tus(Method::POST, "/api/v1/uploads")
                .header("Upload-Length", "10")
                .header("Upload-Metadata", format!("sha256 {}", b64(b"../../etc/passwd"))),
            400,
            BadRequest,
        ),
        (
            "metadata not base64",
            tus(Method::POST, "/api/v1/uploads").header("Upload-Length", "10").header("Upload-Metadata", "sha256 ../../etc"),
            400,
            BadRequest,
        ),
        (
            "Upload-Length -1",
            tus(Method::POST, "/api/v1/uploads")
                .header("Upload-Length", "-1")
                .header("Upload-Metadata", format!("sha256 {}", b64(PhotoHash::of(&good).to_hex().as_bytes()))),
            400,
            BadRequest,
        ),
        (
            "Upload-Length 0",
            tus(Method::POST, "/api/v1/uploads")
                .header("Upload-Length", "0")
                .header("Upload-Metadata", format!("sha256 {}", b64(PhotoHash::of(&good).to_hex().as_bytes()))),
            400,
            BadRequest,
        ),
        (
            "Upload-Length beyond u64",
            tus(Method::POST, "/api/v1/uploads")
                .header("Upload-Length", "99999999999999999999999")
                .header("Upload-Metadata", format!("sha256 {}", b64(PhotoHash::of(&good).to_hex().as_bytes()))),
            400,
            BadRequest,
        ),
        (
            "Upload-Length 1 GiB",
            tus(Method::POST, "/api/v1/uploads")
                .header("Upload-Length", (1u64 << 30).to_string())
                .header("Upload-Metadata", format!("sha256 {}", b64(PhotoHash::of(&good).to_hex().as_bytes()))),
            413,
            PayloadTooLarge,
        ),
        (
            "deferred length",
            tus(Method::POST, "/api/v1/uploads")
                .header("Upload-Defer-Length", "1")
                .header("Upload-Metadata", format!("sha256 {}", b64(PhotoHash::of(&good).to_hex().as_bytes()))),
            400,
            BadRequest,
        ),
        (
            "photo no application refers to",
            tus(Method::POST, "/api/v1/uploads")
                .header("Upload-Length", "10")
                .header("Upload-Metadata", format!("sha256 {}", b64(PhotoHash::of(b"never pushed").to_hex().as_bytes()))),
            403,
            Forbidden,
        ),
        (
            "no Tus-Resumable",
            http.post(format!("{base}/api/v1/uploads")).bearer_auth(&token).header("Upload-Length", "10"),
            412,
            ProtocolVersion,
        ),
    ];
    let n_cases = cases.len();
    for (what, request, status, code) in cases {
        let resp = request.send().await.unwrap_or_else(|e| panic!("{what}: no answer: {e}"));
        let body = refused(what, resp, status, code).await;
        if what.starts_with("ID number") {
            assert!(!body.message.contains(&full_id[..14]), "{what}: the ID number is not echoed back: {}", body.message);
        }
        assert!(centre.alive(), "{what}: the centre died");
        // (on a fresh connection: the server rightly closes one whose body it refused unread)
        fresh.pull(0).await.unwrap_or_else(|e| panic!("after {what}: a normal request fails: {e:?}"));
    }

    // Checksums and photos that are not photos, through the whole tus exchange.
    let (url, _) = dev.tus_create(&good).await.unwrap();
    let patch = |body: &[u8], offset: usize, checksum: &str| {
        http.patch(&url)
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("Upload-Offset", offset.to_string())
            .header("Upload-Checksum", checksum.to_string())
            .body(body.to_vec())
    };
    let chunk = &good[..4096];
    let sha = |b: &[u8]| {
        use sha2::Digest;
        format!("sha256 {}", b64(&sha2::Sha256::digest(b)))
    };
    refused("wrong chunk checksum", patch(chunk, 0, &sha(b"other")).send().await.unwrap(), 460, ChecksumMismatch).await;
    refused("checksum without digest", patch(chunk, 0, "sha256").send().await.unwrap(), 400, BadRequest).await;
    refused("checksum md5", patch(chunk, 0, &format!("md5 {}", b64(b"0123456789abcdef"))).send().await.unwrap(), 400, BadRequest).await;
    refused("checksum not base64", patch(chunk, 0, "sha256 !!!").send().await.unwrap(), 400, BadRequest).await;
    refused("offset ahead", patch(chunk, 4096, &sha(chunk)).send().await.unwrap(), 409, Conflict).await;
    let mut long = good.clone();
    long.extend_from_slice(b"one byte too many");
    refused("more bytes than announced", patch(&long, 0, &sha(&long)).send().await.unwrap(), 413, PayloadTooLarge).await;
    assert_eq!(dev.tus_head(&url).await.unwrap(), 0, "nothing of the refused chunks was kept");
    let mut forged = good.clone();
    let mid = forged.len() / 2;
    forged[mid] ^= 0x55;
    refused("whole photo not matching its sha256", patch(&forged, 0, &sha(&forged)).send().await.unwrap(), 460, ChecksumMismatch).await;
    for (what, bytes) in &bad_photos {
        let (url, offset) = dev.tus_create(bytes).await.unwrap();
        assert_eq!(offset, 0);
        let resp = http
            .patch(&url)
            .bearer_auth(&token)
            .header("Tus-Resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("Upload-Offset", "0")
            .header("Upload-Checksum", sha(bytes))
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        let body = refused(what, resp, 422, Validation).await;
        assert_eq!(body.field.as_deref(), Some("photo"), "{what}");
        assert!(matches!(dev.tus_head(&url).await, Err(Failure::Status(reqwest::StatusCode::NOT_FOUND, _))), "{what}: upload discarded");
        assert_eq!(dev.missing(vec![PhotoHash::of(bytes)]).await.unwrap().len(), 1, "{what}: not stored");
        assert!(centre.alive());
    }
    assert_eq!(db_digest(&db), before, "nothing stored changed");

    // Events that parse but must be refused one by one (quarantined on the phone): stored as
    // refusals, nothing else changes.
    let mut refused_events: Vec<(&str, Event)> = Vec::new();
    let app_with = |f: &dyn Fn(&mut daiban_proto::ApplicationRecord)| {
        let mut x = application_with(&r, std::slice::from_ref(&good));
        f(&mut x);
        submit(&x)
    };
    refused_events.push(("item code with a path", app_with(&|x| x.items = vec!["../../etc/passwd".into()])));
    refused_events.push(("item code with SQL", app_with(&|x| x.items = vec!["elderly_card'; DROP TABLE applications;--".into()])));
    refused_events.push(("material code with NUL", app_with(&|x| x.materials[0].code = "id_card\0".into())));
    refused_events.push(("bundle with a path", app_with(&|x| x.bundle = Some("..%2f..%2f".into()))));
    refused_events.push(("catalogue version 4294967295", app_with(&|x| x.catalogue_version = u32::MAX)));
    refused_events.push(("revision 0", app_with(&|x| x.revision = 0)));
    refused_events.push((
        "form answer of 10,000 characters",
        app_with(&|x| {
            x.fields.insert("phone".into(), "1".repeat(10_000));
        }),
    ));
    refused_events.push(("1,000 form answers", app_with(&|x| x.fields = (0..1000).map(|i| (format!("f{i}"), "x".into())).collect())));
    refused_events.push((
        "form key of 1,000 characters",
        app_with(&|x| {
            x.fields.insert("k".repeat(1000), "x".into());
        }),
    ));
    refused_events.push(("resident nobody sent", app_with(&|x| x.resident_id = daiban_proto::ResidentId::new())));
    let before = db_digest_of(&db, &[]);
    for (what, e) in &refused_events {
        let out = dev.push(std::slice::from_ref(e)).await.unwrap();
        assert!(matches!(&out[0].result, EventResult::Rejected { .. }), "{what}: {:?}", out[0].result);
    }
    assert_eq!(db_digest_of(&db, &[]), before, "refused events changed no record");

    // Hostile but valid text is kept exactly as sent.
    let nasty = "O'Brien\"; DROP TABLE residents;-- ../../etc/passwd %2e%2e%2f <script>alert(1)</script> 王'秀\\英";
    let mut r2 = resident_n(3);
    r2.name = PersonName::parse(&nasty.chars().take(40).collect::<String>()).unwrap();
    r2.address = Some(Address::parse(nasty).unwrap());
    r2.village_group = Some(Address::parse("第三组\u{0}\u{7}'; --").unwrap());
    let mut a2 = application_with(&r2, std::slice::from_ref(&good));
    a2.note = Some(Remark::parse(nasty).unwrap());
    a2.fields.insert("emergency_contact".into(), nasty.into());
    a2.fields.insert("'; DROP TABLE applications;--".into(), "%00\u{0}../".into());
    let out = dev.push(&[upsert(&r2), submit(&a2)]).await.unwrap();
    assert!(out.iter().all(|o| o.result == EventResult::Applied), "{out:?}");
    let stored: Vec<String> = db_query(&db, &format!("SELECT record FROM residents WHERE id = X'{}'", r2.id.as_uuid().simple()));
    assert_eq!(serde_json::from_str::<daiban_proto::ResidentRecord>(&stored[0]).unwrap(), r2, "resident stored as sent");
    let stored: Vec<String> =
        db_query(&db, &format!("SELECT record FROM application_revisions WHERE application_id = X'{}'", a2.id.as_uuid().simple()));
    assert_eq!(serde_json::from_str::<daiban_proto::ApplicationRecord>(&stored[0]).unwrap(), a2, "application stored as sent");
    assert_eq!(db_query::<i64>(&db, "SELECT count(*) FROM applications"), vec![2]);
    assert_eq!(db_query::<String>(&db, "PRAGMA integrity_check"), vec!["ok".to_string()]);
    eprintln!(
        "hostile input: {} refused requests, {} refused photos, {} refused events; server up throughout, records unchanged; hostile-but-valid text stored verbatim",
        n_cases + 7,
        bad_photos.len(),
        refused_events.len()
    );
}

// ------------------------------------------------------------------ property-based decoding

/// The router in process over a seeded SQLite world, with a device token, on a runtime the
/// (synchronous) proptest closures block on.
struct InProcess {
    rt: tokio::runtime::Runtime,
    router: axum::Router,
    token: String,
    valid_push: String,
    _dir: tempfile::TempDir,
    _store: TestStore,
}

impl InProcess {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (store, router, token) = rt.block_on(async {
            let store = sqlite_store().await;
            let w = world(store.store.clone()).await;
            let (_, token) = w.device(w.village_a).await;
            let blobs = Arc::new(FsPhotoBlobs::new(dir.path().join("photos")).unwrap());
            let state = AppState::new(w.store.clone(), blobs, ApiConfig::new(dir.path().join("uploads"))).unwrap();
            (store, api::router(state), token)
        });
        let r = resident_n(7);
        let a = application_with(&r, &[variant(&base_jpeg(), 7)]);
        let valid_push = serde_json::to_string(&PushRequest { events: vec![upsert(&r), submit(&a)], queue_len: 1 }).unwrap();
        Self { rt, router, token, valid_push, _dir: dir, _store: store }
    }

    /// Send a request; panic (fail the property) on a 5xx or a 4xx that is not an ErrorBody.
    fn send(&self, req: axum::http::Request<Body>) -> u16 {
        let what = format!("{} {}", req.method(), req.uri());
        let head = req.method() == axum::http::Method::HEAD;
        self.rt.block_on(async {
            let resp = self.router.clone().oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
            assert!(!status.is_server_error(), "{what}: {status}: {}", String::from_utf8_lossy(&bytes));
            // (an answer to HEAD has no body, by HTTP's rules)
            if status.is_client_error() && !head {
                let body: Result<ErrorBody, _> = serde_json::from_slice(&bytes);
                assert!(body.is_ok(), "{what}: {status} without an ErrorBody: {}", String::from_utf8_lossy(&bytes));
            }
            status.as_u16()
        })
    }

    fn api(&self, method: &str, uri: &str) -> axum::http::request::Builder {
        axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(PROTOCOL_HEADER, "1")
            .header("authorization", format!("Bearer {}", self.token))
    }
}

fn config() -> ProptestConfig {
    ProptestConfig { cases: if long() { 10_000 } else { 500 }, failure_persistence: None, ..ProptestConfig::default() }
}

/// Byte-level edits of a valid body: replace, insert or delete at random places.
fn mutate(base: &str, edits: &[(usize, u8, u8)]) -> Vec<u8> {
    let mut b = base.as_bytes().to_vec();
    for &(pos, byte, op) in edits {
        let at = pos % (b.len() + 1);
        match op % 3 {
            0 if at < b.len() => b[at] = byte,
            1 => b.insert(at, byte),
            _ if at < b.len() => {
                b.remove(at);
            }
            _ => {}
        }
    }
    b
}

#[test]
fn push_decoding_never_fails_the_server() {
    let c = InProcess::new();
    proptest!(config(), |(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..8), raw in proptest::collection::vec(any::<u8>(), 0..300))| {
        for body in [mutate(&c.valid_push, &edits), raw.clone()] {
            let req = c.api("POST", "/api/v1/push").header("content-type", "application/json").body(Body::from(body)).unwrap();
            c.send(req);
        }
    });
}

#[test]
fn cursor_and_enrolment_decoding_never_fails_the_server() {
    let c = InProcess::new();
    proptest!(config(), |(cursor in ".{0,40}", code in ".{0,80}", name in ".{0,80}", junk in proptest::collection::vec(any::<u8>(), 0..200))| {
        let q: String = form_urlencoded::byte_serialize(cursor.as_bytes()).collect();
        let status = c.send(c.api("GET", &format!("/api/v1/changes?after={q}")).body(Body::empty()).unwrap());
        prop_assert!(status == 200 || status == 400, "{}", status);
        let body = serde_json::json!({"code": code, "device_name": name}).to_string();
        let status = c.send(c.api("POST", "/api/v1/enrol").header("content-type", "application/json").body(Body::from(body)).unwrap());
        prop_assert!(status == 403 || status == 422, "{}", status);
        let status = c.send(c.api("POST", "/api/v1/enrol").header("content-type", "application/json").body(Body::from(junk.clone())).unwrap());
        prop_assert!(status == 400 || status == 403 || status == 422, "{}", status);
        let status = c.send(c.api("POST", "/api/v1/photos/missing").header("content-type", "application/json").body(Body::from(junk)).unwrap());
        prop_assert!(status == 400 || status == 200, "{}", status);
    });
}

/// Header values as a client could send them (visible ASCII and spaces).
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,60}",
        "[0-9]{1,25}",
        "-[0-9]{1,5}",
        "(sha256|sha1|md5|) [A-Za-z0-9+/=]{0,60}",
        "((sha256|filename|x) [A-Za-z0-9+/=]{0,50},?){0,4}",
    ]
}

#[test]
fn tus_header_decoding_never_fails_the_server() {
    let c = InProcess::new();
    proptest!(config(), |(length in header_value(), metadata in header_value(), offset in header_value(), checksum in header_value(), id in "[ -~]{0,40}", body in proptest::collection::vec(any::<u8>(), 0..64))| {
        let tus = |method: &str, uri: &str| c.api(method, uri).header("tus-resumable", "1.0.0");
        let status = c.send(tus("POST", "/api/v1/uploads").header("upload-length", &length).header("upload-metadata", &metadata).body(Body::empty()).unwrap());
        prop_assert!((400..500).contains(&status), "{}", status);
        let id: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        let uri = format!("/api/v1/uploads/{id}");
        let status = c.send(
            tus("PATCH", &uri)
                .header("content-type", "application/offset+octet-stream")
                .header("upload-offset", &offset)
                .header("upload-checksum", &checksum)
                .body(Body::from(body))
                .unwrap(),
        );
        prop_assert!((400..500).contains(&status), "{}", status);
        let status = c.send(tus("HEAD", &uri).body(Body::empty()).unwrap());
        prop_assert!((400..500).contains(&status), "{}", status);
    });
}

#[test]
fn the_photo_check_accepts_only_whole_sane_jpegs() {
    let good = base_jpeg();
    assert_eq!(photo_check::check(&good), Ok(()));
    proptest!(config(), |(edits in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6), cut in any::<usize>(), raw in proptest::collection::vec(any::<u8>(), 0..2000))| {
        let mut mutated = good.clone();
        for &(pos, byte, op) in &edits {
            let at = pos % mutated.len();
            if op % 2 == 0 { mutated[at] = byte } else { mutated.insert(at, byte) }
        }
        let truncated = &good[..cut % good.len()];
        for bytes in [&mutated[..], truncated, &raw[..]] {
            if photo_check::check(bytes).is_ok() {
                // whatever passes really is a JPEG of a sane size that ends properly
                let (w, h) = image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Jpeg).into_dimensions().unwrap();
                prop_assert!(w <= photo_check::MAX_SIDE && h <= photo_check::MAX_SIDE);
                prop_assert!(bytes.ends_with(&[0xFF, 0xD9]));
            }
        }
        prop_assert!(photo_check::check(truncated).is_err() || truncated.len() == good.len());
    });
}
