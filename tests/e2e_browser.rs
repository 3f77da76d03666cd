//! End to end in a real browser: the agent app served by the liveview preview, driven in
//! headless Chromium at phone size (360×640). The agent registers a resident (after a typo
//! in the ID number is caught), applies for the elderly card, photographs the materials,
//! submits, and sees it waiting to upload; the store confirms it is durable and queued.
//! Screenshots are written under the test's temp dir for a human to look at.
//!
//! Photos come through the preview's sample-photo folder, filled exactly as `scripts/demo.sh`
//! fills it (the rendered 样例 documents), so this is also the newcomer's path through the
//! demo: dioxus-liveview 0.7.10 delivers no bytes for `<input type=file>`, so the file-dialog
//! path is covered on desktop instead.

mod support;

use daiban::config::Config;
use daiban::AppCtx;
use daiban_agent_core::Store;
use daiban_proto::sync::EventBody;
use daiban_proto::AppStatus;
use std::path::PathBuf;
use support::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_registers_a_resident_and_submits_an_application() {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let samples = support::sample_documents();
    let store = Store::open(tmp.join("data")).unwrap();
    let mut cfg = Config::from_env_and_args(Vec::<String>::new()).unwrap();
    cfg.sample_photos = Some(samples);
    let sync = daiban_agent_core::sync::start(store.clone(), None, None);
    let ctx = AppCtx::new(store.clone(), sync, &cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(daiban::preview::serve(listener, ctx, std::future::pending()));

    let b = Browser::start(&tmp, 360, 640).await;
    let c = &b.client;
    c.goto(&format!("{url}/")).await.unwrap();
    b.wait_text("header h1", "代办工作台").await;
    b.wait_text("#net", "未绑定").await;
    b.screenshot(&tmp.join("01-home.png")).await;

    // Register a resident; a mistyped ID number is caught and nothing is saved.
    b.click("#new-resident").await;
    b.wait_text("header h1", "登记居民").await;
    b.type_into("#name", "李桂芳").await;
    b.type_into("#id_number", "110105194912310021").await;
    b.click("#save-resident").await;
    b.wait_text("#errors", "校验位").await;
    assert_eq!(store.resident_count().unwrap(), 0, "a failed save stores nothing");
    b.screenshot(&tmp.join("02-resident-error.png")).await;
    b.type_into("#id_number", "11010519491231002X").await;
    b.wait_text("#derived", "1949年12月31日").await;
    b.type_into("#phone", "13800138000").await;
    b.type_into("#address", "王家村东街12号").await;
    b.click("#save-resident").await;
    b.wait_text("#resident-name", "李桂芳").await;
    b.wait_text("#resident-idn", "1101**********002X").await;
    assert_eq!(store.resident_count().unwrap(), 1);

    // Apply for the elderly card (suggested by age); submitting too early lists what is
    // missing, by material.
    b.click("#apply-for-resident").await;
    b.click("li[data-code=elderly_card]").await;
    b.wait_text("#capture-title", "老年人优待证").await;
    b.click("#submit").await;
    b.wait_text("#errors", "居民身份证").await;
    // the phone number comes from the register
    b.wait_value("#f-phone", "13800138000").await;
    // The front of the ID card twice: said so, not silently dropped.
    support::add_sample_photo(&b, "id_card", "居民身份证-1-正面.jpg", 1).await;
    let select = c.find(fantoccini::Locator::Css("#add-id_card-sample")).await.unwrap();
    select.select_by_value("居民身份证-1-正面.jpg").await.unwrap();
    b.wait_text("#material-id_card .error", "这张照片已拍过").await;
    // The ID card's front under the household register as well: kept, but pointed out.
    support::add_sample_photo(&b, "household_register", "居民身份证-1-正面.jpg", 1).await;
    b.wait_text("#material-household_register .error", "这张照片也放在了「居民身份证」下").await;
    b.click("#material-household_register .thumb button.remove").await;
    b.click("#material-household_register .confirm-remove").await;
    b.wait_count("#material-household_register .thumb", 0).await;
    // A photo is removed only after a second, explicit tap.
    support::add_sample_photo(&b, "household_register", "户口簿-1-户主页.jpg", 1).await;
    b.click("#material-household_register .thumb button.remove").await;
    b.wait_text("#material-household_register .confirm", "删除").await;
    b.click("#material-household_register .confirm-cancel").await;
    b.wait_count("#material-household_register .thumb", 1).await;
    b.click("#material-household_register .thumb button.remove").await;
    b.click("#material-household_register .confirm-remove").await;
    b.wait_count("#material-household_register .thumb", 0).await;
    for (material, file, n) in [
        ("id_card", "居民身份证-2-反面.jpg", 2),
        ("household_register", "户口簿-1-户主页.jpg", 1),
        ("household_register", "户口簿-2-本人页.jpg", 2),
        ("photo_1inch", "一寸照片-1.jpg", 1),
    ] {
        support::add_sample_photo(&b, material, file, n).await;
    }
    b.screenshot(&tmp.join("03-capture.png")).await;
    b.click("#submit").await;
    b.wait_text("#app-title", "老年人优待证").await;
    b.wait_text(".card .chip", "待上传").await;
    b.wait_text("#syncstrip", "待上传").await;
    b.screenshot(&tmp.join("04-submitted.png")).await;

    // Durable and queued: resident first, then the application with its 5 photos.
    let apps = store.applications(&[AppStatus::Queued], None, 10, 0).unwrap();
    assert_eq!(apps.len(), 1);
    let due = store.due_events(chrono::Utc::now(), 10).unwrap();
    assert_eq!(due.len(), 2);
    let EventBody::ApplicationSubmitted { application } = &due[1].event.body else { panic!("{due:?}") };
    assert_eq!(application.photos().count(), 5);
    assert_eq!(application.fields.get("phone").map(String::as_str), Some("13800138000"));

    // English is one tap away.
    b.click("#lang").await;
    b.wait_text(".card .chip", "Waiting to upload").await;
    b.click("#tab-applications").await;
    b.wait_text("#application-list", "李桂芳").await;
    b.screenshot(&tmp.join("05-list-en.png")).await;

    // An address no screen answers: the app's own page, and the way home.
    b.click("#lang").await;
    c.goto(&format!("{url}/no/such/page")).await.unwrap();
    b.wait_text("#not-found", "找不到这一页").await;
    b.screenshot(&tmp.join("06-not-found.png")).await;
    b.click("#go-home").await;
    b.wait_text("header h1", "代办工作台").await;
    c.clone().close().await.unwrap();
    eprintln!("screenshots in {}", tmp.display());
}
