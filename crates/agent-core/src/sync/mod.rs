//! Sync with the township centre: enrolment, pushing the outbox, uploading photos, pulling
//! decisions. The engine runs on its own thread; the UI only watches [`SyncStatus`] and can
//! ask for an immediate run through [`SyncHandle::trigger`].
//!
//! * [`enrol`]: exchange a one-time code for this device's token (kept in the store).
//! * [`SyncClient::run_once`]: one whole sync (push → pull → photos over tus → pull), for the
//!   engine, tests and load generators alike; see [`client`] for the order and the rules.
//! * [`start`] / [`start_with`]: the background engine (timers, back-off, offline probing,
//!   automatic enrolment from a code file); see [`engine`].
//!
//! How it works, with figures measured under fault injection: `docs/sync.md`.

pub mod client;
mod config;
pub mod engine;
mod enrol;
mod error;
mod http;
pub mod network;
mod pin;
mod settings;
mod status;
mod tus;

pub use client::{RunReport, SyncClient};
pub use config::{RetryPolicy, SyncConfig};
pub use engine::{start_with, EngineOptions};
pub use enrol::{enrol, enrol_pinned};
pub use error::SyncError;
pub use network::{NetworkMonitor, UnknownNetwork};
pub use pin::CertPin;
pub use settings::{Enrolment, SyncSettings};
pub use status::{SyncHandle, SyncPhase, SyncStatus};

use crate::store::Store;
use std::path::PathBuf;

/// Start the sync engine for this store on a background thread and return the UI's handle.
///
/// `centre_url` and `enrol_code_file` allow unattended enrolment (the demo writes a one-time
/// code to a file that the app uses on first start). The link is taken as unmetered; a phone
/// build passes its [`NetworkMonitor`] through [`start_with`].
pub fn start(store: Store, centre_url: Option<String>, enrol_code_file: Option<PathBuf>) -> SyncHandle {
    start_with(store, centre_url, enrol_code_file, EngineOptions::default())
}
