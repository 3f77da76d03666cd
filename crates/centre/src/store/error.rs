//! Errors of the storage layer.
//!
//! Callers branch on exactly one thing: was the request *refused* (a permanent, explainable
//! problem with what was asked — shown to the agent or staff member, and for pushed events
//! stored as the event's outcome) or did the *backend* fail (transient; retry later, details
//! only in the log). A refusal carries the wire [`ErrorCode`] and a Chinese-first message that
//! names the problem.

use daiban_proto::sync::ErrorCode;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    /// "中文 / English", naming the field or record at fault.
    pub message: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}", .0.message)]
    Refused(Refusal),
    #[error("storage backend failed: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A refusal with `code` and `message`.
pub fn refuse(code: ErrorCode, message: impl Into<String>) -> StoreError {
    StoreError::Refused(Refusal { code, message: message.into(), field: None })
}

/// A [`ErrorCode::Validation`] refusal naming `field`.
pub fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Refused(Refusal { code: ErrorCode::Validation, message: message.into(), field: Some(field.into()) })
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }
}

macro_rules! backend_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::backend(e)
            }
        }
    )*};
}

backend_error!(
    rusqlite::Error,
    tokio_postgres::Error,
    deadpool_postgres::PoolError,
    serde_json::Error,
    tokio::task::JoinError,
    std::io::Error
);
