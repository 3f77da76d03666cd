//! The township staff's web UI (镇便民服务中心工作台), served by the same axum server as the
//! sync API, under `/staff/`.
//!
//! Server-rendered HTML (maud), Chinese first with an English switch, no JavaScript needed:
//! one small script only adds j/k keyboard navigation to the inbox. Pages:
//!
//! - [`auth`]: login (argon2 via the store; [`throttle`] locks a user name out, with back-off,
//!   after repeated wrong passwords), logout, server-side sessions that expire, and the CSRF
//!   check of every POST (a middleware, so no handler can forget it);
//! - [`inbox`]: the township's applications by deadline, filtered, keyset-paged;
//! - [`application`]: one application — resident (ID masked until an audited reveal), form,
//!   photos (zoom and rotate in CSS), materials checklist, timeline, revisions with their
//!   differences ([`diff`]), and the review actions;
//! - [`stats`]: statistics with SVG charts, CSV export and bad-rating follow-up;
//! - [`devices`]: enrolment codes (with QR) and the village devices;
//! - [`accounts`]: staff accounts, made by the township admin;
//! - [`setup`]: the first run of a centre without a township (a one-time link).
//!
//! Every query is scoped by the logged-in staff member's township; another township's
//! application, photo or device is "not found".

mod accounts;
mod application;
mod auth;
mod devices;
pub use devices::enrolment_link;
mod diff;
mod error;
pub(crate) use error::{in_reader_language, WebError};
mod i18n;
mod inbox;
mod layout;
mod setup;
pub use setup::FirstRun;
mod stats;
mod throttle;
pub use throttle::LoginThrottle;

use crate::api::AppState;
use crate::store::SessionPolicy;
use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

/// Settings of the staff web UI.
#[derive(Clone, Debug, Default)]
pub struct WebConfig {
    /// How long a login lasts (idle and absolute).
    pub session: SessionPolicy,
    /// Mark cookies `Secure`. Also done for any request that arrives with
    /// `X-Forwarded-Proto: https` (TLS ended at a reverse proxy).
    pub secure_cookies: bool,
    /// The centre's address as phones reach it (`https://daiban.example.gov.cn`), put into
    /// enrolment QR codes. When unset, it is taken from the request (`Host`, and
    /// `X-Forwarded-Proto` when present).
    pub public_url: Option<String>,
    /// `sha256:<hex>` of the centre's TLS certificate when it serves HTTPS itself: put into
    /// enrolment links so phones trust a certificate no public CA signed ([`crate::tls::leaf_pin`]).
    pub cert_pin: Option<String>,
    /// The pending first-run set-up of a centre without a township ([`FirstRun`]).
    pub first_run: Option<std::sync::Arc<FirstRun>>,
    /// Wrong passwords per user name, for lockout with back-off ([`LoginThrottle`]).
    pub login_throttle: std::sync::Arc<LoginThrottle>,
}

/// The staff UI's routes; [`crate::api::router`] merges them into the server.
pub fn routes(state: &AppState) -> Router<AppState> {
    let open = Router::new()
        .route("/", get(|| async { Redirect::to("/staff/inbox") }))
        .route("/staff", get(|| async { Redirect::to("/staff/inbox") }))
        .route("/staff/", get(|| async { Redirect::to("/staff/inbox") }))
        .route("/staff/assets/style.css", get(layout::stylesheet))
        .route("/staff/assets/app.js", get(layout::script))
        .route("/staff/lang/{lang}", get(i18n::switch))
        .route("/staff/login", get(auth::login_page).post(auth::login))
        .route("/staff/setup", get(setup::page).post(setup::submit));
    let signed_in = Router::new()
        .route("/staff/logout", post(auth::logout))
        .route("/staff/inbox", get(inbox::page))
        .route("/staff/applications/{id}", get(application::page))
        .route("/staff/applications/{id}/reveal", post(application::reveal))
        .route("/staff/applications/{id}/decide", post(application::decide))
        .route("/staff/photos/{hash}", get(application::photo))
        .route("/staff/stats", get(stats::page))
        .route("/staff/stats.csv", get(stats::csv))
        .route("/staff/ratings/follow-up", post(stats::follow_up))
        .route("/staff/devices", get(devices::page))
        .route("/staff/enrolment-codes", post(devices::create_code))
        .route("/staff/devices/{id}/revoke", post(devices::revoke))
        .route("/staff/agents", post(devices::add_agent))
        .route("/staff/accounts", get(accounts::page).post(accounts::create))
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_staff));
    open.merge(signed_in).layer(middleware::map_response(security_headers))
}

/// Headers for every staff page: no framing, no caching of personal data, scripts and
/// styles only from the centre itself (inline `style` attributes carry photo sizes).
async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::CACHE_CONTROL, "no-store"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    for (name, value) in defaults {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    resp
}
