//! Lockout with back-off for staff sign-in: after [`LoginThrottle::FREE_TRIES`] wrong
//! passwords in a row for a user name, it is refused for a while without the password being
//! checked — first for the base lock, then twice as long after each further wrong password,
//! up to [`LoginThrottle::MAX_LOCK`]. A right password resets it.
//!
//! Kept in memory: a restart forgets it (the centre is one process; the sign-ins themselves
//! are in the audit log). The map is pruned so guessing many names cannot grow it forever.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct LoginThrottle {
    base_lock: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(Duration::from_secs(60))
    }
}

impl LoginThrottle {
    /// Wrong passwords allowed in a row before the first lock.
    pub const FREE_TRIES: u32 = 5;
    /// The longest lock.
    pub const MAX_LOCK: Duration = Duration::from_secs(60 * 60);
    /// Names remembered at most; the oldest are forgotten first.
    const MAX_NAMES: usize = 10_000;

    /// A throttle whose first lock lasts `base_lock`.
    pub fn new(base_lock: Duration) -> Self {
        Self { base_lock, failures: Mutex::new(HashMap::new()) }
    }

    fn key(username: &str) -> String {
        username.trim().to_lowercase()
    }

    /// How long this user name must still wait, if it is locked.
    pub fn locked(&self, username: &str, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&Self::key(username))
            .and_then(|f| f.locked_until)
            .and_then(|until| until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// A wrong password: counts, and locks from the [`Self::FREE_TRIES`]th on.
    pub fn failed(&self, username: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX_NAMES {
            let mut by_age: Vec<(Instant, String)> = map.iter().map(|(k, f)| (f.last, k.clone())).collect();
            by_age.sort();
            for (_, k) in by_age.into_iter().take(Self::MAX_NAMES / 10) {
                map.remove(&k);
            }
        }
        let f = map.entry(Self::key(username)).or_insert(Failures { count: 0, last: now, locked_until: None });
        f.count += 1;
        f.last = now;
        if f.count >= Self::FREE_TRIES {
            let doublings = (f.count - Self::FREE_TRIES).min(16);
            let lock = self.base_lock.saturating_mul(1 << doublings).min(Self::MAX_LOCK);
            f.locked_until = Some(now + lock);
        }
    }

    /// A right password: the count starts again.
    pub fn succeeded(&self, username: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&Self::key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_wrong_passwords_lock_then_each_more_doubles_the_wait() {
        let t = LoginThrottle::new(Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..4 {
            t.failed("LiShenhe", t0);
        }
        assert_eq!(t.locked("lishenhe", t0), None, "four wrong tries are allowed");
        t.failed("lishenhe ", t0);
        assert_eq!(t.locked("LISHENHE", t0), Some(Duration::from_secs(60)), "the fifth locks, whatever the case");
        assert_eq!(t.locked("lishenhe", t0 + Duration::from_secs(61)), None, "and the lock ends");
        t.failed("lishenhe", t0 + Duration::from_secs(61));
        assert_eq!(t.locked("lishenhe", t0 + Duration::from_secs(61)), Some(Duration::from_secs(120)), "then twice as long");
        for _ in 0..20 {
            t.failed("lishenhe", t0);
        }
        assert_eq!(t.locked("lishenhe", t0), Some(LoginThrottle::MAX_LOCK), "up to an hour");
        assert_eq!(t.locked("wang", t0), None, "other names are not touched");
        t.succeeded("lishenhe");
        assert_eq!(t.locked("lishenhe", t0), None);
    }
}
