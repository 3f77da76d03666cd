//! Enrolment, push of outbox events, pull of changes, and the photos-missing query.

use crate::api::error::too_large;
use crate::api::{ApiJson, AppError, AppState, Device};
use axum::extract::{Query, State};
use axum::Json;
use daiban_proto::sync::{
    EnrolRequest, EnrolResponse, ErrorBody, PhotosMissingRequest, PhotosMissingResponse, PullResponse, PushRequest, PushResponse,
    MAX_PULL_CHANGES, MAX_PUSH_EVENTS,
};
use serde::Deserialize;

/// Most hashes one photos-missing query may ask about.
const MAX_MISSING_QUERY: usize = 2000;

/// Exchange a one-time enrolment code for a device token scoped to the code's village.
#[utoipa::path(
    post, path = "/api/v1/enrol", tag = "sync",
    params(("daiban-protocol" = u32, Header, description = "sync protocol version (1)")),
    request_body = EnrolRequest,
    responses(
        (status = 200, body = EnrolResponse, description = "enrolled; the token is shown only now"),
        (status = 403, body = ErrorBody, description = "`enrolment_code`: unknown, used or expired code"),
        (status = 422, body = ErrorBody, description = "`validation`: e.g. empty device name"),
    )
)]
pub(super) async fn enrol(State(s): State<AppState>, ApiJson(req): ApiJson<EnrolRequest>) -> Result<Json<EnrolResponse>, AppError> {
    Ok(Json(s.store.enrol(req).await?))
}

/// Apply outbox events in order, each exactly once. A replayed event id gets the answer it got
/// the first time; a permanently unacceptable event gets `rejected` (store it, show the reason,
/// go on with the next). Earlier events of a failed request stay applied: retry the request.
#[utoipa::path(
    post, path = "/api/v1/push", tag = "sync",
    params(("daiban-protocol" = u32, Header, description = "sync protocol version (1)")),
    request_body = PushRequest,
    security(("device_token" = [])),
    responses(
        (status = 200, body = PushResponse, description = "one outcome per event, in request order"),
        (status = 400, body = ErrorBody, description = "`bad_request`: malformed JSON or an invalid value"),
        (status = 401, body = ErrorBody, description = "`unauthorized` or `revoked`"),
        (status = 413, body = ErrorBody, description = "`payload_too_large`: more than 100 events or too many bytes"),
    )
)]
pub(super) async fn push(
    State(s): State<AppState>,
    Device(device): Device,
    ApiJson(req): ApiJson<PushRequest>,
) -> Result<Json<PushResponse>, AppError> {
    if req.events.len() > MAX_PUSH_EVENTS {
        return Err(AppError::new(
            daiban_proto::sync::ErrorCode::PayloadTooLarge,
            format!("一次最多推送{MAX_PUSH_EVENTS}条事件 / at most {MAX_PUSH_EVENTS} events per push"),
        )
        .with_field("events"));
    }
    let mut outcomes = Vec::with_capacity(req.events.len());
    for event in req.events {
        outcomes.push(s.store.ingest(device, event).await?);
    }
    s.store.touch_device(device.device_id, Some(req.queue_len)).await?;
    Ok(Json(PushResponse { outcomes }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ChangesQuery {
    /// The device's cursor: the `cursor` of its last pull (0 at first).
    #[serde(default)]
    after: i64,
}

/// Changes published to the device's village after its cursor (decisions, returns with
/// reasons, delivery tasks, catalogues), at most 500 per call; `more` says whether to ask again.
#[utoipa::path(
    get, path = "/api/v1/changes", tag = "sync",
    params(("daiban-protocol" = u32, Header, description = "sync protocol version (1)"), ChangesQuery),
    security(("device_token" = [])),
    responses(
        (status = 200, body = PullResponse),
        (status = 400, body = ErrorBody, description = "`bad_request`: bad cursor"),
        (status = 401, body = ErrorBody, description = "`unauthorized` or `revoked`"),
    )
)]
pub(super) async fn changes(
    State(s): State<AppState>,
    Device(device): Device,
    query: Result<Query<ChangesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PullResponse>, AppError> {
    let Query(q) = query?;
    if q.after < 0 {
        return Err(AppError::bad_request("游标不能为负数 / the cursor cannot be negative").with_field("after"));
    }
    let page = s.store.pull(device.village_id, q.after, MAX_PULL_CHANGES).await?;
    s.store.touch_device(device.device_id, None).await?;
    Ok(Json(page))
}

/// Which of these photos the centre does not have yet (upload only those). A photo that no
/// application or delivery of the device's village refers to is reported missing even if the
/// centre has it: a device learns nothing about other villages' photos (and may not upload
/// those either).
#[utoipa::path(
    post, path = "/api/v1/photos/missing", tag = "sync",
    params(("daiban-protocol" = u32, Header, description = "sync protocol version (1)")),
    request_body = PhotosMissingRequest,
    security(("device_token" = [])),
    responses(
        (status = 200, body = PhotosMissingResponse),
        (status = 401, body = ErrorBody, description = "`unauthorized` or `revoked`"),
        (status = 413, body = ErrorBody, description = "`payload_too_large`: more than 2000 hashes"),
    )
)]
pub(super) async fn photos_missing(
    State(s): State<AppState>,
    Device(device): Device,
    ApiJson(req): ApiJson<PhotosMissingRequest>,
) -> Result<Json<PhotosMissingResponse>, AppError> {
    if req.hashes.len() > MAX_MISSING_QUERY {
        return Err(too_large().with_field("hashes"));
    }
    let missing: std::collections::HashSet<_> = s.store.photos_missing(req.hashes.clone()).await?.into_iter().collect();
    let mut answer = Vec::with_capacity(missing.len());
    let mut seen = std::collections::HashSet::new();
    for h in req.hashes {
        // (only hashes the centre has need the extra look, and a phone asks about its own)
        if seen.insert(h) && (missing.contains(&h) || !s.store.photo_upload_allowed(device, h).await?) {
            answer.push(h);
        }
    }
    Ok(Json(PhotosMissingResponse { missing: answer }))
}
