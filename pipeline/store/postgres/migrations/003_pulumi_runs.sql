-- Which process runs, or ran, the Pulumi CLI on which stack
-- (store.PulumiRun), written before the CLI starts: a lock that a CLI left
-- in the state (its process was killed) is told from a running update's by
-- it, and removed only once that process's lease (queue_processes) is gone.
-- The times are the process's clock, as are those in the CLI's locks.
CREATE TABLE pulumi_runs (
    stack      TEXT        NOT NULL,
    process    TEXT        NOT NULL,
    host       TEXT        NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    PRIMARY KEY (stack, process)
);
