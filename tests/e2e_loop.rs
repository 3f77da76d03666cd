//! The whole loop in a real browser against the real centre (issue 4, item 4): the agent app
//! (liveview preview, headless Chromium at 360×640) enrols with a one-time code, captures an
//! elderly-card application with photos and syncs it; township staff return it for a clearer
//! ID card; the returned application appears on the phone with the reason; the agent re-takes
//! the photo and resubmits (revision 2); staff accept, approve and mark the result for home
//! delivery; the delivery task appears on the phone; the agent records the recipient's
//! signature drawn on screen and the resident's 5-star rating; both reach the centre.

mod support;

use daiban::config::Config;
use daiban::AppCtx;
use daiban_agent_core::Store;
use daiban_centre::api::{ApiConfig, AppState};
use daiban_centre::blobs::FsPhotoBlobs;
use daiban_centre::store::{DatabaseUrl, Rules};
use daiban_proto::status::Decision;
use daiban_proto::text::Remark;
use daiban_proto::{AppStatus, DeliveryMode, ItemStatus};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::Browser;

/// Poll `f` until it returns Some, for at most 30 s.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut f: impl FnMut() -> F) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_return_correct_deliver_and_rate_through_the_real_centre() {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("e2e-loop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();

    // The township centre with the demo township, on a loopback port.
    let centre = daiban_centre::store::open(&DatabaseUrl::Sqlite(tmp.join("centre.sqlite3")), Rules::default()).await.unwrap();
    let blobs = Arc::new(FsPhotoBlobs::new(tmp.join("centre-photos")).unwrap());
    let demo = daiban_centre::demo::seed(centre.as_ref(), &tmp).await.unwrap();
    let state = AppState::new(centre.clone(), blobs, ApiConfig::new(tmp.join("uploads"))).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let centre_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(daiban_centre::api::serve(listener, state, std::future::pending()));

    // The agent app with its sync engine, served as the browser preview.
    let samples = tmp.join("samples");
    support::sample_photos(&samples, 6);
    let store = Store::open(tmp.join("agent")).unwrap();
    let mut cfg = Config::from_env_and_args(Vec::<String>::new()).unwrap();
    cfg.sample_photos = Some(samples);
    cfg.centre_url = Some(centre_url.clone());
    let sync = daiban_agent_core::sync::start(store.clone(), cfg.centre_url.clone(), None);
    let ctx = AppCtx::new(store.clone(), sync, &cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(daiban::preview::serve(listener, ctx, std::future::pending()));

    let b = Browser::start(&tmp, 360, 640).await;
    b.client.goto(&format!("{app_url}/")).await.unwrap();
    b.wait_text("#enrol-hint", "还没有绑定").await;

    // Enrol with the one-time code (pasted as the link the staff UI shows as a QR code).
    b.click("#enrol-hint").await;
    b.type_into("#code", &format!("daiban://enrol?centre={}&code={}", url_encode(&centre_url), demo.code.code)).await;
    b.click("#enrol").await;
    b.wait_text("#enrolment", "王家村").await;
    b.wait_text("#net", "在线").await;
    b.screenshot(&tmp.join("01-enrolled.png")).await;

    // Capture and submit; the engine sends it right away.
    support::register_resident(&b, "赵凤英", "11010519491231002X").await;
    support::apply_for_elderly_card(&b).await;
    let app = store.applications(&[], None, 1, 0).unwrap()[0].id;
    let at_centre = eventually("the application at the centre", || {
        let c = centre.clone();
        async move { c.application(demo.township, app).await.unwrap() }
    })
    .await;
    assert_eq!((at_centre.revision, at_centre.status), (1, AppStatus::Received));
    b.wait_text(".card .chip", "已接收").await;

    // Staff return it: the ID card's back is blurred.
    let reason = Remark::parse("身份证反面照片模糊，请重拍").unwrap();
    centre.decide(demo.admin.id, app, 1, Decision::Return { reason, materials: vec!["id_card".into()] }).await.unwrap();
    // "Sync now" is on the home screen (it would arrive on its own within a minute).
    b.click("#tab-home").await;
    b.click("#home-sync-now").await;
    b.wait_text(".list", "身份证反面照片模糊").await;
    b.screenshot(&tmp.join("02-returned-on-home.png")).await;

    // Re-take the ID card's back and resubmit: revision 2 of the same application.
    b.click(".list a.item").await;
    b.wait_text("#return-reason", "身份证反面照片模糊").await;
    b.click("#material-id_card .thumb:nth-child(2) button.remove").await;
    b.click("#material-id_card .thumb:nth-child(2) .confirm-remove").await;
    b.wait_count("#material-id_card .thumb", 1).await;
    support::add_sample_photo(&b, "id_card", "photo-5.jpg", 2).await;
    b.screenshot(&tmp.join("03-correcting.png")).await;
    b.click("#submit").await;
    b.wait_text("#app-title", "老年人优待证").await;
    eventually("revision 2 at the centre", || {
        let c = centre.clone();
        async move { c.application(demo.township, app).await.unwrap().filter(|a| a.revision == 2) }
    })
    .await;

    // Staff accept, approve, and send the card home.
    for d in [
        Decision::Accept,
        Decision::Approve { item: "elderly_card".into() },
        Decision::ResultReady { item: "elderly_card".into(), mode: DeliveryMode::Home },
    ] {
        centre.decide(demo.admin.id, app, 2, d).await.unwrap();
    }
    b.click("#net").await;
    b.click("#sync-now").await;
    b.click("#tab-home").await;
    b.wait_text(".list", "老年人优待证").await;
    b.click("a[href^='/deliveries/']").await;
    b.wait_text("header h1", "送达签收").await;

    // The recipient signs on the screen; then rates the service.
    b.sign().await;
    b.screenshot(&tmp.join("04-signature.png")).await;
    b.click("#confirm-delivery").await;
    b.wait_text("#delivered", "赵凤英").await;
    b.click("#ratings button[data-score='5']").await;
    b.type_into("#comment", "不用跑腿，送到家里，很满意").await;
    b.click("#submit-rating").await;
    b.wait_text("#rated", "非常满意").await;
    b.screenshot(&tmp.join("05-rated.png")).await;

    // Both reach the centre.
    let done = eventually("the rating at the centre", || {
        let c = centre.clone();
        async move { c.application(demo.township, app).await.unwrap().filter(|a| a.status == AppStatus::Rated) }
    })
    .await;
    assert_eq!(done.items, vec![("elderly_card".to_string(), ItemStatus::Rated)]);
    let revisions = centre.revisions(demo.township, app).await.unwrap();
    assert_eq!(revisions.len(), 2);
    b.client.clone().close().await.unwrap();
    eprintln!("screenshots in {}", tmp.display());
}

fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
