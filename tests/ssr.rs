//! Server-side rendering of the agent app's components with dioxus-ssr: the whole app on a
//! real store (home screen, lists, capture), and single components with chosen props
//! (network badge, sync strip with progress, status chips), in both languages.

use daiban::components::shell::{NetBadge, SyncStrip};
use daiban::components::StatusChip;
use daiban::config::Config;
use daiban::i18n::Lang;
use daiban::AppCtx;
use daiban_agent_core::forms::ResidentForm;
use daiban_agent_core::store::{OutboxSummary, Target};
use daiban_agent_core::sync::{SyncHandle, SyncPhase, SyncStatus};
use daiban_agent_core::Store;
use daiban_proto::AppStatus;
use dioxus::prelude::*;

mod support;

thread_local! {
    /// The element under test (a `fn` pointer cannot be a prop: it has no meaningful `PartialEq`).
    static EL: std::cell::Cell<Option<fn() -> Element>> = const { std::cell::Cell::new(None) };
}

fn render_with_lang(lang: Lang, el: fn() -> Element) -> String {
    EL.with(|c| c.set(Some(el)));
    #[component]
    fn Root(lang: Lang) -> Element {
        use_context_provider(|| Signal::new(lang));
        EL.with(|c| c.get().expect("set"))()
    }
    let mut dom = VirtualDom::new_with_props(Root, RootProps { lang });
    dom.rebuild_in_place();
    dioxus_ssr::render(&dom)
}

#[test]
fn net_badge_says_offline_online_or_syncing() {
    fn offline() -> Element {
        rsx! { NetBadge { status: SyncStatus { enrolled: true, online: false, ..Default::default() }, summary: OutboxSummary::default() } }
    }
    fn syncing() -> Element {
        rsx! { NetBadge { status: SyncStatus { enrolled: true, online: true, phase: SyncPhase::Uploading, ..Default::default() }, summary: OutboxSummary::default() } }
    }
    fn not_enrolled() -> Element {
        rsx! { NetBadge { status: SyncStatus::default(), summary: OutboxSummary::default() } }
    }
    // Link needs a router; render inside one.
    let html = render_in_router(offline);
    assert!(html.contains("离线") && html.contains("net offline"), "{html}");
    let html = render_in_router(syncing);
    assert!(html.contains("同步中"), "{html}");
    let html = render_in_router(not_enrolled);
    assert!(html.contains("未绑定"), "{html}");
    fn revoked() -> Element {
        rsx! { NetBadge { status: SyncStatus { enrolled: true, online: true, stopped: true, ..Default::default() }, summary: OutboxSummary::default() } }
    }
    assert!(render_in_router(revoked).contains("同步已停"));
}

#[test]
fn sync_strip_shows_items_and_bytes_while_syncing_and_what_waits_otherwise() {
    fn running() -> Element {
        rsx! { SyncStrip {
        status: SyncStatus { enrolled: true, online: true, phase: SyncPhase::Uploading, items_done: 2, items_total: 5,
                             bytes_done: 1_200_000, bytes_total: 3_400_000, ..Default::default() },
        summary: OutboxSummary::default() } }
    }
    let html = render_in_router(running);
    assert!(html.contains("正在上传照片 2/5 · 1.2 MB/3.4 MB"), "{html}");
    assert!(html.contains("width: 35%"), "progress bar from bytes: {html}");

    fn waiting() -> Element {
        rsx! { SyncStrip {
        status: SyncStatus { enrolled: true, online: false, ..Default::default() },
        summary: OutboxSummary { pending_events: 3, pending_applications: 2, quarantined: 0, pending_photos: 6, pending_photo_bytes: 1_500_000 } } }
    }
    let html = render_in_router(waiting);
    assert!(html.contains("待上传：3 条记录、6 张照片（1.5 MB）"), "{html}");
    assert!(html.contains("有信号时自动上传"), "{html}");

    fn idle_empty() -> Element {
        rsx! { SyncStrip { status: SyncStatus { enrolled: true, online: true, ..Default::default() }, summary: OutboxSummary::default() } }
    }
    assert!(!render_in_router(idle_empty).contains("syncstrip"), "nothing waiting, no strip");
}

