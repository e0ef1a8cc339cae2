-- Workflow automation (src/workflows/): templates with their versions,
-- executions (each with a snapshot of the actions it runs) and their steps,
-- email templates and the outbox.
CREATE TABLE workflow_templates (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    category       TEXT NOT NULL,
    trigger_type   TEXT NOT NULL,
    trigger_config TEXT NOT NULL,
    -- The event an event-triggered template listens to: the lookup at ingest.
    trigger_event  TEXT,
    actions        TEXT NOT NULL,
    is_public      BOOLEAN NOT NULL,
    is_active      BOOLEAN NOT NULL,
    usage_count    BIGINT NOT NULL DEFAULT 0,
    version        BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX workflow_templates_event ON workflow_templates (trigger_event) WHERE trigger_event IS NOT NULL;
CREATE INDEX workflow_templates_category ON workflow_templates (category, usage_count);

CREATE TABLE workflow_template_versions (
    template_id TEXT NOT NULL REFERENCES workflow_templates (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    snapshot    TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (template_id, version)
);

CREATE TABLE workflow_executions (
    id               TEXT PRIMARY KEY,
    template_id      TEXT,
    template_version BIGINT,
    workflow_name    TEXT NOT NULL,
    trigger_type     TEXT NOT NULL,
    trigger_data     TEXT NOT NULL,
    -- The actions this execution runs: the template as it was when it started.
    actions          TEXT NOT NULL,
    status           TEXT NOT NULL,
    -- Where it is in the action tree (a JSON list of indexes), null once done.
    cursor           TEXT,
    current_action_id TEXT,
    variables        TEXT NOT NULL,
    waiting_until    BIGINT,
    -- A wait anchored to a record's time follows that record when it changes.
    wait_record_id   TEXT,
    wait_field       TEXT,
    wait_offset_ms   BIGINT,
    cause            TEXT,
    -- A branch of a parallel action or a sub-workflow: the execution that waits for it, and its step.
    parent_execution_id TEXT,
    parent_action_id TEXT,
    error            TEXT,
    started_at       BIGINT NOT NULL,
    completed_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX workflow_executions_created ON workflow_executions (created_at, id);
CREATE INDEX workflow_executions_template ON workflow_executions (template_id, created_at);
CREATE INDEX workflow_executions_status ON workflow_executions (status, created_at);
CREATE INDEX workflow_executions_parent ON workflow_executions (parent_execution_id) WHERE parent_execution_id IS NOT NULL;
CREATE INDEX workflow_executions_wait_record ON workflow_executions (wait_record_id) WHERE wait_record_id IS NOT NULL;

CREATE TABLE workflow_steps (
    id            TEXT PRIMARY KEY,
    execution_id  TEXT NOT NULL REFERENCES workflow_executions (id) ON DELETE CASCADE,
    action_id     TEXT NOT NULL,
    action_type   TEXT NOT NULL,
    action_name   TEXT NOT NULL,
    action_config TEXT NOT NULL,
    status        TEXT NOT NULL,
    output        TEXT NOT NULL,
    error         TEXT,
    branch        TEXT,
    started_at    BIGINT NOT NULL,
    completed_at  BIGINT,
    -- The order the steps ran in (1, 2, …), whatever their times.
    seq           BIGINT NOT NULL
);
CREATE INDEX workflow_steps_execution ON workflow_steps (execution_id, seq);

CREATE TABLE email_templates (
    name       TEXT PRIMARY KEY,
    subject    TEXT NOT NULL,
    text_body  TEXT NOT NULL,
    html_body  TEXT,
    builtin    BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    -- One email per step, however often the step is retried.
    idempotency_key TEXT UNIQUE,
    to_addrs        TEXT NOT NULL,
    cc_addrs        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT,
    template        TEXT,
    status          TEXT NOT NULL,
    error           TEXT,
    execution_id    TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_created ON outbox (created_at, id);

-- Who a notification is for: null is every admin (webhook notices); else {"roles", "users"}.
ALTER TABLE notifications ADD COLUMN audience TEXT;
