//! One sync run, driven by whoever holds a [`SyncClient`]: the background engine loops over
//! [`SyncClient::run_once`], tests and load generators call it directly and get a
//! [`RunReport`] back.
//!
//! A run, smallest and most urgent data first:
//! 1. **Push** the due outbox events in queue order, in batches of at most
//!    `MAX_PUSH_EVENTS`, recording the centre's per-event outcomes (a rejected event is
//!    quarantined and the queue goes on). A request the centre refuses as a whole (4xx) is
//!    split into single events so that only the culprit is quarantined. A transient failure
//!    stops the push (order matters: a resident before their application) and records a
//!    back-off on the batch; the queue waits behind its head.
//! 2. **Pull** the changes after the cursor, page by page, each applied in its own local
//!    transaction, until `more` is false. (Before the photos, so that decisions reach a 2G
//!    phone without waiting for megabytes of photos.)
//! 3. **Photos** of acknowledged events, in queue order: ask which ones the centre lacks, mark
//!    the rest uploaded, send the missing ones over tus, `SyncConfig::parallel_uploads` at a time —
//!    unless the link is metered and the agent keeps photos for Wi-Fi or the month's data
//!    budget is spent. Events captured meanwhile are pushed between photo batches.
//! 4. **Pull** once more if photos went out (staff may have decided in the meantime).
//!
//! Every request retries transient failures (backon, exponential with jitter); when the
//! retries are spent the run ends with the error and the next run picks up where this one
//! stopped: nothing is lost (the store is the queue) and nothing is duplicated (event ids are
//! idempotency keys, photos are content-addressed, the pull cursor moves with each change).
//!
//! Store calls are a few milliseconds of SQLite work each and are made inline: the engine
//! runs on its own thread and runtime, so they block nothing the agent sees.

use super::config::SyncConfig;
use super::error::SyncError;
use super::http::{build_client, parse_centre_url, Api};
use super::network::{NetworkMonitor, PhotoPolicy, UnknownNetwork};
use super::status::{SyncPhase, SyncStatus};
use super::tus::{upload_photo, ChunkSizer, Uploaded};
use crate::store::{OutboxEntry, Store};
use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use daiban_proto::sync::{
    ErrorCode, EventOutcome, EventResult, PhotosMissingRequest, PhotosMissingResponse, PullResponse, PushRequest, PushResponse,
    MAX_PUSH_EVENTS,
};
use daiban_proto::{PhotoHash, PhotoRef};
use futures_util::stream::{FuturesUnordered, StreamExt};
use reqwest::Method;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::watch;

/// Photos looked at per photos/missing query. Between two batches the uploads drain (the
/// link idles for a few round trips), so a batch holds a good day's work of an agent (20
/// applications of 3 photos fit in one); the query is about 7 KB.
const PHOTO_BATCH: usize = 100;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Events the centre applied (now or, for a replay, before).
    pub events_pushed: u32,
    /// Events the centre refused for good (quarantined, reason shown to the agent).
    pub events_quarantined: u32,
    /// Photos whose bytes were sent.
    pub photos_uploaded: u32,
    /// Photos the centre already had (nothing sent).
    pub photos_skipped: u32,
    /// Photos that could not be sent and were passed over (unreadable on the phone, refused).
    pub photos_failed: u32,
    /// Photos still waiting after the run (Wi-Fi only, data budget).
    pub photos_held: u32,
    /// Photo bytes handed to the connection, re-sent ones included.
    pub bytes_sent: u64,
    /// Changes from the centre applied locally.
    pub changes_applied: u32,
    /// Transient failures retried within the run.
    pub retries: u32,
}

impl std::ops::AddAssign<&RunReport> for RunReport {
    fn add_assign(&mut self, r: &RunReport) {
        self.events_pushed += r.events_pushed;
        self.events_quarantined += r.events_quarantined;
        self.photos_uploaded += r.photos_uploaded;
        self.photos_skipped += r.photos_skipped;
        self.photos_failed += r.photos_failed;
        self.photos_held = r.photos_held;
        self.bytes_sent += r.bytes_sent;
        self.changes_applied += r.changes_applied;
        self.retries += r.retries;
    }
}

