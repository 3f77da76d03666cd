//! A demo centre: 桃源镇 with three villages, a township admin and a reviewer, the default
//! catalogue, and a fresh enrolment code for 王家村 on every start (printed, and written to
//! `DIR/enrolment-code.txt` so the agent app's demo can enrol itself).
//!
//! Seeding is idempotent: what exists is left as it is, so the demo can be restarted on the
//! same data directory and keeps its applications.

use crate::catalogue::default_catalogue;
use crate::store::{NewEnrolmentCode, NewStaff, Result, Role, Staff, Store, TownshipId, VillageCode};
use chrono::Duration;
use daiban_proto::catalogue::L10n;
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

/// Seed the demo township (idempotently) and make a fresh enrolment code for 王家村.
pub async fn seed(store: &dyn Store, data_dir: &Path) -> Result<Demo> {
    let catalogue = default_catalogue();
    let township = match store.township_by_code(TOWNSHIP_CODE).await? {
        Some(t) => t.id,
        None => store.create_township(TOWNSHIP_CODE, catalogue.township.clone()).await?,
    };
    for (code, zh, en) in VILLAGES {
        let code = VillageCode::parse(code).expect("demo codes are valid");
        if store.village_by_code(&code).await?.is_none() {
            store.create_village(township, code, L10n::new(zh, en)).await?;
        }
    }
    for (username, display_name, role, password) in STAFF {
        if store.staff_credentials(username).await?.is_none() {
            let new = NewStaff {
                township_id: township,
                username: username.into(),
                display_name: display_name.into(),
                role,
                password: password.into(),
            };
            store.create_staff(new).await?;
        }
    }
    let (admin, _) = store.staff_credentials(STAFF[0].0).await?.expect("seeded above");
    if store.catalogue(township, None).await?.is_none() {
        store.publish_catalogue(admin.id, catalogue).await?;
    }
    let wangjia = store.village_by_code(&VillageCode::parse(VILLAGES[0].0).expect("valid")).await?.expect("seeded above");
    let code = store.create_enrolment_code(admin.id, wangjia.id, Duration::days(7)).await?;
    std::fs::write(data_dir.join(ENROLMENT_CODE_FILE), format!("{}\n", code.code))?;
    Ok(Demo { township, admin, code })
}
