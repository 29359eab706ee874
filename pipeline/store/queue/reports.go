package queue

import (
	"context"
	"errors"
	"fmt"

	"github.com/expbot/expbot/pipeline/store"
)

// reportDue calls report for every experiment of repo with reports due.
// What was served is taken back from the reports due, so requests made
// meanwhile stay due (and their enqueue has asked for a follow-up job). A
// permanent failure is given up for that experiment alone; another failure
// leaves it due and fails the job, to be retried.
func (q *Queue[TTx]) reportDue(ctx context.Context, repo store.RepoKey, report func(context.Context, int64) error) error {
	todo, err := q.d.ReportsDue(ctx, repo)
	if err != nil {
		return fmt.Errorf("queue: reports due in %s: %w", repo.Path, err)
	}
	var (
		served  []Due
		failure error
	)
	for _, d := range todo {
		err := call(ctx, report, d.ID)
		var perm *store.PermanentError
		switch {
		case err == nil:
			served = append(served, d)
		case errors.As(err, &perm):
			q.cfg.Logger.WarnContext(ctx, "queue: report given up", "experiment_id", d.ID, "error", err.Error())
			served = append(served, d)
		case ctx.Err() != nil:
			failure = err
		default:
			failure = fmt.Errorf("report experiment %d: %w", d.ID, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(served) > 0 {
		// Served is served, even if the job is being stopped.
		if err := q.d.ReportsServed(context.WithoutCancel(ctx), served); err != nil {
			return errors.Join(failure, fmt.Errorf("queue: mark reports done: %w", err))
		}
	}
	return failure
}
