package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/expbot/expbot/pipeline/store"
)

// AcceptDelivery: a delivery recorded already (applied) or accepted
// already is a duplicate.
func (s *Store) AcceptDelivery(ctx context.Context, d store.Inbound) (bool, error) {
	at := d.ReceivedAt
	if at.IsZero() {
		at = s.now()
	}
	var n int64
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO inbox (forge, delivery_id, event, received_at, payload)
			SELECT ?1, ?2, ?3, ?4, ?5
			WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE forge = ?1 AND delivery_id = ?2)
			ON CONFLICT (forge, delivery_id) DO NOTHING`,
			string(d.Forge), d.ID, d.Event, at.UnixNano(), d.Payload)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: accept delivery %s: %w", d.ID, err)
	}
	return n == 0, nil
}

// ClaimInbound: claims are lazy writes. One lost in a power cut makes its
// deliveries claimable again, and applying one twice finds it recorded.
func (s *Store) ClaimInbound(ctx context.Context, now time.Time, ttl time.Duration, n int) ([]store.Inbound, error) {
	var out []store.Inbound
	err := s.inLazyTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `UPDATE inbox SET due_at = ? WHERE seq IN (
				SELECT seq FROM inbox WHERE due_at <= ? ORDER BY seq LIMIT ?)
			RETURNING seq, forge, delivery_id, event, received_at, payload, attempts`,
			now.Add(ttl).UnixNano(), now.UnixNano(), n)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = out[:0]
		for rows.Next() {
			var (
				d  store.Inbound
				at int64
			)
			if err := rows.Scan(&d.Seq, &d.Forge, &d.ID, &d.Event, &at, &d.Payload, &d.Attempts); err != nil {
				return err
			}
			d.ReceivedAt = time.Unix(0, at).UTC()
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: claim inbox: %w", err)
	}
	slices.SortFunc(out, func(a, b store.Inbound) int { return int(a.Seq - b.Seq) })
	return out, nil
}

func (s *Store) RetryInbound(ctx context.Context, seq int64, at time.Time) error {
	err := s.inLazyTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE inbox SET due_at = ?, attempts = attempts + 1 WHERE seq = ?`, at.UnixNano(), seq)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: retry inbox %d: %w", seq, err)
	}
	return nil
}

// DropInbound is a lazy write: a drop lost in a power cut applies the
// delivery again, which then finds it recorded.
func (s *Store) DropInbound(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	args := make([]any, len(seqs))
	for i, seq := range seqs {
		args[i] = seq
	}
	err := s.inLazyTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM inbox WHERE seq IN (?`+strings.Repeat(`, ?`, len(seqs)-1)+`)`, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: drop from inbox: %w", err)
	}
	return nil
}

func (s *Store) InboxDepth(ctx context.Context) (int, error) {
	var n int
	if err := s.r.QueryRowContext(ctx, `SELECT count(*) FROM inbox`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: inbox depth: %w", err)
	}
	return n, nil
}
