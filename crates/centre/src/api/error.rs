//! The one error type of the HTTP edge.
//!
//! Every failure becomes an [`ErrorBody`] JSON (`code`, Chinese-first `message`, optional
//! `field`) with a matching status. Refusals from the store carry their own code and message;
//! backend failures are logged with their details and answered with a generic message only,
//! so nothing internal leaks to a client.

use crate::store::StoreError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use daiban_proto::sync::{ErrorBody, ErrorCode};

/// tus's "Checksum Mismatch" status.
pub const CHECKSUM_MISMATCH: u16 = 460;

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub body: ErrorBody,
    /// What to log (never sent).
    pub detail: Option<String>,
}

/// The HTTP status for an error code.
pub fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::Validation => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::Unauthorized | ErrorCode::Revoked => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden | ErrorCode::EnrolmentCode => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::ProtocolVersion => StatusCode::UPGRADE_REQUIRED,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::ChecksumMismatch => StatusCode::from_u16(CHECKSUM_MISMATCH).expect("valid status"),
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { status: status_of(code), body: ErrorBody { code, message: message.into(), field: None }, detail: None }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_field(mut self, field: &str) -> Self {
        self.body.field = Some(field.into());
        self
    }

    /// A failure of ours: logged in full, answered generically.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let mut e = Self::new(ErrorCode::Internal, "中心内部错误,请稍后重试 / internal error on the centre, please retry later");
        e.detail = Some(detail.to_string());
        e
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(r) => {
                let mut e = AppError::new(r.code, r.message);
                e.body.field = r.field;
                e
            }
            StoreError::Backend(_) => AppError::internal(format!("{e}: {:?}", std::error::Error::source(&e))),
        }
    }
}

impl From<std::io::Error> for AppError {
    fn from(e: std::io::Error) -> Self {
        AppError::internal(format!("I/O: {e}"))
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return too_large();
        }
        match r {
            JsonRejection::MissingJsonContentType(_) => AppError::bad_request("需要 Content-Type: application/json / expected a JSON body")
                .with_status(StatusCode::UNSUPPORTED_MEDIA_TYPE),
            // serde's message says which field and why (and the validated types' errors are
            // written for people), so it is worth passing on.
            other => AppError::bad_request(format!("请求内容格式有误 / malformed request: {}", mask_id_numbers(&other.body_text()))),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::bad_request(format!("查询参数有误 / bad query parameter: {}", mask_id_numbers(&r.body_text())))
    }
}

/// `text` with every run of 15 or more digits (what an ID number looks like, possibly
/// followed by its check character `X`) masked like [`daiban_proto::IdNumber`]'s `Display`:
/// first four and last four kept. For text that echoes what a client sent (serde's messages
/// quote a number they could not take, e.g. an ID number sent as a JSON number) and for
/// request paths, before they are logged or answered.
pub fn mask_id_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if run == 0 {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let end = i + run + usize::from(run >= 15 && chars.get(i + run).is_some_and(|c| *c == 'X' || *c == 'x'));
        if run >= 15 {
            let n = end - i;
            out.extend(&chars[i..i + 4]);
            out.extend(std::iter::repeat_n('*', n - 8));
            out.extend(&chars[end - 4..end]);
        } else {
            out.extend(&chars[i..end]);
        }
        i = end;
    }
    out
}

pub fn too_large() -> AppError {
    AppError::new(ErrorCode::PayloadTooLarge, "请求内容太大 / request body too large")
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = %self.status, code = ?self.body.code, detail = self.detail.as_deref().unwrap_or(""), "request failed");
        } else {
            tracing::debug!(status = %self.status, code = ?self.body.code, message = %self.body.message, "request refused");
        }
        (self.status, Json(self.body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::mask_id_numbers;

    #[test]
    fn id_numbers_in_text_are_masked() {
        assert_eq!(
            mask_id_numbers("invalid type: integer `370611195003011234`, expected a string"),
            "invalid type: integer `3706**********1234`, expected a string"
        );
        assert_eq!(mask_id_numbers("/api/v1/x/37061119500301123X/y"), "/api/v1/x/3706**********123X/y");
        assert_eq!(mask_id_numbers("after=12345678901234 王"), "after=12345678901234 王", "shorter numbers stay");
        assert_eq!(mask_id_numbers("123456789012345"), "1234*******2345");
    }
}
