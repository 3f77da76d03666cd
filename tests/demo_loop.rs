//! The newcomer's loop through the demo as shipped (issue 12, item 4): `scripts/demo.sh` is
//! started the way the README starts it (an empty demo directory, no display, so the agent
//! app is served as the browser preview) and everything is done through the two browsers a
//! newcomer would use, with the demo's own 样例 documents:
//!
//! - the agent, in Chromium at 360×640: the phone enrols itself; register a resident, look
//!   at a document photo full size, capture every required material of the elderly card,
//!   submit; after the reviewer's return, find that an unchanged resubmission is refused,
//!   re-take the ID card's back and resubmit; deliver the card home with a signature drawn
//!   on screen; hand the phone to the resident for the rating;
//! - the reviewer (li-shenhe), in Chromium at 1366×768: find it in the inbox, return it for a
//!   clearer ID card, see what the correction changed, accept, approve, send it home, and see
//!   the recipient, the signature and the rating in the timeline.
//!
//! The only difference from a newcomer's run is `DAIBAN_DEMO_BIN`: the demo uses the
//! binaries this test run built instead of running `cargo build` itself (cargo holds the
//! build directory while tests run). Screenshots of every screen go to the test's temp dir.

mod support;

use fantoccini::Locator;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::Browser;

/// `scripts/demo.sh` in its own process group; dropping this stops the demo (centre and app).
struct Demo {
    child: Child,
    log: PathBuf,
}

impl Demo {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "TERM", "--", &group]).status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn shot(b: &Browser, dir: &Path, name: &str) {
    b.screenshot(&dir.join(format!("{name}.png"))).await;
}

