//! The sync API spoken by agents' phones (axum), under `/api/v1`.
//!
//! [`router`] builds the whole application from an [`AppState`] (tests drive it directly or
//! through [`serve`] on a loopback port); [`serve`] takes its listener and shutdown signal
//! from the caller. Routes and the OpenAPI document come from the same handler annotations
//! (utoipa-axum), so the document cannot forget a route; it is served at
//! `GET /api/openapi.json`.
//!
//! Every request except the tus upload endpoints must carry the `daiban-protocol` header
//! (tus requests carry `Tus-Resumable` instead, per the tus protocol). Devices authenticate
//! with `Authorization: Bearer <token>`; the token is checked against the store on every
//! request, so a revoked device is refused on its very next request.

pub mod error;
pub(crate) mod observe;
mod sync;
mod tus;

pub use error::AppError;

use crate::blobs::PhotoBlobs;
use crate::store::{DeviceAuth, Store};
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use daiban_proto::sync::{ErrorCode, PROTOCOL_HEADER};
use daiban_proto::PROTOCOL_VERSION;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::compression::CompressionLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

/// Limits and locations of the API.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Where tus uploads are assembled before they enter the photo store.
    pub upload_dir: PathBuf,
    /// Largest photo accepted (`Tus-Max-Size`).
    pub max_photo_bytes: u64,
    /// Largest JSON request body (a push of `MAX_PUSH_EVENTS` events fits easily).
    pub json_body_limit: usize,
    /// Longest a JSON request may take.
    pub request_timeout: Duration,
    /// Longest an upload may go without receiving a byte before it is cut.
    pub upload_idle_timeout: Duration,
}

impl ApiConfig {
    pub fn new(upload_dir: impl Into<PathBuf>) -> Self {
        Self {
            upload_dir: upload_dir.into(),
            max_photo_bytes: 20 * 1024 * 1024,
            json_body_limit: 8 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            upload_idle_timeout: Duration::from_secs(60),
        }
    }
}

/// What every handler can reach. Cheap to clone; add fields freely (the staff web UI adds
/// its sessions here).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub blobs: Arc<dyn PhotoBlobs>,
    pub config: Arc<ApiConfig>,
    /// Settings of the staff web UI ([`crate::web`]).
    pub web: Arc<crate::web::WebConfig>,
    uploads_in_flight: Arc<tus::InFlight>,
    /// Keeps a photo's purge and the completion of its upload apart ([`crate::retention`]).
    pub(crate) photo_gate: Arc<crate::retention::PhotoGate>,
}

impl AppState {
    /// Creates `config.upload_dir` if needed. The staff UI gets its default settings.
    pub fn new(store: Arc<dyn Store>, blobs: Arc<dyn PhotoBlobs>, config: ApiConfig) -> std::io::Result<Self> {
        std::fs::create_dir_all(&config.upload_dir)?;
        Ok(Self {
            store,
            blobs,
            config: Arc::new(config),
            web: Arc::default(),
            uploads_in_flight: Arc::default(),
            photo_gate: Arc::default(),
        })
    }

    /// With these staff web UI settings.
    pub fn with_web(mut self, web: crate::web::WebConfig) -> Self {
        self.web = Arc::new(web);
        self
    }
}

/// An authenticated device (from `Authorization: Bearer …`).
pub struct Device(pub DeviceAuth);

impl FromRequestParts<AppState> for Device {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AppError::new(ErrorCode::Unauthorized, "缺少设备令牌 / missing device bearer token"))?;
        let auth = state.store.authenticate_device(token).await?;
        observe::record_device(auth.device_id);
        Ok(Device(auth))
    }
}

/// `Json` whose rejections are [`AppError`]s (JSON bodies, 413 for oversize).
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct ApiJson<T>(pub T);

async fn require_protocol(req: Request, next: Next) -> Result<Response, AppError> {
    let missing = || {
        AppError::new(
            ErrorCode::ProtocolVersion,
            format!("缺少或无法识别协议版本头 {PROTOCOL_HEADER} / missing or unreadable {PROTOCOL_HEADER} header"),
        )
        .with_status(StatusCode::BAD_REQUEST)
    };
    let header = req.headers().get(PROTOCOL_HEADER).ok_or_else(missing)?;
    let version: u32 = header.to_str().ok().and_then(|s| s.trim().parse().ok()).ok_or_else(missing)?;
    if version != PROTOCOL_VERSION {
        return Err(AppError::new(
            ErrorCode::ProtocolVersion,
            format!(
                "应用的同步协议版本({version})与中心({PROTOCOL_VERSION})不兼容,请升级应用 / protocol version {version} is not supported (centre speaks {PROTOCOL_VERSION})"
            ),
        ));
    }
    Ok(next.run(req).await)
}

