-- Staff web UI: login sessions, follow-up notes of bad ratings, indexes for the open-work
-- inbox and the statistics page. Append-only, like V1.

-- One row per logged-in browser; only the SHA-256 of the session cookie is stored.
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id BIGINT NOT NULL REFERENCES staff(id),
    created_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    -- absolute end of the session, whatever the activity
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions(staff_id);

-- 差评整改: what was done about a bad rating
ALTER TABLE ratings ADD COLUMN follow_up_note TEXT;

-- the default inbox view: work still open at the centre, by deadline
CREATE INDEX applications_open ON applications(township_id, deadline, received_at, id)
    WHERE status IN ('received', 'accepted', 'approved', 'result_ready');

-- statistics: decisions of a township by kind and time
CREATE INDEX audit_township_action ON audit_log(township_id, action, at);
CREATE INDEX ratings_village_rated ON ratings(village_id, rated_at);
