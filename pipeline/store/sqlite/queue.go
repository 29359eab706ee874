package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/riverqueue/river/rivertype"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/queue"
)

// queueSQL is the queue's SQL on this file (queue.Driver); the policy is
// the queue package's.
type queueSQL struct{ s *Store }

var _ queue.Driver[*sql.Tx] = queueSQL{}

func (d queueSQL) InTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return d.s.inTx(ctx, fn)
}

func (queueSQL) CountRequest(ctx context.Context, tx *sql.Tx, kind, args string) (int64, error) {
	var jobID sql.NullInt64
	err := tx.QueryRowContext(ctx, `INSERT INTO job_requests (kind, args, requested) VALUES (?, ?, 1)
		ON CONFLICT (kind, args) DO UPDATE SET requested = requested + 1
		RETURNING job_id`, kind, args).Scan(&jobID)
	return jobID.Int64, err
}

func (queueSQL) SetRequestJob(ctx context.Context, tx *sql.Tx, kind, args string, jobID int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE job_requests SET job_id = ? WHERE kind = ? AND args = ?`, jobID, kind, args)
	return err
}

func (d queueSQL) Requests(ctx context.Context, tx **sql.Tx, kind, args string) (int64, error) {
	const q = `SELECT requested FROM job_requests WHERE kind = ? AND args = ?`
	var row *sql.Row
	if tx != nil {
		row = (*tx).QueryRowContext(ctx, q, kind, args)
	} else {
		row = d.s.r.QueryRowContext(ctx, q, kind, args)
	}
	var n int64
	err := row.Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func (queueSQL) ForgetRequests(ctx context.Context, tx *sql.Tx, kind, args string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM job_requests WHERE kind = ? AND args = ?`, kind, args)
	return err
}

func (queueSQL) JobInState(ctx context.Context, tx *sql.Tx, id int64, states []rivertype.JobState) (bool, error) {
	var in bool
	err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM river_job WHERE id = ? AND state IN (`+statesSQL(states)+`))`, id).Scan(&in)
	return in, err
}

// FinalizeJob updates the row as River's SQLite driver does when a job
// ends: errors is a JSON array the attempt's error is appended to, and
// times are text in River's format.
func (queueSQL) FinalizeJob(ctx context.Context, tx *sql.Tx, id int64, state rivertype.JobState, at time.Time, errData []byte) (bool, error) {
	var errJSON any
	if errData != nil {
		errJSON = string(errData)
	}
	res, err := tx.ExecContext(ctx, `UPDATE river_job SET state = ?, finalized_at = ?,
		errors = CASE WHEN ? IS NULL THEN errors
			ELSE jsonb(json_insert(json(coalesce(errors, jsonb('[]'))), '$[#]', json(?))) END
		WHERE id = ? AND state = 'running'`,
		string(state), at.UTC().Round(time.Millisecond).Format(riverTimeFormat), errJSON, errJSON, id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// riverTimeFormat is how River's SQLite driver stores times: as text that
// compares correctly only in exactly this form.
const riverTimeFormat = "2006-01-02 15:04:05.000"

// RecoverOrphans makes jobs that a dead process left "running" available.
// Only this process uses the file (see the package comment) and its own
// workers have not started, so no job can legitimately be running; without
// this, River would rescue them only after JobTimeout plus an hour, and
// their repositories' new requests would wait behind them.
func (d queueSQL) RecoverOrphans(ctx context.Context) (int64, error) {
	res, err := d.s.w.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// runningUnder is the condition on river_job that a job runs under process
// ?: attempted_by is a JSON array (stored as JSONB) of River client ids.
const runningUnder = `state = 'running' AND json_extract(attempted_by, '$[#-1]') = ?`

func (d queueSQL) RunningUnder(ctx context.Context, id string) ([]int64, error) {
	rows, err := d.s.r.QueryContext(ctx, `SELECT id FROM river_job WHERE `+runningUnder, id)
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var j int64
		if err := rows.Scan(&j); err != nil {
			_ = rows.Close()
			return nil, err
		}
		ids = append(ids, j)
	}
	return ids, errors.Join(rows.Err(), rows.Close())
}

func (d queueSQL) Requeue(ctx context.Context, id string, jobs []int64) (int64, error) {
	var n int64
	err := d.s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, j := range jobs {
			res, err := tx.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE id = ? AND `+runningUnder, j, id)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return n, err
}

func (d queueSQL) QueueDepth(ctx context.Context, states []rivertype.JobState) (int, error) {
	var n int
	err := d.s.r.QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE state IN (`+statesSQL(states)+`)`).Scan(&n)
	return n, err
}

func (d queueSQL) ReportsDue(ctx context.Context, repo store.RepoKey) ([]queue.Due, error) {
	rows, err := d.s.r.QueryContext(ctx, `SELECT id, report_due FROM experiments
		WHERE forge = ? AND repo_path = ? AND report_due > 0 ORDER BY id`, string(repo.Forge), repo.Path)
	if err != nil {
		return nil, err
	}
	var due []queue.Due
	for rows.Next() {
		var d queue.Due
		if err := rows.Scan(&d.ID, &d.N); err != nil {
			_ = rows.Close()
			return nil, err
		}
		due = append(due, d)
	}
	return due, errors.Join(rows.Err(), rows.Close())
}

// ReportsServed commits lazily (see inLazyTx): a lost update re-serves the
// reports, which find their comments up to date.
func (d queueSQL) ReportsServed(ctx context.Context, served []queue.Due) error {
	return d.s.inLazyTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		for _, d := range served {
			if _, err := tx.ExecContext(ctx, `UPDATE experiments SET report_due = max(report_due - ?, 0) WHERE id = ?`, d.N, d.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// statesSQL lists job states for an SQL IN (...); they are River's
// constants, never input.
func statesSQL(states []rivertype.JobState) string {
	quoted := make([]string, len(states))
	for i, st := range states {
		quoted[i] = "'" + string(st) + "'"
	}
	return strings.Join(quoted, ", ")
}