/// Syncs one store with the centre it is enrolled with.
pub struct SyncClient {
    store: Store,
    config: Arc<SyncConfig>,
    http: reqwest::Client,
    network: Arc<dyn NetworkMonitor>,
    status: watch::Sender<SyncStatus>,
    /// The HTTP client for a centre with a pinned certificate (built once per pin).
    pinned: std::sync::Mutex<Option<(super::CertPin, reqwest::Client)>>,
    /// Moves when a back-off should end early (see [`SyncClient::with_wake`]).
    wake: Option<watch::Receiver<u64>>,
    /// Everything done by every run so far, failed runs included.
    totals: std::sync::Mutex<RunReport>,
}

impl SyncClient {
    /// A client for `store` (the centre and token come from its enrolment at each run). The
    /// network is taken as unmetered until [`SyncClient::with_network`] says otherwise.
    pub fn new(store: Store, config: SyncConfig) -> Result<Self, SyncError> {
        let http = build_client(&config, None)?;
        Ok(Self {
            store,
            config: Arc::new(config),
            http,
            network: Arc::new(UnknownNetwork),
            status: watch::channel(SyncStatus::default()).0,
            wake: None,
            pinned: Default::default(),
            totals: Default::default(),
        })
    }

    /// Tell the client whether the current link is metered (see [`NetworkMonitor`]).
    pub fn with_network(mut self, network: Arc<dyn NetworkMonitor>) -> Self {
        self.network = network;
        self
    }

    /// Cut back-off sleeps short when this channel moves (the engine's handle bumps it on every
    /// trigger: the network is back, or the agent asked).
    pub(crate) fn with_wake(mut self, wake: watch::Receiver<u64>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// Publish status on this channel (the engine's, shared with the UI's handle).
    pub(crate) fn with_status(mut self, status: watch::Sender<SyncStatus>) -> Self {
        self.status = status;
        self
    }

    pub fn status(&self) -> watch::Receiver<SyncStatus> {
        self.status.subscribe()
    }

    pub(crate) fn publish(&self, f: impl FnOnce(&mut SyncStatus)) {
        self.status.send_modify(f);
    }

    /// Completes when nobody watches the status any more (the app is gone).
    pub(crate) async fn closed(&self) {
        self.status.closed().await
    }

    /// What all runs of this client did together, including the parts of runs that ended in
    /// an error (a run's own report is only returned when it succeeds).
    pub fn totals(&self) -> RunReport {
        self.totals.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &Arc<SyncConfig> {
        &self.config
    }

    /// Is the centre reachable? One small request (tus `OPTIONS`, a few hundred bytes), for
    /// noticing that the network is back without running a whole sync.
    pub async fn probe(&self) -> Result<(), SyncError> {
        let api = self.api()?;
        let req = api.request(Method::OPTIONS, api.url("/api/v1/uploads")?).timeout(self.config.connect_timeout * 2);
        req.send().await.map_err(SyncError::from_transport)?;
        Ok(())
    }

    /// The centre and token of the store's current enrolment.
    fn api(&self) -> Result<Api, SyncError> {
        let enrolment = self.store.enrolment()?.ok_or(SyncError::NotEnrolled)?;
        let http = match enrolment.cert_pin {
            None => self.http.clone(),
            Some(pin) => {
                let mut pinned = self.pinned.lock().unwrap_or_else(|p| p.into_inner());
                match &*pinned {
                    Some((p, http)) if *p == pin => http.clone(),
                    _ => {
                        let http = build_client(&self.config, Some(pin))?;
                        *pinned = Some((pin, http.clone()));
                        http
                    }
                }
            }
        };
        let api = Api::new(http, parse_centre_url(&enrolment.centre_url)?, Some(enrolment.token), self.config.clone());
        Ok(match &self.wake {
            Some(w) => api.with_wake(w.clone()),
            None => api,
        })
    }

    /// One whole sync: push, pull, photos (see the module docs). Publishes progress and the
    /// outcome on the status channel.
    pub async fn run_once(&self) -> Result<RunReport, SyncError> {
        let mut run = match Run::start(self) {
            Ok(run) => run,
            Err(e) => {
                self.finish(Err(&e), false, None);
                return Err(e);
            }
        };
        let result = run.go().await;
        run.report.retries = run.api.retries();
        run.report.photos_held = if run.held { self.store.outbox_summary().map(|s| s.pending_photos).unwrap_or(0) } else { 0 };
        *self.totals.lock().unwrap_or_else(|p| p.into_inner()) += &run.report;
        match result {
            Ok(()) => {
                self.finish(Ok(&run.report), run.changed, run.photo_error.take());
                Ok(run.report)
            }
            Err(e) => {
                self.finish(Err(&e), run.changed, run.photo_error.take());
                Err(e)
            }
        }
    }

    fn finish(&self, result: Result<&RunReport, &SyncError>, changed: bool, photo_error: Option<String>) {
        let now = Utc::now();
        self.publish(|s| {
            s.phase = SyncPhase::Idle;
            (s.items_done, s.items_total, s.bytes_done, s.bytes_total) = (0, 0, 0, 0);
            if changed {
                s.data_version += 1;
            }
            match result {
                Ok(report) => {
                    s.enrolled = true;
                    s.online = true;
                    s.stopped = false;
                    s.last_success = Some(now);
                    s.photos_held = report.photos_held > 0;
                    s.last_error = photo_error;
                }
                Err(e) => {
                    s.enrolled = !matches!(e, SyncError::NotEnrolled);
                    if e.is_offline() {
                        s.online = false;
                    } else if !matches!(e, SyncError::NotEnrolled | SyncError::BadUrl(_) | SyncError::Store(_)) {
                        s.online = true; // the centre answered, if only with an error
                    }
                    s.stopped = e.stops_sync();
                    s.last_error = Some(e.to_string());
                }
            }
        });
    }
}

/// The state of one run.
struct Run<'a> {
    client: &'a SyncClient,
    store: &'a Store,
    api: Api,
    report: RunReport,
    /// Local data changed (the UI should re-read).
    changed: bool,
    /// Photos passed over in this run (refused or unreadable).
    failed: HashSet<PhotoHash>,
    photo_error: Option<String>,
    /// Photos are being kept for Wi-Fi or the data budget.
    held: bool,
}

/// Later than any `next_attempt_at` (as text it still sorts as a timestamp).
fn end_of_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0).unwrap()
}

