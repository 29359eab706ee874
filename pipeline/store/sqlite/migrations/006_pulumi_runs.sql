-- Which process runs, or ran, the Pulumi CLI on which stack
-- (store.PulumiRun), written before the CLI starts: a lock that a CLI left
-- in the state is told from a running update's by it. The file belongs to
-- one process at a time, so the records of any other process are a dead
-- one's. Times are Unix nanoseconds; ended_at is NULL while the CLI may run.
CREATE TABLE pulumi_runs (
    stack      TEXT    NOT NULL,
    process    TEXT    NOT NULL,
    host       TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    PRIMARY KEY (stack, process)
) WITHOUT ROWID;
