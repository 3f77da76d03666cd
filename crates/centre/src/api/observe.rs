//! What every request leaves in the log, and what a panic in a handler becomes.
//!
//! One line per request at `info` when it is answered: method, the *matched route* (a
//! pattern like `/api/v1/uploads/{id}`, never the path a client sent — paths and queries can
//! carry personal data), status, latency, and who asked (`device` or `staff` id, recorded into
//! the request span by the extractors that authenticate them). A panic inside a handler is
//! caught here and answered 500 with an error id that is also in the log, so the connection
//! is not just dropped and the person who saw the error can quote the id.

use crate::api::AppError;
use axum::extract::{MatchedPath, Request};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use std::time::Instant;
use tracing::field::Empty;

/// `router` with a span per request, the access log and panics caught (outermost layers).
pub fn observed<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(axum::middleware::from_fn(access_log))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_span).on_request(()).on_response(()).on_failure(()))
}

/// The span of a request. `device` and `staff` start empty and are filled by
/// [`record_device`] and [`record_staff`].
pub fn request_span(req: &Request) -> tracing::Span {
    let route = req.extensions().get::<MatchedPath>().map_or("(no route)", |m| m.as_str());
    tracing::info_span!("request", method = %req.method(), route = %route, device = Empty, staff = Empty)
}

/// Note the authenticated device in the current request's span.
pub fn record_device(id: impl std::fmt::Display) {
    tracing::Span::current().record("device", tracing::field::display(id));
}

/// Note the signed-in staff member in the current request's span.
pub fn record_staff(id: impl std::fmt::Display) {
    tracing::Span::current().record("staff", tracing::field::display(id));
}

/// Log the answer to every request (inside its span) and turn a panic into a 500.
pub async fn access_log(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let api = crate::api::is_api_path(req.uri().path());
    let response = match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => panicked(api, panic.as_ref()),
    };
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(status, latency_ms, "answered");
    } else {
        tracing::info!(status, latency_ms, "answered");
    }
    response
}

fn panicked(api: bool, panic: &(dyn std::any::Any + Send)) -> Response {
    let error_id = &uuid::Uuid::new_v4().simple().to_string()[..12];
    let what =
        panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str)).unwrap_or("(no message)");
    tracing::error!(error_id, panic = what, "handler panicked");
    if api {
        let mut e = AppError::internal(format!("panic {error_id}"));
        e.body.message =
            format!("中心内部错误(编号 {error_id}),请稍后重试 / internal error on the centre (id {error_id}), please retry later");
        e.into_response()
    } else {
        let message = format!("中心内部错误，已记录在日志中。请稍后重试；如果一再出现，请把错误编号 {error_id} 告诉管理员。");
        crate::web::WebError::new(StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use std::sync::{Arc, Mutex};
    use tower::ServiceExt;

    /// The log lines written while the test runs.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Log {
        type Writer = Log;
        fn make_writer(&'a self) -> Log {
            self.clone()
        }
    }

    fn app() -> Router {
        async fn resident() -> &'static str {
            record_device("7f3e");
            "ok"
        }
        async fn boom() -> &'static str {
            panic!("a bug in a handler")
        }
        observed(
            Router::new().route("/api/v1/residents/{id}", get(resident)).route("/api/v1/boom", get(boom)).route("/staff/boom", get(boom)),
        )
    }

    async fn get_path(path: &str) -> Response {
        app().oneshot(axum::http::Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn each_request_is_logged_at_info_by_route_not_by_path() {
        let log = Log::default();
        let subscriber = tracing_subscriber::fmt().with_writer(log.clone()).with_ansi(false).with_max_level(tracing::Level::INFO).finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let response = get_path("/api/v1/residents/370611195001011234").await;
        assert_eq!(response.status(), StatusCode::OK);
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("INFO"), "{text}");
        assert!(text.contains("method=GET"), "{text}");
        assert!(text.contains("route=/api/v1/residents/{id}"), "{text}");
        assert!(text.contains("device=7f3e"), "{text}");
        assert!(text.contains("status=200"), "{text}");
        assert!(text.contains("latency_ms="), "{text}");
        assert!(!text.contains("370611195001011234"), "an ID number in the path never reaches the log: {text}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_is_a_500_with_an_error_id_that_is_in_the_log() {
        let log = Log::default();
        let subscriber = tracing_subscriber::fmt().with_writer(log.clone()).with_ansi(false).finish();
        let _guard = tracing::subscriber::set_default(subscriber);

        let api = get_path("/api/v1/boom").await;
        assert_eq!(api.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(api.into_body(), 1 << 16).await.unwrap();
        let body: daiban_proto::sync::ErrorBody = serde_json::from_slice(&body).expect("the API's error body");
        assert_eq!(body.code, daiban_proto::sync::ErrorCode::Internal);
        let id = body.message.split("编号 ").nth(1).and_then(|r| r.get(..12)).expect("an error id in the message").to_string();
        let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains(&format!("error_id=\"{id}\"")) || text.contains(&format!("error_id={id}")), "{id} in {text}");
        assert!(text.contains("a bug in a handler"), "{text}");

        let page = get_path("/staff/boom").await;
        assert_eq!(page.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let html = String::from_utf8(axum::body::to_bytes(page.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap();
        assert!(html.contains("出错了") && html.contains("返回工作台") && html.contains("错误编号"), "{html}");
    }
}
