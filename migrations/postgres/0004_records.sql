-- Practice records (src/records/): one row per client, patient, appointment,
-- invoice, medical record, lab test or prescription. `data` holds the fields
-- as JSON; the other columns are derived from them for filters and order.
CREATE TABLE records (
    id         TEXT PRIMARY KEY,
    entity     TEXT NOT NULL,
    version    BIGINT NOT NULL,
    data       TEXT NOT NULL,
    -- The client it belongs to (a patient's owner, an invoice's client, the
    -- owner of an appointment's patient) and the patient it is about.
    client_id  TEXT,
    patient_id TEXT,
    status     TEXT,
    -- Its own time: an appointment's start, an invoice's due date (ms).
    at         BIGINT,
    search     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX records_entity_created ON records (entity, created_at, id);
CREATE INDEX records_entity_at ON records (entity, at, id);
CREATE INDEX records_client ON records (client_id, entity) WHERE client_id IS NOT NULL;
CREATE INDEX records_patient ON records (patient_id, entity) WHERE patient_id IS NOT NULL;

-- Which record an event is about, and the chain of workflow runs that caused it.
ALTER TABLE events ADD COLUMN record_id TEXT;
ALTER TABLE events ADD COLUMN cause TEXT;
CREATE INDEX events_record ON events (record_id, created_at) WHERE record_id IS NOT NULL;

-- The built-in request inspector (src/inspector.rs): what was posted to
-- /inspector/{bin}, so a new user sees signed deliveries without a receiver.
CREATE TABLE inspector_requests (
    id          TEXT PRIMARY KEY,
    bin         TEXT NOT NULL,
    method      TEXT NOT NULL,
    headers     TEXT NOT NULL,
    body        TEXT NOT NULL,
    body_lossy  BOOLEAN NOT NULL DEFAULT FALSE,
    received_at BIGINT NOT NULL
);
CREATE INDEX inspector_bin_received ON inspector_requests (bin, received_at);
