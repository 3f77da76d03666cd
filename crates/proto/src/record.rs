//! The records a device creates: residents, applications with their materials and photos,
//! delivery proofs and ratings. These travel inside outbox events (see [`crate::sync`]).
//!
//! A record is always sent whole (a resident's latest state, an application's whole
//! revision), never as a patch, so applying it is idempotent and the centre can show the
//! differences between revisions itself.

use crate::ids::{ApplicationId, DeliveryId, ResidentId};
use crate::photo::PhotoHash;
use crate::status::Rating;
use crate::text::{Address, PersonName, Phone, Remark};
use crate::IdNumber;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResidentRecord {
    pub id: ResidentId,
    pub name: PersonName,
    pub id_number: IdNumber,
    #[serde(default)]
    pub phone: Option<Phone>,
    /// 村民小组, e.g. "第三村民小组".
    #[serde(default)]
    pub village_group: Option<Address>,
    #[serde(default)]
    pub address: Option<Address>,
    /// Elderly resident (usually 60+): results are delivered home by default.
    #[serde(default)]
    pub elderly: bool,
    /// Limited mobility (行动不便): home visits and home delivery.
    #[serde(default)]
    pub mobility_limited: bool,
    pub updated_at: DateTime<Utc>,
}

/// A stored document photo: content address plus what a reviewer needs before downloading it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotoRef {
    pub hash: PhotoHash,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
}

/// One required material of an application and the photos that show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaterialRecord {
    pub code: String,
    pub photos: Vec<PhotoRef>,
    /// When the photos were reused from an earlier application of the same resident (证照复用).
    #[serde(default)]
    pub reused_from: Option<ApplicationId>,
}

/// One revision of an application as submitted by the agent. A correction after 退回补正
/// is a new revision (revision + 1) of the same application id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApplicationRecord {
    pub id: ApplicationId,
    pub revision: u32,
    pub resident_id: ResidentId,
    /// Set when the application is a one-thing bundle (一件事).
    #[serde(default)]
    pub bundle: Option<String>,
    /// Item codes (one for a single item, several for a bundle).
    pub items: Vec<String>,
    /// Form answers by field key.
    pub fields: BTreeMap<String, String>,
    pub materials: Vec<MaterialRecord>,
    /// The catalogue version the form and checklist were taken from.
    pub catalogue_version: u32,
    #[serde(default)]
    pub note: Option<Remark>,
    pub created_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
}

impl ApplicationRecord {
    pub fn photos(&self) -> impl Iterator<Item = &PhotoRef> {
        self.materials.iter().flat_map(|m| m.photos.iter())
    }
}

/// How the handover of a result was proven.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Proof {
    /// The recipient signed on the screen; the signature is stored as an image.
    Signature { photo: PhotoRef },
    /// A photo of the handover.
    Photo { photo: PhotoRef },
}

impl Proof {
    pub fn photo(&self) -> &PhotoRef {
        match self {
            Proof::Signature { photo } | Proof::Photo { photo } => photo,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryRecord {
    pub delivery_id: DeliveryId,
    pub application_id: ApplicationId,
    pub item: String,
    pub recipient: PersonName,
    pub proof: Proof,
    pub delivered_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RatingRecord {
    pub delivery_id: DeliveryId,
    pub application_id: ApplicationId,
    pub item: String,
    pub rating: Rating,
    #[serde(default)]
    pub comment: Option<Remark>,
    pub rated_at: DateTime<Utc>,
}
