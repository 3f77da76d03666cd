//! What the engine needs to know about the phone's network, and the "photos only on Wi-Fi /
//! monthly data budget" rule that follows from it.
//!
//! The platform tells whether the current connection is metered through a
//! [`NetworkMonitor`] handed to the engine at start:
//!
//! * Android: `ConnectivityManager.getNetworkCapabilities(activeNetwork)` —
//!   `NET_CAPABILITY_NOT_METERED` absent means metered (mobile data, or a phone hotspot).
//!   Register `registerDefaultNetworkCallback` and call [`super::SyncHandle::trigger`] from
//!   `onAvailable` / `onCapabilitiesChanged`: that is how the engine learns at once that the
//!   network is back (or that Wi-Fi arrived and held photos may go).
//! * iOS: `NWPathMonitor` — `path.isExpensive` (cellular or personal hotspot) or
//!   `path.isConstrained` (Low Data Mode) means metered; its `pathUpdateHandler` seeing
//!   `.satisfied` calls `trigger()`.
//! * Desktop: not knowable in general; [`UnknownNetwork`] answers `None`, treated as unmetered.
//!
//! Neither mobile implementation can be built on this machine (no NDK, no Xcode); the glue is a
//! few lines of Kotlin/Swift behind the same trait.

use super::settings::SyncSettings;
use crate::store::{Result, Store};

/// Whether the current connection costs the agent money per byte.
pub trait NetworkMonitor: Send + Sync + 'static {
    /// `Some(true)` on mobile data, `Some(false)` on Wi-Fi/Ethernet, `None` when unknown.
    fn metered(&self) -> Option<bool>;
}

/// Any `Fn() -> Option<bool>` is a monitor (handy for platform glue and tests).
impl<F: Fn() -> Option<bool> + Send + Sync + 'static> NetworkMonitor for F {
    fn metered(&self) -> Option<bool> {
        self()
    }
}

/// The desktop's answer: cannot tell, so the connection is treated as unmetered.
#[derive(Clone, Copy, Debug, Default)]
pub struct UnknownNetwork;

impl NetworkMonitor for UnknownNetwork {
    fn metered(&self) -> Option<bool> {
        None
    }
}

const MIB: u64 = 1024 * 1024;

/// May photos go now, and how many bytes more this month? Decided once per run.
#[derive(Debug)]
pub(crate) struct PhotoPolicy {
    metered: bool,
    wifi_only: bool,
    /// Bytes left in this month's budget (metered links only).
    budget_left: Option<u64>,
    month: String,
}

impl PhotoPolicy {
    pub fn decide(store: &Store, network: &dyn NetworkMonitor) -> Result<Self> {
        let SyncSettings { photos_wifi_only, monthly_budget_mb } = store.sync_settings()?;
        let metered = network.metered().unwrap_or(false);
        let month = chrono::Local::now().format("%Y-%m").to_string();
        let budget_left = match (metered, monthly_budget_mb) {
            (true, Some(mb)) => Some((u64::from(mb) * MIB).saturating_sub(store.metered_photo_bytes(&month)?)),
            _ => None,
        };
        Ok(Self { metered, wifi_only: photos_wifi_only, budget_left, month })
    }

    /// Whether a photo of `bytes` may be uploaded now.
    pub fn allows(&self, bytes: u64) -> bool {
        !(self.metered && self.wifi_only) && self.budget_left.is_none_or(|left| bytes <= left)
    }

    /// Count bytes that went out (metered links count against the month's budget).
    pub fn spent(&mut self, store: &Store, bytes: u64) -> Result<()> {
        if !self.metered {
            return Ok(());
        }
        if let Some(left) = self.budget_left.as_mut() {
            *left = left.saturating_sub(bytes);
        }
        store.add_metered_photo_bytes(&self.month, bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wifi_only_and_budget_hold_photos_on_mobile_data_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mobile = || Some(true);
        let wifi = || Some(false);
        assert!(PhotoPolicy::decide(&store, &UnknownNetwork).unwrap().allows(50 * MIB), "no settings: anything goes");

        store.set_sync_settings(&SyncSettings { photos_wifi_only: true, monthly_budget_mb: None }).unwrap();
        assert!(!PhotoPolicy::decide(&store, &mobile).unwrap().allows(1));
        assert!(PhotoPolicy::decide(&store, &wifi).unwrap().allows(1));
        assert!(PhotoPolicy::decide(&store, &UnknownNetwork).unwrap().allows(1), "unknown counts as unmetered");

        store.set_sync_settings(&SyncSettings { photos_wifi_only: false, monthly_budget_mb: Some(1) }).unwrap();
        let mut p = PhotoPolicy::decide(&store, &mobile).unwrap();
        assert!(p.allows(MIB) && !p.allows(MIB + 1));
        p.spent(&store, 700 * 1024).unwrap();
        assert!(!p.allows(400 * 1024) && p.allows(300 * 1024));
        let again = PhotoPolicy::decide(&store, &mobile).unwrap();
        assert!(!again.allows(400 * 1024), "the month's count is kept in the store");
        let mut on_wifi = PhotoPolicy::decide(&store, &wifi).unwrap();
        assert!(on_wifi.allows(10 * MIB), "the budget is for mobile data only");
        on_wifi.spent(&store, 10 * MIB).unwrap();
        assert!(PhotoPolicy::decide(&store, &mobile).unwrap().allows(300 * 1024), "Wi-Fi bytes are not counted");
    }
}
