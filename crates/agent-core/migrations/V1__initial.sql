-- Small key/value facts: enrolment (centre URL, device id, token), sync cursor, settings.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Every catalogue version ever installed; the highest is in use.
CREATE TABLE catalogue (
    version      INTEGER PRIMARY KEY,
    json         TEXT NOT NULL,
    installed_at TEXT NOT NULL
) STRICT;

CREATE TABLE residents (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    id_number        TEXT NOT NULL UNIQUE,
    phone            TEXT,
    village_group    TEXT,
    address          TEXT,
    elderly          INTEGER NOT NULL,
    mobility_limited INTEGER NOT NULL,
    birth_date       TEXT NOT NULL,
    sex              TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    -- updated_at of the version last put in the outbox (NULL: never sent). Residents are
    -- only sent to the centre once they have an application (minimum necessary).
    queued_at        TEXT
) STRICT;
CREATE INDEX residents_name ON residents(name);

CREATE TABLE applications (
    id                TEXT PRIMARY KEY,
    resident_id       TEXT NOT NULL REFERENCES residents(id),
    bundle            TEXT,
    items             TEXT NOT NULL,          -- JSON array of item codes
    fields            TEXT NOT NULL,          -- JSON object key -> answer
    note              TEXT,
    catalogue_version INTEGER NOT NULL,
    stage             TEXT NOT NULL,          -- proto::status::Stage
    status            TEXT NOT NULL,          -- proto::status::AppStatus, derived, for lists
    revision          INTEGER NOT NULL,       -- the revision being edited or last submitted
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    submitted_at      TEXT,
    return_reason     TEXT,
    return_materials  TEXT                    -- JSON array of material codes to add/redo
) STRICT;
CREATE INDEX applications_status ON applications(status, updated_at);
CREATE INDEX applications_resident ON applications(resident_id);

CREATE TABLE application_items (
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    item           TEXT NOT NULL,
    status         TEXT NOT NULL,             -- proto::status::ItemStatus
    PRIMARY KEY (application_id, item)
) STRICT;

-- Processed photos known to this device (files live in the content-addressed store).
CREATE TABLE photos (
    hash       TEXT PRIMARY KEY,
    bytes      INTEGER NOT NULL,
    width      INTEGER NOT NULL,
    height     INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    uploaded   INTEGER NOT NULL DEFAULT 0     -- the centre has confirmed it has the photo
) STRICT;

-- Photos attached to a material of the application's current revision.
CREATE TABLE material_photos (
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    material       TEXT NOT NULL,
    position       INTEGER NOT NULL,
    hash           TEXT NOT NULL REFERENCES photos(hash),
    reused_from    TEXT,
    added_at       TEXT NOT NULL,
    PRIMARY KEY (application_id, material, position)
) STRICT;
CREATE INDEX material_photos_hash ON material_photos(hash);

-- Every submitted revision, exactly as sent.
CREATE TABLE application_revisions (
    application_id TEXT NOT NULL REFERENCES applications(id),
    revision       INTEGER NOT NULL,
    json           TEXT NOT NULL,
    submitted_at   TEXT NOT NULL,
    PRIMARY KEY (application_id, revision)
) STRICT;

-- What happened to an application, newest last (the detail screen's timeline).
CREATE TABLE timeline (
    id             INTEGER PRIMARY KEY,
    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    at             TEXT NOT NULL,
    kind           TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '{}' -- JSON
) STRICT;
CREATE INDEX timeline_app ON timeline(application_id, id);

-- Changes waiting to go to the centre, in order. Written in the same transaction as the
-- change itself.
CREATE TABLE outbox (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    application_id TEXT,
    json           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',   -- pending | sent | quarantined
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    next_attempt_at TEXT,
    sent_at        TEXT
) STRICT;
CREATE INDEX outbox_state ON outbox(state, seq);

-- Photos each outbox event refers to: they go up after the event is acknowledged.
CREATE TABLE outbox_photos (
    seq  INTEGER NOT NULL REFERENCES outbox(seq),
    hash TEXT NOT NULL REFERENCES photos(hash),
    PRIMARY KEY (seq, hash)
) STRICT;
CREATE INDEX outbox_photos_hash ON outbox_photos(hash);

-- Results to bring to residents (from the centre).
CREATE TABLE deliveries (
    id             TEXT PRIMARY KEY,
    application_id TEXT NOT NULL,
    item           TEXT NOT NULL,
    resident_id    TEXT NOT NULL,
    mode           TEXT NOT NULL,
    result         TEXT NOT NULL,   -- JSON L10n
    note           TEXT,
    received_at    TEXT NOT NULL,
    delivered_at   TEXT,
    recipient      TEXT,
    proof_kind     TEXT,
    proof_hash     TEXT REFERENCES photos(hash),
    rating         INTEGER,
    comment        TEXT,
    rated_at       TEXT
) STRICT;
