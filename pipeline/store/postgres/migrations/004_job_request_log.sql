-- Requests counted while their job is in flight, one row each
-- (queue.go CountRequest): enqueuers of one job insert rows rather than
-- update its job_requests row, so that they do not wait for each other's
-- commits. A request's count is job_requests.requested plus its rows here;
-- the job's settling folds the rows into requested.
CREATE TABLE job_request_log (
    kind TEXT NOT NULL,
    args TEXT NOT NULL
);
CREATE INDEX job_request_log_request ON job_request_log (kind, args);
