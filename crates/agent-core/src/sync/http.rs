//! The HTTP edge of the sync client: one `reqwest` client with 2G-minded timeouts, requests
//! that always carry the protocol header (and the device token once enrolled), answers turned
//! into typed results or [`SyncError`]s, and retries of transient failures with exponential
//! back-off and jitter (`backon`), honouring `Retry-After`.

use super::config::SyncConfig;
use super::error::SyncError;
use super::pin::CertPin;
use backon::Retryable;
use daiban_proto::sync::{ErrorBody, PROTOCOL_HEADER};
use daiban_proto::PROTOCOL_VERSION;
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The one HTTP client of a sync client (connection pool, timeouts, rustls), trusting the
/// public roots and, if the enrolment carries one, the centre's pinned certificate.
pub(crate) fn build_client(cfg: &SyncConfig, pin: Option<CertPin>) -> Result<reqwest::Client, SyncError> {
    let builder = match pin {
        Some(pin) => reqwest::Client::builder().use_preconfigured_tls(super::pin::tls_config(pin)?),
        None => reqwest::Client::builder(),
    };
    builder
        .connect_timeout(cfg.connect_timeout)
        // Phones move between cells and NATs forget idle flows quickly: do not keep sockets
        // around long enough to find them dead.
        .pool_idle_timeout(Duration::from_secs(30))
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("daiban-agent/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SyncError::BadUrl(e.to_string()))
}

/// `http(s)://host[:port][/prefix]` typed in by the agent or taken from the demo, without a
/// trailing slash.
pub(crate) fn parse_centre_url(raw: &str) -> Result<Url, SyncError> {
    let raw = raw.trim().trim_end_matches('/');
    let url = Url::parse(raw).map_err(|e| SyncError::BadUrl(format!("{raw}: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(SyncError::BadUrl(format!("{raw}：需以 http:// 或 https:// 开头 / must start with http:// or https://")));
    }
    Ok(url)
}

/// One centre, one device token.
#[derive(Clone)]
pub(crate) struct Api {
    pub http: reqwest::Client,
    pub base: Url,
    token: Option<String>,
    pub cfg: Arc<SyncConfig>,
    /// Transient failures retried so far (for the run report).
    retries: Arc<AtomicU32>,
    /// Moves when the network is back (or the agent asked): back-offs end early.
    wake: Option<watch::Receiver<u64>>,
}

impl Api {
    pub fn new(http: reqwest::Client, base: Url, token: Option<String>, cfg: Arc<SyncConfig>) -> Self {
        Self { http, base, token, cfg, retries: Arc::default(), wake: None }
    }

    pub fn with_wake(mut self, wake: watch::Receiver<u64>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// Wait `delay` before a retry, or less if the network comes back meanwhile: after a cut,
    /// the link is usually back within seconds, and every second of back-off past that is a
    /// second of a slow link left idle.
    pub async fn pause(&self, delay: Duration) {
        pause(self.wake.clone(), delay).await
    }

    pub fn retries(&self) -> u32 {
        self.retries.load(Ordering::Relaxed)
    }

    pub fn count_retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    /// `path` is absolute (`/api/v1/push`) or a full URL (a tus `Location`), resolved against
    /// the centre's address.
    pub fn url(&self, path: &str) -> Result<Url, SyncError> {
        let mut base = self.base.clone();
        if path.starts_with('/') && !base.path().is_empty() && base.path() != "/" {
            // keep a path prefix of the centre's address (behind a reverse proxy)
            base.set_path(&format!("{}{path}", base.path().trim_end_matches('/')));
            return Ok(base);
        }
        base.join(path).map_err(|e| SyncError::BadUrl(format!("{path}: {e}")))
    }

    /// A request with the protocol header and the device token.
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let r = self.http.request(method, url).header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string());
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Send and read a JSON answer (one try), within `request_timeout`.
    pub async fn json_once<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, SyncError> {
        let resp = req.timeout(self.cfg.request_timeout).send().await.map_err(SyncError::from_transport)?;
        let resp = check(resp, self.cfg.request_timeout).await?;
        let body = resp.bytes().await.map_err(SyncError::from_transport)?;
        // A 2xx whose JSON does not parse was cut short on the way (or the centre is broken):
        // either way, asking again is the only thing to do.
        serde_json::from_slice(&body).map_err(|e| SyncError::Interrupted(format!("回应不完整 / incomplete answer: {e}")))
    }

    /// [`Api::json_once`] with retries of transient failures.
    pub async fn json<T: DeserializeOwned>(&self, make: impl Fn() -> Result<RequestBuilder, SyncError>) -> Result<T, SyncError> {
        self.retrying(|| async { self.json_once(make()?).await }).await
    }

    /// Run `f` until it succeeds, fails permanently, or the retries are used up.
    pub async fn retrying<T, F, Fut>(&self, f: F) -> Result<T, SyncError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, SyncError>>,
    {
        let cap = self.cfg.retry.max_delay;
        let wake = self.wake.clone();
        f.retry(self.cfg.retry.builder())
            .sleep(move |d| pause(wake.clone(), d))
            .when(SyncError::is_transient)
            .adjust(move |e: &SyncError, d| d.map(|d| e.retry_after().map_or(d, |ra| ra.min(cap).max(d))))
            .notify(|e: &SyncError, d: Duration| {
                self.count_retry();
                tracing::debug!("retrying in {d:?}: {e}");
            })
            .await
    }
}

/// See [`Api::pause`].
async fn pause(wake: Option<watch::Receiver<u64>>, delay: Duration) {
    let Some(mut wake) = wake else { return tokio::time::sleep(delay).await };
    wake.borrow_and_update();
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        Ok(()) = wake.changed() => tracing::debug!("back-off of {delay:?} ended early: network back or sync asked for"),
    }
}

/// A successful response, or the error its status and body stand for. The error body is read
/// within `timeout` (a stalled error body is as good as none).
pub(crate) async fn check(resp: Response, timeout: Duration) -> Result<Response, SyncError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = tokio::time::timeout(timeout, resp.bytes()).await.ok().and_then(Result::ok);
    let body: Option<ErrorBody> = body.and_then(|b| serde_json::from_slice(&b).ok());
    Err(SyncError::from_status(status, body, retry_after))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centre_urls_are_checked_and_paths_resolved() {
        assert!(matches!(parse_centre_url("ftp://x"), Err(SyncError::BadUrl(_))));
        assert!(matches!(parse_centre_url("not a url"), Err(SyncError::BadUrl(_))));
        let cfg = Arc::new(SyncConfig::default());
        let http = build_client(&cfg, None).unwrap();
        let api = Api::new(http.clone(), parse_centre_url(" http://10.0.0.1:8080/ ").unwrap(), None, cfg.clone());
        assert_eq!(api.url("/api/v1/push").unwrap().as_str(), "http://10.0.0.1:8080/api/v1/push");
        let prefixed = Api::new(http, parse_centre_url("https://gov.example/daiban/").unwrap(), None, cfg);
        assert_eq!(prefixed.url("/api/v1/uploads").unwrap().as_str(), "https://gov.example/daiban/api/v1/uploads");
        assert_eq!(
            prefixed.url("https://gov.example/daiban/api/v1/uploads/ab").unwrap().as_str(),
            "https://gov.example/daiban/api/v1/uploads/ab"
        );
    }
}
