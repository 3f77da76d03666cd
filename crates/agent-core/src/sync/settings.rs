//! The device's enrolment with a centre and the agent's sync preferences, kept in the
//! store's `meta` table so they survive restarts and travel with the data directory, with the
//! engine's own small facts beside them (photo bytes sent on mobile data per calendar month,
//! tus upload URLs to resume).

use crate::store::{Result, Store};
use daiban_proto::catalogue::L10n;
use daiban_proto::PhotoHash;

/// Who this device is to the centre (from a successful enrolment).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    pub centre_url: String,
    pub device_id: String,
    pub token: String,
    pub township: L10n,
    pub village_code: String,
    pub village_name: L10n,
    /// The centre's own certificate, trusted besides the public roots (see [`super::CertPin`]).
    pub cert_pin: Option<super::CertPin>,
}

/// How the agent wants photos to travel on mobile data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncSettings {
    /// Upload photos only on Wi-Fi (application text always goes on any link).
    pub photos_wifi_only: bool,
    /// At most this many MB (MiB, as carriers count) of photos per calendar month on mobile
    /// data (None: no limit).
    pub monthly_budget_mb: Option<u32>,
}

const PIN_KEY: &str = "enrol.cert_pin";
const K: [&str; 6] = ["enrol.centre_url", "enrol.device_id", "enrol.token", "enrol.township", "enrol.village_code", "enrol.village_name"];

impl Store {
    pub fn enrolment(&self) -> Result<Option<Enrolment>> {
        let mut v = Vec::with_capacity(K.len());
        for k in K {
            match self.meta(k)? {
                Some(x) => v.push(x),
                None => return Ok(None),
            }
        }
        let l10n = |s: &str| serde_json::from_str(s).unwrap_or_else(|_| L10n::new(s, s));
        Ok(Some(Enrolment {
            centre_url: v[0].clone(),
            device_id: v[1].clone(),
            token: v[2].clone(),
            township: l10n(&v[3]),
            village_code: v[4].clone(),
            village_name: l10n(&v[5]),
            cert_pin: self.meta(PIN_KEY)?.and_then(|p| super::CertPin::parse(&p).ok()),
        }))
    }

    pub fn save_enrolment(&self, e: &Enrolment) -> Result<()> {
        let vals = [
            e.centre_url.clone(),
            e.device_id.clone(),
            e.token.clone(),
            serde_json::to_string(&e.township).expect("serialises"),
            e.village_code.clone(),
            serde_json::to_string(&e.village_name).expect("serialises"),
        ];
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (k, v) in K.iter().zip(vals) {
            tx.execute("INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", (k, v))?;
        }
        match &e.cert_pin {
            Some(pin) => tx.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (PIN_KEY, pin.to_string()),
            )?,
            None => tx.execute("DELETE FROM meta WHERE key = ?1", [PIN_KEY])?,
        };
        tx.commit()?;
        Ok(())
    }

    /// Forget the enrolment (the token was revoked, or the agent hands the phone over).
    pub fn clear_enrolment(&self) -> Result<()> {
        for k in K.iter().chain([&PIN_KEY]) {
            self.delete_meta(k)?;
        }
        Ok(())
    }

    pub fn sync_settings(&self) -> Result<SyncSettings> {
        Ok(SyncSettings {
            photos_wifi_only: self.meta("sync.photos_wifi_only")?.as_deref() == Some("1"),
            monthly_budget_mb: self.meta("sync.monthly_budget_mb")?.and_then(|v| v.parse().ok()),
        })
    }

    pub fn set_sync_settings(&self, s: &SyncSettings) -> Result<()> {
        self.set_meta("sync.photos_wifi_only", if s.photos_wifi_only { "1" } else { "0" })?;
        match s.monthly_budget_mb {
            Some(mb) => self.set_meta("sync.monthly_budget_mb", &mb.to_string()),
            None => self.delete_meta("sync.monthly_budget_mb"),
        }
    }
}

fn metered_key(month: &str) -> String {
    format!("sync.metered_photo_bytes.{month}")
}

fn upload_key(hash: &PhotoHash) -> String {
    format!("sync.upload.{}", hash.to_hex())
}

impl Store {
    /// Photo bytes sent on metered (mobile) links in a calendar month (`"2026-11"`).
    pub fn metered_photo_bytes(&self, month: &str) -> Result<u64> {
        Ok(self.meta(&metered_key(month))?.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    /// Add to a month's count of photo bytes sent on metered links.
    pub fn add_metered_photo_bytes(&self, month: &str, bytes: u64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER)",
            (metered_key(month), bytes.to_string()),
        )?;
        Ok(())
    }

    /// The tus upload URL of a photo whose upload started but did not finish.
    pub(crate) fn upload_url(&self, hash: &PhotoHash) -> Result<Option<String>> {
        self.meta(&upload_key(hash))
    }

    pub(crate) fn set_upload_url(&self, hash: &PhotoHash, url: &str) -> Result<()> {
        self.set_meta(&upload_key(hash), url)
    }

    pub(crate) fn forget_upload_url(&self, hash: &PhotoHash) -> Result<()> {
        self.delete_meta(&upload_key(hash))
    }
}
