package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/pipeline/store"
)

// ClaimInbound skips rows another claim is taking at the same moment, so
// that replicas claiming together get different deliveries.
func (s *Store) ClaimInbound(ctx context.Context, now time.Time, ttl time.Duration, n int) ([]store.Inbound, error) {
	rows, err := s.pool.Query(ctx, `UPDATE inbox SET due_at = $2 WHERE seq IN (
			SELECT seq FROM inbox WHERE due_at <= $1 ORDER BY seq LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING seq, forge, delivery_id, event, received_at, payload, attempts`,
		now.UnixNano(), now.Add(ttl).UnixNano(), n)
	if err != nil {
		return nil, fmt.Errorf("postgres: claim inbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Inbound, error) {
		var (
			d  store.Inbound
			at int64
		)
		err := r.Scan(&d.Seq, &d.Forge, &d.ID, &d.Event, &at, &d.Payload, &d.Attempts)
		d.ReceivedAt = fromNanos(at)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: claim inbox: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Inbound) int { return int(a.Seq - b.Seq) })
	return out, nil
}

func (s *Store) RetryInbound(ctx context.Context, seq int64, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE inbox SET due_at = $2, attempts = attempts + 1 WHERE seq = $1`, seq, at.UnixNano()); err != nil {
		return fmt.Errorf("postgres: retry inbox %d: %w", seq, err)
	}
	return nil
}

// DropInbound need not wait for the disk: a drop lost in a crash of the
// server applies the delivery again, which then finds it recorded.
func (s *Store) DropInbound(ctx context.Context, seqs []int64) error {
	err := s.inLazyTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM inbox WHERE seq = ANY($1)`, seqs)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: drop from inbox: %w", err)
	}
	return nil
}

func (s *Store) InboxDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: inbox depth: %w", err)
	}
	return n, nil
}
