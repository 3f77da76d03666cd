//! A demo centre: 桃源镇 with three villages, a township admin and a reviewer, the default
//! catalogue, and a fresh enrolment code for 王家村 on every start (printed, and written to
//! `DIR/enrolment-code.txt` so the agent app's demo can enrol itself).
//!
//! Seeding is idempotent: what exists is left as it is, so the demo can be restarted on the
//! same data directory and keeps its applications.

use crate::admin;
use crate::catalogue::default_catalogue;
use crate::store::{NewEnrolmentCode, Role, Staff, Store, StoreError, TownshipId};
use chrono::Duration;
use std::path::Path;

pub const TOWNSHIP_CODE: &str = "370611101";
pub const VILLAGES: [(&str, &str, &str); 3] = [
    ("370611101201", "王家村", "Wangjia Village"),
    ("370611101202", "李家庄", "Lijiazhuang Village"),
    ("370611101203", "河东村", "Hedong Village"),
];
/// Demo accounts: (user name, display name, role, password). Demo only: printed on start.
pub const STAFF: [(&str, &str, Role, &str); 2] =
    [("taoyuan-admin", "王镇管", Role::TownshipAdmin, "taoyuan-admin-demo"), ("li-shenhe", "李审核", Role::Reviewer, "li-shenhe-demo")];
/// File (in the data directory) that receives the enrolment code.
pub const ENROLMENT_CODE_FILE: &str = "enrolment-code.txt";

/// What was seeded, for printing.
pub struct Demo {
    pub township: TownshipId,
    pub admin: Staff,
    pub code: NewEnrolmentCode,
}

/// Seed the demo township (idempotently) and make a fresh enrolment code for 王家村: the
/// same [`admin`] steps a real township is set up with.
pub async fn seed(store: &dyn Store, data_dir: &Path) -> admin::Result<Demo> {
    let catalogue = default_catalogue();
    let (township, _) = admin::township(store, TOWNSHIP_CODE, &catalogue.township.zh, Some(&catalogue.township.en)).await?;
    let villages: String = VILLAGES.iter().map(|(code, zh, en)| format!("{code},{zh},{en}\n")).collect();
    admin::import_villages(store, &township, &villages).await?;
    for (username, display_name, role, password) in STAFF {
        if store.staff_credentials(username).await?.is_none() {
            admin::add_staff(store, &township, username, display_name, role, password).await?;
        }
    }
    let admin = admin::admin_named(store, STAFF[0].0).await?;
    if store.catalogue(township.id, None).await?.is_none() {
        store.publish_catalogue(admin.id, catalogue).await?;
    }
    let code = admin::enrolment_code(store, &admin, VILLAGES[0].0, Duration::days(7)).await?;
    std::fs::write(data_dir.join(ENROLMENT_CODE_FILE), format!("{}\n", code.code)).map_err(StoreError::from)?;
    Ok(Demo { township: township.id, admin, code })
}
