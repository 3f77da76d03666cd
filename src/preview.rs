//! The browser preview: the same `App` served over a websocket with dioxus-liveview, for
//! machines without a display and for end-to-end tests in headless Chromium.
//!
//! Each browser tab gets its own VirtualDom sharing the one [`AppCtx`] (store and sync
//! engine). The page at `/` is served by hand because liveview's catch-all route does not
//! match the bare root in dioxus-liveview 0.7.10 with axum 0.8.

use crate::{App, AppCtx};
use axum::response::Html;
use axum::routing::get;
use dioxus::prelude::VirtualDom;
use dioxus_liveview::LiveviewRouter;
use std::future::Future;

pub fn router(ctx: AppCtx) -> axum::Router {
    let page = || async { Html(index_html()) };
    axum::Router::new().with_virtual_dom("/", move || VirtualDom::new(App).with_root_context(ctx.clone())).route("/", get(page))
}

fn index_html() -> String {
    let glue = dioxus_liveview::interpreter_glue("/ws");
    format!(
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>代办 Daiban</title>
<style>body{{margin:0;background:#f6f7f9}}</style></head>
<body><div id="main"></div>{glue}</body></html>"#
    )
}

/// Serve the preview until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    ctx: AppCtx,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(listener, router(ctx).into_make_service()).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
