-- Events, webhook subscriptions, deliveries with every attempt, and the
-- due-work queue shared by deliveries and (later) workflow steps and timers.
-- Times are Unix milliseconds; JSON is stored as TEXT.

CREATE TABLE event_types (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    schema      TEXT NOT NULL,
    example     TEXT NOT NULL,
    strict      BOOLEAN NOT NULL DEFAULT FALSE,
    builtin     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE events (
    id                 TEXT PRIMARY KEY,
    type               TEXT NOT NULL,
    data               TEXT NOT NULL,
    -- The caller's id or Idempotency-Key; cleared after 24 hours.
    idempotency_key    TEXT UNIQUE,
    deliveries         BIGINT NOT NULL,
    workflow_executions BIGINT NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX events_created_at ON events (created_at);

CREATE TABLE webhooks (
    id                         TEXT PRIMARY KEY,
    name                       TEXT NOT NULL,
    url                        TEXT NOT NULL,
    events                     TEXT NOT NULL,
    secret_sealed              TEXT NOT NULL,
    previous_secret_sealed     TEXT,
    previous_secret_expires_at BIGINT,
    active                     BOOLEAN NOT NULL,
    disabled_reason            TEXT,
    filter                     TEXT,
    retry_policy               TEXT,
    rate_limit                 BIGINT,
    headers                    TEXT NOT NULL,
    failing_since              BIGINT,
    last_success_at            BIGINT,
    last_failure_at            BIGINT,
    created_at                 BIGINT NOT NULL,
    updated_at                 BIGINT NOT NULL
);
CREATE INDEX webhooks_created_at ON webhooks (created_at);

-- Which webhook wants which event type: the fan-out lookup at ingest.
CREATE TABLE webhook_events (
    event_type TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (event_type, webhook_id)
);
CREATE INDEX webhook_events_webhook ON webhook_events (webhook_id);

CREATE TABLE webhook_deliveries (
    -- Sent as `webhook-id`: the same on every attempt of this delivery.
    id            TEXT PRIMARY KEY,
    webhook_id    TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    event         TEXT NOT NULL,
    -- The exact request body, so every retry sends the same bytes.
    payload       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    status_code   BIGINT,
    response_body TEXT,
    error_message TEXT,
    attempt       BIGINT NOT NULL DEFAULT 0,
    max_attempts  BIGINT NOT NULL,
    delivered_at  BIGINT,
    next_retry_at BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX deliveries_webhook_created ON webhook_deliveries (webhook_id, created_at);
CREATE INDEX deliveries_status_created ON webhook_deliveries (status, created_at);
CREATE INDEX deliveries_event_created ON webhook_deliveries (event, created_at);
CREATE INDEX deliveries_created ON webhook_deliveries (created_at);
CREATE INDEX deliveries_event_id ON webhook_deliveries (event_id);

CREATE TABLE delivery_attempts (
    id              TEXT PRIMARY KEY,
    delivery_id     TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    webhook_id      TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    started_at      BIGINT NOT NULL,
    duration_ms     BIGINT NOT NULL,
    status_code     BIGINT,
    request_headers TEXT NOT NULL,
    response_body   TEXT,
    error_class     TEXT,
    error_message   TEXT
);
CREATE INDEX attempts_delivery ON delivery_attempts (delivery_id, attempt);
CREATE INDEX attempts_webhook_started ON delivery_attempts (webhook_id, started_at);
CREATE INDEX attempts_started ON delivery_attempts (started_at);

-- Work that falls due at a time: one row per pending delivery now, workflow
-- steps and durable timers later. A worker leases rows; a lease that expires
-- (crashed worker) makes the row claimable again.
CREATE TABLE due_work (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    partition_key    TEXT NOT NULL,
    due_at           BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT
);
CREATE INDEX due_work_kind_due ON due_work (kind, due_at);

CREATE TABLE notifications (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    link       TEXT,
    created_at BIGINT NOT NULL,
    read_at    BIGINT
);
CREATE INDEX notifications_created ON notifications (created_at);
