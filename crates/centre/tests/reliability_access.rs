//! The access-control matrix: every endpoint the centre serves × every kind of caller, against
//! a real centre on 127.0.0.1:0, table-driven.
//!
//! The endpoints are not listed by hand: the sync API's come from its OpenAPI document (built
//! from the same annotations as its router) and the staff UI's are read from the router's
//! source (`src/web/mod.rs`). Each must have a row in [`expectations`], so a route added
//! later fails this test until someone decides who may call it.
//!
//! Callers: nobody (no token, no session), a revoked credential (a device revoked by staff;
//! for staff pages, a session that was logged out), a device of another village of the same
//! township, a staff member of another township, and the right user (the village's device;
//! township A's admin). Every resource in a request (application, photo, upload, device,
//! village) belongs to village A of township A.
//!
//! The matrix is printed and must match the copy in `docs/reliability.md`
//! (`DAIBAN_BLESS=1` rewrites that copy).

mod web_support;

use chrono::Utc;
use daiban_proto::record::{DeliveryRecord, Proof, RatingRecord};
use daiban_proto::status::{Decision, DeliveryMode};
use daiban_proto::sync::{ChangeBody, EventBody, PushResponse, PROTOCOL_HEADER};
use daiban_proto::text::{PersonName, Remark};
use daiban_proto::{PhotoHash, Rating};
use reqwest::Method;
use std::collections::BTreeSet;
use web_support::store::*;
use web_support::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Nobody,
    Revoked,
    OtherVillageDevice,
    OtherTownshipStaff,
    RightUser,
}

const CALLERS: [(Who, &str); 5] = [
    (Who::Nobody, "no token"),
    (Who::Revoked, "revoked token / ended session"),
    (Who::OtherVillageDevice, "other village's device"),
    (Who::OtherTownshipStaff, "other township's staff"),
    (Who::RightUser, "right user"),
];

/// What each caller must get, per endpoint, in the order of [`CALLERS`].
fn expectations() -> Vec<(&'static str, [&'static str; 5])> {
    const LOGIN: &str = "→ login";
    const PUBLIC: [&str; 5] = ["✓ public"; 5];
    vec![
        ("GET /api/openapi.json", PUBLIC),
        ("OPTIONS /api/v1/uploads", PUBLIC),
        ("POST /api/v1/enrol", ["403 enrolment_code", "403 enrolment_code", "403 enrolment_code", "403 enrolment_code", "✓"]),
        ("POST /api/v1/push", ["401 unauthorized", "401 revoked", "event refused: forbidden", "401 unauthorized", "✓"]),
        ("GET /api/v1/changes", ["401 unauthorized", "401 revoked", "✓ own village only", "401 unauthorized", "✓"]),
        ("POST /api/v1/photos/missing", ["401 unauthorized", "401 revoked", "✓ own village only", "401 unauthorized", "✓"]),
        ("POST /api/v1/uploads", ["401 unauthorized", "401 revoked", "403 forbidden", "401 unauthorized", "✓"]),
        ("HEAD /api/v1/uploads/{id}", ["401", "401", "404", "401", "✓"]),
        ("PATCH /api/v1/uploads/{id}", ["401 unauthorized", "401 revoked", "404 not_found", "401 unauthorized", "✓"]),
        ("GET /", PUBLIC),
        ("GET /staff", PUBLIC),
        ("GET /staff/", PUBLIC),
        ("GET /staff/assets/style.css", PUBLIC),
        ("GET /staff/assets/app.js", PUBLIC),
        ("GET /staff/lang/{lang}", PUBLIC),
        ("GET /staff/login", PUBLIC),
        ("POST /staff/login", ["401", "401", "401", "401", "✓"]),
        // the first-run set-up of a centre without a township: gone once there is one
        ("GET /staff/setup", ["404"; 5]),
        ("POST /staff/setup", ["404"; 5]),
        ("GET /staff/inbox", [LOGIN, LOGIN, LOGIN, "✓ own township only", "✓"]),
        ("GET /staff/applications/{id}", [LOGIN, LOGIN, LOGIN, "404", "✓"]),
        ("POST /staff/applications/{id}/reveal", [LOGIN, LOGIN, LOGIN, "404", "✓"]),
        ("POST /staff/applications/{id}/decide", [LOGIN, LOGIN, LOGIN, "404", "✓"]),
        ("GET /staff/photos/{hash}", [LOGIN, LOGIN, LOGIN, "404", "✓"]),
        ("GET /staff/stats", [LOGIN, LOGIN, LOGIN, "✓ own township only", "✓"]),
        ("GET /staff/stats.csv", [LOGIN, LOGIN, LOGIN, "✓ own township only", "✓"]),
        ("POST /staff/ratings/follow-up", [LOGIN, LOGIN, LOGIN, "404", "✓"]),
        ("GET /staff/devices", [LOGIN, LOGIN, LOGIN, "✓ own township only", "✓"]),
        ("POST /staff/enrolment-codes", [LOGIN, LOGIN, LOGIN, "404", "✓"]),
        ("POST /staff/agents", [LOGIN, LOGIN, LOGIN, "404", "✓"]),
        ("POST /staff/devices/{id}/revoke", [LOGIN, LOGIN, LOGIN, "404", "✓"]),
        ("GET /staff/accounts", [LOGIN, LOGIN, LOGIN, "✓ own township only", "✓"]),
        ("POST /staff/accounts", [LOGIN, LOGIN, LOGIN, "✓ own township only", "✓"]),
        // last: it ends the caller's own session
        ("POST /staff/logout", [LOGIN, LOGIN, LOGIN, "✓ own session only", "✓"]),
    ]
}

