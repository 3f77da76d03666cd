//! The staff web UI over plain HTTP (no browser), against a real centre on 127.0.0.1:0:
//! login and wrong passwords, CSRF on every POST, session expiry and logout, roles, and the
//! isolation of townships on every page and action.

mod web_support;

use chrono::Duration;
use daiban_centre::store::{DeviceAuth, InboxFilter, SessionPolicy, StatsPeriod};
use daiban_centre::web::WebConfig;
use daiban_proto::record::{DeliveryRecord, Proof, RatingRecord};
use daiban_proto::status::{AppStatus, Decision, DeliveryMode};
use daiban_proto::sync::{ChangeBody, EventBody};
use daiban_proto::text::{PersonName, Remark};
use daiban_proto::{ApplicationRecord, Rating};
use reqwest::StatusCode;
use web_support::store::*;
use web_support::*;

/// An application of 王家村 (township A) with real photos, plus a rated-badly one and the
/// device that sent them.
struct Seeded {
    app: ApplicationRecord,
    photos: Vec<Vec<u8>>,
    rated: ApplicationRecord,
    device: DeviceAuth,
}

async fn seed(c: &WebCentre) -> Seeded {
    let w = &c.world;
    let (device, _) = w.device(w.village_a).await;
    let r = named_resident(1, "王秀英", true);
    let (app, photos) = application_with_photos(&r, &["elderly_card"], &[("id_card", 2), ("household_register", 1), ("photo_1inch", 1)], 1);
    c.submit(device, &r, &app, &photos).await;
    let r2 = named_resident(2, "李桂兰", true);
    let (rated, rated_photos) = application_with_photos(&r2, &["elderly_card"], &[("id_card", 2)], 2);
    c.submit(device, &r2, &rated, &rated_photos).await;
    let s = w.store.as_ref();
    for d in [
        Decision::Accept,
        Decision::Approve { item: "elderly_card".into() },
        Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
    ] {
        s.decide(w.reviewer, rated.id, 1, d).await.unwrap();
    }
    let task = s
        .pull(w.village_a, 0, 500)
        .await
        .unwrap()
        .changes
        .into_iter()
        .find_map(|ch| match ch.body {
            ChangeBody::DeliveryTask { task } => Some(task),
            _ => None,
        })
        .unwrap();
    let now = chrono::Utc::now();
    let delivery = DeliveryRecord {
        delivery_id: task.id,
        application_id: rated.id,
        item: "elderly_card".into(),
        recipient: PersonName::parse("李桂兰").unwrap(),
        proof: Proof::Photo { photo: photo_ref(b"handover") },
        delivered_at: now,
    };
    let rating = RatingRecord {
        delivery_id: task.id,
        application_id: rated.id,
        item: "elderly_card".into(),
        rating: Rating::VeryDissatisfied,
        comment: Some(Remark::parse("送证太慢").unwrap()),
        rated_at: now,
    };
    push_ok(s, device, &[event(EventBody::DeliveryConfirmed { delivery }), event(EventBody::RatingGiven { rating })]).await;
    Seeded { app, photos, rated, device }
}

