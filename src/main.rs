//! Daiban (代办) agent app: entry point.
//!
//! Parses the command line, opens the local store, starts the sync engine on its own thread,
//! and shows the UI: a desktop window when a display is available (and the `desktop` feature
//! is built), otherwise the same app served as a liveview browser preview on 127.0.0.1.
//! On Android/iOS the same `App` is launched by the mobile shell (see platforms/).

use anyhow::Context;
use daiban::{config::Config, AppCtx};

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,daiban=info".into()))
        .init();
    let cfg = Config::from_env_and_args(std::env::args().skip(1))?;
    let ctx = AppCtx::start(&cfg).context("opening the local store")?;
    tracing::info!(data_dir = %cfg.data_dir.display(), "store opened");
    if cfg.wants_desktop() {
        #[cfg(feature = "desktop")]
        {
            daiban::desktop::launch(ctx);
            return Ok(());
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.preview_addr)
            .await
            .with_context(|| format!("binding the preview on {}", cfg.preview_addr))?;
        let addr = listener.local_addr()?;
        println!("代办 Daiban 预览 / preview: open http://{addr}/ in a browser (Ctrl-C to stop)");
        daiban::preview::serve(listener, ctx, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
    })
}
