package postgres

import (
	"context"
	"fmt"
	"time"
)

// startPruner deletes delivery ids older than the retention every so often:
// a forge redelivers within hours, so older ids only take space.
func (s *Store) startPruner(ctx context.Context, every time.Duration) <-chan struct{} {
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
			if _, err := s.pruneDeliveries(ctx, s.now().Add(-s.cfg.retention)); err != nil && ctx.Err() == nil {
				s.cfg.logger.Warn("postgres: pruning old deliveries failed; trying again later", "error", err.Error())
			}
		}
	}()
	return done
}

// pruneDeliveries deletes in batches, so that no transaction holds many rows.
func (s *Store) pruneDeliveries(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		tag, err := s.pool.Exec(ctx, `DELETE FROM deliveries WHERE ctid IN (
			SELECT ctid FROM deliveries WHERE received_at < $1 LIMIT $2)`, cutoff.UnixNano(), pruneBatch)
		if err != nil {
			return total, fmt.Errorf("prune deliveries: %w", err)
		}
		n := tag.RowsAffected()
		if total += n; n < pruneBatch {
			return total, nil
		}
	}
	return total, ctx.Err()
}