/// Every route the server has: the sync API from its OpenAPI document, the staff UI from
/// its router's source.
fn served_routes() -> BTreeSet<String> {
    let doc = serde_json::to_value(daiban_centre::api::openapi()).unwrap();
    let mut routes: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {path}", m.to_uppercase())))
        .collect();
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/mod.rs")).unwrap();
    for line in src.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line.split('"').nth(1).unwrap();
        for method in ["get", "post", "put", "patch", "delete"] {
            if line.contains(&format!("{method}(")) || line.contains(&format!(".{method}(")) {
                routes.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(routes.len() > 20, "routes found: {routes:?}");
    routes
}

/// Township A's world as the matrix needs it.
struct Fixture {
    c: WebCentre,
    app: String,
    stored_photo: PhotoHash,
    unsent_photo: Vec<u8>,
    rated_app: String,
    upload_id: String,
    spare_device: String,
    fresh_code: String,
    tokens: [Option<String>; 5],
    cookies: [Option<String>; 5],
    csrf: [Option<String>; 5],
    /// Text only township A's data contains.
    markers: Vec<String>,
}

async fn fixture() -> Fixture {
    let c = WebCentre::start().await;
    let w = &c.world;
    let s = w.store.as_ref();
    let (device_a, token_a) = w.device(w.village_a).await;
    let (_, token_b) = w.device(w.village_b).await;
    let (revoked, token_revoked) = w.device(w.village_a).await;
    s.revoke_device(w.admin, revoked.device_id).await.unwrap();
    let (spare, _) = w.device(w.village_a).await;

    let r = named_resident(1, "王秀英", true);
    let (app, photos) = application_with_photos(&r, &["elderly_card"], &[("id_card", 2)], 1);
    c.submit(device_a, &r, &app, &photos[..1]).await;
    // a rated-badly, delivered application (for the follow-up)
    let r2 = named_resident(2, "李桂兰", true);
    let (rated, rated_photos) = application_with_photos(&r2, &["elderly_card"], &[("id_card", 1)], 2);
    c.submit(device_a, &r2, &rated, &rated_photos).await;
    for d in [
        Decision::Accept,
        Decision::Approve { item: "elderly_card".into() },
        Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
    ] {
        s.decide(w.reviewer, rated.id, 1, d).await.unwrap();
    }
    let task = s.pull(w.village_a, 0, 500).await.unwrap().changes.into_iter().find_map(|ch| match ch.body {
        ChangeBody::DeliveryTask { task } => Some(task),
        _ => None,
    });
    let task = task.unwrap();
    let (proof, _, _) = jpeg(77, 320);
    let delivery = DeliveryRecord {
        delivery_id: task.id,
        application_id: rated.id,
        item: "elderly_card".into(),
        recipient: PersonName::parse("李桂兰").unwrap(),
        proof: Proof::Photo { photo: photo_ref(&proof) },
        delivered_at: Utc::now(),
    };
    let rating = RatingRecord {
        delivery_id: task.id,
        application_id: rated.id,
        item: "elderly_card".into(),
        rating: Rating::VeryDissatisfied,
        comment: Some(Remark::parse("太慢").unwrap()),
        rated_at: Utc::now(),
    };
    push_ok(s, device_a, &[event(EventBody::DeliveryConfirmed { delivery }), event(EventBody::RatingGiven { rating })]).await;

    // an upload of device A in progress (its second photo)
    let http = reqwest::Client::new();
    let unsent = photos[1].clone();
    let created = http
        .post(c.url("/api/v1/uploads"))
        .bearer_auth(&token_a)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", unsent.len().to_string())
        .header("Upload-Metadata", format!("sha256 {}", b64(PhotoHash::of(&unsent).to_hex().as_bytes())))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let upload_id = created.headers()["location"].to_str().unwrap().rsplit('/').next().unwrap().to_string();

    let fresh_code = s.create_enrolment_code(w.admin, w.village_a, chrono::Duration::hours(1)).await.unwrap().code;
    let mut ended = StaffClient::signed_in(&c.base, "reviewer").await;
    let ended_cookie = cookie_of(&ended);
    let token = ended.get("/staff/inbox").await.csrf();
    ended.post("/staff/logout", &[("csrf", &token)]).await;
    let mut other = StaffClient::signed_in(&c.base, "other_admin").await;
    let mut right = StaffClient::signed_in(&c.base, "admin").await;
    let other_csrf = other.get("/staff/inbox").await.csrf();
    let right_csrf = right.get("/staff/inbox").await.csrf();
    let markers = vec![app.id.to_string(), "王家村".to_string(), "李审核".to_string()];
    Fixture {
        app: app.id.to_string(),
        stored_photo: PhotoHash::of(&photos[0]),
        unsent_photo: unsent,
        rated_app: rated.id.to_string(),
        upload_id,
        spare_device: spare.device_id.to_string(),
        fresh_code,
        tokens: [None, Some(token_revoked), Some(token_b), None, Some(token_a)],
        cookies: [None, Some(ended_cookie), None, Some(cookie_of(&other)), Some(cookie_of(&right))],
        csrf: [None, None, None, Some(other_csrf), Some(right_csrf)],
        markers,
        c,
    }
}

fn cookie_of(c: &StaffClient) -> String {
    c.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn index(who: Who) -> usize {
    CALLERS.iter().position(|(w, _)| *w == who).unwrap()
}

/// Make the request of `route` as `who` and name what came back.
async fn call(f: &Fixture, http: &reqwest::Client, route: &str, who: Who) -> String {
    let i = index(who);
    let (method, template) = route.split_once(' ').unwrap();
    let path = template
        .replace("/staff/applications/{id}", &format!("/staff/applications/{}", f.app))
        .replace("/api/v1/uploads/{id}", &format!("/api/v1/uploads/{}", f.upload_id))
        .replace("{hash}", &f.stored_photo.to_hex())
        .replace("/staff/devices/{id}", &format!("/staff/devices/{}", f.spare_device))
        .replace("{lang}", "en");
    let mut req =
        http.request(method.parse::<Method>().unwrap(), f.c.url(&path)).header(PROTOCOL_HEADER, "1").header("Tus-Resumable", "1.0.0");
    if let Some(t) = &f.tokens[i] {
        req = req.bearer_auth(t);
    }
    if let Some(c) = &f.cookies[i] {
        req = req.header("cookie", c);
    }
    let csrf = f.csrf[i].clone().unwrap_or_default();
    let form = |pairs: &[(&str, &str)]| {
        let mut all: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        all.push(("csrf".into(), csrf.clone()));
        all
    };
    req = match route {
        "POST /api/v1/enrol" => {
            let code = if who == Who::RightUser { f.fresh_code.clone() } else { "AAAA-BBBB".into() };
            req.json(&serde_json::json!({"code": code, "device_name": "矩阵测试"}))
        }
        "POST /api/v1/push" => {
            // a new application for village A's resident
            let resident = f.c.world.store.application(f.c.world.township, f.app.parse().unwrap()).await.unwrap().unwrap().resident_id;
            let mut a = application(resident);
            a.materials.clear();
            req.json(&serde_json::json!({"events": [submit(&a)], "queue_len": 0}))
        }
        "POST /api/v1/photos/missing" => req.json(&serde_json::json!({"hashes": [f.stored_photo]})),
        "POST /api/v1/uploads" => req
            .header("Upload-Length", f.unsent_photo.len().to_string())
            .header("Upload-Metadata", format!("sha256 {}", b64(PhotoHash::of(&f.unsent_photo).to_hex().as_bytes()))),
        "PATCH /api/v1/uploads/{id}" => {
            req.header("content-type", "application/offset+octet-stream").header("Upload-Offset", "0").body(f.unsent_photo[..1024].to_vec())
        }
        "POST /staff/login" => {
            let page = http.get(f.c.url("/staff/login")).send().await.unwrap();
            let login_cookie = page.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string();
            let body = page.text().await.unwrap();
            let at = body.find("name=\"csrf\" value=\"").unwrap() + 19;
            let token = body[at..at + body[at..].find('"').unwrap()].to_string();
            let password = if who == Who::RightUser { PASSWORD.to_string() } else { f.tokens[i].clone().unwrap_or_else(|| "guess".into()) };
            http.post(f.c.url("/staff/login")).header("cookie", login_cookie).form(&[
                ("username", "admin"),
                ("password", &password),
                ("csrf", &token),
            ])
        }
        "POST /staff/applications/{id}/reveal" | "POST /staff/devices/{id}/revoke" | "POST /staff/logout" => req.form(&form(&[])),
        "POST /staff/setup" => req.form(&[("token", "0".repeat(64))]),
        "POST /staff/applications/{id}/decide" => req.form(&form(&[("revision", "1"), ("action", "accept")])),
        "POST /staff/ratings/follow-up" => req.form(&form(&[("application", &f.rated_app), ("item", "elderly_card"), ("note", "已回访")])),
        "POST /staff/enrolment-codes" => req.form(&form(&[("village", &f.c.world.village_a.to_string()), ("valid_hours", "24")])),
        "POST /staff/agents" => {
            req.form(&form(&[("village", &f.c.world.village_a.to_string()), ("name", "张代办"), ("phone", "13900001111")]))
        }
        "POST /staff/accounts" => {
            let name = format!("new{}", i);
            req.form(&form(&[
                ("username", &name),
                ("display_name", "新同事"),
                ("password", "a long enough password"),
                ("role", "reviewer"),
            ]))
        }
        _ => req,
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").map(|v| v.to_str().unwrap().to_string());
    let body = resp.text().await.unwrap();
    name_outcome(f, route, who, status, location.as_deref(), &body)
}

fn name_outcome(f: &Fixture, route: &str, who: Who, status: u16, location: Option<&str>, body: &str) -> String {
    assert!(status < 500, "{route}: {status} {body}");
    if route == "POST /staff/logout" && location == Some("/staff/login?bye=1") {
        return if who == Who::RightUser { "✓".into() } else { "✓ own session only".into() };
    }
    if location.is_some_and(|l| l.starts_with("/staff/login")) {
        return "→ login".into();
    }
    if status >= 400 {
        return match serde_json::from_str::<daiban_proto::sync::ErrorBody>(body) {
            Ok(e) => format!("{status} {}", serde_json::to_value(e.code).unwrap().as_str().unwrap()),
            Err(_) => status.to_string(),
        };
    }
    let public = [
        "GET /api/openapi.json",
        "OPTIONS /api/v1/uploads",
        "GET /",
        "GET /staff",
        "GET /staff/",
        "GET /staff/assets/style.css",
        "GET /staff/assets/app.js",
        "GET /staff/lang/{lang}",
        "GET /staff/login",
    ];
    if public.contains(&route) {
        return "✓ public".into();
    }
    match route {
        "POST /api/v1/push" => {
            let resp: PushResponse = serde_json::from_str(body).unwrap();
            match &resp.outcomes[0].result {
                daiban_proto::sync::EventResult::Applied => "✓".into(),
                daiban_proto::sync::EventResult::Rejected { code, .. } => {
                    format!("event refused: {}", serde_json::to_value(code).unwrap().as_str().unwrap())
                }
            }
        }
        "POST /api/v1/photos/missing" => {
            let told_missing = body.contains(&f.stored_photo.to_hex());
            if told_missing {
                "✓ own village only".into()
            } else {
                "✓".into()
            }
        }
        "GET /api/v1/changes" => {
            if body.contains(&f.app) {
                "✓".into()
            } else {
                "✓ own village only".into()
            }
        }
        "POST /staff/accounts" => {
            // the new account is in the caller's own township
            if location == Some("/staff/accounts?done=1") && body.is_empty() {
                "created".into()
            } else {
                format!("{status}")
            }
        }
        r if r.starts_with("GET /staff/") && !r.contains('{') => {
            if f.markers.iter().any(|m| body.contains(m.as_str())) {
                "✓".into()
            } else {
                "✓ own township only".into()
            }
        }
        _ => "✓".into(),
    }
}

fn render(rows: &[(String, Vec<String>)]) -> String {
    let mut out = String::from("| endpoint |");
    for (_, name) in CALLERS {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(CALLERS.len()));
    out.push('\n');
    for (route, cells) in rows {
        out.push_str(&format!("| `{route}` |"));
        for c in cells {
            out.push_str(&format!(" {c} |"));
        }
        out.push('\n');
    }
    out
}

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/reliability.md");
const BEGIN: &str = "<!-- access-matrix:begin (generated by crates/centre/tests/reliability_access.rs) -->\n";
const END: &str = "<!-- access-matrix:end -->";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_admits_only_the_right_caller() {
    let expected = expectations();
    let listed: BTreeSet<String> = expected.iter().map(|(r, _)| r.to_string()).collect();
    let served = served_routes();
    let unlisted: Vec<_> = served.difference(&listed).collect();
    assert!(unlisted.is_empty(), "routes without a row in the access matrix (decide who may call them): {unlisted:?}");
    let gone: Vec<_> = listed.difference(&served).collect();
    assert!(gone.is_empty(), "matrix rows for routes that no longer exist: {gone:?}");

    let f = fixture().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut rows = Vec::new();
    let mut mismatches = Vec::new();
    for (route, want) in &expected {
        let mut cells = Vec::new();
        for (k, (who, caller)) in CALLERS.iter().enumerate() {
            let mut got = call(&f, &http, route, *who).await;
            if route == &"POST /staff/accounts" {
                // created: for the right user in township A, for the other staff in theirs
                let theirs = if *who == Who::RightUser { f.c.world.township } else { f.c.world.other_township };
                let made = f.c.world.store.staff_of(theirs).await.unwrap().iter().any(|s| s.username == format!("new{k}"));
                got = match (got.as_str(), made, *who) {
                    ("created", true, Who::RightUser) => "✓".into(),
                    ("created", true, _) => "✓ own township only".into(),
                    (other, _, _) => other.to_string(),
                };
            }
            if got != want[k] {
                mismatches.push(format!("{route} as {caller}: expected {:?}, got {got:?}", want[k]));
            }
            cells.push(got);
        }
        rows.push((route.to_string(), cells));
    }
    let table = render(&rows);
    println!("{table}");
    assert!(mismatches.is_empty(), "access matrix:\n{}", mismatches.join("\n"));
    // the right user really did things; nobody else did
    let app = f.c.world.store.application(f.c.world.township, f.app.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(app.stage, daiban_proto::status::Stage::Accepted, "only the right user's decision took effect");
    let audit = f.c.world.store.township_audit(f.c.world.township, None, 500).await.unwrap();
    assert_eq!(audit.iter().filter(|(_, e)| e.action == "reveal_id_number").count(), 1, "one audited reveal");
    assert!(f
        .c
        .world
        .store
        .township_audit(f.c.world.other_township, None, 500)
        .await
        .unwrap()
        .iter()
        .all(|(_, e)| e.application_id.is_none()));

    let doc = std::fs::read_to_string(DOC).unwrap_or_default();
    let section = format!("{BEGIN}{table}{END}");
    if std::env::var("DAIBAN_BLESS").is_ok_and(|v| v == "1") {
        let (head, tail) = match (doc.find(BEGIN), doc.find(END)) {
            (Some(b), Some(e)) => (doc[..b].to_string(), doc[e + END.len()..].to_string()),
            _ => (doc.clone(), String::new()),
        };
        std::fs::write(DOC, format!("{head}{section}{tail}")).unwrap();
    } else {
        assert!(doc.contains(&section), "docs/reliability.md does not show this matrix; run with DAIBAN_BLESS=1 to update it:\n{table}");
    }
    f.c.stop().await;
}
