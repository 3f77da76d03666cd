//! `daiban-centre`: run the township centre server, or a seeded demo of it.
//!
//! ```text
//! daiban-centre serve --listen 127.0.0.1:8080 --database sqlite:centre.sqlite3 --photos photos/
//! daiban-centre serve --listen 0.0.0.0:8080 --database postgres://daiban@db/daiban --photos /srv/photos
//! daiban-centre serve --listen 0.0.0.0:8443 --database sqlite:centre.sqlite3 --photos photos/ \
//!     --tls-cert fullchain.pem --tls-key key.pem --retention-days 180
//! daiban-centre demo --listen 127.0.0.1:8080 --data demo-data/
//! ```
//!
//! Every setting of `serve` can also come from a `DAIBAN_*` environment variable (a systemd
//! unit's `EnvironmentFile`); a flag wins over the variable. `daiban-centre serve --help`
//! lists them; docs/settings.md explains them.

use anyhow::Context;
use clap::{Parser, Subcommand};
use daiban_centre::api::{self, ApiConfig, AppState};
use daiban_centre::blobs::FsPhotoBlobs;
use daiban_centre::demo;
use daiban_centre::store::{self, DatabaseUrl, Rules, SessionPolicy};
use daiban_centre::web::WebConfig;
use daiban_centre::{backup, retention, tls};
use daiban_proto::workdays::WorkCalendar;
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
    /// Serve the sync API and the staff web UI.
    Serve(Settings),
    /// Back up a SQLite centre (database + photos) into a new directory under `--to`, while
    /// it runs. PostgreSQL: use pg_dump and copy the photo directory.
    Backup {
        #[arg(long, env = "DAIBAN_DATABASE")]
        database: DatabaseUrl,
        #[arg(long, env = "DAIBAN_PHOTOS")]
        photos: PathBuf,
        /// Directory the backup is made in.
        #[arg(long)]
        to: PathBuf,
    },
    /// Check every file of a backup against its manifest.
    VerifyBackup { backup: PathBuf },
    /// Check a backup, then restore it into an empty database path and photo directory.
    Restore {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        database: DatabaseUrl,
        #[arg(long)]
        photos: PathBuf,
    },
    /// Serve a demo centre (桃源镇) from a SQLite file under DIR, seeded on first start.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long)]
        data: PathBuf,
    },
}

/// What `serve` is told: flags, or the `DAIBAN_*` variables named beside them.
#[derive(clap::Args)]
struct Settings {
    /// Address and port to listen on.
    #[arg(long, env = "DAIBAN_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// `sqlite:PATH` (default backend) or `postgres://user@host/db`.
    #[arg(long, env = "DAIBAN_DATABASE")]
    database: DatabaseUrl,
    /// Directory of the photo store (uploads are assembled in its `.uploads/`).
    #[arg(long, env = "DAIBAN_PHOTOS")]
    photos: PathBuf,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs `--tls-key`.
    #[arg(long, env = "DAIBAN_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, env = "DAIBAN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Delete photos of closed cases (rejected, delivered, rated) this many days after their
    /// last change (checked at start and daily). Kept when unset.
    #[arg(long, env = "DAIBAN_RETENTION_DAYS")]
    retention_days: Option<u32>,
    /// The centre's address as phones reach it (e.g. `https://daiban.example.gov.cn`), put
    /// into enrolment QR codes. When unset, taken from each request's `Host`.
    #[arg(long, env = "DAIBAN_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<String>,
    /// Largest photo accepted, in MiB.
    #[arg(long, env = "DAIBAN_MAX_PHOTO_MIB", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=200))]
    max_photo_mib: u64,
    /// Largest JSON request (a push of events), in MiB.
    #[arg(long, env = "DAIBAN_MAX_JSON_MIB", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    max_json_mib: u64,
    /// A staff sign-in ends after this many idle minutes.
    #[arg(long, env = "DAIBAN_SESSION_IDLE_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(u32).range(5..=24 * 60))]
    session_idle_minutes: u32,
    /// A staff sign-in ends after this many hours whatever happens.
    #[arg(long, env = "DAIBAN_SESSION_MAX_HOURS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=72))]
    session_max_hours: u32,
    /// Statutory holidays and make-up working days for time limits, a file like
    /// `assets/holidays/china.txt` (the built-in calendar when unset).
    #[arg(long, env = "DAIBAN_HOLIDAYS")]
    holidays: Option<PathBuf>,
    /// What to log: `info` (one line per request), `warn`, `debug`, or a tracing filter such
    /// as `info,daiban_centre::store=debug`. `RUST_LOG` is read when this is not given.
    #[arg(long, env = "DAIBAN_LOG")]
    log: Option<String>,
}