impl<'a> Run<'a> {
    fn start(client: &'a SyncClient) -> Result<Self, SyncError> {
        let store = &client.store;
        let api = client.api()?;
        let summary = store.outbox_summary()?;
        client.publish(|s| {
            s.enrolled = true;
            s.phase = SyncPhase::Pushing;
            s.items_done = 0;
            s.items_total = summary.pending_events + summary.pending_photos;
            s.bytes_done = 0;
            s.bytes_total = summary.pending_photo_bytes;
        });
        Ok(Self {
            client,
            store,
            api,
            report: RunReport::default(),
            changed: false,
            failed: HashSet::new(),
            photo_error: None,
            held: false,
        })
    }

    async fn go(&mut self) -> Result<(), SyncError> {
        self.push().await?;
        self.pull().await?;
        let before = self.report.photos_uploaded;
        self.photos().await?;
        if self.report.photos_uploaded > before {
            self.pull().await?;
        }
        Ok(())
    }

    fn phase(&self, phase: SyncPhase) {
        self.client.publish(|s| s.phase = phase);
    }

    fn items_done(&self, n: u32) {
        self.client.publish(|s| {
            s.items_done += n;
            s.items_total = s.items_total.max(s.items_done);
        });
    }

    // ------------------------------------------------------------------ push

    async fn push(&mut self) -> Result<(), SyncError> {
        loop {
            // The due events that are also the head of the queue: an earlier event waiting
            // for its back-off holds back everything behind it.
            let queue = self.store.due_events(end_of_time(), MAX_PUSH_EVENTS as u32)?;
            let due = self.store.due_events(Utc::now(), MAX_PUSH_EVENTS as u32)?;
            let n = queue.iter().zip(&due).take_while(|(q, d)| q.seq == d.seq).count();
            if n == 0 {
                return Ok(());
            }
            self.phase(SyncPhase::Pushing);
            let batch = &due[..n];
            match self.send_events(batch).await {
                // One event spoils the whole request (too large, malformed): send them one by
                // one so that only that one is quarantined.
                Err(SyncError::Refused { .. }) if batch.len() > 1 => {
                    for one in batch {
                        let result = self.send_events(std::slice::from_ref(one)).await;
                        self.settle(std::slice::from_ref(one), result)?;
                    }
                }
                result => self.settle(batch, result)?,
            }
        }
    }

