//! The background engine: a thread with its own single-threaded tokio runtime (so nothing it
//! does can block the UI) that loops over [`SyncClient::run_once`] and decides when to run
//! next.
//!
//! ```text
//!            ┌──────────── trigger() / timer ─────────────┐
//!            ▼                                            │
//!   [not enrolled] ──auto-enrol (URL + code file)──▶ [run] ──ok──▶ [wait: 3 min if something
//!            │                                        │  │          waits, 45 s if idle]
//!            └─ no code: wait for trigger()           │  └─busy (5xx/429)──▶ [back-off, Retry-After]
//!                                                     ├─offline──▶ [probe: 20 s … 5 min, jittered]
//!                                                     └─revoked / unknown device / app too old
//!                                                                 ──▶ [stopped: wait for trigger()]
//! ```
//!
//! "Back online" is noticed two ways: the platform's connectivity callback calls
//! [`SyncHandle::trigger`](super::SyncHandle::trigger) (see [`super::network`]), and, as a
//! fallback that needs no platform glue, a cheap probe (one tus `OPTIONS` request, a few
//! hundred bytes) at growing intervals while offline. Either one makes every waiting outbox
//! event due at once and starts a run. The engine ends when the last `SyncHandle` is dropped.

use super::client::SyncClient;
use super::config::{RetryPolicy, SyncConfig};
use super::enrol::enrol_with;
use super::error::SyncError;
use super::network::{NetworkMonitor, UnknownNetwork};
use super::status::{SyncHandle, SyncStatus};
use crate::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Default [`EngineOptions::idle_interval`]: a decision reaches an idle, online phone in under
/// a minute (issue: returns showed 审核中 for 7 minutes with a 15-minute poll).
pub const IDLE_INTERVAL: Duration = Duration::from_secs(45);

/// How the engine runs (defaults suit a phone; tests shorten the times).
#[derive(Clone)]
pub struct EngineOptions {
    pub config: SyncConfig,
    /// Whether the link is metered (photos on Wi-Fi only / data budget).
    pub network: Arc<dyn NetworkMonitor>,
    /// The name staff see for this device after automatic enrolment.
    pub device_name: String,
    /// Time between runs while something waits to be sent.
    pub busy_interval: Duration,
    /// Time between runs when nothing waits: how late a staff decision or delivery task can
    /// reach a phone that is open and online. An idle run is one `GET /changes` on a
    /// kept-alive connection, under 1 KB both ways (measured by the sync tests), so 45 s costs
    /// about 60 KB an hour while the app is open — on 2G a fraction of a second of the link
    /// per poll.
    pub idle_interval: Duration,
    /// Intervals of the reachability probe while offline, and of retries while the centre is
    /// busy (`attempts` is not used: the engine never gives up).
    pub offline_probe: RetryPolicy,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            config: SyncConfig::default(),
            network: Arc::new(UnknownNetwork),
            device_name: "代办员手机".into(),
            busy_interval: Duration::from_secs(3 * 60),
            idle_interval: IDLE_INTERVAL,
            offline_probe: RetryPolicy { attempts: 0, min_delay: Duration::from_secs(20), max_delay: Duration::from_secs(5 * 60) },
        }
    }
}

/// Start the engine on its own thread; see [`super::start`].
pub fn start_with(store: Store, centre_url: Option<String>, enrol_code_file: Option<PathBuf>, options: EngineOptions) -> SyncHandle {
    let (handle, tx, trigger) = SyncHandle::new();
    let enrolled = store.enrolment().ok().flatten().is_some();
    tx.send_modify(|s| s.enrolled = enrolled);
    let engine = Engine { store, centre_url, enrol_code_file, options, trigger, wake: handle.wake_receiver() };
    let spawned = std::thread::Builder::new().name("daiban-sync".into()).spawn(move || engine.run(tx));
    if let Err(e) = spawned {
        tracing::error!("cannot start the sync thread: {e}");
    }
    handle
}

struct Engine {
    store: Store,
    centre_url: Option<String>,
    enrol_code_file: Option<PathBuf>,
    options: EngineOptions,
    trigger: Arc<Notify>,
    wake: watch::Receiver<u64>,
}

/// What to wait for before the next step.
enum Next {
    /// A timer (or a trigger, whichever comes first).
    After(Duration),
    /// Only a trigger (stopped, or nothing to enrol with).
    Trigger,
    /// The reachability probe (or a trigger).
    Probe,
}

