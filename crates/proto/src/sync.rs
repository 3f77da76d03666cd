//! The sync API's messages: enrolment, push of outbox events, pull of changes, errors.
//!
//! Push: the device sends its outbox events in order; each has a client-made [`EventId`] that
//! the centre uses as idempotency key, storing the [`EventOutcome`] it gave so that a replay
//! gets the very same answer. Photos travel separately over tus (see the centre's OpenAPI
//! document) after the text they belong to.
//!
//! Pull: the centre keeps one monotonic sequence of [`Change`]s per village; the device asks
//! for everything after its cursor and applies each change in one local transaction.

use crate::catalogue::{Catalogue, L10n};
use crate::ids::{ApplicationId, DeliveryId, DeviceId, EventId, ResidentId};
use crate::photo::PhotoHash;
use crate::record::{ApplicationRecord, DeliveryRecord, RatingRecord, ResidentRecord};
use crate::status::{Decision, DeliveryMode};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// HTTP header carrying [`crate::PROTOCOL_VERSION`] on every request.
pub const PROTOCOL_HEADER: &str = "daiban-protocol";
/// Most events a device may push in one request.
pub const MAX_PUSH_EVENTS: usize = 100;
/// Most changes the centre returns in one pull.
pub const MAX_PULL_CHANGES: usize = 500;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolRequest {
    /// The one-time code shown (and as QR) by township staff.
    pub code: String,
    /// A name for the device so staff can tell devices apart ("王村代办员的手机").
    pub device_name: String,
    /// A device token made by the phone for this enrolment ([`is_device_token`]): the centre
    /// keeps only its fingerprint and answers with it as `token`. Asking again with the same
    /// code and key returns the same answer, so an answer lost on a 2G link costs a retry,
    /// not a new code. Without it the centre makes the token, and the code works once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
}

/// Prefix of device tokens.
pub const DEVICE_TOKEN_PREFIX: &str = "dbn_";

/// The canonical form of a typed-in enrolment code (`xxxx-xxxx`, `XXXX XXXX`, …): letters and
/// digits only, upper case. The centre stores codes in this form, and the phone files the key
/// of an enrolment under way by it, so a code typed again differently is the same code.
pub fn normalise_enrolment_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect()
}

/// Whether `s` has the form of a device token: [`DEVICE_TOKEN_PREFIX`] and 64 lower-case hex
/// digits (256 random bits).
pub fn is_device_token(s: &str) -> bool {
    s.strip_prefix(DEVICE_TOKEN_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrolResponse {
    pub device_id: DeviceId,
    /// Bearer token; shown once, stored hashed on the centre, revocable by staff.
    pub token: String,
    pub township: L10n,
    pub village_code: String,
    pub village_name: L10n,
}

/// One change made on a device, as it sits in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: EventId,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventBody {
    ResidentUpserted { resident: ResidentRecord },
    ApplicationSubmitted { application: ApplicationRecord },
    DeliveryConfirmed { delivery: DeliveryRecord },
    RatingGiven { rating: RatingRecord },
}

impl EventBody {
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::ResidentUpserted { .. } => "resident_upserted",
            EventBody::ApplicationSubmitted { .. } => "application_submitted",
            EventBody::DeliveryConfirmed { .. } => "delivery_confirmed",
            EventBody::RatingGiven { .. } => "rating_given",
        }
    }

    /// Photos this event refers to (which must reach the centre after it).
    pub fn photos(&self) -> Vec<PhotoHash> {
        match self {
            EventBody::ApplicationSubmitted { application } => application.photos().map(|p| p.hash).collect(),
            EventBody::DeliveryConfirmed { delivery } => vec![delivery.proof.photo().hash],
            _ => vec![],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushRequest {
    pub events: Vec<Event>,
    /// How many events are still waiting on the device after this batch (shown to staff).
    #[serde(default)]
    pub queue_len: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PushResponse {
    /// One outcome per event, in request order.
    pub outcomes: Vec<EventOutcome>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventOutcome {
    pub event_id: EventId,
    #[serde(flatten)]
    pub result: EventResult,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum EventResult {
    /// Applied (now or, for a replay, earlier: the stored answer is returned unchanged).
    Applied,
    /// Permanently refused; the device quarantines the event and shows the reason.
    Rejected { code: ErrorCode, message: String },
}

/// Ask which photos the centre still lacks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotosMissingRequest {
    pub hashes: Vec<PhotoHash>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PhotosMissingResponse {
    pub missing: Vec<PhotoHash>,
}

/// A change the centre publishes to a village's devices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Change {
    /// Position in the centre's sequence; the device's cursor after applying it.
    pub seq: i64,
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub body: ChangeBody,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ChangeBody {
    /// The centre has the application text of this revision (已接收).
    Received {
        application_id: ApplicationId,
        revision: u32,
        /// The date the centre promises a decision by (办结期限, in working days; China
        /// date). Absent from centres that predate it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<NaiveDate>,
    },
    /// A staff decision; for `Return`, the reason and the materials to add are inside.
    Decision {
        application_id: ApplicationId,
        revision: u32,
        decision: Decision,
        /// Display name of the staff member (for the timeline).
        by: String,
        /// With `Accept`: the deadline, which runs from acceptance.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline: Option<NaiveDate>,
    },
    /// A result to bring to a resident's home.
    DeliveryTask { task: DeliveryTask },
    /// A new catalogue published by the township.
    Catalogue { catalogue: Catalogue },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryTask {
    pub id: DeliveryId,
    pub application_id: ApplicationId,
    pub item: String,
    pub resident_id: ResidentId,
    pub mode: DeliveryMode,
    /// What to hand over, e.g. "老年人优待证".
    pub result: L10n,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PullResponse {
    pub changes: Vec<Change>,
    /// Cursor to send next time (the last change's seq, or the request's cursor if none).
    pub cursor: i64,
    /// More changes are waiting beyond this page.
    pub more: bool,
}

/// Machine-readable error codes of the sync API (and of rejected events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Malformed request (bad JSON, wrong types).
    BadRequest,
    /// Well-formed but a value is not acceptable; `field` says which.
    Validation,
    /// No or unknown token.
    Unauthorized,
    /// The device's token was revoked by staff.
    Revoked,
    /// The token is valid but this resource belongs to another village/township.
    Forbidden,
    NotFound,
    /// The request conflicts with what is stored (e.g. an older revision).
    Conflict,
    /// The client speaks an incompatible protocol version.
    ProtocolVersion,
    PayloadTooLarge,
    /// A tus chunk or a whole photo did not match its checksum.
    ChecksumMismatch,
    /// The enrolment code is unknown, used or expired.
    EnrolmentCode,
    /// Slow down (retry after the `Retry-After` header).
    RateLimited,
    /// Something broke on the centre; retry later.
    Internal,
    Unavailable,
}

impl ErrorCode {
    /// Errors a client should retry (with backoff) rather than quarantine.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorCode::RateLimited | ErrorCode::Internal | ErrorCode::Unavailable)
    }
}

/// The JSON body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    /// Human-readable, Chinese first.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
