package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/pipeline/store/queue"
)

var _ queue.Leaser = queueSQL{}

// Heartbeat registers process id, or renews its lease, until lease from
// now by the database's clock.
func (d queueSQL) Heartbeat(ctx context.Context, id string, lease time.Duration) error {
	_, err := d.s.pool.Exec(ctx, `INSERT INTO queue_processes (id, lease_until)
		VALUES ($1, now() + make_interval(secs => $2))
		ON CONFLICT (id) DO UPDATE SET lease_until = EXCLUDED.lease_until`, id, lease.Seconds())
	return err
}

// RecoverExpired makes available the jobs running under a process (the
// last of their attempted_by) without a live lease, as SQLite's
// RecoverOrphans does at start: River counts the attempt when the job is
// fetched again. Processes whose lease ran out are forgotten.
func (d queueSQL) RecoverExpired(ctx context.Context) (int64, error) {
	var n int64
	err := d.s.inTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE river_job SET state = 'available', scheduled_at = now()
			WHERE state = 'running' AND NOT EXISTS (
				SELECT 1 FROM queue_processes p
				WHERE p.id = river_job.attempted_by[array_upper(river_job.attempted_by, 1)]
				  AND p.lease_until > now())`)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `DELETE FROM queue_processes WHERE lease_until <= now()`)
		return err
	})
	return n, err
}

// Release ends process id's lease: it stopped cleanly, and the jobs it may
// have left running (interrupted ones whose handlers did not return) are
// anyone's at once.
func (d queueSQL) Release(ctx context.Context, id string) error {
	_, err := d.s.pool.Exec(ctx, `DELETE FROM queue_processes WHERE id = $1`, id)
	return err
}
