//! What can go wrong while syncing, sorted by what the engine does about it: retry later
//! (transient), stop until the agent acts (revoked device, app too old), or give up on one
//! request (a permanent refusal, which for an outbox event means quarantine).
//!
//! Every message is written for the agent, Chinese first, and says what happens next.

use crate::store::StoreError;
use daiban_proto::sync::{ErrorBody, ErrorCode};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("这部手机还没有绑定便民服务中心 / this phone is not enrolled with a centre yet")]
    NotEnrolled,
    #[error("便民服务中心地址有误：{0} / the centre address is not valid")]
    BadUrl(String),
    /// No connection could be made (no network, DNS failure, refused, connect timeout): the
    /// request never reached the centre.
    #[error("连不上便民服务中心，有网络后会自动重试 / cannot reach the centre; will retry when the network is back ({0})")]
    Unreachable(String),
    /// The connection broke, stalled or timed out mid-request, or the answer came back cut
    /// short: the centre may or may not have acted (every request is safe to repeat).
    #[error("网络中断，稍后自动重试 / the connection broke; will retry ({0})")]
    Interrupted(String),
    /// The centre answered 5xx, 429 or 423: try again later.
    #[error("便民服务中心暂时忙（{status}），稍后自动重试 / the centre is busy ({status}); will retry: {message}")]
    Busy { status: u16, message: String, retry_after: Option<Duration> },
    #[error("本设备已被镇便民服务中心停用，同步已暂停，手机上的数据都还在。请向镇里索取新的注册码重新绑定 / this device was revoked by the township centre: syncing stopped, nothing on the phone is lost; ask for a new enrolment code")]
    Revoked,
    #[error("便民服务中心不认识本设备，同步已暂停，手机上的数据都还在。请重新绑定 / the centre does not recognise this device: syncing stopped, nothing on the phone is lost; enrol again")]
    Unauthorized,
    #[error(
        "应用版本与便民服务中心不兼容，请升级应用 / this app's version is not compatible with the centre; please update the app ({0})"
    )]
    Incompatible(String),
    #[error("注册码不对、已用过或已过期，请向镇便民服务中心索取新的注册码 / the enrolment code is wrong, already used or expired; ask the township centre for a new one")]
    EnrolmentCode,
    /// A permanent refusal of one request (4xx): the centre's own message, Chinese first.
    #[error("{message}")]
    Refused { status: u16, code: Option<ErrorCode>, message: String, field: Option<String> },
    /// The centre's TLS certificate is not one the phone trusts: no public CA vouches for it
    /// and it is not the one pinned at enrolment. Not retried: it stays so until someone acts.
    #[error("便民服务中心的证书不受信任，同步已暂停。请扫描镇里提供的设备注册二维码重新绑定（二维码带有证书指纹） / the centre's certificate is not trusted: syncing stopped; enrol again by scanning the centre's QR code (it carries the certificate's fingerprint) ({0})")]
    UntrustedCertificate(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Worth trying again later, unchanged.
    pub fn is_transient(&self) -> bool {
        matches!(self, SyncError::Unreachable(_) | SyncError::Interrupted(_) | SyncError::Busy { .. })
    }

    /// The link to the centre is down (as opposed to the centre answering with an error).
    pub fn is_offline(&self) -> bool {
        matches!(self, SyncError::Unreachable(_) | SyncError::Interrupted(_))
    }

    /// Syncing cannot go on until the agent acts (enrol again, update the app).
    pub fn stops_sync(&self) -> bool {
        matches!(
            self,
            SyncError::Revoked
                | SyncError::Unauthorized
                | SyncError::Incompatible(_)
                | SyncError::NotEnrolled
                | SyncError::UntrustedCertificate(_)
        )
    }

    /// How long the centre asked us to wait (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SyncError::Busy { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The error an HTTP status and (if the centre sent one) its [`ErrorBody`] stand for.
    pub(crate) fn from_status(status: u16, body: Option<ErrorBody>, retry_after: Option<Duration>) -> Self {
        let code = body.as_ref().map(|b| b.code);
        let message = body.as_ref().map(|b| b.message.clone()).unwrap_or_else(|| format!("HTTP {status}"));
        match code {
            Some(ErrorCode::Revoked) => return SyncError::Revoked,
            Some(ErrorCode::Unauthorized) => return SyncError::Unauthorized,
            Some(ErrorCode::ProtocolVersion) => return SyncError::Incompatible(message),
            Some(ErrorCode::EnrolmentCode) => return SyncError::EnrolmentCode,
            Some(c) if c.is_transient() => return SyncError::Busy { status, message, retry_after },
            _ => {}
        }
        match status {
            401 => SyncError::Unauthorized,
            426 => SyncError::Incompatible(message),
            // 408 request timeout, 423 locked (a tus upload still being written), 429, 5xx
            408 | 423 | 429 | 500..=599 => SyncError::Busy { status, message, retry_after },
            _ => SyncError::Refused { status, code, message, field: body.and_then(|b| b.field) },
        }
    }

    /// A failed `reqwest` call: nothing came back that could be read whole.
    pub(crate) fn from_transport(e: reqwest::Error) -> Self {
        // The chain (hyper, io) says what really happened; keep it for the log and the screen.
        let mut detail = e.to_string();
        let mut untrusted = false;
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            detail = format!("{detail}: {s}");
            untrusted |= is_invalid_certificate(s);
            source = s.source();
        }
        if untrusted {
            SyncError::UntrustedCertificate(detail)
        } else if e.is_connect() {
            SyncError::Unreachable(detail)
        } else if e.is_builder() {
            SyncError::BadUrl(detail)
        } else {
            SyncError::Interrupted(detail)
        }
    }
}

