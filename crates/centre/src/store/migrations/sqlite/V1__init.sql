-- Daiban centre schema, SQLite. Append-only: add a new file for every change.
-- Timestamps are UTC text (sortable), dates are YYYY-MM-DD, ids of synced records are
-- 16-byte UUID blobs, records as sent by devices are JSON text.

CREATE TABLE townships (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT ''
);

CREATE TABLE villages (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL REFERENCES townships(id),
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    -- last seq of this village's change feed (see append_change)
    change_seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX villages_township ON villages(township_id, id);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    township_id INTEGER NOT NULL REFERENCES townships(id),
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('reviewer', 'township_admin')),
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE INDEX staff_township ON staff(township_id);

CREATE TABLE devices (
    id BLOB PRIMARY KEY,
    village_id INTEGER NOT NULL REFERENCES villages(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by INTEGER REFERENCES staff(id),
    last_seen_at TEXT,
    queue_len INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX devices_village ON devices(village_id);

CREATE TABLE enrolment_codes (
    id INTEGER PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    village_id INTEGER NOT NULL REFERENCES villages(id),
    created_by INTEGER NOT NULL REFERENCES staff(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    device_id BLOB REFERENCES devices(id)
);

CREATE TABLE residents (
    id BLOB PRIMARY KEY,
    village_id INTEGER NOT NULL REFERENCES villages(id),
    name TEXT NOT NULL,
    id_number TEXT NOT NULL,
    phone TEXT,
    elderly INTEGER NOT NULL,
    mobility_limited INTEGER NOT NULL,
    record TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE INDEX residents_village_name ON residents(village_id, name);
CREATE INDEX residents_id_number ON residents(id_number);

CREATE TABLE catalogues (
    township_id INTEGER NOT NULL REFERENCES townships(id),
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    published_at TEXT NOT NULL,
    published_by INTEGER REFERENCES staff(id),
    PRIMARY KEY (township_id, version)
);

CREATE TABLE applications (
    id BLOB PRIMARY KEY,
    township_id INTEGER NOT NULL REFERENCES townships(id),
    village_id INTEGER NOT NULL REFERENCES villages(id),
    resident_id BLOB NOT NULL REFERENCES residents(id),
    device_id BLOB NOT NULL REFERENCES devices(id),
    bundle TEXT,
    -- item codes as a JSON array (never change after revision 1); statuses in application_items
    items TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    catalogue_version INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    accepted_at TEXT,
    deadline TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- the staff inbox: sorted by (deadline, received_at, id), keyset-paged, per filter
CREATE INDEX applications_inbox ON applications(township_id, deadline, received_at, id);
CREATE INDEX applications_status ON applications(township_id, status, deadline, received_at, id);
CREATE INDEX applications_village ON applications(village_id, status, deadline, received_at, id);
CREATE INDEX applications_device ON applications(device_id, deadline, received_at, id);
CREATE INDEX applications_resident ON applications(resident_id);

CREATE TABLE application_items (
    application_id BLOB NOT NULL REFERENCES applications(id),
    pos INTEGER NOT NULL,
    item TEXT NOT NULL,
    status TEXT NOT NULL,
    PRIMARY KEY (application_id, pos)
);
CREATE INDEX application_items_item ON application_items(item, application_id);

-- every revision exactly as submitted; never updated
CREATE TABLE application_revisions (
    application_id BLOB NOT NULL REFERENCES applications(id),
    revision INTEGER NOT NULL,
    record TEXT NOT NULL,
    event_id BLOB NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (application_id, revision)
);

CREATE TABLE photos (
    hash TEXT PRIMARY KEY,
    bytes INTEGER NOT NULL,
    stored_at TEXT NOT NULL
);

CREATE TABLE photo_refs (
    hash TEXT NOT NULL,
    application_id BLOB NOT NULL REFERENCES applications(id),
    village_id INTEGER NOT NULL REFERENCES villages(id),
    PRIMARY KEY (hash, village_id, application_id)
);
CREATE INDEX photo_refs_application ON photo_refs(application_id);

CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    device_id BLOB NOT NULL REFERENCES devices(id),
    hash TEXT NOT NULL,
    length INTEGER NOT NULL,
    received INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- the idempotency record: one row per pushed event, with the answer it got
CREATE TABLE processed_events (
    event_id BLOB PRIMARY KEY,
    device_id BLOB NOT NULL REFERENCES devices(id),
    kind TEXT NOT NULL,
    outcome TEXT,
    processed_at TEXT NOT NULL
);

CREATE TABLE changes (
    village_id INTEGER NOT NULL REFERENCES villages(id),
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (village_id, seq)
) WITHOUT ROWID;

CREATE TABLE deliveries (
    id BLOB PRIMARY KEY,
    application_id BLOB NOT NULL REFERENCES applications(id),
    item TEXT NOT NULL,
    village_id INTEGER NOT NULL REFERENCES villages(id),
    task TEXT NOT NULL,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    recipient TEXT,
    proof TEXT,
    event_id BLOB
);
CREATE INDEX deliveries_application ON deliveries(application_id, item);

CREATE TABLE ratings (
    application_id BLOB NOT NULL REFERENCES applications(id),
    item TEXT NOT NULL,
    delivery_id BLOB NOT NULL,
    village_id INTEGER NOT NULL REFERENCES villages(id),
    score INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment TEXT,
    rated_at TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    needs_follow_up INTEGER NOT NULL,
    followed_up_at TEXT,
    followed_up_by INTEGER REFERENCES staff(id),
    PRIMARY KEY (application_id, item)
);
CREATE INDEX ratings_follow_up ON ratings(village_id) WHERE needs_follow_up = 1 AND followed_up_at IS NULL;

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    township_id INTEGER NOT NULL REFERENCES townships(id),
    actor TEXT NOT NULL,
    application_id BLOB,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_application ON audit_log(application_id, id);
CREATE INDEX audit_township ON audit_log(township_id, id);
