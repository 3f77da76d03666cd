//! Daiban's shared protocol: the wire types and domain rules that the agent app and the
//! township centre both use.
//!
//! This crate is the *only* place wire types are defined. It does no I/O (serde, uuid and
//! chrono only) so it can be used on the phone, on the server, in tests and in load
//! generators alike. Its JSON is frozen by golden tests in `tests/golden.rs`: changes must be
//! additive (new optional fields, new enum variants that old peers can ignore).
//!
//! Parse at the edges: every value that crosses a trust boundary is turned into a validated
//! type here ([`IdNumber`], [`PhotoHash`], [`text::PersonName`], …) so the rest of the code
//! never re-checks it.

pub mod catalogue;
pub mod china_time;
pub mod id_number;
pub mod ids;
pub mod photo;
pub mod record;
pub mod status;
pub mod sync;
pub mod text;
pub mod workdays;

pub use catalogue::{Bundle, Catalogue, FieldKind, FieldSpec, MaterialKind, MaterialRequirement, ServiceItem};
pub use id_number::{IdNumber, IdNumberError, Sex};
pub use ids::{ApplicationId, DeliveryId, DeviceId, EventId, ResidentId};
pub use photo::PhotoHash;
pub use record::{ApplicationRecord, MaterialRecord, PhotoRef, ResidentRecord};
pub use status::{AppStatus, DeliveryMode, ItemStatus, Rating};

/// Version of the sync protocol spoken by this build. Sent on every request in the
/// [`sync::PROTOCOL_HEADER`] header; the centre answers an incompatible client with
/// [`sync::ErrorCode::ProtocolVersion`].
pub const PROTOCOL_VERSION: u32 = 1;
