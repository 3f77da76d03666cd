//! Enrolment: exchange the one-time code township staff hand out (typed in, scanned from the
//! QR, or read from a file in the demo) for this device's token, and keep it in the store.
//!
//! A code works once. If the answer is lost on the way back, the code is spent and the token
//! with it, so enrolment retries only failures where the request provably never left the
//! phone (no connection could be made); anything else is reported and the agent asks for a
//! new code.

use super::config::SyncConfig;
use super::error::SyncError;
use super::http::{build_client, parse_centre_url, Api};
use super::settings::Enrolment;
use crate::store::Store;
use backon::Retryable;
use daiban_proto::sync::{EnrolRequest, EnrolResponse};
use reqwest::Method;
use std::sync::Arc;

/// Enrol this device with the centre at `centre_url` using a one-time `code`, and save the
/// enrolment (token, village) in the store. Re-enrolling (after a revocation, or to move to
/// another village) replaces the previous enrolment; moving to another centre or village
/// starts the change feed from the beginning.
pub async fn enrol(store: &Store, centre_url: &str, code: &str, device_name: &str) -> Result<Enrolment, SyncError> {
    let cfg = Arc::new(SyncConfig::default());
    enrol_with(store, centre_url, code, device_name, &cfg).await
}

pub(crate) async fn enrol_with(
    store: &Store,
    centre_url: &str,
    code: &str,
    device_name: &str,
    cfg: &Arc<SyncConfig>,
) -> Result<Enrolment, SyncError> {
    let base = parse_centre_url(centre_url)?;
    let api = Api::new(build_client(cfg)?, base.clone(), None, cfg.clone());
    let req = EnrolRequest { code: code.trim().to_string(), device_name: device_name.trim().to_string() };
    let url = api.url("/api/v1/enrol")?;
    let resp: EnrolResponse = (|| api.json_once(api.request(Method::POST, url.clone()).json(&req)))
        .retry(cfg.retry.builder())
        .sleep(tokio::time::sleep)
        .when(|e| matches!(e, SyncError::Unreachable(_)))
        .await?;
    let enrolment = Enrolment {
        centre_url: base.as_str().trim_end_matches('/').to_string(),
        device_id: resp.device_id.to_string(),
        token: resp.token,
        township: resp.township,
        village_code: resp.village_code,
        village_name: resp.village_name,
    };
    let moved = store
        .enrolment()?
        .is_some_and(|old| old.centre_url != enrolment.centre_url || old.village_code != enrolment.village_code);
    if moved {
        store.reset_pull_cursor()?;
    }
    store.save_enrolment(&enrolment)?;
    tracing::info!(village = %enrolment.village_code, device = %enrolment.device_id, "enrolled");
    Ok(enrolment)
}
