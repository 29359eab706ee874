package queue

import (
	"encoding/json"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/expbot/expbot/internal/event"
)

// The job kinds, as stored in river_job.kind and job_requests.kind. They
// outlive a release: jobs of every kind may wait in an upgraded database.
const (
	KindReconcile  = "reconcile"
	KindReport     = "report"
	KindReportRepo = "report_repo"
	KindTask       = "task"
)

// uniqueOpts makes a job unique per args among the states River requires,
// running included: requests made while a job waits are absorbed by it, and
// at most one job per repository (or experiment) runs at a time. Requests
// made while it runs are counted (Driver.CountRequest) and become one
// follow-up when it finishes (see worker.Work). Finished jobs do not count,
// so a request after a run queues a new one.
func uniqueOpts() river.UniqueOpts {
	return river.UniqueOpts{ByArgs: true, ByState: InFlight()}
}

// InFlight lists the job states that uniqueOpts counts: a job in one of them
// absorbs new requests for its args.
func InFlight() []rivertype.JobState {
	return []rivertype.JobState{
		rivertype.JobStateAvailable,
		rivertype.JobStatePending,
		rivertype.JobStateRunning,
		rivertype.JobStateRetryable,
		rivertype.JobStateScheduled,
	}
}

// ReconcileArgs asks for one reconcile run of a repository.
type ReconcileArgs struct {
	Forge event.Forge `json:"forge"`
	Path  string      `json:"path"`
}

func (ReconcileArgs) Kind() string                 { return KindReconcile }
func (ReconcileArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// ReportArgs is the per-experiment report job of earlier versions; such
// jobs may still be queued in an upgraded database, so they still run. New
// requests go to the repository's job (ReportRepoArgs).
type ReportArgs struct {
	ExperimentID int64 `json:"experiment_id"`
}

func (ReportArgs) Kind() string                 { return KindReport }
func (ReportArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }

// ReportRepoArgs brings the status comments of a repository's experiments
// with reports due up to date. Status comments are served by one job per
// repository rather than one per experiment: inserting a River job is the
// costliest part of a delivery's transaction, and a burst of labeled issues
// would otherwise make as many jobs to fetch, run and finalise. A request
// counts in the experiment's reports due (Driver) and asks for the
// repository's job, which coalesces like the reconcile job.
type ReportRepoArgs struct {
	Forge event.Forge `json:"forge"`
	Path  string      `json:"path"`
}

func (ReportRepoArgs) Kind() string { return KindReportRepo }
func (ReportRepoArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueReports, UniqueOpts: uniqueOpts()}
}

// QueueReports is the River queue of the report jobs (ReportRepoArgs), apart
// from the runs' so that a status comment never waits for a run to end:
// the report job is the one writer of status comments, and runs take the
// workers for seconds or minutes. The other kinds use River's default
// queue, as do report jobs queued by earlier versions.
const QueueReports = "reports"

// TaskArgs is a one-off piece of work that needs the forge's API and so may
// not run before the webhook is acknowledged (a command's permission check,
// reading a sweep file). Its payload makes it unique: the same delivery
// never queues two.
type TaskArgs struct {
	Task    string          `json:"task"`
	Payload json.RawMessage `json:"payload"`
}

func (TaskArgs) Kind() string                 { return KindTask }
func (TaskArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{UniqueOpts: uniqueOpts()} }
