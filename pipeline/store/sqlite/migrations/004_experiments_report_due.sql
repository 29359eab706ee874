-- Status comments still to bring up to date: EnqueueReport counts a request
-- here and queues one report job for the whole repository, which reports
-- every experiment with report_due > 0 and takes back what it served
-- (reports.go).
ALTER TABLE experiments ADD COLUMN report_due INTEGER NOT NULL DEFAULT 0;
CREATE INDEX experiments_report_due ON experiments (forge, repo_path) WHERE report_due > 0;
