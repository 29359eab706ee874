package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// Status comments are brought up to date by one job per repository rather
// than one per experiment: inserting a River job is the costliest part of a
// delivery's transaction, and a burst of labeled issues would otherwise make
// as many jobs to fetch, run and finalise. A request counts in the
// experiment's report_due and asks for the repository's report job, which
// coalesces like the reconcile job (see enqueue and worker.Work).

const kindReportRepo = "report_repo"

type reportRepoArgs struct {
	Forge event.Forge `json:"forge"`
	Path  string      `json:"path"`
}

func (reportRepoArgs) Kind() string { return kindReportRepo }
func (reportRepoArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: uniqueOpts()}
}

func (t *tx) EnqueueReport(ctx context.Context, experimentID int64) error {
	var a reportRepoArgs
	err := t.tx.QueryRowContext(ctx, `UPDATE experiments SET report_due = report_due + 1 WHERE id = ?
		RETURNING forge, repo_path`, experimentID).Scan(&a.Forge, &a.Path)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err == nil {
		err = t.s.enqueue(ctx, t.tx, a)
	}
	if err != nil {
		return fmt.Errorf("sqlite: enqueue report %d: %w", experimentID, err)
	}
	return nil
}

// reportDue calls report for every experiment of repo with reports due.
// What was served is taken back from report_due, so requests made meanwhile
// stay due (and their enqueue has asked for a follow-up job). A permanent
// failure is given up for that experiment alone; another failure leaves it
// due and fails the job, to be retried.
func (s *Store) reportDue(ctx context.Context, repo reportRepoArgs, report func(context.Context, int64) error) error {
	type due struct{ id, n int64 }
	rows, err := s.r.QueryContext(ctx, `SELECT id, report_due FROM experiments
		WHERE forge = ? AND repo_path = ? AND report_due > 0 ORDER BY id`, string(repo.Forge), repo.Path)
	if err != nil {
		return fmt.Errorf("sqlite: reports due in %s: %w", repo.Path, err)
	}
	var todo []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.n); err != nil {
			_ = rows.Close()
			return fmt.Errorf("sqlite: reports due in %s: %w", repo.Path, err)
		}
		todo = append(todo, d)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("sqlite: reports due in %s: %w", repo.Path, err)
	}

	var (
		served  []due
		failure error
	)
	for _, d := range todo {
		err := call(ctx, report, d.id)
		var perm *store.PermanentError
		switch {
		case err == nil:
			served = append(served, d)
		case errors.As(err, &perm):
			s.cfg.logger.WarnContext(ctx, "sqlite: report given up", "experiment_id", d.id, "error", err.Error())
			served = append(served, d)
		case ctx.Err() != nil:
			failure = err
		default:
			failure = fmt.Errorf("report experiment %d: %w", d.id, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(served) > 0 {
		// Served is served, even if the job is being stopped.
		err := s.inLazyTx(context.WithoutCancel(ctx), func(ctx context.Context, tx *sql.Tx) error {
			for _, d := range served {
				if _, err := tx.ExecContext(ctx, `UPDATE experiments SET report_due = max(report_due - ?, 0) WHERE id = ?`, d.n, d.id); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return errors.Join(failure, fmt.Errorf("sqlite: mark reports done: %w", err))
		}
	}
	return failure
}
