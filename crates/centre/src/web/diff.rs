//! What changed between two revisions of an application (a correction after 退回补正):
//! form fields changed, added or removed; per material, photos added and removed (by content
//! address, so a re-taken photo shows as one removed and one added) and whether reuse
//! changed; the agent's note.

use daiban_proto::{ApplicationId, ApplicationRecord, PhotoRef};
use std::collections::BTreeSet;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaterialChange {
    pub code: String,
    pub added: Vec<PhotoRef>,
    pub removed: Vec<PhotoRef>,
    /// `Some((before, after))` when the reuse source changed.
    pub reuse: Option<(Option<ApplicationId>, Option<ApplicationId>)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RevisionDiff {
    pub fields: Vec<FieldChange>,
    pub materials: Vec<MaterialChange>,
    pub note: Option<(Option<String>, Option<String>)>,
}

impl RevisionDiff {
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.materials.is_empty() && self.note.is_none()
    }
}

pub fn diff(before: &ApplicationRecord, after: &ApplicationRecord) -> RevisionDiff {
    let keys: BTreeSet<&String> = before.fields.keys().chain(after.fields.keys()).collect();
    let fields = keys
        .into_iter()
        .filter_map(|k| {
            let (b, a) = (before.fields.get(k), after.fields.get(k));
            (b != a).then(|| FieldChange { key: k.clone(), before: b.cloned(), after: a.cloned() })
        })
        .collect();
    // materials in the order of the newer revision, then those only the older one had
    let mut codes: Vec<&String> = after.materials.iter().map(|m| &m.code).collect();
    codes.extend(before.materials.iter().map(|m| &m.code).filter(|c| !after.materials.iter().any(|m| &m.code == *c)));
    let materials = codes
        .into_iter()
        .filter_map(|code| {
            let find = |r: &'_ ApplicationRecord| r.materials.iter().find(|m| &m.code == code).cloned();
            let (b, a) = (find(before), find(after));
            let photos = |m: &Option<daiban_proto::record::MaterialRecord>| m.as_ref().map(|m| m.photos.clone()).unwrap_or_default();
            let (bp, ap) = (photos(&b), photos(&a));
            let added: Vec<PhotoRef> = ap.iter().filter(|p| !bp.iter().any(|q| q.hash == p.hash)).cloned().collect();
            let removed: Vec<PhotoRef> = bp.iter().filter(|p| !ap.iter().any(|q| q.hash == p.hash)).cloned().collect();
            let (rb, ra) = (b.and_then(|m| m.reused_from), a.and_then(|m| m.reused_from));
            let reuse = (rb != ra).then_some((rb, ra));
            (!added.is_empty() || !removed.is_empty() || reuse.is_some()).then(|| MaterialChange {
                code: code.clone(),
                added,
                removed,
                reuse,
            })
        })
        .collect();
    let text = |r: &ApplicationRecord| r.note.as_ref().map(|n| n.as_str().to_string());
    let note = (text(before) != text(after)).then(|| (text(before), text(after)));
    RevisionDiff { fields, materials, note }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use daiban_proto::record::MaterialRecord;
    use daiban_proto::text::Remark;
    use daiban_proto::{PhotoHash, ResidentId};

    fn photo(s: &str) -> PhotoRef {
        PhotoRef { hash: PhotoHash::of(s.as_bytes()), bytes: 10, width: 4, height: 3 }
    }

    fn record() -> ApplicationRecord {
        ApplicationRecord {
            id: ApplicationId::new(),
            revision: 1,
            resident_id: ResidentId::new(),
            bundle: None,
            items: vec!["elderly_card".into()],
            fields: [("phone".to_string(), "13800000000".to_string()), ("remark".to_string(), "x".to_string())].into(),
            materials: vec![
                MaterialRecord { code: "id_card".into(), photos: vec![photo("front"), photo("back-blurred")], reused_from: None },
                MaterialRecord { code: "photo_1inch".into(), photos: vec![photo("face")], reused_from: None },
            ],
            catalogue_version: 1,
            note: None,
            created_at: Utc::now(),
            submitted_at: Utc::now(),
        }
    }

    #[test]
    fn a_correction_shows_what_changed() {
        let r1 = record();
        let mut r2 = r1.clone();
        r2.revision = 2;
        r2.fields.insert("phone".into(), "13900000000".into());
        r2.fields.remove("remark");
        r2.fields.insert("bank".into(), "6222".into());
        r2.materials[0].photos[1] = photo("back-sharp");
        let earlier = ApplicationId::new();
        r2.materials.push(MaterialRecord { code: "household_register".into(), photos: vec![photo("hukou")], reused_from: Some(earlier) });
        r2.note = Some(Remark::parse("重拍了身份证反面").unwrap());
        let d = diff(&r1, &r2);
        let keys: Vec<_> = d.fields.iter().map(|f| (f.key.as_str(), f.before.as_deref(), f.after.as_deref())).collect();
        assert_eq!(keys, [("bank", None, Some("6222")), ("phone", Some("13800000000"), Some("13900000000")), ("remark", Some("x"), None)]);
        assert_eq!(d.materials.len(), 2, "{:?}", d.materials);
        assert_eq!(
            (d.materials[0].code.as_str(), d.materials[0].added.clone(), d.materials[0].removed.clone()),
            ("id_card", vec![photo("back-sharp")], vec![photo("back-blurred")])
        );
        assert_eq!(d.materials[1].reuse, Some((None, Some(earlier))));
        assert_eq!(d.note, Some((None, Some("重拍了身份证反面".into()))));
        assert!(diff(&r1, &r1).is_empty());
    }
}
