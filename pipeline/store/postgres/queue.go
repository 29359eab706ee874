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

func (queueSQL) CountRequest(ctx context.Context, tx pgx.Tx, kind, args string) (int64, error) {
	var jobID *int64
	err := tx.QueryRow(ctx, `INSERT INTO job_requests (kind, args, requested) VALUES ($1, $2, 1)
		ON CONFLICT (kind, args) DO UPDATE SET requested = job_requests.requested + 1
		RETURNING job_id`, kind, args).Scan(&jobID)
	if err != nil || jobID == nil {
		return 0, err
	}
	return *jobID, nil
}

func (queueSQL) SetRequestJob(ctx context.Context, tx pgx.Tx, kind, args string, jobID int64) error {
	_, err := tx.Exec(ctx, `UPDATE job_requests SET job_id = $1 WHERE kind = $2 AND args = $3`, jobID, kind, args)
	return err
}

// Requests reads the counter; inside a transaction it locks the row until
// commit (FOR UPDATE), so that a request committing meanwhile is either
// seen here or waits and then finds the job finalised (queue's settle):
// writers are not serialised as in SQLite.
func (d queueSQL) Requests(ctx context.Context, tx *pgx.Tx, kind, args string) (int64, error) {
	var row pgx.Row
	if tx != nil {
		row = (*tx).QueryRow(ctx, `SELECT requested FROM job_requests WHERE kind = $1 AND args = $2 FOR UPDATE`, kind, args)
	} else {
		row = d.s.pool.QueryRow(ctx, `SELECT requested FROM job_requests WHERE kind = $1 AND args = $2`, kind, args)
	}
	var n int64
	err := row.Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func (queueSQL) ForgetRequests(ctx context.Context, tx pgx.Tx, kind, args string) error {
	_, err := tx.Exec(ctx, `DELETE FROM job_requests WHERE kind = $1 AND args = $2`, kind, args)
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