/// An absolute http(s) URL without a trailing slash.
fn parse_public_url(s: &str) -> Result<String, String> {
    let s = s.trim().trim_end_matches('/');
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(s.to_string()),
        _ => Err(format!("公开地址应以 http:// 或 https:// 开头 / public URL must start with http:// or https:// (got {s:?})")),
    }
}

fn init_logging(filter: Option<&str>) {
    let filter = match filter {
        Some(f) => tracing_subscriber::EnvFilter::new(f),
        None => tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
    };
    // colours only on a terminal: in the journal or a log file they are noise
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).init();
}

async fn state(database: &DatabaseUrl, photos: &Path, rules: Rules) -> anyhow::Result<AppState> {
    let store = store::open(database, rules).await.with_context(|| format!("opening database {database:?}"))?;
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
    match Cli::parse().command {
        Command::Serve(settings) => {
            init_logging(settings.log.as_deref());
            serve(settings).await
        }
        Command::Backup { database, photos, to } => {
            let (made, manifest) = backup::backup(sqlite_path(&database)?, &photos, &to)?;
            println!("备份完成 / backup made: {} ({} photos)", made.display(), manifest.photos.len());
            Ok(())
        }
        Command::VerifyBackup { backup: dir } => {
            let manifest = backup::verify(&dir)?;
            println!("备份完好 / backup intact: {} photos, made {}", manifest.photos.len(), manifest.created_at);
            Ok(())
        }
        Command::Restore { from, database, photos } => {
            let manifest = backup::restore(&from, sqlite_path(&database)?, &photos)?;
            println!("已恢复 / restored: database and {} photos from {}", manifest.photos.len(), from.display());
            Ok(())
        }
        Command::Demo { listen, data } => {
            init_logging(None);
            std::fs::create_dir_all(&data).with_context(|| format!("creating {}", data.display()))?;
            let state = state(&DatabaseUrl::Sqlite(data.join("centre.sqlite3")), &data.join("photos"), Rules::default()).await?;
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

/// The file of a SQLite database URL; backups of PostgreSQL are pg_dump's job.
fn sqlite_path(database: &DatabaseUrl) -> anyhow::Result<&Path> {
    match database {
        DatabaseUrl::Sqlite(path) => Ok(path),
        _ => anyhow::bail!(
            "PostgreSQL 请用 pg_dump 备份数据库，并复制照片目录 / back up PostgreSQL with pg_dump and copy the photo directory"
        ),
    }
}

async fn serve(s: Settings) -> anyhow::Result<()> {
    let mut rules = Rules::default();
    if let Some(path) = &s.holidays {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading holidays file {}", path.display()))?;
        rules.calendar = WorkCalendar::parse(&text).with_context(|| format!("holidays file {}", path.display()))?;
    }
    let mut state = state(&s.database, &s.photos, rules).await?;
    let mut config = (*state.config).clone();
    config.max_photo_bytes = s.max_photo_mib * 1024 * 1024;
    config.json_body_limit = usize::try_from(s.max_json_mib * 1024 * 1024)?;
    state.config = Arc::new(config);
    let mut web = WebConfig {
        public_url: s.public_url,
        session: SessionPolicy {
            idle: chrono::Duration::minutes(i64::from(s.session_idle_minutes)),
            max: chrono::Duration::hours(i64::from(s.session_max_hours)),
        },
        ..WebConfig::default()
    };
    let tls = match (s.tls_cert, s.tls_key) {
        (Some(cert), Some(key)) => {
            web.secure_cookies = true;
            web.cert_pin = Some(tls::leaf_pin(&cert)?);
            Some(tls::server_config(&cert, &key)?)
        }
        _ => None,
    };
    state = state.with_web(web);
    if let Some(days) = s.retention_days {
        retention::spawn(state.clone(), chrono::Duration::days(i64::from(days)), std::time::Duration::from_secs(24 * 3600));
    }
    run(s.listen, state, tls).await
}
