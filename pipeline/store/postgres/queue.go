package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/queue"
)

// queueSQL is the queue's SQL on this database (queue.Driver); the policy
// is the queue package's.
type queueSQL struct{ s *Store }

var _ queue.Driver[pgx.Tx] = queueSQL{}

func (d queueSQL) InTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return d.s.inTx(ctx, fn)
}

// CountRequest counts a request without making enqueuers of one job wait
// for each other's commits (a delivery's acknowledgement waits for its
// commit): when the request row exists, the request locks it FOR KEY SHARE,
// which enqueuers share, and adds a row to job_request_log; only the first
// request inserts the row (counted there), and enqueuers wait for that
// commit alone.
//
// A request committing while the job finishes is still either seen or
// followed up (queue's settle): the settling transaction finalises the job,
// then locks the request row FOR UPDATE (Requests), which waits for every
// enqueuer holding it and then counts their rows. An enqueuer locking it
// after that waits for the settling commit and then finds the row gone (it
// inserts it again, and the job it finds finished is inserted anew) or
// naming the follow-up job, which reads the state after this commit or is
// itself followed up. SetRequestJob's update (FOR NO KEY UPDATE) does not
// conflict with the shared locks, so two enqueuers that both find the job
// finished do not deadlock.
func (queueSQL) CountRequest(ctx context.Context, tx pgx.Tx, kind, args string) (int64, error) {
	for {
		var jobID *int64
		err := tx.QueryRow(ctx, `WITH r AS (
				SELECT job_id FROM job_requests WHERE kind = $1 AND args = $2 FOR KEY SHARE
			), logged AS (
				INSERT INTO job_request_log (kind, args) SELECT $1, $2 FROM r
			)
			SELECT job_id FROM r`, kind, args).Scan(&jobID)
		if errors.Is(err, pgx.ErrNoRows) {
			// The first request: insert the row, or wait for the
			// transaction inserting it and then share it.
			err = tx.QueryRow(ctx, `INSERT INTO job_requests (kind, args, requested) VALUES ($1, $2, 1)
				ON CONFLICT (kind, args) DO NOTHING RETURNING job_id`, kind, args).Scan(&jobID)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // inserted by another meanwhile
			}
		}
		if err != nil || jobID == nil {
			return 0, err
		}
		return *jobID, nil
	}
}

func (queueSQL) SetRequestJob(ctx context.Context, tx pgx.Tx, kind, args string, jobID int64) error {
	_, err := tx.Exec(ctx, `UPDATE job_requests SET job_id = $1 WHERE kind = $2 AND args = $3`, jobID, kind, args)
	return err
}

// Requests reads the counter: requested plus the requests logged since.
// Inside a transaction (queue's settle) it first locks the row until
// commit (FOR UPDATE), which waits for the enqueuers holding it shared
// (CountRequest), then counts in a statement of its own, whose snapshot
// sees their rows, and folds the rows into requested: no enqueuer can add
// one while the row is locked so.
func (d queueSQL) Requests(ctx context.Context, tx *pgx.Tx, kind, args string) (int64, error) {
	var n int64
	if tx == nil {
		err := d.s.pool.QueryRow(ctx, `SELECT coalesce((SELECT requested FROM job_requests WHERE kind = $1 AND args = $2), 0)
			+ (SELECT count(*) FROM job_request_log WHERE kind = $1 AND args = $2)`, kind, args).Scan(&n)
		return n, err
	}
	err := (*tx).QueryRow(ctx, `SELECT requested FROM job_requests WHERE kind = $1 AND args = $2 FOR UPDATE`, kind, args).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	err = (*tx).QueryRow(ctx, `WITH logged AS (
			DELETE FROM job_request_log WHERE kind = $1 AND args = $2 RETURNING 1
		)
		UPDATE job_requests SET requested = requested + (SELECT count(*) FROM logged)
		WHERE kind = $1 AND args = $2 RETURNING requested`, kind, args).Scan(&n)
	return n, err
}

func (queueSQL) ForgetRequests(ctx context.Context, tx pgx.Tx, kind, args string) error {
	_, err := tx.Exec(ctx, `WITH logged AS (DELETE FROM job_request_log WHERE kind = $1 AND args = $2)
		DELETE FROM job_requests WHERE kind = $1 AND args = $2`, kind, args)
	return err
}

func (queueSQL) JobInState(ctx context.Context, tx pgx.Tx, id int64, states []rivertype.JobState) (bool, error) {
	var in bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE id = $1 AND state::text = ANY($2::text[]))`,
		id, stateNames(states)).Scan(&in)
	return in, err
}

// FinalizeJob updates the row as River's PostgreSQL driver does when a job
// ends: errors is a jsonb array the attempt's error is appended to.
func (queueSQL) FinalizeJob(ctx context.Context, tx pgx.Tx, id int64, state rivertype.JobState, at time.Time, errData []byte) (bool, error) {
	var errJSON *string
	if errData != nil {
		s := string(errData)
		errJSON = &s
	}
	tag, err := tx.Exec(ctx, `UPDATE river_job SET state = $1::text::river_job_state, finalized_at = $2,
		errors = CASE WHEN $3::jsonb IS NULL THEN errors ELSE array_append(errors, $3::jsonb) END
		WHERE id = $4 AND state = 'running'`, string(state), at, errJSON, id)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

func (d queueSQL) RunningUnder(ctx context.Context, id string) ([]int64, error) {
	rows, err := d.s.pool.Query(ctx, `SELECT id FROM river_job
		WHERE state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, id)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// Requeue hands the jobs back as RecoverExpired does.
func (d queueSQL) Requeue(ctx context.Context, id string, jobs []int64) (int64, error) {
	tag, err := d.s.pool.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
		WHERE id = ANY($2) AND state = 'running' AND attempted_by[array_upper(attempted_by, 1)] = $1`, id, jobs)
	return tag.RowsAffected(), err
}

// RecoverOrphans leaves the jobs of other processes alone: they may be
// running them. Those whose process died are recovered once its lease runs
// out (RecoverExpired).
func (queueSQL) RecoverOrphans(context.Context) (int64, error) { return 0, nil }

func (d queueSQL) QueueDepth(ctx context.Context, states []rivertype.JobState) (int, error) {
	var n int
	err := d.s.pool.QueryRow(ctx, `SELECT count(*) FROM river_job WHERE state::text = ANY($1::text[])`, stateNames(states)).Scan(&n)
	return n, err
}

func (d queueSQL) ReportsDue(ctx context.Context, repo store.RepoKey) ([]queue.Due, error) {
	rows, err := d.s.pool.Query(ctx, `SELECT id, report_due FROM experiments
		WHERE forge = $1 AND repo_path = $2 AND report_due > 0 ORDER BY id`, string(repo.Forge), repo.Path)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (queue.Due, error) {
		var d queue.Due
		err := r.Scan(&d.ID, &d.N)
		return d, err
	})
}

func (d queueSQL) ReportsServed(ctx context.Context, served []queue.Due) error {
	return d.s.inLazyTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		for _, d := range served {
			if _, err := tx.Exec(ctx, `UPDATE experiments SET report_due = greatest(report_due - $1, 0) WHERE id = $2`, d.N, d.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

func stateNames(states []rivertype.JobState) []string {
	out := make([]string, len(states))
	for i, st := range states {
		out[i] = string(st)
	}
	return out
}
