//! `daiban-centre`: run the township centre server, or a seeded demo of it.
//!
//! ```text
//! daiban-centre serve --listen 127.0.0.1:8080 --database sqlite:centre.sqlite3 --photos photos/
//! daiban-centre serve --listen 0.0.0.0:8080 --database postgres://daiban@db/daiban --photos /srv/photos
//! daiban-centre serve --listen 0.0.0.0:8443 --database sqlite:centre.sqlite3 --photos photos/ \
//!     --tls-cert fullchain.pem --tls-key key.pem --retention-days 180
//! daiban-centre demo --listen 127.0.0.1:8080 --data demo-data/
//! ```

use anyhow::Context;
use clap::{Parser, Subcommand};
use daiban_centre::api::{self, ApiConfig, AppState};
use daiban_centre::blobs::FsPhotoBlobs;
use daiban_centre::demo;
use daiban_centre::web::WebConfig;
use daiban_centre::{retention, tls};
use daiban_centre::store::{self, DatabaseUrl, Rules};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "daiban-centre", about = "Daiban township centre server (镇便民服务中心)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the sync API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// `sqlite:PATH` (default backend) or `postgres://user@host/db`.
        #[arg(long)]
        database: DatabaseUrl,
        /// Directory of the photo store (uploads are assembled in its `.uploads/`).
        #[arg(long)]
        photos: PathBuf,
        /// Serve HTTPS with this PEM certificate chain (leaf first); needs `--tls-key`.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of `--tls-cert`.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Delete photos of closed cases (rejected, delivered, rated) this many days after
        /// their last change (checked at start and daily). Kept when unset.
        #[arg(long)]
        retention_days: Option<u32>,
    },
    /// Serve a demo centre (桃源镇) from a SQLite file under DIR, seeded on first start.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long)]
        data: PathBuf,
    },
}

async fn state(database: &DatabaseUrl, photos: &Path) -> anyhow::Result<AppState> {
    let store = store::open(database, Rules::default()).await.with_context(|| format!("opening database {database:?}"))?;
    let blobs = Arc::new(FsPhotoBlobs::new(photos).with_context(|| format!("photo directory {}", photos.display()))?);
    Ok(AppState::new(store, blobs, ApiConfig::new(photos.join(".uploads")))?)
}

async fn run(listen: SocketAddr, state: AppState, tls: Option<Arc<rustls::ServerConfig>>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("binding {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, https = tls.is_some(), "centre listening");
    let shutdown = async {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate => {}
        }
        tracing::info!("shutting down: finishing requests in progress");
    };
    match tls {
        Some(config) => tls::serve(listener, config, state, shutdown).await?,
        None => api::serve(listener, state, shutdown).await?,
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tower_http=info".into()))
        .init();
    match Cli::parse().command {
        Command::Serve { listen, database, photos, tls_cert, tls_key, retention_days } => {
            let mut state = state(&database, &photos).await?;
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => {
                    state = state.with_web(WebConfig { secure_cookies: true, cert_pin: Some(tls::leaf_pin(&cert)?), ..WebConfig::default() });
                    Some(tls::server_config(&cert, &key)?)
                }
                _ => None,
            };
            if let Some(days) = retention_days {
                retention::spawn(state.clone(), chrono::Duration::days(i64::from(days)), std::time::Duration::from_secs(24 * 3600));
            }
            run(listen, state, tls).await
        }
        Command::Demo { listen, data } => {
            std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            let state = state(&DatabaseUrl::Sqlite(data.join("centre.sqlite3")), &data.join("photos")).await?;
            let seeded = demo::seed(state.store.as_ref(), &data).await?;
            println!("Daiban 演示中心 / demo centre: 桃源镇, http://{listen}");
            for (username, name, role, password) in demo::STAFF {
                println!("  {} {name}: 用户名 {username} 密码 {password}", role.label().zh);
            }
            println!(
                "  王家村设备注册码 / enrolment code for 王家村: {} (有效至 {}; 已写入 {})",
                seeded.code.code,
                seeded.code.expires_at.format("%Y-%m-%d %H:%M UTC"),
                data.join(demo::ENROLMENT_CODE_FILE).display()
            );
            run(listen, state, None).await
        }
    }
}
