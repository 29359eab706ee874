package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/queue"
)

// ProcessID names this process in the queue and in its Pulumi runs.
func (s *Store) ProcessID() string { return s.q.ProcessID() }

// LostJobs is the store's SQL for its lost jobs (queue.Losing).
func (s *Store) LostJobs() queue.LostJobs { return queueSQL{s} }

// BeginPulumi records that this process runs the CLI on stack from at on
// and returns the stack's records as they were. Other processes' records
// are a gone process's: the file is this process's alone.
func (s *Store) BeginPulumi(ctx context.Context, stack, host string, at time.Time) ([]store.PulumiRun, error) {
	var runs []store.PulumiRun
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		if runs, err = s.pulumiRuns(ctx, tx, stack); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO pulumi_runs (stack, process, host, started_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (stack, process) DO UPDATE SET host = excluded.host, started_at = excluded.started_at, ended_at = NULL`,
			stack, s.ProcessID(), host, at.UnixNano())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: record a Pulumi run on %s: %w", stack, err)
	}
	return runs, nil
}

// EndPulumi records that this process's CLI runs on stack ended at at.
func (s *Store) EndPulumi(ctx context.Context, stack string, at time.Time) error {
	err := s.inLazyTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE pulumi_runs SET ended_at = ? WHERE stack = ? AND process = ?`, at.UnixNano(), stack, s.ProcessID())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: record the end of a Pulumi run on %s: %w", stack, err)
	}
	return nil
}

// PulumiRuns lists the records of stack, oldest first.
func (s *Store) PulumiRuns(ctx context.Context, stack string) ([]store.PulumiRun, error) {
	runs, err := s.pulumiRuns(ctx, s.r, stack)
	if err != nil {
		return nil, fmt.Errorf("sqlite: Pulumi runs on %s: %w", stack, err)
	}
	return runs, nil
}

// ForgetPulumi deletes the record of process on stack.
func (s *Store) ForgetPulumi(ctx context.Context, stack, process string) error {
	err := s.inLazyTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM pulumi_runs WHERE stack = ? AND process = ?`, stack, process)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: forget a Pulumi run on %s: %w", stack, err)
	}
	return nil
}

func (s *Store) pulumiRuns(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, stack string) ([]store.PulumiRun, error) {
	rows, err := q.QueryContext(ctx, `SELECT stack, process, host, started_at, ended_at FROM pulumi_runs
		WHERE stack = ? ORDER BY started_at, process`, stack)
	if err != nil {
		return nil, err
	}
	defer func() { _ = rows.Close() }()
	var runs []store.PulumiRun
	for rows.Next() {
		var (
			r       store.PulumiRun
			started int64
			ended   sql.NullInt64
		)
		if err := rows.Scan(&r.Stack, &r.Process, &r.Host, &started, &ended); err != nil {
			return nil, err
		}
		r.Started = fromNanos(started)
		if ended.Valid {
			r.Ended = fromNanos(ended.Int64)
		}
		r.Self = r.Process == s.ProcessID()
		r.Gone = !r.Self
		runs = append(runs, r)
	}
	return runs, rows.Err()
}
