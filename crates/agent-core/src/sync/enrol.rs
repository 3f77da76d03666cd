//! Enrolment: exchange the one-time code township staff hand out (typed in, scanned from the
//! QR, or read from a file in the demo) for this device's token, and keep it in the store.
//!
//! A code works once, but the phone makes its own device token (`device_key`, 256 random
//! bits) and sends it with the code: the centre keeps the token's fingerprint, and the same
//! code asked again with the same key gets the same answer. So an answer lost on the way back
//! (a cut link) is simply asked for again, with back-off, like any other request. The key is
//! saved (in the encrypted store) before it is sent, under the centre and a fingerprint of
//! the code, so that trying the same code again — after the app was killed, or gave up
//! waiting — sends the same key and gets the answer the first try earned, instead of finding
//! the code spent.

use super::config::SyncConfig;
use super::error::SyncError;
use super::http::{build_client, parse_centre_url, Api};
use super::pin::CertPin;
use super::settings::Enrolment;
use crate::store::Store;
use daiban_proto::sync::{EnrolRequest, EnrolResponse};
use reqwest::Method;
use std::sync::Arc;

/// Enrol this device with the centre at `centre_url` using a one-time `code`, and save the
/// enrolment (token, village) in the store. Re-enrolling (after a revocation, or to move to
/// another village) replaces the previous enrolment; moving to another centre or village
/// starts the change feed from the beginning.
pub async fn enrol(store: &Store, centre_url: &str, code: &str, device_name: &str) -> Result<Enrolment, SyncError> {
    enrol_pinned(store, centre_url, code, device_name, None).await
}

/// [`enrol`] with the centre's certificate pin from the enrolment link (`pin=sha256:…`, see
/// [`super::CertPin`]), for a centre whose certificate no public CA signed. The pin is kept
/// with the enrolment and used for every later request.
pub async fn enrol_pinned(
    store: &Store,
    centre_url: &str,
    code: &str,
    device_name: &str,
    pin: Option<&str>,
) -> Result<Enrolment, SyncError> {
    let pin = pin.map(str::trim).filter(|p| !p.is_empty()).map(CertPin::parse).transpose()?;
    let cfg = Arc::new(SyncConfig::default());
    enrol_with(store, centre_url, code, device_name, pin, &cfg).await
}

/// Store key of the enrolment under way: `<centre>\n<sha256 of the code>\n<device key>`.
const PENDING_KEY: &str = "enrol.pending";

/// The device key to send with `code` to `centre`: the one saved by an earlier try with the
/// same code, or a new one, saved before it is used.
fn device_key_for(store: &Store, centre: &str, code: &str) -> Result<String, SyncError> {
    use sha2::Digest;
    let code_hash = hex::encode(sha2::Sha256::digest(daiban_proto::sync::normalise_enrolment_code(code).as_bytes()));
    if let Some(saved) = store.meta(PENDING_KEY)? {
        if let [c, h, key] = saved.splitn(3, '\n').collect::<Vec<_>>()[..] {
            if c == centre && h == code_hash && daiban_proto::sync::is_device_token(key) {
                return Ok(key.to_string());
            }
        }
    }
    let key = new_device_key();
    store.set_meta(PENDING_KEY, &format!("{centre}\n{code_hash}\n{key}"))?;
    Ok(key)
}

/// A device token of the form the centre expects ([`daiban_proto::sync::is_device_token`]).
fn new_device_key() -> String {
    use rand::RngCore;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    format!("{}{}", daiban_proto::sync::DEVICE_TOKEN_PREFIX, hex::encode(b))
}

pub(crate) async fn enrol_with(
    store: &Store,
    centre_url: &str,
    code: &str,
    device_name: &str,
    pin: Option<CertPin>,
    cfg: &Arc<SyncConfig>,
) -> Result<Enrolment, SyncError> {
    let base = parse_centre_url(centre_url)?;
    let centre = base.as_str().trim_end_matches('/').to_string();
    let api = Api::new(build_client(cfg, pin)?, base, None, cfg.clone());
    let key = device_key_for(store, &centre, code)?;
    let req = EnrolRequest { code: code.trim().to_string(), device_name: device_name.trim().to_string(), device_key: Some(key.clone()) };
    let url = api.url("/api/v1/enrol")?;
    let resp: EnrolResponse = api.json(|| Ok(api.request(Method::POST, url.clone()).json(&req))).await?;
    if resp.token != key {
        // a centre that predates device keys made its own token: fine, it is the token
        tracing::info!("the centre issued its own device token");
    }
    let enrolment = Enrolment {
        centre_url: centre,
        device_id: resp.device_id.to_string(),
        token: resp.token,
        township: resp.township,
        village_code: resp.village_code,
        village_name: resp.village_name,
        cert_pin: pin,
    };
    let moved = store.enrolment()?.is_some_and(|old| old.centre_url != enrolment.centre_url || old.village_code != enrolment.village_code);
    if moved {
        store.reset_pull_cursor()?;
    }
    store.save_enrolment(&enrolment)?;
    store.delete_meta(PENDING_KEY)?;
    tracing::info!(village = %enrolment.village_code, device = %enrolment.device_id, "enrolled");
    Ok(enrolment)
}

#[cfg(test)]
mod tests {
    #[test]
    fn device_keys_have_the_token_form_and_differ() {
        let (a, b) = (super::new_device_key(), super::new_device_key());
        assert!(daiban_proto::sync::is_device_token(&a), "{a}");
        assert_ne!(a, b);
    }
}