#[tokio::test]
async fn login_needs_the_right_password_and_its_own_csrf_token() {
    let c = WebCentre::start().await;
    let mut anon = StaffClient::new(&c.base);
    let page = anon.get("/staff/inbox").await;
    assert_eq!((page.status, page.location.as_deref()), (StatusCode::SEE_OTHER, Some("/staff/login?next=%2Fstaff%2Finbox")));
    let wrong = anon.login("reviewer", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.text().contains("用户名或密码错误") && wrong.text().contains("value=\"reviewer\""), "user name kept");
    assert!(!anon.cookies.contains_key("daiban_staff"));
    assert_eq!(anon.login("nobody", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    // a login form posted from elsewhere (no matching login cookie) is refused
    let mut forged = StaffClient::new(&c.base);
    let resp = forged.post("/staff/login", &[("username", "reviewer"), ("password", PASSWORD), ("csrf", "guess")]).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert!(!forged.cookies.contains_key("daiban_staff"));
    let ok = anon.login("reviewer", PASSWORD).await;
    assert_eq!((ok.status, ok.location.as_deref()), (StatusCode::SEE_OTHER, Some("/staff/inbox")));
    let set_cookie: Vec<_> = ok.headers.get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let session = set_cookie.iter().find(|c| c.starts_with("daiban_staff=")).expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/staff"), "{session}");
    assert!(!session.contains("Secure"), "plain HTTP on loopback");
    let inbox = anon.get("/staff/inbox").await;
    assert_eq!(inbox.status, StatusCode::OK);
    assert!(inbox.text().contains("李审核"));
    assert_eq!(inbox.headers["cache-control"], "no-store");
    assert!(inbox.headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    // the English switch keeps you where you were; other sites are never a destination
    let en = anon.get("/staff/lang/en?back=%2Fstaff%2Finbox%3Fstatus%3Dall").await;
    assert_eq!((en.status, en.location.as_deref()), (StatusCode::SEE_OTHER, Some("/staff/inbox?status=all")));
    let english = anon.get("/staff/inbox?status=all").await.text();
    assert!(english.contains("Inbox") && english.contains("lang=\"en\""), "{english}");
    assert_eq!(anon.get("/staff/lang/zh?back=https%3A%2F%2Fevil.example%2F").await.location.as_deref(), Some("/staff/inbox"));
    assert!(anon.get("/staff/inbox").await.text().contains("工作台"));
    // an address nothing serves: a page of ours saying so, with the way back
    let missing = anon.get("/staff/no-such-page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let text = missing.text();
    assert!(text.contains("找不到这个页面") && text.contains("/staff/inbox"), "{text}");
    // behind a TLS-ending proxy the cookie is Secure
    let mut tls = StaffClient::new(&c.base);
    let form = tls.get("/staff/login").await;
    let req = tls
        .http
        .post(c.url("/staff/login"))
        .header("x-forwarded-proto", "https")
        .header("cookie", format!("daiban_login={}", tls.cookies["daiban_login"]));
    let resp = req.form(&[("username", "reviewer"), ("password", PASSWORD), ("csrf", &form.csrf())]).send().await.unwrap();
    assert!(resp.headers().get_all("set-cookie").iter().any(|v| v.to_str().unwrap().contains("Secure")));
    c.stop().await;
}

#[tokio::test]
async fn every_post_needs_the_sessions_csrf_token_and_nothing_changes_without_it() {
    let c = WebCentre::start().await;
    let seeded = seed(&c).await;
    let s = c.world.store.clone();
    let mut admin = StaffClient::signed_in(&c.base, "admin").await;
    let mut other = StaffClient::signed_in(&c.base, "reviewer").await;
    let theirs = other.get("/staff/inbox").await.csrf();
    let app = seeded.app.id.to_string();
    let (rated, device) = (seeded.rated.id.to_string(), seeded.device.device_id.to_string());
    let village = c.world.village_a.to_string();
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        (format!("/staff/applications/{app}/decide"), vec![("revision", "1"), ("action", "accept")]),
        (
            format!("/staff/applications/{app}/decide"),
            vec![("revision", "1"), ("action", "return"), ("reason", "照片模糊"), ("materials", "id_card")],
        ),
        (format!("/staff/applications/{app}/reveal"), vec![]),
        ("/staff/ratings/follow-up".into(), vec![("application", &rated), ("item", "elderly_card"), ("note", "已回访")]),
        ("/staff/enrolment-codes".into(), vec![("village", &village), ("valid_hours", "72")]),
        (format!("/staff/devices/{device}/revoke"), vec![]),
        (
            "/staff/accounts".into(),
            vec![("username", "sneaky"), ("display_name", "某人"), ("password", "long password 123"), ("role", "township_admin")],
        ),
        ("/staff/logout".into(), vec![]),
    ];
    let audit_before = s.township_audit(c.world.township, None, 500).await.unwrap().len();
    for (path, fields) in &posts {
        for token in [None, Some("0".repeat(64)), Some(theirs.clone())] {
            let mut form = fields.clone();
            if let Some(t) = &token {
                form.push(("csrf", t));
            }
            let resp = admin.post(path, &form).await;
            assert_eq!(resp.status, StatusCode::FORBIDDEN, "POST {path} with csrf {token:?}");
            assert!(resp.text().contains("安全校验失败"), "{}", resp.text());
        }
    }
    assert_eq!(s.application(c.world.township, seeded.app.id).await.unwrap().unwrap().status, AppStatus::Received);
    assert_eq!(s.township_audit(c.world.township, None, 500).await.unwrap().len(), audit_before, "no action was recorded");
    assert_eq!(s.ratings_needing_follow_up(c.world.township).await.unwrap().len(), 1);
    assert!(s.devices(c.world.township).await.unwrap().iter().all(|d| d.revoked_at.is_none()));
    assert!(s.staff_credentials("sneaky").await.unwrap().is_none());
    assert_eq!(admin.get("/staff/inbox").await.status, StatusCode::OK, "still logged in");
    // with the right token the same forms work
    let token = admin.get("/staff/inbox").await.csrf();
    let ok = admin.post(&format!("/staff/applications/{app}/decide"), &[("revision", "1"), ("action", "accept"), ("csrf", &token)]).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(s.application(c.world.township, seeded.app.id).await.unwrap().unwrap().status, AppStatus::Accepted);
    c.stop().await;
}

#[tokio::test]
async fn sessions_expire_and_logout_ends_them() {
    let idle = WebConfig { session: SessionPolicy { idle: Duration::zero(), max: Duration::hours(8) }, ..Default::default() };
    let c = WebCentre::start_with(idle).await;
    let mut reviewer = StaffClient::new(&c.base);
    let login = reviewer.login("reviewer", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "the password is right");
    let page = reviewer.get("/staff/inbox").await;
    assert_eq!((page.status, page.location.as_deref()), (StatusCode::SEE_OTHER, Some("/staff/login?next=%2Fstaff%2Finbox&expired=1")));
    assert!(!reviewer.cookies.contains_key("daiban_staff"), "the dead cookie is cleared");
    assert!(reviewer.get("/staff/login?expired=1").await.text().contains("登录已过期"));
    c.stop().await;

    let c = WebCentre::start().await;
    let seeded = seed(&c).await;
    let mut reviewer = StaffClient::signed_in(&c.base, "reviewer").await;
    let token = reviewer.get("/staff/inbox").await.csrf();
    let kept = reviewer.cookies.clone();
    let out = reviewer.post("/staff/logout", &[("csrf", &token)]).await;
    assert_eq!((out.status, out.location.as_deref()), (StatusCode::SEE_OTHER, Some("/staff/login?bye=1")));
    // an old copy of the cookie is worthless after logout, for pages and for actions
    reviewer.cookies = kept;
    assert_eq!(reviewer.get("/staff/inbox").await.location.as_deref(), Some("/staff/login?next=%2Fstaff%2Finbox&expired=1"));
    reviewer.cookies.insert("daiban_staff".into(), "0".repeat(64));
    let form = [("csrf", token.as_str()), ("revision", "1"), ("action", "accept")];
    let late = reviewer.post(&format!("/staff/applications/{}/decide", seeded.app.id), &form).await;
    assert_eq!((late.status, late.location.as_deref()), (StatusCode::SEE_OTHER, Some("/staff/login?expired=1")));
    assert_eq!(c.world.store.application(c.world.township, seeded.app.id).await.unwrap().unwrap().status, AppStatus::Received);
    c.stop().await;
}

#[tokio::test]
async fn staff_of_another_township_find_nothing_of_ours() {
    let c = WebCentre::start().await;
    let seeded = seed(&c).await;
    let s = c.world.store.clone();
    let mut them = StaffClient::signed_in(&c.base, "other_admin").await;
    let token = them.get("/staff/inbox").await.csrf();
    let app = seeded.app.id.to_string();
    let hash = daiban_proto::PhotoHash::of(&seeded.photos[0]).to_string();
    for path in [format!("/staff/applications/{app}"), format!("/staff/applications/{}", seeded.rated.id), format!("/staff/photos/{hash}")]
    {
        let page = them.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "GET {path}");
        assert!(!page.text().contains("王秀英"));
    }
    for action in ["accept", "return", "reject", "approve", "result_ready", "delivered"] {
        let form = [
            ("csrf", token.as_str()),
            ("revision", "1"),
            ("action", action),
            ("item", "elderly_card"),
            ("reason", "不符合"),
            ("materials", "id_card"),
            ("mode", "home"),
        ];
        assert_eq!(them.post(&format!("/staff/applications/{app}/decide"), &form).await.status, StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(them.post(&format!("/staff/applications/{app}/reveal"), &[("csrf", &token)]).await.status, StatusCode::NOT_FOUND);
    let follow = [("csrf", token.as_str()), ("application", &seeded.rated.id.to_string()), ("item", "elderly_card"), ("note", "越权")];
    assert_eq!(them.post("/staff/ratings/follow-up", &follow).await.status, StatusCode::NOT_FOUND);
    let revoke = format!("/staff/devices/{}/revoke", seeded.device.device_id);
    assert_eq!(them.post(&revoke, &[("csrf", &token)]).await.status, StatusCode::NOT_FOUND);
    let code = [("csrf", token.as_str()), ("village", &c.world.village_a.to_string()), ("valid_hours", "24")];
    assert_eq!(them.post("/staff/enrolment-codes", &code).await.status, StatusCode::NOT_FOUND);
    // lists show nothing of ours, even when asked for our village
    for path in [
        "/staff/inbox?status=all".to_string(),
        format!("/staff/inbox?status=all&village={}", c.world.village_a),
        "/staff/stats".into(),
        "/staff/devices".into(),
        "/staff/accounts".into(),
    ] {
        let page = them.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let text = page.text();
        for ours in ["王秀英", "李桂兰", "王家村", "送证太慢", "李审核", &seeded.device.device_id.to_string(), &app] {
            assert!(!text.contains(ours), "{path} shows {ours}");
        }
    }
    let csv = them.get("/staff/stats.csv").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.text().trim_start_matches('\u{feff}').lines().count(), 1, "only the header row: {}", csv.text());
    // nothing changed for township A
    assert_eq!(s.application(c.world.township, seeded.app.id).await.unwrap().unwrap().status, AppStatus::Received);
    assert_eq!(s.ratings_needing_follow_up(c.world.township).await.unwrap().len(), 1);
    assert!(s.devices(c.world.township).await.unwrap().iter().any(|d| d.id == seeded.device.device_id && d.revoked_at.is_none()));
    assert!(s.inbox(c.world.other_township, InboxFilter::default(), None, 50).await.unwrap().rows.is_empty());
    assert!(s.statistics(c.world.other_township, StatsPeriod::default()).await.unwrap().applications.is_empty());
    c.stop().await;
}

#[tokio::test]
async fn reviewers_review_and_admins_administer() {
    let c = WebCentre::start().await;
    let seeded = seed(&c).await;
    let mut reviewer = StaffClient::signed_in(&c.base, "reviewer").await;
    let token = reviewer.get("/staff/inbox").await.csrf();
    assert_eq!(reviewer.get("/staff/accounts").await.status, StatusCode::FORBIDDEN);
    let new = [
        ("csrf", token.as_str()),
        ("username", "wang2"),
        ("display_name", "王二"),
        ("password", "long password 123"),
        ("role", "reviewer"),
    ];
    assert_eq!(reviewer.post("/staff/accounts", &new).await.status, StatusCode::FORBIDDEN);
    let code = [("csrf", token.as_str()), ("village", &c.world.village_a.to_string()), ("valid_hours", "24")];
    assert_eq!(reviewer.post("/staff/enrolment-codes", &code).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reviewer.post(&format!("/staff/devices/{}/revoke", seeded.device.device_id), &[("csrf", &token)]).await.status,
        StatusCode::FORBIDDEN
    );
    let devices = reviewer.get("/staff/devices").await;
    assert!(devices.status == StatusCode::OK && !devices.text().contains("/revoke") && !devices.text().contains("enrolment-codes"));
    assert!(c.world.store.staff_credentials("wang2").await.unwrap().is_none());

    let mut admin = StaffClient::signed_in(&c.base, "admin").await;
    let token = admin.get("/staff/accounts").await.csrf();
    let short = [("csrf", token.as_str()), ("username", "wang2"), ("display_name", "王二"), ("password", "short"), ("role", "reviewer")];
    let refused = admin.post("/staff/accounts", &short).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("密码至少10位") && refused.text().contains("value=\"王二\""), "typed values kept");
    let new = [
        ("csrf", token.as_str()),
        ("username", "wang2"),
        ("display_name", "王二"),
        ("password", "long password 123"),
        ("role", "reviewer"),
    ];
    assert_eq!(admin.post("/staff/accounts", &new).await.location.as_deref(), Some("/staff/accounts?done=1"));
    let taken = admin.post("/staff/accounts", &new).await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.text().contains("已被使用"));
    let mut wang = StaffClient::new(&c.base);
    assert_eq!(wang.login("wang2", "long password 123").await.status, StatusCode::SEE_OTHER, "the new reviewer can log in");
    c.stop().await;
}

#[tokio::test]
async fn photos_are_private_and_refused_actions_keep_what_was_typed() {
    let c = WebCentre::start().await;
    let seeded = seed(&c).await;
    let mut reviewer = StaffClient::signed_in(&c.base, "reviewer").await;
    let photo = reviewer.get(&format!("/staff/photos/{}", daiban_proto::PhotoHash::of(&seeded.photos[1]))).await;
    assert_eq!(photo.status, StatusCode::OK);
    assert_eq!(photo.body, seeded.photos[1]);
    assert_eq!(
        (photo.content_type.as_deref(), photo.headers["cache-control"].to_str().unwrap()),
        (Some("image/jpeg"), "private, no-store")
    );
    assert_eq!(reviewer.get(&format!("/staff/photos/{}", daiban_proto::PhotoHash::of(b"x"))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        StaffClient::new(&c.base).get(&format!("/staff/photos/{}", daiban_proto::PhotoHash::of(&seeded.photos[1]))).await.status,
        StatusCode::SEE_OTHER,
        "not without a login"
    );

    let path = format!("/staff/applications/{}", seeded.app.id);
    let token = reviewer.get(&path).await.csrf();
    // approving before acceptance is not allowed in this state
    let early = reviewer
        .post(&format!("{path}/decide"), &[("csrf", &token), ("revision", "1"), ("action", "approve"), ("item", "elderly_card")])
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert!(early.text().contains("不能执行此操作"), "{}", early.text());
    // another reviewer returned it meanwhile: the refusal keeps what was typed
    c.world
        .store
        .decide(c.world.admin, seeded.app.id, 1, Decision::Return { reason: Remark::parse("缺一寸照片").unwrap(), materials: vec![] })
        .await
        .unwrap();
    let reason = "户口簿本人页不清楚,请重拍";
    let form = [("csrf", token.as_str()), ("revision", "1"), ("action", "return"), ("reason", reason), ("materials", "household_register")];
    let refused = reviewer.post(&format!("{path}/decide"), &form).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let text = refused.text();
    assert!(text.contains("不能执行此操作") && text.contains(reason), "{text}");
    let empty = reviewer
        .post(
            &format!("{path}/decide"),
            &[("csrf", &token), ("revision", "1"), ("action", "reject"), ("item", "elderly_card"), ("reason", " ")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().contains("原因不能为空"));
    c.stop().await;
}

#[tokio::test]
async fn pages_speak_the_readers_language_and_point_out_a_photo_filed_twice() {
    let c = WebCentre::start().await;
    let w = &c.world;
    let (device, _) = w.device(w.village_a).await;
    let r = named_resident(3, "赵春梅", true);
    let (mut app, photos) = application_with_photos(&r, &["elderly_card"], &[("id_card", 2), ("household_register", 1)], 3);
    // the agent filed the ID card's front under the household register as well
    let front = app.materials[0].photos[0].clone();
    app.materials[1].photos.push(front);
    c.submit(device, &r, &app, &photos).await;
    let mut reviewer = StaffClient::signed_in(&c.base, "reviewer").await;
    let page = reviewer.get(&format!("/staff/applications/{}", app.id)).await.text();
    assert!(page.contains("同一张照片也放在了：户口簿"), "under the ID card: {page}");
    assert!(page.contains("同一张照片也放在了：居民身份证"), "under the household register: {page}");
    assert_eq!(page.matches("同一张照片也放在了").count(), 2, "the other photos are filed once");

    // Error pages: Chinese only by default, English only after the switch, for a refusal
    // made by a handler and for an address no route serves.
    let missing = format!("/staff/applications/{}", daiban_proto::ApplicationId::new());
    for path in [missing.as_str(), "/staff/no-such-page"] {
        let zh = reviewer.get(path).await;
        assert_eq!(zh.status, StatusCode::NOT_FOUND);
        let text = zh.text();
        assert!(text.contains("不存在") || text.contains("找不到这个页面"), "{text}");
        assert!(!text.contains("no such") && !text.contains("No such"), "{path}: Chinese only: {text}");
    }
    reviewer.cookies.insert("daiban_lang".into(), "en".into());
    for (path, want) in [(missing.as_str(), "no such application"), ("/staff/no-such-page", "No such page")] {
        let en = reviewer.get(path).await;
        assert_eq!(en.status, StatusCode::NOT_FOUND);
        let text = en.text();
        assert!(text.contains(want) && !text.contains("不存在") && !text.contains("找不到"), "{path}: English only: {text}");
        assert!(text.contains("Back to the inbox"), "{text}");
    }
    c.stop().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_name_out_for_a_while() {
    let throttle = std::sync::Arc::new(daiban_centre::web::LoginThrottle::new(std::time::Duration::from_millis(1500)));
    let c = WebCentre::start_with(WebConfig { login_throttle: throttle, ..WebConfig::default() }).await;
    let mut anon = StaffClient::new(&c.base);
    for _ in 0..daiban_centre::web::LoginThrottle::FREE_TRIES {
        assert_eq!(anon.login("reviewer", "a wrong guess").await.status, StatusCode::UNAUTHORIZED);
    }
    // now even the right password is refused, without being checked, and the page says why
    let locked = anon.login("reviewer", PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.text().contains("连续输错密码的次数太多"), "{}", locked.text());
    assert_eq!(StaffClient::new(&c.base).login("admin", PASSWORD).await.status, StatusCode::SEE_OTHER, "other names are not locked");
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    assert_eq!(anon.login("reviewer", PASSWORD).await.status, StatusCode::SEE_OTHER, "after the wait the right password works");
    c.stop().await;
}

#[tokio::test]
async fn an_agent_on_the_roster_gets_a_code_and_the_reviewer_sees_the_person() {
    let c = WebCentre::start().await;
    let w = &c.world;
    let mut admin = StaffClient::signed_in(&c.base, "admin").await;
    let token = admin.get("/staff/devices").await.csrf();
    let village = w.village_a.to_string();
    // a phone number that is not one: said, and what was typed is kept
    let bad = admin.post("/staff/agents", &[("csrf", &token), ("name", "张代办"), ("phone", "1390000"), ("village", &village)]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().contains("电话格式不对") && bad.text().contains("value=\"张代办\""), "{}", bad.text());
    let added = admin.post("/staff/agents", &[("csrf", &token), ("name", "张代办"), ("phone", "13900001111"), ("village", &village)]).await;
    assert_eq!(added.location.as_deref(), Some("/staff/devices?done=agent#agents"));
    let agent = w.store.agents(w.township).await.unwrap()[0].id.to_string();
    let page = admin.post("/staff/enrolment-codes", &[("csrf", &token), ("agent", &agent), ("village", ""), ("valid_hours", "72")]).await;
    let text = page.text();
    let at = text.find("id=\"code\">").expect("the new code") + 10;
    let code = text[at..at + text[at..].find('<').unwrap()].to_string();
    assert!(text.contains("王家村 · 张代办"), "{text}");

    // the agent's phone enrols with it and sends an application
    let enrolled =
        w.store.enrol(daiban_proto::sync::EnrolRequest { code, device_name: "代办员手机".into(), device_key: None }).await.unwrap();
    let device = w.store.authenticate_device(&enrolled.token).await.unwrap();
    let r = named_resident(5, "孙秀兰", true);
    let (app, photos) = application_with_photos(&r, &["elderly_card"], &[("id_card", 2)], 5);
    c.submit(device, &r, &app, &photos).await;
    let mut reviewer = StaffClient::signed_in(&c.base, "reviewer").await;
    let seen = reviewer.get(&format!("/staff/applications/{}", app.id)).await.text();
    assert!(seen.contains("张代办 13900001111") && !seen.contains("代办员手机"), "the person, not the phone: {seen}");
    let inbox = reviewer.get("/staff/inbox").await.text();
    assert!(inbox.contains("张代办 13900001111"), "{inbox}");
    let devices = admin.get("/staff/devices").await.text();
    assert!(devices.contains("data-agent=") && devices.contains("13900001111"), "{devices}");
    c.stop().await;
}
