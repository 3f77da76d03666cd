//! The default township catalogue (事项清单) shipped with Daiban, used to seed the demo centre
//! and in tests. Staff publish their own versions through the store.

use daiban_proto::Catalogue;

/// The JSON in `assets/catalogue/default.json`, compiled in.
pub const DEFAULT_CATALOGUE_JSON: &str = include_str!("../../../assets/catalogue/default.json");

/// The default catalogue, parsed and validated.
pub fn default_catalogue() -> Catalogue {
    let c: Catalogue = serde_json::from_str(DEFAULT_CATALOGUE_JSON).expect("assets/catalogue/default.json parses");
    c.validate().expect("assets/catalogue/default.json is consistent");
    c
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_catalogue_loads() {
        let c = super::default_catalogue();
        assert!(c.item("elderly_card").is_some());
    }
}
