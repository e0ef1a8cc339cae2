-- What a person is building in the workflow builder and has not saved: kept
-- on the server as they type, never live, one per person and template.
CREATE TABLE workflow_drafts (
    user_id      TEXT NOT NULL,
    -- The template's id, or 'new' for one not saved yet.
    template_key TEXT NOT NULL,
    -- The template version the edits started from (0 for a new one).
    base_version BIGINT NOT NULL,
    -- The builder's draft as JSON (the domain keeps it, it does not read it).
    body         TEXT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, template_key)
);
