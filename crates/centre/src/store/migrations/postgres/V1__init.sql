-- Daiban centre schema, PostgreSQL (refinery migrations). Append-only: add a new file for
-- every change. Same tables and indexes as the SQLite schema, with native types.

CREATE TABLE townships (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT ''
);

CREATE TABLE villages (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    township_id BIGINT NOT NULL REFERENCES townships(id),
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    -- last seq of this village's change feed (see append_change)
    change_seq BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX villages_township ON villages(township_id, id);

CREATE TABLE staff (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    township_id BIGINT NOT NULL REFERENCES townships(id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reviewer', 'township_admin')),
    password_hash TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX staff_township ON staff(township_id);

CREATE TABLE devices (
    id UUID PRIMARY KEY,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    enrolled_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    revoked_by BIGINT REFERENCES staff(id),
    last_seen_at TIMESTAMPTZ,
    queue_len INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX devices_village ON devices(village_id);

CREATE TABLE enrolment_codes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    created_by BIGINT NOT NULL REFERENCES staff(id),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    device_id UUID REFERENCES devices(id)
);

CREATE TABLE residents (
    id UUID PRIMARY KEY,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    name TEXT NOT NULL,
    id_number TEXT NOT NULL,
    phone TEXT,
    elderly BOOLEAN NOT NULL,
    mobility_limited BOOLEAN NOT NULL,
    record JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX residents_village_name ON residents(village_id, name);
CREATE INDEX residents_id_number ON residents(id_number);

CREATE TABLE catalogues (
    township_id BIGINT NOT NULL REFERENCES townships(id),
    version INTEGER NOT NULL,
    body JSONB NOT NULL,
    published_at TIMESTAMPTZ NOT NULL,
    published_by BIGINT REFERENCES staff(id),
    PRIMARY KEY (township_id, version)
);

CREATE TABLE applications (
    id UUID PRIMARY KEY,
    township_id BIGINT NOT NULL REFERENCES townships(id),
    village_id BIGINT NOT NULL REFERENCES villages(id),
    resident_id UUID NOT NULL REFERENCES residents(id),
    device_id UUID NOT NULL REFERENCES devices(id),
    bundle TEXT,
    -- item codes as a JSON array (never change after revision 1); statuses in application_items
    items JSONB NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    catalogue_version INTEGER NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    accepted_at TIMESTAMPTZ,
    deadline DATE NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
-- the staff inbox: sorted by (deadline, received_at, id), keyset-paged, per filter
CREATE INDEX applications_inbox ON applications(township_id, deadline, received_at, id);
CREATE INDEX applications_status ON applications(township_id, status, deadline, received_at, id);
CREATE INDEX applications_village ON applications(village_id, status, deadline, received_at, id);
CREATE INDEX applications_device ON applications(device_id, deadline, received_at, id);
CREATE INDEX applications_resident ON applications(resident_id);

CREATE TABLE application_items (
    application_id UUID NOT NULL REFERENCES applications(id),
    pos INTEGER NOT NULL,
    item TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (application_id, pos)
);
CREATE INDEX application_items_item ON application_items(item, application_id);

-- every revision exactly as submitted; never updated
CREATE TABLE application_revisions (
    application_id UUID NOT NULL REFERENCES applications(id),
    revision INTEGER NOT NULL,
    record JSONB NOT NULL,
    event_id UUID NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (application_id, revision)
);

CREATE TABLE photos (
    hash TEXT PRIMARY KEY,
    bytes BIGINT NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE photo_refs (
    hash TEXT NOT NULL,
    application_id UUID NOT NULL REFERENCES applications(id),
    village_id BIGINT NOT NULL REFERENCES villages(id),
    PRIMARY KEY (hash, village_id, application_id)
);
CREATE INDEX photo_refs_application ON photo_refs(application_id);

CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    device_id UUID NOT NULL REFERENCES devices(id),
    hash TEXT NOT NULL,
    length BIGINT NOT NULL,
    received BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- the idempotency record: one row per pushed event, with the answer it got
CREATE TABLE processed_events (
    event_id UUID PRIMARY KEY,
    device_id UUID NOT NULL REFERENCES devices(id),
    kind TEXT NOT NULL,
    outcome JSONB,
    processed_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE changes (
    village_id BIGINT NOT NULL REFERENCES villages(id),
    seq BIGINT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    body JSONB NOT NULL,
    PRIMARY KEY (village_id, seq)
);

CREATE TABLE deliveries (
    id UUID PRIMARY KEY,
    application_id UUID NOT NULL REFERENCES applications(id),
    item TEXT NOT NULL,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    task JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    delivered_at TIMESTAMPTZ,
    recipient TEXT,
    proof JSONB,
    event_id UUID
);
CREATE INDEX deliveries_application ON deliveries(application_id, item);

CREATE TABLE ratings (
    application_id UUID NOT NULL REFERENCES applications(id),
    item TEXT NOT NULL,
    delivery_id UUID NOT NULL,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    score SMALLINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment TEXT,
    rated_at TIMESTAMPTZ NOT NULL,
    stored_at TIMESTAMPTZ NOT NULL,
    needs_follow_up BOOLEAN NOT NULL,
    followed_up_at TIMESTAMPTZ,
    followed_up_by BIGINT REFERENCES staff(id),
    PRIMARY KEY (application_id, item)
);
CREATE INDEX ratings_follow_up ON ratings(village_id) WHERE needs_follow_up AND followed_up_at IS NULL;

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    township_id BIGINT NOT NULL REFERENCES townships(id),
    actor JSONB NOT NULL,
    application_id UUID,
    action TEXT NOT NULL,
    detail JSONB NOT NULL
);
CREATE INDEX audit_application ON audit_log(application_id, id);
CREATE INDEX audit_township ON audit_log(township_id, id);
