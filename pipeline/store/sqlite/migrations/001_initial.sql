-- Times are INTEGER nanoseconds since the Unix epoch (UTC): exact round trips
-- and ordering without SQLite's text date formats.

-- Webhook deliveries seen, for redelivery dedupe.
CREATE TABLE deliveries (
    forge       TEXT    NOT NULL,
    delivery_id TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (forge, delivery_id)
) WITHOUT ROWID;

-- Desired state of every experiment and what was last applied.
CREATE TABLE experiments (
    -- AUTOINCREMENT: ids are never reused, since report jobs name an
    -- experiment by id.
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    forge         TEXT    NOT NULL,
    repo_path     TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    desired       TEXT    NOT NULL CHECK (desired IN ('active', 'retired')),
    delete_branch INTEGER NOT NULL DEFAULT 0 CHECK (delete_branch IN (0, 1)),
    generation    INTEGER NOT NULL,
    applied       INTEGER NOT NULL DEFAULT 0,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'applied', 'failed', 'invalid', 'released')),
    detail        TEXT    NOT NULL DEFAULT '',
    name          TEXT    NOT NULL DEFAULT '',
    branch        TEXT    NOT NULL DEFAULT '',
    base_ref      TEXT    NOT NULL DEFAULT '',
    base_sha      TEXT    NOT NULL DEFAULT '',
    request       TEXT    CHECK (request IS NULL OR json_valid(request)), -- JSON, spec.Request
    source_url    TEXT    NOT NULL DEFAULT '',
    requester     TEXT    NOT NULL DEFAULT '',
    thread        TEXT    NOT NULL CHECK (json_valid(thread)),          -- JSON, event.Thread
    comment_id    INTEGER NOT NULL DEFAULT 0,
    comment_note  TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    -- Also serves "all experiments of a repository".
    UNIQUE (forge, repo_path, key)
);

-- One row per reconcile of a repository.
CREATE TABLE runs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    forge       TEXT    NOT NULL,
    repo_path   TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    outcome     TEXT    NOT NULL DEFAULT '',
    summary     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX runs_repo ON runs (forge, repo_path, id);

-- How often a job (kind + args) was asked for while it may be queued or
-- running. River's uniqueness must include the running state, so a request
-- made while a job runs is absorbed by it; the worker compares this counter
-- before and after the handler and queues a follow-up if it moved. A row
-- lives only while its job is in flight.
CREATE TABLE job_requests (
    kind      TEXT    NOT NULL,
    args      TEXT    NOT NULL,
    requested INTEGER NOT NULL,
    PRIMARY KEY (kind, args)
) WITHOUT ROWID;
