package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/queue"
)

var (
	_ queue.Leasing = (*Store)(nil)
	_ queue.Losing  = (*Store)(nil)
)

// LostJobs is the store's SQL for its lost jobs (queue.Losing).
func (s *Store) LostJobs() queue.LostJobs { return queueSQL{s} }

// Leaser is the store's lease SQL (queue.Leasing).
func (s *Store) Leaser() queue.Leaser { return queueSQL{s} }

// ProcessID names this process in the queue and in its leases.
func (s *Store) ProcessID() string { return s.q.ProcessID() }

// pulumiRunsSQL reads a stack's records; a process is gone when it holds
// no live lease, by the database's clock (as RecoverExpired decides).
const pulumiRunsSQL = `SELECT r.stack, r.process, r.host, r.started_at, r.ended_at, r.process = $2,
	r.process <> $2 AND NOT EXISTS (
		SELECT 1 FROM queue_processes p WHERE p.id = r.process AND p.lease_until > now())
	FROM pulumi_runs r WHERE r.stack = $1 ORDER BY r.started_at, r.process`

// BeginPulumi records that this process runs the CLI on stack from at on
// and returns the stack's records as they were.
func (s *Store) BeginPulumi(ctx context.Context, stack, host string, at time.Time) ([]store.PulumiRun, error) {
	var runs []store.PulumiRun
	err := s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		var err error
		if runs, err = pulumiRuns(ctx, tx, stack, s.ProcessID()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO pulumi_runs (stack, process, host, started_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (stack, process) DO UPDATE SET host = EXCLUDED.host, started_at = EXCLUDED.started_at, ended_at = NULL`,
			stack, s.ProcessID(), host, at)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: record a Pulumi run on %s: %w", stack, err)
	}
	return runs, nil
}

// EndPulumi records that this process's CLI runs on stack ended at at.
func (s *Store) EndPulumi(ctx context.Context, stack string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE pulumi_runs SET ended_at = $3 WHERE stack = $1 AND process = $2`, stack, s.ProcessID(), at)
	if err != nil {
		return fmt.Errorf("postgres: record the end of a Pulumi run on %s: %w", stack, err)
	}
	return nil
}

// PulumiRuns lists the records of stack, oldest first.
func (s *Store) PulumiRuns(ctx context.Context, stack string) ([]store.PulumiRun, error) {
	runs, err := pulumiRuns(ctx, s.pool, stack, s.ProcessID())
	if err != nil {
		return nil, fmt.Errorf("postgres: Pulumi runs on %s: %w", stack, err)
	}
	return runs, nil
}

// ForgetPulumi deletes the record of process on stack.
func (s *Store) ForgetPulumi(ctx context.Context, stack, process string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM pulumi_runs WHERE stack = $1 AND process = $2`, stack, process)
	if err != nil {
		return fmt.Errorf("postgres: forget a Pulumi run on %s: %w", stack, err)
	}
	return nil
}

func pulumiRuns(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, stack, self string) ([]store.PulumiRun, error) {
	rows, err := q.Query(ctx, pulumiRunsSQL, stack, self)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.PulumiRun, error) {
		var (
			r     store.PulumiRun
			ended *time.Time
		)
		err := row.Scan(&r.Stack, &r.Process, &r.Host, &r.Started, &ended, &r.Self, &r.Gone)
		if ended != nil {
			r.Ended = *ended
		}
		return r, err
	})
}
