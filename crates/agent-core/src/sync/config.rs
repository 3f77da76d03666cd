//! Timeouts, chunk size and retry policies of the sync client, with defaults chosen for a cheap
//! phone on a 2G/EDGE link (about 5–20 KB/s up, seconds of latency, frequent short drops).
//! Tests shrink them so that a fault-injection run takes minutes, not hours.

use backon::{ExponentialBackoff, ExponentialBuilder};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// Longest wait for a TCP (and TLS) connection. 15 s: a 2G link needs a few seconds to set
    /// up a data session, more is almost always a dead link.
    pub connect_timeout: Duration,
    /// Longest a JSON request (enrol, push, pull, photos/missing) may take from start to the
    /// last byte of the answer. A full push of 100 events is ~150 KB, about 30 s at 5 KB/s.
    pub request_timeout: Duration,
    /// Photo uploads have no total timeout (a photo on 2G can take minutes); instead a PATCH
    /// is abandoned when no byte of it went out, or no answer came, for this long. It must
    /// exceed the time buffers take to drain at the slowest link worth supporting: 60 s covers
    /// 120 KB of socket buffer down to about 2 KB/s.
    pub stall_timeout: Duration,
    /// The largest tus PATCH. The centre keeps whatever part of a chunk reached it before a
    /// connection broke, so a cut costs only the bytes still on their way, whatever the chunk
    /// size; each chunk costs one request's headers, a round trip and an fsync at the centre.
    /// Chunks follow the link's speed (about 30 s of sending each, 64 KiB before the speed is
    /// known) up to this; 1 MiB is more than any stored document photo (≤ 2000 px, typically
    /// 150–350 KB), so off 2G a photo goes in one request.
    pub chunk_size: usize,
    /// Most photos uploaded at the same time. Each chunk waits a round trip (and any lost
    /// segment's retransmission) for its answer, during which one upload alone leaves the link
    /// idle: over an emulated 3G link (1 Mbit/s, 200 ms, 1% loss) one upload used 66% of the
    /// rate while up, two 88%, three 92%. Until the link shows it is faster than 2G/EDGE at
    /// most two run (on 2G two keep the link busy; a third would only add request headers).
    pub parallel_uploads: usize,
    /// Retries of one request within a run (transient failures only).
    pub retry: RetryPolicy,
    /// Back-off between runs for outbox events whose push failed (recorded in the store, so it
    /// survives a restart). Tapping "sync now" or the network coming back skips the wait.
    pub queue_backoff: RetryPolicy,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(15),
            request_timeout: Duration::from_secs(90),
            stall_timeout: Duration::from_secs(60),
            chunk_size: 1024 * 1024,
            parallel_uploads: 3,
            retry: RetryPolicy { attempts: 4, min_delay: Duration::from_secs(2), max_delay: Duration::from_secs(30) },
            queue_backoff: RetryPolicy { attempts: usize::MAX, min_delay: Duration::from_secs(30), max_delay: Duration::from_secs(3600) },
        }
    }
}

/// Exponential back-off with full jitter: delays grow from `min_delay` by ×2 up to
/// `max_delay`, each plus a random part of itself (so phones that lost the network together
/// do not all come back at the same instant).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try.
    pub attempts: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    pub(crate) fn builder(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_jitter()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.attempts)
    }

    /// The sequence of delays (ends after `attempts`).
    pub(crate) fn delays(&self) -> ExponentialBackoff {
        use backon::BackoffBuilder;
        self.builder().build()
    }

    /// The delay before try number `n + 1` (0-based `n` failures so far), never ending.
    pub(crate) fn nth_delay(&self, n: u32) -> Duration {
        use backon::BackoffBuilder;
        self.builder().without_max_times().build().nth(n as usize).unwrap_or(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_with_jitter_up_to_the_cap() {
        let p = RetryPolicy { attempts: 3, min_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) };
        let d: Vec<_> = p.delays().collect();
        assert_eq!(d.len(), 3);
        // jitter adds up to the delay itself
        assert!(d[0] >= Duration::from_millis(100) && d[0] <= Duration::from_millis(200), "{d:?}");
        assert!(d[2] >= Duration::from_millis(400), "{d:?}");
        assert!(p.nth_delay(20) <= Duration::from_secs(2), "capped (plus jitter)");
        assert!(p.nth_delay(20) >= Duration::from_secs(1));
    }
}
