//! Errors of the staff UI, shown as a small HTML page with a Chinese-first message.
//!
//! Refusals from the store keep their own status and message ("申请不存在 / no such
//! application"); backend failures are logged in full and shown generically, like
//! [`crate::api::AppError`] does for the sync API.
//!
//! Messages are written `中文 / English` where they are made, which does not know the
//! reader's language; the page shows one half. [`in_reader_language`] draws the page again
//! in English when the request's cookie asks for it.

use crate::api::error::status_of;
use crate::store::StoreError;
use crate::web::i18n::Lang;
use crate::web::layout;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use daiban_proto::text::in_language;
use maud::html;

#[derive(Clone, Debug)]
pub struct WebError {
    pub status: StatusCode,
    /// "中文 / English"
    pub message: String,
}

pub type WebResult<T> = Result<T, WebError>;

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(detail = %detail, "staff web UI request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "中心内部错误,请稍后重试 / internal error on the centre, please retry later")
    }
}

impl From<StoreError> for WebError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(r) => Self::new(status_of(r.code), r.message),
            StoreError::Backend(_) => Self::internal(format!("{e}: {:?}", std::error::Error::source(&e))),
        }
    }
}

impl From<crate::admin::AdminError> for WebError {
    fn from(e: crate::admin::AdminError) -> Self {
        match e {
            crate::admin::AdminError::Store(e) => e.into(),
            other => Self::bad_request(other.to_string()),
        }
    }
}

impl From<std::io::Error> for WebError {
    fn from(e: std::io::Error) -> Self {
        Self::internal(format!("I/O: {e}"))
    }
}

impl WebError {
    fn page(&self, lang: Lang) -> Response {
        let body = html! {
            main.narrow {
                section.card.error-page {
                    h1 { (self.status.as_u16()) }
                    p.error role="alert" { (in_language(&self.message, lang.english())) }
                    p { a href="/staff/inbox" { (lang.t("返回工作台", "Back to the inbox")) } }
                }
            }
        };
        (self.status, layout::bare(lang, lang.t("出错了", "Error"), body)).into_response()
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let mut resp = self.page(Lang::default());
        resp.extensions_mut().insert(self);
        resp
    }
}

/// Middleware over the whole server: an error page of the staff UI in the reader's language.
pub async fn in_reader_language(req: Request, next: Next) -> Response {
    let lang = Lang::from_jar(&CookieJar::from_headers(req.headers()));
    let resp = next.run(req).await;
    let Some(error) = resp.extensions().get::<WebError>().cloned() else { return resp };
    if lang == Lang::default() {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let (_, body) = error.page(lang).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::new(body))
}
