//! The staff web UI in a real browser: Debian chromium driven through chromedriver with
//! fantoccini, against a real centre on 127.0.0.1:0 whose applications arrived through the
//! store as a phone sends them (with real JPEG photos).
//!
//! One reviewer's and one admin's working session: log in, filter the inbox, move with the
//! keyboard, open an application, reveal the ID number (audited), rotate a photo, return the
//! application with a reason and materials (and find the change the phone will pull), accept
//! → approve → result ready on another (the delivery task goes to the phone), statistics and
//! the CSV, an enrolment code whose QR decodes to what the page says, revoking a device.
//! Screenshots at 1366×768 are written under `CARGO_TARGET_TMPDIR/web-shots/`.

mod web_support;

use daiban_centre::store::StatsPeriod;
use daiban_proto::status::{AppStatus, Decision, DeliveryMode};
use daiban_proto::sync::{ChangeBody, EnrolRequest};
use fantoccini::{Client, ClientBuilder, Locator};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use web_support::*;

/// chromedriver runs in its own process group; on drop (also on panic) the whole group is
/// killed, so no headless chromium outlives a failed test.
struct KillGroup(Child);

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-s", "KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

async fn browser(tmp: &Path) -> (Client, KillGroup) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::create_dir_all(tmp.join("chrome-tmp")).unwrap();
    let driver = KillGroup(
        Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into()))
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp.join("chrome-tmp"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is installed (Debian chromium-driver)"),
    );
    let caps: serde_json::Map<String, serde_json::Value> = serde_json::from_value(serde_json::json!({
        "goog:chromeOptions": {
            "binary": std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--lang=zh-CN", "--window-size=1366,768",
                     format!("--user-data-dir={}", tmp.join("profile").display())]
        }
    }))
    .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    loop {
        match ClientBuilder::rustls().unwrap().capabilities(caps.clone()).connect(&url).await {
            Ok(c) => return (c, driver),
            Err(_) if started.elapsed() < Duration::from_secs(20) => tokio::time::sleep(Duration::from_millis(100)).await,
            Err(e) => panic!("webdriver did not come up: {e}"),
        }
    }
}

async fn text(c: &Client, css: &str) -> String {
    c.wait().for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).text().await.unwrap()
}

/// The text of `css` once it contains `want` (pages change under our feet after a submit:
/// stale or missing elements are retried); fails after 10 s.
async fn wait_text(c: &Client, css: &str, want: &str) -> String {
    let started = Instant::now();
    let mut last = String::new();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            if let Ok(t) = e.text().await {
                if t.contains(want) {
                    return t;
                }
                last = t;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{css} never showed {want:?}; last: {last:?}");
}

/// Click an element after centring it (so the sticky header never covers it).
async fn click(c: &Client, css: &str) {
    let e = c.wait().for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    c.execute("arguments[0].scrollIntoView({block: 'center'})", vec![serde_json::to_value(&e).unwrap()]).await.unwrap();
    e.click().await.unwrap();
}

async fn shot(c: &Client, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, c.screenshot().await.unwrap()).unwrap();
    println!("screenshot: {}", path.display());
    path
}