    async fn send_events(&self, batch: &[OutboxEntry]) -> Result<PushResponse, SyncError> {
        let waiting = self.store.outbox_summary()?.pending_events;
        let req =
            PushRequest { events: batch.iter().map(|e| e.event.clone()).collect(), queue_len: waiting.saturating_sub(batch.len() as u32) };
        let url = self.api.url("/api/v1/push")?;
        self.api.json(|| Ok(self.api.request(Method::POST, url.clone()).json(&req))).await
    }

    /// Record what became of a batch.
    fn settle(&mut self, batch: &[OutboxEntry], result: Result<PushResponse, SyncError>) -> Result<(), SyncError> {
        match result {
            Ok(resp) => {
                let ours: HashSet<_> = batch.iter().map(|e| e.event.id).collect();
                let outcomes: Vec<EventOutcome> = resp.outcomes.into_iter().filter(|o| ours.contains(&o.event_id)).collect();
                self.record(&outcomes)?;
                if outcomes.len() < batch.len() {
                    let e = SyncError::Interrupted(format!(
                        "中心只回答了{}条中的{}条 / the centre answered {} of {} events",
                        batch.len(),
                        outcomes.len(),
                        outcomes.len(),
                        batch.len()
                    ));
                    return Err(self.back_off(batch, e));
                }
                Ok(())
            }
            Err(SyncError::Refused { code, message, field, .. }) if batch.len() == 1 => {
                let message = match field {
                    Some(f) => format!("{message}（{f}）"),
                    None => message,
                };
                let code = code.unwrap_or(ErrorCode::BadRequest);
                self.record(&[EventOutcome { event_id: batch[0].event.id, result: EventResult::Rejected { code, message } }])
            }
            Err(e) if e.is_transient() => Err(self.back_off(batch, e)),
            Err(e) => Err(e),
        }
    }

