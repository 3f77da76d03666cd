//! What the sync engine tells the UI: online or not, what it is doing, progress in items and
//! bytes, when it last succeeded. Published through a `tokio::sync::watch` channel so the UI
//! always sees the latest state without polling.

use chrono::{DateTime, Utc};
use std::sync::Arc;
use tokio::sync::{watch, Notify};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SyncPhase {
    #[default]
    Idle,
    /// Sending application text and other events.
    Pushing,
    /// Uploading photos.
    Uploading,
    /// Fetching decisions, delivery tasks, catalogue updates.
    Pulling,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncStatus {
    /// The device has been enrolled with a centre.
    pub enrolled: bool,
    /// The centre answered the last request (an error answer counts: the link works).
    pub online: bool,
    pub phase: SyncPhase,
    /// Progress of the current run: events + photos.
    pub items_done: u32,
    pub items_total: u32,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub last_success: Option<DateTime<Utc>>,
    /// Why the last run failed, or what it had to pass over (Chinese first, for the agent).
    pub last_error: Option<String>,
    /// Photos are waiting for Wi-Fi or for the data budget to allow them.
    pub photos_held: bool,
    /// Syncing is stopped until the agent acts: the device was revoked or is unknown to the
    /// centre (enrol again), or the app is too old (update it). `last_error` says which;
    /// nothing stored on the phone is touched.
    pub stopped: bool,
    /// Incremented whenever a run changed local data (the UI re-reads when it moves).
    pub data_version: u64,
}

impl SyncStatus {
    pub fn running(&self) -> bool {
        self.phase != SyncPhase::Idle
    }
}

/// The UI's end of the engine: watch the status, ask for a run now.
#[derive(Clone)]
pub struct SyncHandle {
    pub(crate) status: watch::Receiver<SyncStatus>,
    pub(crate) trigger: Arc<Notify>,
    /// Bumped by every trigger: a run waiting to retry a failed request (a cut link) retries
    /// at once instead of sleeping out its back-off.
    pub(crate) wake: Arc<watch::Sender<u64>>,
}

impl SyncHandle {
    /// A handle and the sender the engine publishes on.
    pub fn new() -> (Self, watch::Sender<SyncStatus>, Arc<Notify>) {
        let (tx, rx) = watch::channel(SyncStatus::default());
        let trigger = Arc::new(Notify::new());
        let wake = Arc::new(watch::channel(0).0);
        (Self { status: rx, trigger: trigger.clone(), wake }, tx, trigger)
    }

    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.clone()
    }

    /// Sync as soon as possible: the agent tapped "sync now", enrolment just finished, or the
    /// platform's connectivity callback says the network is back. A run in progress that is
    /// waiting out a back-off after a failed request retries at once; otherwise the next run
    /// starts now.
    pub fn trigger(&self) {
        self.trigger.notify_one();
        self.wake.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What a run's back-off sleeps watch (see [`SyncHandle::trigger`]).
    pub(crate) fn wake_receiver(&self) -> watch::Receiver<u64> {
        self.wake.subscribe()
    }
}
