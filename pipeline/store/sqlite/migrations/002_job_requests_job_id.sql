-- The job last inserted for a job_requests row, so that a request finding
-- it still queued or running need not ask River to insert it again (River
-- would skip it as a duplicate, at a cost). NULL: not known, ask River.
ALTER TABLE job_requests ADD COLUMN job_id INTEGER;