async fn timed_out(_: tower::BoxError) -> AppError {
    AppError::new(ErrorCode::Unavailable, "处理超时,请稍后重试 / request timed out, please retry")
}

struct DeviceToken;

impl Modify for DeviceToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "device_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("设备令牌,注册时获得 / the device token from enrolment"))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Daiban centre sync API",
        description = "镇便民服务中心与代办员手机之间的同步接口 / Sync API between the township centre and agents' phones.\n\n\
            Every request except tus uploads carries `daiban-protocol: 1`. Errors are `ErrorBody` JSON. \
            Photos are uploaded with tus 1.0 (core, creation, checksum) at `/api/v1/uploads`; see the upload endpoints.",
        version = "1"
    ),
    modifiers(&DeviceToken),
    tags((name = "sync", description = "注册、推送、拉取 / enrolment, push, pull"), (name = "uploads", description = "tus 1.0 照片上传 / photo uploads"))
)]
struct ApiDoc;

/// The API's routes and its OpenAPI document, from the same annotations.
fn parts(config: &ApiConfig) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let sync = OpenApiRouter::new()
        .routes(utoipa_axum::routes!(sync::enrol))
        .routes(utoipa_axum::routes!(sync::push))
        .routes(utoipa_axum::routes!(sync::changes))
        .routes(utoipa_axum::routes!(sync::photos_missing))
        .layer(DefaultBodyLimit::max(config.json_body_limit))
        .layer(middleware::from_fn(require_protocol))
        .layer(ServiceBuilder::new().layer(HandleErrorLayer::new(timed_out)).timeout(config.request_timeout))
        // JSON answers gzipped for clients that ask (agent-core does): a first pull carries the
        // catalogue, 117 KB of JSON, 22 KB gzipped — a minute less on 2G. Only these routes:
        // the staff pages hold CSRF tokens next to reflected input (BREACH), photos are JPEG.
        .layer(CompressionLayer::new());
    let uploads = OpenApiRouter::new()
        .routes(utoipa_axum::routes!(tus::options, tus::create))
        .routes(utoipa_axum::routes!(tus::head, tus::patch))
        .layer(middleware::from_fn(tus::protocol));
    let docs = OpenApiRouter::new().routes(utoipa_axum::routes!(openapi_json));
    OpenApiRouter::with_openapi(ApiDoc::openapi()).merge(sync).merge(uploads).merge(docs).split_for_parts()
}

/// The OpenAPI document of the sync API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    parts(&ApiConfig::new(std::env::temp_dir())).1
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "sync", responses((status = 200, description = "OpenAPI 3.1 document")))]
async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}

/// The whole application: the sync API and the staff web UI ([`crate::web`]).
pub fn router(state: AppState) -> Router {
    let (routes, _) = parts(&state.config);
    let routes = routes
        .merge(crate::web::routes(&state))
        .route("/healthz", axum::routing::get(health))
        .fallback(not_routed)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(crate::web::in_reader_language));
    observe::observed(routes).with_state(state)
}

/// `GET /healthz` for a load balancer or monitor: 200 when the database answers a read,
/// 503 (with the reason in the log, not in the answer) when it does not. No login, no data.
async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match state.store.township(crate::store::TownshipId(0)).await {
        Ok(_) => (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "status": "unavailable" }))).into_response()
        }
    }
}

/// Whether `path` belongs to the sync API (answered with JSON [`ErrorBody`](daiban_proto::sync::ErrorBody)s)
/// rather than the staff web UI (answered with pages).
pub(crate) fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/")
}

/// A path no route serves: under `/api/` an [`ErrorBody`](daiban_proto::sync::ErrorBody) like
/// every other refusal of the API (a client can tell "no such endpoint" from a dead server);
/// elsewhere a plain 404. The path is not echoed (it could carry personal data into the log).
async fn not_routed(uri: axum::http::Uri) -> Response {
    if is_api_path(uri.path()) {
        AppError::new(ErrorCode::NotFound, "没有这个接口 / no such endpoint").into_response()
    } else {
        crate::web::WebError::not_found(
            "找不到这个页面：地址可能有误，或链接已经过期。 / No such page: the address may be wrong, or the link has expired.",
        )
        .into_response()
    }
}

/// A known path with a method it does not serve.
async fn method_not_allowed(uri: axum::http::Uri) -> Response {
    if is_api_path(uri.path()) {
        AppError::bad_request("此接口不支持这种请求方法 / method not allowed on this endpoint")
            .with_status(StatusCode::METHOD_NOT_ALLOWED)
            .into_response()
    } else {
        StatusCode::METHOD_NOT_ALLOWED.into_response()
    }
}

/// Serve until `shutdown` completes, then finish the requests in progress.
pub async fn serve(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
