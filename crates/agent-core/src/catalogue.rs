//! The built-in township catalogue shipped with the app (assets/catalogue/default.json).
//!
//! A fresh install works offline from the first minute with this catalogue; the township
//! centre's first catalogue replaces it whatever the versions, then each newer one (see
//! `Store::install_catalogue`).

use daiban_proto::Catalogue;

const DEFAULT_JSON: &str = include_str!("../../../assets/catalogue/default.json");

/// The built-in catalogue. It is validated by tests, so a failure here is a build defect.
pub fn builtin() -> Catalogue {
    serde_json::from_str(DEFAULT_JSON).expect("built-in catalogue is valid JSON")
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_catalogue_is_valid() {
        let c = super::builtin();
        c.validate().unwrap();
        assert!(c.items.len() >= 15);
    }
}