impl Engine {
    fn run(self, tx: watch::Sender<SyncStatus>) {
        let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => rt,
            Err(e) => {
                tx.send_modify(|s| s.last_error = Some(format!("同步无法启动 / sync cannot start: {e}")));
                return;
            }
        };
        let client = match SyncClient::new(self.store.clone(), self.options.config.clone()) {
            Ok(c) => c.with_network(self.options.network.clone()).with_status(tx).with_wake(self.wake.clone()),
            Err(e) => {
                tx.send_modify(|s| s.last_error = Some(e.to_string()));
                return;
            }
        };
        rt.block_on(self.main(&client));
        tracing::debug!("sync engine stopped (no handle left)");
    }

    async fn main(&self, client: &SyncClient) {
        let mut failures = 0u32;
        loop {
            let next = self.step(client, &mut failures).await;
            tokio::select! {
                _ = client.closed() => return,
                _ = self.wait(client, next, failures) => {}
            }
        }
    }

    /// Enrol if needed and possible, else run once; say what to wait for next.
    async fn step(&self, client: &SyncClient, failures: &mut u32) -> Next {
        if self.store.enrolment().ok().flatten().is_none() {
            return self.auto_enrol(client, failures).await;
        }
        match client.run_once().await {
            Ok(report) => {
                *failures = 0;
                let waiting = self.store.outbox_summary().unwrap_or_default();
                let busy = waiting.pending_events > 0 || (waiting.pending_photos > 0 && report.photos_held == 0);
                Next::After(if busy { self.options.busy_interval } else { self.options.idle_interval })
            }
            Err(e) => self.after_error(&e, failures),
        }
    }

    fn after_error(&self, e: &SyncError, failures: &mut u32) -> Next {
        tracing::info!("sync run failed: {e}");
        if e.stops_sync() {
            return Next::Trigger;
        }
        *failures += 1;
        if e.is_offline() {
            Next::Probe
        } else if e.is_transient() {
            let backoff = self.options.offline_probe.nth_delay(*failures - 1);
            Next::After(e.retry_after().map_or(backoff, |ra| ra.max(backoff)))
        } else {
            Next::After(self.options.busy_interval)
        }
    }

    /// The demo (and a provisioning script) hands the app a centre URL and a file holding a
    /// one-time code: use them to enrol without the agent typing anything.
    async fn auto_enrol(&self, client: &SyncClient, failures: &mut u32) -> Next {
        let (Some(url), Some(file)) = (&self.centre_url, &self.enrol_code_file) else {
            client.publish(|s| s.enrolled = false);
            return Next::Trigger;
        };
        let code = match std::fs::read_to_string(file) {
            Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
            other => {
                let why = other.map_or_else(|e| e.to_string(), |_| "空文件 / empty file".into());
                client.publish(|s| {
                    s.enrolled = false;
                    s.last_error = Some(format!("读不到注册码文件 {} / cannot read the enrolment code file: {why}", file.display()));
                });
                return Next::Trigger;
            }
        };
        match enrol_with(&self.store, url, &code, &self.options.device_name, None, client.config()).await {
            Ok(_) => {
                *failures = 0;
                client.publish(|s| {
                    s.enrolled = true;
                    s.online = true;
                    s.stopped = false;
                    s.last_error = None;
                    s.data_version += 1;
                });
                Next::After(Duration::ZERO)
            }
            Err(e) => {
                client.publish(|s| {
                    s.enrolled = false;
                    s.online = !e.is_offline();
                    s.last_error = Some(e.to_string());
                });
                if e.is_transient() {
                    *failures += 1;
                    Next::After(self.options.offline_probe.nth_delay(*failures - 1))
                } else {
                    Next::Trigger
                }
            }
        }
    }

    async fn wait(&self, client: &SyncClient, next: Next, failures: u32) {
        match next {
            Next::After(d) if d.is_zero() => {}
            Next::After(d) => {
                tokio::select! {
                    _ = self.trigger.notified() => self.make_due(),
                    _ = tokio::time::sleep(d) => {}
                }
            }
            Next::Trigger => {
                self.trigger.notified().await;
                self.make_due();
            }
            Next::Probe => {
                let mut n = failures.saturating_sub(1);
                loop {
                    tokio::select! {
                        _ = self.trigger.notified() => break,
                        _ = tokio::time::sleep(self.options.offline_probe.nth_delay(n)) => {
                            if client.probe().await.is_ok() {
                                client.publish(|s| s.online = true);
                                break;
                            }
                            n = n.saturating_add(1);
                        }
                    }
                }
                self.make_due();
            }
        }
    }

    /// The agent asked, or the network came back: every waiting event is due now.
    fn make_due(&self) {
        if let Err(e) = self.store.retry_now() {
            tracing::warn!("cannot reset outbox back-off: {e}");
        }
    }
}
