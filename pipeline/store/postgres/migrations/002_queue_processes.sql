-- The processes working the job queue, each with a lease it renews while
-- it lives (queue.Leaser): a job running under a process whose lease ran
-- out is made available again by another. The id is the process's River
-- client id, which River appends to a job's attempted_by when it starts it.
-- Times are the database's clock, so that the processes' clocks may differ.
CREATE TABLE queue_processes (
    id          TEXT        PRIMARY KEY,
    lease_until TIMESTAMPTZ NOT NULL
);
