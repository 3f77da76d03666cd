//! `daiban-centre`: run the township centre server, or a seeded demo of it.
//!
//! ```text
//! daiban-centre serve --listen 127.0.0.1:8080 --database sqlite:centre.sqlite3 --photos photos/
//! daiban-centre serve --listen 0.0.0.0:8080 --database postgres://daiban@db/daiban --photos /srv/photos
//! daiban-centre serve --listen 0.0.0.0:8443 --database sqlite:centre.sqlite3 --photos photos/ \
//!     --tls-cert fullchain.pem --tls-key key.pem --retention-days 180
//! daiban-centre demo --listen 127.0.0.1:8080 --data demo-data/
//! daiban-centre admin --database sqlite:centre.sqlite3 township --code 370611101000 --name 桃源镇
//! ```
//!
//! `admin` sets up a real township step by step (README, "Set up a real township").
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
    /// Set up a township: the township, its villages, staff accounts, its catalogue,
    /// enrolment codes for the villages' phones.
    Admin {
        #[arg(long, env = "DAIBAN_DATABASE")]
        database: DatabaseUrl,
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Print the built-in catalogue (JSON), a starting point for a township's own.
    CatalogueTemplate,
    /// Serve a demo centre (桃源镇) from a SQLite file under DIR, seeded on first start.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long)]
        data: PathBuf,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Create the township (nothing happens if it is there already, with this name).
    Township {
        /// Its 12-digit 统计用区划代码 (e.g. 370611101000), or its first 9 digits.
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        name_en: Option<String>,
    },
    /// Add villages from a CSV file: `code,name[,English name]` per line. A wrong line
    /// changes nothing; villages already there are kept.
    Villages {
        #[arg(long)]
        township: String,
        file: PathBuf,
    },
    /// Add a staff account. Prints a generated password once, unless one is read from
    /// standard input (`--password-stdin`).
    Staff {
        #[arg(long)]
        township: String,
        #[arg(long)]
        username: String,
        /// The name shown on decisions (e.g. 李审核).
        #[arg(long)]
        name: String,
        /// `admin` (镇管理员) or `reviewer` (审核员).
        #[arg(long)]
        role: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Publish the township's catalogue (事项清单) from a JSON file, as its next version.
    Catalogue {
        /// The township admin who publishes it.
        #[arg(long)]
        by: String,
        file: PathBuf,
    },
    /// Put a village agent (代办员) on the roster.
    Agent {
        /// The township admin who adds them.
        #[arg(long)]
        by: String,
        /// The agent's village, by its 12-digit code.
        #[arg(long)]
        village: String,
        #[arg(long)]
        name: String,
        /// The agent's mobile number (it also names them for `enrolment-code --agent-phone`).
        #[arg(long)]
        phone: String,
    },
    /// A one-time code (and link, with `--centre`) to enrol a phone: a named agent's, or any
    /// phone of a village.
    EnrolmentCode {
        /// The village's 12-digit code (a phone of no particular agent).
        #[arg(long, required_unless_present = "agent_phone", conflicts_with = "agent_phone")]
        village: Option<String>,
        /// The agent's phone number: the phone enrolled with the code is theirs.
        #[arg(long)]
        agent_phone: Option<String>,
        /// The township admin who issues it.
        #[arg(long)]
        by: String,
        #[arg(long, default_value_t = 72)]
        hours: u32,
        /// The centre's address as phones reach it, to print the enrolment link.
        #[arg(long)]
        centre: Option<String>,
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
    /// Back up the database and photos into this directory on a schedule (SQLite only; for
    /// PostgreSQL use pg_dump). Photos already in the previous backup are hard-linked.
    #[arg(long, env = "DAIBAN_BACKUP_TO")]
    backup_to: Option<PathBuf>,
    /// Hours between scheduled backups.
    #[arg(long, env = "DAIBAN_BACKUP_EVERY_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=168))]
    backup_every_hours: u32,
    /// How many scheduled backups to keep (older ones are removed).
    #[arg(long, env = "DAIBAN_BACKUP_KEEP", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=365))]
    backup_keep: u32,
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
        Command::Admin { database, action } => {
            let store = store::open(&database, Rules::default()).await.with_context(|| format!("opening database {database:?}"))?;
            admin(store.as_ref(), action).await
        }
        Command::CatalogueTemplate => {
            println!("{}", serde_json::to_string_pretty(&daiban_centre::catalogue::default_catalogue())?);
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

/// One `admin` action; what it did is printed for the record.
async fn admin(store: &dyn store::Store, action: AdminAction) -> anyhow::Result<()> {
    use daiban_centre::admin as a;
    match action {
        AdminAction::Township { code, name, name_en } => {
            let (t, created) = a::township(store, &code, &name, name_en.as_deref()).await?;
            let what = if created { "已建立 / created" } else { "已存在 / already there" };
            println!("{what}: {} ({})", t.name.zh, t.code);
        }
        AdminAction::Villages { township, file } => {
            let t = a::find_township(store, &township).await?;
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let done = a::import_villages(store, &t, &text)
                .await
                .with_context(|| format!("{}: 没有导入任何村 / nothing imported", file.display()))?;
            println!(
                "{}: 新增 {} 个村，已有 {} 个 / {} added, {} already there",
                t.name.zh, done.added, done.already_there, done.added, done.already_there
            );
        }
        AdminAction::Staff { township, username, name, role, password_stdin } => {
            let t = a::find_township(store, &township).await?;
            let role = a::role(&role)?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line)?;
                (line.trim_end_matches(['\r', '\n']).to_string(), false)
            } else {
                (a::new_password(), true)
            };
            let staff = a::add_staff(store, &t, &username, &name, role, &password).await?;
            println!("已添加 / added: {} {} ({})", role.label().zh, staff.display_name, staff.username);
            if generated {
                println!("初始密码（只显示这一次，请当面交给本人）/ initial password (shown once): {password}");
            }
        }
        AdminAction::Catalogue { by, file } => {
            let by = a::admin_named(store, &by).await?;
            let json = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            let version =
                a::publish_catalogue(store, &by, &json).await.with_context(|| format!("{}: 未发布 / not published", file.display()))?;
            println!("已发布事项清单第 {version} 版 / catalogue version {version} published");
        }
        AdminAction::Agent { by, village, name, phone } => {
            let by = a::admin_named(store, &by).await?;
            a::add_agent(store, &by, &village, &name, &phone).await?;
            println!("已登记代办员 / agent added: {name} {phone}");
        }
        AdminAction::EnrolmentCode { village, agent_phone, by, hours, centre } => {
            let by = a::admin_named(store, &by).await?;
            let valid_for = chrono::Duration::hours(i64::from(hours));
            let code = match (agent_phone, village) {
                (Some(phone), _) => a::agent_enrolment_code(store, &by, &phone, valid_for).await?,
                (None, Some(village)) => a::enrolment_code(store, &by, &village, valid_for).await?,
                (None, None) => anyhow::bail!("--village 或 --agent-phone / --village or --agent-phone"),
            };
            println!("设备注册码 / enrolment code: {} (有效至 / valid until {})", code.code, code.expires_at.format("%Y-%m-%d %H:%M UTC"));
            if let Some(centre) = centre {
                println!("注册链接 / link: {}", daiban_centre::web::enrolment_link(&centre, &code.code, None));
            }
        }
    }
    Ok(())
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
    // checked before the database is opened, like every other setting
    let backup_db = match &s.backup_to {
        Some(_) => Some(sqlite_path(&s.database).context("--backup-to")?.to_path_buf()),
        None => None,
    };
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
    if state.store.townships().await?.is_empty() {
        // first run: nobody can log in yet; whoever has the console sets the township up
        let (run, token) = daiban_centre::web::FirstRun::new();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let reachable = match s.listen.ip().is_unspecified() {
            true => SocketAddr::from(([127, 0, 0, 1], s.listen.port())),
            false => s.listen,
        };
        let centre = web.public_url.clone().unwrap_or_else(|| format!("{scheme}://{reachable}"));
        println!(
            "首次使用：请在24小时内打开下面的一次性链接，建立乡镇和第一个镇管理员账号 / first run: open this one-time link within 24 hours to set up the township and its first administrator:\n  {}",
            daiban_centre::web::FirstRun::link(&centre, &token)
        );
        web.first_run = Some(Arc::new(run));
    }
    state = state.with_web(web);
    if let (Some(db), Some(to)) = (backup_db, &s.backup_to) {
        let every = std::time::Duration::from_secs(u64::from(s.backup_every_hours) * 3600);
        backup::spawn_scheduled(db, s.photos.clone(), to.clone(), every, s.backup_keep as usize);
        tracing::info!(to = %to.display(), every_hours = s.backup_every_hours, keep = s.backup_keep, "scheduled backups on");
    }
    if let Some(days) = s.retention_days {
        retention::spawn(state.clone(), chrono::Duration::days(i64::from(days)), std::time::Duration::from_secs(24 * 3600));
    }
    run(s.listen, state, tls).await
}
