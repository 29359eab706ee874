package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Delivery ids are kept to recognise redeliveries, which forges send for
// days, not forever: a pruner deletes the ones older than the retention,
// in small batches so that no webhook waits long behind one.

const (
	// DefaultDeliveryRetention is how long delivery ids are kept.
	DefaultDeliveryRetention = 30 * 24 * time.Hour
	defaultPruneEvery        = time.Hour
	pruneBatch               = 1000
)

// WithDeliveryRetention sets how long delivery ids are kept.
func WithDeliveryRetention(d time.Duration) Option {
	return func(c *config) { c.retention = d }
}

// startPruner prunes every interval until ctx ends; done closes then.
func (s *Store) startPruner(ctx context.Context, every time.Duration) <-chan struct{} {
	return runEvery(ctx, every, func(ctx context.Context) {
		if _, err := s.pruneDeliveries(ctx, s.now().Add(-s.cfg.retention)); err != nil && ctx.Err() == nil {
			s.cfg.logger.Warn("sqlite: pruning old deliveries failed; trying again later", "error", err.Error())
		}
	})
}

// runEvery calls fn every interval, on a goroutine of its own, until ctx
// ends; the returned channel closes then.
func runEvery(ctx context.Context, every time.Duration, fn func(context.Context)) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			fn(ctx)
		}
	}()
	return done
}

// pruneDeliveries deletes the deliveries received before cutoff and says
// how many.
func (s *Store) pruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		var n int64
		err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM deliveries WHERE (forge, delivery_id) IN (
				SELECT forge, delivery_id FROM deliveries WHERE received_at < ? LIMIT ?)`,
				cutoff.UnixNano(), pruneBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune deliveries: %w", err)
		}
		if total += n; n < pruneBatch {
			return total, nil
		}
	}
	return total, ctx.Err()
}