    fn record(&mut self, outcomes: &[EventOutcome]) -> Result<(), SyncError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        self.store.record_outcomes(outcomes)?;
        self.changed = true;
        for o in outcomes {
            match o.result {
                EventResult::Applied => self.report.events_pushed += 1,
                EventResult::Rejected { .. } => self.report.events_quarantined += 1,
            }
        }
        self.items_done(outcomes.len() as u32);
        Ok(())
    }

    /// The batch failed for now: note it on its events with the time of the next try.
    fn back_off(&self, batch: &[OutboxEntry], e: SyncError) -> SyncError {
        let pending: Vec<_> = batch.iter().map(|e| e.event.id).collect();
        let attempts = batch.iter().map(|e| e.attempts).max().unwrap_or(0);
        let delay = self.api.cfg.queue_backoff.nth_delay(attempts);
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1));
        if let Err(store_error) = self.store.record_retry(&pending, &e.to_string(), at) {
            return store_error.into();
        }
        e
    }

    // ------------------------------------------------------------------ pull

    async fn pull(&mut self) -> Result<(), SyncError> {
        self.phase(SyncPhase::Pulling);
        loop {
            let cursor = self.store.pull_cursor()?;
            let url = self.api.url(&format!("/api/v1/changes?after={cursor}"))?;
            let page: PullResponse = self.api.json(|| Ok(self.api.request(Method::GET, url.clone()))).await?;
            for change in page.changes.iter().filter(|c| c.seq > cursor) {
                self.store.apply_change(change)?;
                self.report.changes_applied += 1;
                self.changed = true;
            }
            if !page.more || page.changes.is_empty() {
                return Ok(());
            }
        }
    }

    // ------------------------------------------------------------------ photos

    async fn photos(&mut self) -> Result<(), SyncError> {
        let mut policy = PhotoPolicy::decide(self.store, &*self.client.network)?;
        let sizer = ChunkSizer::default();
        loop {
            self.push().await?;
            let batch: Vec<PhotoRef> = self
                .store
                .photos_to_upload((PHOTO_BATCH + self.failed.len()) as u32)?
                .into_iter()
                .filter(|p| !self.failed.contains(&p.hash))
                .take(PHOTO_BATCH)
                .collect();
            if batch.is_empty() {
                return Ok(());
            }
            self.phase(SyncPhase::Uploading);
            let req = PhotosMissingRequest { hashes: batch.iter().map(|p| p.hash).collect() };
            let url = self.api.url("/api/v1/photos/missing")?;
            let missing: PhotosMissingResponse = self.api.json(|| Ok(self.api.request(Method::POST, url.clone()).json(&req))).await?;
            let missing: HashSet<PhotoHash> = missing.missing.into_iter().collect();
            // Start uploads while fewer than `parallel_uploads` run; after an error (or when
            // the budget is reached) start none, let the running ones finish, then stop.
            let (api, client, store) = (self.api.clone(), self.client, self.store);
            let mut waiting = batch.iter();
            let mut running = FuturesUnordered::new();
            let mut reserved = 0u64;
            let mut error = None;
            loop {
                while error.is_none() && !self.held && running.len() < sizer.uploads_at_a_time(self.api.cfg.parallel_uploads) {
                    let Some(photo) = waiting.next() else { break };
                    if !missing.contains(&photo.hash) {
                        self.uploaded(photo, false, 0)?;
                        continue;
                    }
                    if !policy.allows(reserved + photo.bytes) {
                        self.held = true;
                        break;
                    }
                    match self.store.photos().read(&photo.hash) {
                        Ok(data) => {
                            reserved += photo.bytes;
                            running.push(transfer(client, &api, store, &sizer, photo.clone(), Bytes::from(data)));
                        }
                        // A damaged or missing file cannot be sent; it must not hold up the others.
                        Err(e) => self.pass_over(
                            photo,
                            format!("照片 {} 无法读取，请重拍 / photo unreadable, take it again: {e}", short(&photo.hash)),
                        )?,
                    }
                }
                let Some(done) = running.next().await else { break };
                reserved -= done.photo.bytes;
                if let Err(e) = self.finish_upload(done, &mut policy) {
                    error.get_or_insert(e);
                }
            }
            if let Some(e) = error {
                return Err(e);
            }
            if self.held {
                return Ok(());
            }
        }
    }

    /// Record what became of one upload.
    fn finish_upload(&mut self, t: Transfer, policy: &mut PhotoPolicy) -> Result<(), SyncError> {
        self.report.bytes_sent += t.sent;
        policy.spent(self.store, t.sent)?;
        let result = match t.result {
            Ok(how) => return self.uploaded(&t.photo, how == Uploaded::Sent, t.shown),
            Err(SyncError::Refused { message, .. }) => {
                self.pass_over(&t.photo, format!("照片 {} 被中心拒收 / photo refused by the centre: {message}", short(&t.photo.hash)))
            }
            Err(e) => Err(e),
        };
        // the photo did not get there: its bytes no longer count as progress
        self.client.publish(|s| s.bytes_done = s.bytes_done.saturating_sub(t.shown));
        result
    }

    /// The photo is at the centre; `shown` of its bytes were already counted as progress.
    fn uploaded(&mut self, photo: &PhotoRef, sent: bool, shown: u64) -> Result<(), SyncError> {
        self.store.mark_photo_uploaded(&photo.hash)?;
        if self.store.upload_url(&photo.hash)?.is_some() {
            self.store.forget_upload_url(&photo.hash)?;
        }
        self.changed = true;
        if sent {
            self.report.photos_uploaded += 1;
        } else {
            self.report.photos_skipped += 1;
        }
        self.client.publish(|s| s.bytes_done += photo.bytes.saturating_sub(shown));
        self.items_done(1);
        Ok(())
    }

    fn pass_over(&mut self, photo: &PhotoRef, why: String) -> Result<(), SyncError> {
        tracing::warn!("{why}");
        self.failed.insert(photo.hash);
        self.report.photos_failed += 1;
        self.photo_error = Some(why);
        Ok(())
    }
}

/// What became of one photo's upload.
struct Transfer {
    photo: PhotoRef,
    /// Bytes handed to the connection, re-sent ones included.
    sent: u64,
    /// Bytes counted as progress (at most the photo's size).
    shown: u64,
    result: Result<Uploaded, SyncError>,
}

/// Upload one photo (see [`upload_photo`]), publishing progress as its bytes go. Borrows
/// nothing of the run, so that several can run while the run records the finished ones.
async fn transfer(client: &SyncClient, api: &Api, store: &Store, sizer: &ChunkSizer, photo: PhotoRef, data: Bytes) -> Transfer {
    let (mut sent, mut shown) = (0u64, 0u64);
    let result = upload_photo(api, store, &photo, data, sizer, &mut |n| {
        sent += n;
        let now = sent.min(photo.bytes);
        let more = now - shown;
        shown = now;
        client.publish(|s| s.bytes_done += more);
    })
    .await;
    Transfer { photo, sent, shown, result }
}

fn short(h: &PhotoHash) -> String {
    h.to_hex()[..8].to_string()
}