/// Whether `e` is rustls refusing the server's certificate. The TLS error reaches us wrapped in
/// `io::Error`s (two deep from hyper-util and tokio-rustls), and an `io::Error`'s `source()`
/// skips the error it wraps, so they are unwrapped here with `get_ref`.
fn is_invalid_certificate(mut e: &(dyn std::error::Error + 'static)) -> bool {
    loop {
        if matches!(e.downcast_ref::<rustls::Error>(), Some(rustls::Error::InvalidCertificate(_))) {
            return true;
        }
        match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => e = inner,
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: ErrorCode) -> Option<ErrorBody> {
        Some(ErrorBody { code, message: "中心说明 / centre says".into(), field: Some("events".into()) })
    }

    #[test]
    fn statuses_and_codes_map_to_what_the_engine_does() {
        assert!(matches!(SyncError::from_status(401, body(ErrorCode::Revoked), None), SyncError::Revoked));
        assert!(matches!(SyncError::from_status(401, None, None), SyncError::Unauthorized));
        assert!(SyncError::from_status(426, body(ErrorCode::ProtocolVersion), None).stops_sync());
        let busy = SyncError::from_status(503, None, Some(Duration::from_secs(7)));
        assert!(busy.is_transient() && !busy.is_offline());
        assert_eq!(busy.retry_after(), Some(Duration::from_secs(7)));
        assert!(SyncError::from_status(423, body(ErrorCode::Conflict), None).is_transient());
        assert!(SyncError::from_status(429, body(ErrorCode::RateLimited), None).is_transient());
        match SyncError::from_status(422, body(ErrorCode::Validation), None) {
            SyncError::Refused { status: 422, code: Some(ErrorCode::Validation), message, field } => {
                assert!(message.starts_with("中心说明"));
                assert_eq!(field.as_deref(), Some("events"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(SyncError::from_status(403, body(ErrorCode::EnrolmentCode), None), SyncError::EnrolmentCode));
        assert!(!SyncError::from_status(400, None, None).is_transient());
    }
}
