-- Times are BIGINT nanoseconds since the Unix epoch (UTC), as in the SQLite
-- driver: exact round trips, which timestamptz's microseconds would not give.

-- Webhook deliveries seen, for redelivery dedupe.
CREATE TABLE deliveries (
    forge       TEXT   NOT NULL,
    delivery_id TEXT   NOT NULL,
    event       TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (forge, delivery_id)
);
-- Pruning finds old deliveries by age (prune.go).
CREATE INDEX deliveries_received_at ON deliveries (received_at);

-- Desired state of every experiment and what was last applied. Identity
-- ids are never reused, since report jobs name an experiment by id.
CREATE TABLE experiments (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge         TEXT    NOT NULL,
    repo_path     TEXT    NOT NULL,
    key           TEXT    NOT NULL,
    desired       TEXT    NOT NULL CHECK (desired IN ('active', 'retired')),
    delete_branch BOOLEAN NOT NULL DEFAULT false,
    generation    BIGINT  NOT NULL,
    applied       BIGINT  NOT NULL DEFAULT 0,
    status        TEXT    NOT NULL CHECK (status IN ('pending', 'running', 'applied', 'failed', 'invalid', 'released')),
    detail        TEXT    NOT NULL DEFAULT '',
    name          TEXT    NOT NULL DEFAULT '',
    branch        TEXT    NOT NULL DEFAULT '',
    base_ref      TEXT    NOT NULL DEFAULT '',
    base_sha      TEXT    NOT NULL DEFAULT '',
    request       TEXT    CHECK (request IS NULL OR request::jsonb IS NOT NULL), -- JSON, spec.Request, bytes kept as given
    source_url    TEXT    NOT NULL DEFAULT '',
    requester     TEXT    NOT NULL DEFAULT '',
    thread        TEXT    NOT NULL CHECK (thread::jsonb IS NOT NULL),            -- JSON, event.Thread
    comment_id    BIGINT  NOT NULL DEFAULT 0,
    comment_note  TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    -- Status comments still to bring up to date (queue.ReportRepoArgs).
    report_due    BIGINT  NOT NULL DEFAULT 0,
    -- Also serves "all experiments of a repository".
    UNIQUE (forge, repo_path, key)
);
CREATE INDEX experiments_report_due ON experiments (forge, repo_path) WHERE report_due > 0;

-- One row per reconcile of a repository.
CREATE TABLE runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge       TEXT   NOT NULL,
    repo_path   TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT   NOT NULL DEFAULT '',
    summary     TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX runs_repo ON runs (forge, repo_path, id);

-- How often a job (kind + args) was asked for while it may be queued or
-- running, and the job last inserted for it (queue.Driver). A row lives
-- only while its job is in flight.
CREATE TABLE job_requests (
    kind      TEXT   NOT NULL,
    args      TEXT   NOT NULL,
    requested BIGINT NOT NULL,
    job_id    BIGINT,
    PRIMARY KEY (kind, args)
);

-- The state of each request's source that expbot last acted on and the
-- forge's time of it (store.Source). at is 0 when the time is unknown.
CREATE TABLE sources (
    forge     TEXT   NOT NULL,
    repo_path TEXT   NOT NULL,
    key       TEXT   NOT NULL,
    at        BIGINT NOT NULL,
    state     TEXT   NOT NULL,
    PRIMARY KEY (forge, repo_path, key)
);
