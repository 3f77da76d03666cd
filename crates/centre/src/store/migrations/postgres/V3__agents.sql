-- Agents as people (代办员): the township's roster; an enrolment code can be issued to a named
-- agent, and the phone enrolled with it belongs to that agent, so a replaced phone keeps the
-- agent's history. Append-only, like V1 and V2.
CREATE TABLE agents (
    id BIGSERIAL PRIMARY KEY,
    village_id BIGINT NOT NULL REFERENCES villages(id),
    name TEXT NOT NULL,
    phone TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX agents_village ON agents(village_id);
ALTER TABLE enrolment_codes ADD COLUMN agent_id BIGINT REFERENCES agents(id);
ALTER TABLE devices ADD COLUMN agent_id BIGINT REFERENCES agents(id);