/// Text of the first element matching `css`.
async fn text(b: &Browser, css: &str) -> String {
    b.client.wait().for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_walks_the_whole_loop_through_the_demo_as_shipped() {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("dl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let shots = tmp.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bin = Path::new(env!("CARGO_BIN_EXE_daiban")).parent().unwrap().to_path_buf();
    assert!(
        bin.join("daiban-centre").exists(),
        "the centre binary is built with the workspace (cargo test --workspace, or cargo build --bin daiban-centre)"
    );

    // ./scripts/demo.sh, as a newcomer starts it: a fresh demo directory, no display.
    let (centre_port, preview_port) = (free_port(), free_port());
    let centre = format!("http://127.0.0.1:{centre_port}");
    let preview = format!("http://127.0.0.1:{preview_port}");
    let log = tmp.join("demo.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(root.join("scripts/demo.sh"))
        .env("DAIBAN_DEMO_DIR", tmp.join("demo"))
        .env("DAIBAN_CENTRE_ADDR", format!("127.0.0.1:{centre_port}"))
        .env("DAIBAN_PREVIEW", format!("127.0.0.1:{preview_port}"))
        .env("DAIBAN_DEMO_BIN", &bin)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let mut demo = Demo { child, log };
    // the first start renders the sample documents (about a minute of ImageMagick)
    let t = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", preview_port)).await.is_ok() {
            break;
        }
        if let Ok(Some(status)) = demo.child.try_wait() {
            panic!("demo.sh stopped ({status}):\n{}", demo.log());
        }
        assert!(t.elapsed() < Duration::from_secs(300), "the demo did not start in 5 minutes:\n{}", demo.log());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let started = demo.log();
    assert!(started.contains("li-shenhe"), "the demo prints its staff accounts:\n{started}");
    eprintln!("demo started in {:.0} s", t.elapsed().as_secs_f64());

    let a = Browser::start(&tmp.join("a"), 360, 640).await;
    let s = Browser::desktop(&tmp.join("s"), 1366, 768).await;

    // --- the agent: the phone enrolled itself with the demo centre
    a.client.goto(&format!("{preview}/")).await.unwrap();
    a.wait_text("header h1", "代办工作台").await;
    a.wait_text_within("#net", "在线", Duration::from_secs(30)).await;
    a.wait_text("#village", "王家村").await;
    shot(&a, &shots, "agent-01-home").await;
    support::register_resident(&a, "周玉兰", "11010519491231002X").await;
    shot(&a, &shots, "agent-02-resident").await;

    // Services for a 76-year-old: the elderly bundle first, the newborn one set aside.
    a.click("#apply-for-resident").await;
    let bundles = a.wait_text("#bundles", "老年人服务一件事").await;
    assert!(!bundles.contains("新生儿"), "a newborn bundle is not offered first to a 76-year-old: {bundles}");
    a.client.find(Locator::Css("#other-bundles li[data-code=newborn]")).await.expect("still there, under 其他一件事");
    shot(&a, &shots, "agent-03-choose-service").await;
    // A service picked by mistake makes a draft; it goes only after a second tap.
    a.click("li[data-code=residence_certificate]").await;
    a.wait_text("#capture-title", "居住证明").await;
    a.click("#delete-draft").await;
    a.wait_text("#confirm-delete", "不能恢复").await;
    a.click("#delete-cancel").await;
    a.wait_text("#capture-title", "居住证明").await;
    a.click("#delete-draft").await;
    a.click("#delete-confirm").await;
    a.client.wait().for_element(Locator::Css("#application-list")).await.unwrap();
    a.wait_count("#application-list a.item", 0).await;
    a.click("#tab-residents").await;
    a.click("#resident-list a.item").await;
    a.click("#apply-for-resident").await;
    a.click("li[data-code=elderly_card]").await;
    a.wait_text("#capture-title", "老年人优待证").await;
    a.wait_value("#f-phone", "13800138000").await;

    // Every required material, from the demo's own specimen documents.
    for (material, file, n) in [
        ("id_card", "居民身份证-1-正面.jpg", 1),
        ("id_card", "居民身份证-2-反面.jpg", 2),
        ("household_register", "户口簿-1-户主页.jpg", 1),
        ("household_register", "户口簿-2-本人页.jpg", 2),
        ("photo_1inch", "一寸照片-1.jpg", 1),
    ] {
        support::add_sample_photo(&a, material, file, n).await;
    }
    a.wait_text("#materials-title", "必需材料 3/3").await;
    // Is the ID number readable? Tap the photo to see it whole.
    a.click("#material-id_card .thumb button.thumb-open").await;
    a.client.wait().for_element(Locator::Css("#photo-viewer img")).await.unwrap();
    let width = a
        .client
        .execute("const i = document.querySelector('#photo-viewer img'); return i.complete ? i.naturalWidth : 0", vec![])
        .await
        .unwrap();
    assert!(width.as_u64().unwrap_or(0) >= 1000, "the full photo, not the thumbnail: {width}");
    shot(&a, &shots, "agent-04-photo-full-size").await;
    a.click("#close-viewer").await;
    a.wait_count("#photo-viewer", 0).await;
    shot(&a, &shots, "agent-05-capture").await;
    a.click("#submit").await;
    a.wait_text("#app-title", "老年人优待证").await;
    a.wait_text_within(".card .chip", "已接收", Duration::from_secs(60)).await;
    a.wait_text("#deadline", "办结期限").await; // what to tell the resident
    shot(&a, &shots, "agent-06-received").await;
    a.click("#tab-applications").await;
    a.wait_text("#application-list", "办结期限").await; // and in the list

    // --- the reviewer: the inbox, the application, a return for a clearer ID card
    s.client.goto(&format!("{centre}/staff/login")).await.unwrap();
    s.type_into("#username", "li-shenhe").await;
    s.type_into("#password", "li-shenhe-demo").await;
    s.click("form button[type=submit]").await;
    s.wait_text("#inbox", "周玉兰").await;
    shot(&s, &shots, "staff-01-inbox").await;
    s.click("#inbox a.row-link").await;
    s.wait_text(".item-actions .item-status", "待受理").await;
    assert_eq!(s.client.find_all(Locator::Css("#photos figure.viewer")).await.unwrap().len(), 5);
    shot(&s, &shots, "staff-02-application").await;
    let reason = "身份证反面反光，看不清签发机关，请重拍";
    s.click("details.return summary").await;
    s.type_into("#return-reason", reason).await;
    s.click("#return-form input[value=id_card]").await;
    s.click("#return-form button[type=submit]").await;
    s.wait_text(".notice", "已退回补正").await;
    s.wait_text(".item-actions .item-status", "等待补正").await;
    shot(&s, &shots, "staff-03-returned").await;

    // --- the agent: the return, an unchanged resubmission refused, the re-take
    a.click("#tab-home").await;
    a.click("#home-sync-now").await;
    a.wait_text_within(".list", reason, Duration::from_secs(60)).await;
    shot(&a, &shots, "agent-07-returned").await;
    a.click(".list a.item").await;
    a.wait_text("#return-reason", reason).await;
    a.wait_text("#material-id_card", "需重新拍摄").await;
    a.click("#submit").await;
    let refused = a.wait_text("#errors", "请拍新的照片").await;
    assert!(!refused.contains(" / "), "Chinese only in Chinese mode: {refused}");
    // the submit button is at the bottom; the problem is brought into view
    let t = Instant::now();
    loop {
        let seen = a
            .client
            .execute(
                "const r = document.getElementById('errors').getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight",
                vec![],
            )
            .await
            .unwrap();
        if seen.as_bool() == Some(true) {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(5), "the error list is scrolled into view");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(&a, &shots, "agent-08-unchanged-refused").await;
    a.click("#material-id_card .thumb:nth-child(2) button.remove").await;
    a.click("#material-id_card .thumb:nth-child(2) .confirm-remove").await;
    a.wait_count("#material-id_card .thumb", 1).await;
    support::add_sample_photo(&a, "id_card", "居民身份证-2-反面-重拍.jpg", 2).await;
    a.wait_text("#retaken-id_card", "已重新拍摄").await;
    a.wait_count("#errors", 0).await; // the refusal went once the photo was re-taken
    shot(&a, &shots, "agent-09-corrected").await;
    a.click("#submit").await;
    a.wait_text("#app-title", "老年人优待证").await;
    a.wait_text_within(".card .chip", "已接收", Duration::from_secs(60)).await;

    // --- the reviewer: what changed, then accept, approve, send it home
    s.client.refresh().await.unwrap();
    s.wait_text("#latest-changes", "居民身份证").await;
    let new_photos = s.client.find_all(Locator::Css("#photos span.new")).await.unwrap().len();
    assert_eq!(new_photos, 1, "only the re-taken back of the ID card is new");
    shot(&s, &shots, "staff-04-resubmitted").await;
    s.click("#accept").await;
    s.wait_text(".notice", "已受理").await;
    s.wait_text(".item-actions .item-status", "审核中").await;
    assert!(!s.client.find_all(Locator::Css(".app-head .due")).await.unwrap().is_empty(), "a deadline counts down");
    s.click(".item-actions form button.primary").await;
    assert!(s.client.get_alert_text().await.unwrap().contains("确认准予"));
    s.client.accept_alert().await.unwrap();
    s.wait_text(".notice", "已办结").await;
    assert!(s.client.find_all(Locator::Css(".app-head .due")).await.unwrap().is_empty(), "no countdown once approved");
    let home = s.client.wait().for_element(Locator::Css("input[name=mode][value=home]")).await.unwrap();
    assert!(home.is_selected().await.unwrap(), "home delivery by default for an elderly resident");
    s.click(".item-actions form button.primary").await;
    s.wait_text(".notice", "已出件").await;
    s.wait_text(".item-actions .waiting", "等待代办员送达到家").await;
    shot(&s, &shots, "staff-05-result-ready").await;

    // --- the agent: the delivery task, the signature, the resident's rating
    a.click("#tab-home").await;
    a.click("#home-sync-now").await;
    a.wait_text_within(".list", "周玉兰", Duration::from_secs(60)).await;
    a.click("a[href^='/deliveries/']").await;
    a.wait_text("header h1", "送达签收").await;
    a.sign().await;
    shot(&a, &shots, "agent-10-signature").await;
    a.click("#confirm-delivery").await;
    a.wait_text("#delivered", "周玉兰").await;
    a.wait_text("#handover", "请把手机交给居民本人").await;
    shot(&a, &shots, "agent-11-rating").await;
    a.click("#ratings button[data-score='5']").await;
    a.type_into("#comment", "不用跑腿，送到家里，很满意").await;
    a.click("#submit-rating").await;
    a.wait_text("#rated", "非常满意").await;
    shot(&a, &shots, "agent-12-rated").await;

    // --- the reviewer: recipient, signature and rating in the timeline
    let t = Instant::now();
    let timeline = loop {
        s.client.refresh().await.unwrap();
        let timeline = text(&s, "#timeline").await;
        if timeline.contains("非常满意") {
            break timeline;
        }
        assert!(t.elapsed() < Duration::from_secs(90), "the rating did not reach the centre: {timeline}");
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert!(timeline.contains("签收人 周玉兰"), "{timeline}");
    assert!(timeline.contains("不用跑腿，送到家里，很满意"), "{timeline}");
    let signature = s
        .client
        .execute("const i = document.querySelector('#timeline a.proof img'); return i && i.complete ? i.naturalWidth : 0", vec![])
        .await
        .unwrap();
    assert!(signature.as_u64().unwrap_or(0) > 0, "the signature is shown: {signature}");
    s.wait_text(".app-head", "已评价").await;
    s.client.execute("document.getElementById('timeline').scrollIntoView()", vec![]).await.unwrap();
    shot(&s, &shots, "staff-06-timeline").await;

    // A period the wrong way round on 统计: said next to the dates, in Chinese only.
    s.client.goto(&format!("{centre}/staff/stats?from=2026-12-31&to=2026-01-01")).await.unwrap();
    let said = s.wait_text("#period-error", "开始日期晚于结束日期").await;
    assert!(!said.contains(" / "), "{said}");
    assert_eq!(text(&s, "#kpis .kpi .n").await, "1", "and the statistics of all time below it");
    shot(&s, &shots, "staff-07-stats").await;

    s.client.clone().close().await.unwrap();
    a.client.clone().close().await.unwrap();
    assert!(demo.child.try_wait().unwrap().is_none(), "the demo is still running:\n{}", demo.log());
    drop(demo);
    eprintln!("screenshots in {}", shots.display());
}