#[test]
fn status_chip_in_both_languages() {
    fn chip() -> Element {
        rsx! { StatusChip { status: AppStatus::Returned } }
    }
    assert_eq!(render_with_lang(Lang::Zh, chip), r#"<span class="chip returned">退回补正</span>"#);
    assert_eq!(render_with_lang(Lang::En, chip), r#"<span class="chip returned">Returned for correction</span>"#);
}

/// Render a component that uses `Link` inside a minimal router.
fn render_in_router(el: fn() -> Element) -> String {
    thread_local! { static INNER: std::cell::Cell<Option<fn() -> Element>> = const { std::cell::Cell::new(None) }; }
    INNER.with(|c| c.set(Some(el)));
    #[derive(Routable, Clone, PartialEq, Debug)]
    enum R {
        #[route("/")]
        Only {},
    }
    #[component]
    fn Only() -> Element {
        INNER.with(|c| c.get().expect("set"))()
    }
    render_with_lang(Lang::Zh, || rsx! { Router::<R> {} })
}

fn app_html(store: &Store) -> String {
    let (sync, _tx, _t) = SyncHandle::new();
    let cfg = Config::from_env_and_args(Vec::<String>::new()).unwrap();
    let ctx = AppCtx::new(store.clone(), sync, &cfg);
    let mut dom = VirtualDom::new(daiban::App).with_root_context(ctx);
    dom.rebuild_in_place();
    dioxus_ssr::render(&dom)
}

#[test]
fn whole_app_renders_home_with_todays_work_from_a_real_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let html = app_html(&store);
    assert!(html.contains("代办工作台"), "home title: {html}");
    assert!(html.contains("未绑定"), "enrolment state is always visible");
    assert!(html.contains(r#"id="tab-residents""#));

    // A draft and a returned application show up as today's work.
    let r = store
        .add_resident(
            &ResidentForm { name: "张桂兰".into(), id_number: "11010519491231002X".into(), ..Default::default() }
                .parse(daiban::i18n::today())
                .unwrap(),
        )
        .unwrap();
    store.create_draft(r, &Target::Item("elderly_card".into())).unwrap();
    let html = app_html(&store);
    assert!(html.contains("未完成的草稿"), "{html}");
    assert!(html.contains("张桂兰 · 老年人优待证"), "{html}");
}

/// Thumbnails are cached up to a bound, least recently shown out first; one pushed out is
/// simply made again, the same.
#[test]
fn the_thumbnail_cache_stays_within_its_bound() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let form = ResidentForm { name: "李桂芳".into(), id_number: "11010519491231002X".into(), ..Default::default() };
    let resident = store.add_resident(&form.parse(chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()).unwrap()).unwrap();
    let app = store.create_draft(resident, &Target::Item("elderly_card".into())).unwrap();
    let samples = support::sample_documents();
    let files = ["居民身份证-1-正面.jpg", "居民身份证-2-反面.jpg", "户口簿-1-户主页.jpg", "户口簿-2-本人页.jpg", "一寸照片-1.jpg"];
    let materials = ["id_card", "id_card", "household_register", "household_register", "photo_1inch"];
    let hashes: Vec<_> =
        files.iter().zip(materials).map(|(f, m)| store.add_photo(app, m, &std::fs::read(samples.join(f)).unwrap()).unwrap().hash).collect();
    let cfg = Config::from_env_and_args(Vec::<String>::new()).unwrap();
    let sync = daiban_agent_core::sync::start(store.clone(), None, None);
    let ctx = AppCtx::new(store, sync, &cfg).with_thumb_cache(std::num::NonZeroUsize::new(3).unwrap());
    let first = ctx.thumb_url(&hashes[0]).expect("a thumbnail");
    for h in &hashes[1..] {
        ctx.thumb_url(h).expect("a thumbnail");
    }
    assert_eq!(ctx.cached_thumbs(), 3, "five photos shown, three kept");
    assert_eq!(ctx.thumb_url(&hashes[0]).as_deref(), Some(&*first), "made again, the same");
    assert!(daiban::ctx::THUMB_CACHE.get() >= 100, "room for a long list on a real phone");
}

/// A failed read of the phone's own data is said as such, in the reader's language, with
/// what to do: never an empty list that looks as if the data were gone.
#[test]
fn a_failed_read_says_so_instead_of_showing_nothing() {
    fn failed() -> Element {
        rsx! { daiban::components::ReadError { error: "数据库错误 / database error: file is not a database".to_string() } }
    }
    let zh = render_with_lang(Lang::Zh, failed);
    assert!(zh.contains("读取手机上的数据出错") && zh.contains("已保存的内容没有被删除") && zh.contains("数据库错误"), "{zh}");
    assert!(!zh.contains("database error"), "Chinese only: {zh}");
    let en = render_with_lang(Lang::En, failed);
    assert!(en.contains("Could not read the data on this phone") && en.contains("database error") && !en.contains("数据库错误"), "{en}");
}