async fn login(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/staff/login")).await.unwrap();
    c.wait().for_element(Locator::Css("#username")).await.unwrap().send_keys(user).await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(web_support::store::PASSWORD).await.unwrap();
    click(c, "form button[type=submit]").await;
    c.wait().for_element(Locator::Css("header.top nav")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_and_an_admin_at_work_in_chromium() {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("web-browser-{}", std::process::id()));
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let centre = WebCentre::start().await;
    let w = &centre.world;
    let s = w.store.clone();
    let (dev_a, _) = w.device(w.village_a).await;
    let (dev_b, _) = w.device(w.village_b).await;
    let wang = named_resident(11, "王秀英", true);
    let (to_return, p1) = application_with_photos(&wang, &["elderly_card"], &[("id_card", 2), ("household_register", 1)], 11);
    centre.submit(dev_a, &wang, &to_return, &p1).await;
    let zhang = named_resident(12, "张德顺", true);
    let (to_approve, p2) =
        application_with_photos(&zhang, &["elderly_card"], &[("id_card", 2), ("household_register", 2), ("photo_1inch", 1)], 12);
    centre.submit(dev_a, &zhang, &to_approve, &p2).await;
    let liu = named_resident(13, "刘玉芬", false);
    let (in_b, p3) = application_with_photos(&liu, &["residence_certificate"], &[("id_card", 2)], 13);
    centre.submit(dev_b, &liu, &in_b, &p3).await;

    let (c, driver) = browser(&tmp).await;
    let base = centre.base.clone();

    // --- the reviewer's inbox, filtered by village, with the keyboard
    login(&c, &base, "reviewer").await;
    let inbox = text(&c, "#inbox").await;
    assert!(inbox.contains("王秀英") && inbox.contains("张德顺") && inbox.contains("刘玉芬"), "{inbox}");
    c.find(Locator::Css("select[name=village]")).await.unwrap().select_by_value(&w.village_b.to_string()).await.unwrap();
    click(&c, "#filters button[type=submit]").await;
    c.wait()
        .for_element(Locator::Css("select[name=village] option[selected][value='{}']".replace("{}", &w.village_b.to_string()).as_str()))
        .await
        .unwrap();
    let filtered = text(&c, "#inbox tbody").await;
    assert!(filtered.contains("刘玉芬") && !filtered.contains("王秀英"), "{filtered}");
    c.goto(&format!("{base}/staff/inbox")).await.unwrap();
    c.wait().for_element(Locator::Css("#inbox")).await.unwrap();
    shot(&c, &shots, "inbox").await;
    // j moves to the first row (the assets/app.js handler), Enter opens it
    c.execute("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'j', bubbles: true}))", vec![]).await.unwrap();
    let focused = c.active_element().await.unwrap();
    assert_eq!(focused.attr("class").await.unwrap().as_deref(), Some("row-link"));
    let first = focused.text().await.unwrap();
    focused.send_keys(&fantoccini::key::Key::Enter.to_string()).await.unwrap();
    c.wait().for_element(Locator::Css("#actions")).await.unwrap();
    assert!(text(&c, "h1").await.contains(&first));

    // --- the application to return: reveal the ID, rotate a photo, return it
    c.goto(&format!("{base}/staff/applications/{}", to_return.id)).await.unwrap();
    let masked = text(&c, "#id-number").await;
    assert_eq!(masked, wang.id_number.masked());
    assert!(text(&c, "#checklist").await.contains("一寸照片"), "the checklist names what is missing");
    click(&c, "label[for='ph0-0-r90']").await;
    let transform: String = c
        .execute("return getComputedStyle(document.querySelector('#ph0-0 img')).transform", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert!(transform.starts_with("matrix(") && transform != "matrix(1, 0, 0, 1, 0, 0)", "rotated: {transform}");
    click(&c, "label[for='ph0-0-z2']").await;
    let natural: bool = c
        .execute("const i = document.querySelector('#ph0-0 img'); return i.complete && i.naturalWidth > 0", vec![])
        .await
        .unwrap()
        .as_bool()
        .unwrap();
    assert!(natural, "the photo loaded through the staff-only photo route");
    c.execute("window.scrollTo(0, 0)", vec![]).await.unwrap();
    shot(&c, &shots, "application").await;
    c.execute("document.getElementById('photos').scrollIntoView()", vec![]).await.unwrap();
    shot(&c, &shots, "application-photos").await;
    click(&c, "#reveal").await;
    c.wait().for_element(Locator::Css("#id-number.revealed")).await.unwrap();
    assert_eq!(text(&c, "#id-number").await, wang.id_number.expose());
    let audit = s.township_audit(w.township, None, 20).await.unwrap();
    let reveal = audit.iter().find(|(_, e)| e.action == "reveal_id_number").expect("the reveal is audited");
    assert_eq!(reveal.1.actor, daiban_centre::store::Actor::Staff { id: w.reviewer });
    assert_eq!(reveal.1.detail["resident_id"], serde_json::json!(wang.id));
    click(&c, "details.return summary").await;
    let reason = "户口簿只拍了首页,请补拍本人页;一寸照片缺失";
    c.find(Locator::Css("#return-reason")).await.unwrap().send_keys(reason).await.unwrap();
    let photo_box = c.find(Locator::Css("#return-form input[value=photo_1inch]")).await.unwrap();
    assert!(photo_box.is_selected().await.unwrap(), "missing required materials come pre-ticked");
    click(&c, "#return-form input[value=household_register]").await;
    click(&c, "#return-form button[type=submit]").await;
    wait_text(&c, ".notice", "已退回补正").await;
    wait_text(&c, "#timeline", reason).await;
    let pulled = s.pull(w.village_a, 0, 500).await.unwrap();
    let returned = pulled.changes.iter().find_map(|ch| match &ch.body {
        ChangeBody::Decision { application_id, decision: Decision::Return { reason, materials }, by, .. }
            if *application_id == to_return.id =>
        {
            Some((reason.as_str().to_string(), materials.clone(), by.clone()))
        }
        _ => None,
    });
    let (got_reason, mut materials, by) = returned.expect("the phone will pull the return");
    materials.sort();
    assert_eq!((got_reason.as_str(), by.as_str()), (reason, "李审核"));
    assert_eq!(materials, ["household_register", "photo_1inch"]);

    // --- accept, approve and make ready another one (elderly: delivered home by default)
    c.goto(&format!("{base}/staff/applications/{}", to_approve.id)).await.unwrap();
    click(&c, "#accept").await;
    wait_text(&c, ".notice", "已受理").await;
    // approving cannot be taken back: the browser asks first, and "cancel" changes nothing
    click(&c, ".item-actions form button.primary").await;
    assert!(c.get_alert_text().await.unwrap().contains("确认准予"));
    c.dismiss_alert().await.unwrap();
    assert_eq!(s.application(w.township, to_approve.id).await.unwrap().unwrap().status, AppStatus::Accepted);
    click(&c, ".item-actions form button.primary").await;
    c.accept_alert().await.unwrap();
    wait_text(&c, ".notice", "已办结").await;
    let home = c.wait().for_element(Locator::Css("input[name=mode][value=home]")).await.unwrap();
    assert!(home.is_selected().await.unwrap(), "home delivery is the default for the elderly");
    click(&c, ".item-actions form button.primary").await;
    wait_text(&c, ".notice", "已出件").await;
    let state = s.application(w.township, to_approve.id).await.unwrap().unwrap();
    assert_eq!(state.status, AppStatus::ResultReady);
    let task = s.pull(w.village_a, 0, 500).await.unwrap().changes.into_iter().find_map(|ch| match ch.body {
        ChangeBody::DeliveryTask { task } if task.application_id == to_approve.id => Some(task),
        _ => None,
    });
    assert_eq!(task.expect("a delivery task for the phone").mode, DeliveryMode::Home);

    // --- statistics, and the CSV as Excel would get it
    c.goto(&format!("{base}/staff/stats")).await.unwrap();
    assert!(c.wait().for_element(Locator::Css("svg.chart rect")).await.is_ok());
    assert_eq!(text(&c, "#kpi-ontime").await, "100.0%");
    shot(&c, &shots, "statistics").await;
    // download it in the browser's session (its cookies, HttpOnly ones included)
    let href = c.find(Locator::Css("#csv")).await.unwrap().prop("href").await.unwrap().unwrap();
    let cookies: Vec<String> = c.get_all_cookies().await.unwrap().iter().map(|k| format!("{}={}", k.name(), k.value())).collect();
    let resp = reqwest::Client::new().get(&href).header("cookie", cookies.join("; ")).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"daiban-stats-"));
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM for Excel");
    let csv = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let csv_text = csv.as_str();
    assert!(csv_text.starts_with("村 / Village,事项 / Item"), "{csv_text}");
    assert!(csv_text.lines().any(|l| l.starts_with("王家村,老年人优待证") && l.contains(",100.0%,")), "{csv_text}");
    let stats = s.statistics(w.township, StatsPeriod::default()).await.unwrap();
    assert_eq!(stats.approvals.len(), 1);

    // --- the admin: an enrolment code with its QR, and a device revoked
    click(&c, "header.top form button").await;
    c.wait().for_element(Locator::Css("#username")).await.unwrap();
    login(&c, &base, "admin").await;
    c.goto(&format!("{base}/staff/devices")).await.unwrap();
    c.find(Locator::Css("#enrol-form select[name=village]")).await.unwrap().select_by_value(&w.village_a.to_string()).await.unwrap();
    click(&c, "#make-code").await;
    let code = text(&c, "#code").await;
    let link = text(&c, "#qr-content").await;
    assert!(link.starts_with("daiban://enrol?centre=http%3A%2F%2F127.0.0.1%3A") && link.ends_with(&format!("code={code}")), "{link}");
    shot(&c, &shots, "enrolment-code").await;
    let qr_png = c.find(Locator::Css("#qr")).await.unwrap().screenshot().await.unwrap();
    let qr = image::load_from_memory(&qr_png).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(qr);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on screen");
    let (_, decoded) = grids[0].decode().unwrap();
    assert_eq!(decoded, link, "the QR says what the page says");
    let enrolled = s.enrol(EnrolRequest { code: code.clone(), device_name: "新手机".into(), device_key: None }).await.unwrap();
    assert_eq!(enrolled.village_name.zh, "王家村");
    let row = format!("tr[data-device='{}'] form button", dev_b.device_id);
    click(&c, &row).await;
    assert!(c.get_alert_text().await.unwrap().contains("确认停用"));
    c.accept_alert().await.unwrap();
    wait_text(&c, ".notice", "设备已停用").await;
    let devices = s.devices(w.township).await.unwrap();
    assert!(devices.iter().find(|d| d.id == dev_b.device_id).unwrap().revoked_at.is_some());
    assert!(devices.iter().find(|d| d.id == dev_a.device_id).unwrap().revoked_at.is_none());

    c.close().await.unwrap();
    drop(driver);
    centre.stop().await;
    let _ = std::fs::remove_dir_all(&tmp);
}
