-- due_work becomes the general queue of every kind of timed work (src/due/):
-- its own id and a subject, one visibility time (a claim moves
-- available_at to the lease's end), a fence bumped by every claim, attempts
-- since the last clean finish, the last error, and dead rows.
CREATE TABLE due_work_v2 (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    subject_id    TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    available_at  BIGINT NOT NULL,
    lease_owner   TEXT,
    fence         BIGINT NOT NULL DEFAULT 0,
    attempts      BIGINT NOT NULL DEFAULT 0,
    last_error    TEXT,
    dead_at       BIGINT,
    created_at    BIGINT NOT NULL
);
INSERT INTO due_work_v2 (id, kind, subject_id, partition_key, available_at, lease_owner, fence, attempts, created_at)
    SELECT 'due_' || id, kind, id, partition_key,
           CASE WHEN lease_expires_at IS NOT NULL AND lease_expires_at > due_at THEN lease_expires_at ELSE due_at END,
           lease_owner, 0, 0, due_at
    FROM due_work;
DROP TABLE due_work;
ALTER TABLE due_work_v2 RENAME TO due_work;
CREATE UNIQUE INDEX due_work_subject ON due_work (kind, subject_id);
-- Claims and "when is the next row due" are probes of this index.
CREATE INDEX due_work_available ON due_work (kind, available_at, partition_key) WHERE dead_at IS NULL;
CREATE INDEX due_work_dead ON due_work (dead_at) WHERE dead_at IS NOT NULL;

-- An event's request body is stored once, on the event, not on each of its deliveries.
ALTER TABLE events ADD COLUMN body TEXT;
UPDATE events SET body = (SELECT d.payload FROM webhook_deliveries d WHERE d.event_id = events.id LIMIT 1);
-- Deliveries whose event was already deleted (retention used to delete events
-- by age alone) keep their body on a stand-in event.
INSERT INTO events (id, type, data, idempotency_key, deliveries, workflow_executions, created_at, body)
    SELECT d.event_id, MIN(d.event), '{}', NULL, COUNT(*), 0, MIN(d.created_at), MIN(d.payload)
    FROM webhook_deliveries d
    WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)
    GROUP BY d.event_id;
ALTER TABLE webhook_deliveries DROP COLUMN payload;

-- Whether invalid text in a receiver's response was replaced before it was stored.
ALTER TABLE delivery_attempts ADD COLUMN response_body_lossy BOOLEAN NOT NULL DEFAULT FALSE;

-- Two of the history's indexes cost every delivery two index writes and
-- serve no query that the per-webhook and by-time indexes cannot: listing by
-- status or event type filters those.
DROP INDEX deliveries_status_created;
DROP INDEX deliveries_event_created;
