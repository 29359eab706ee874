package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expbot/expbot/pipeline/store"
)

// AcceptDelivery is one statement, committed on its own: the whole of an
// acknowledgement's wait. A delivery recorded already (applied) or accepted
// already is a duplicate; one applied between this statement's check and
// its insert is accepted again, and its application then finds it recorded
// (Tx.RecordDelivery) and does nothing.
func (s *Store) AcceptDelivery(ctx context.Context, d store.Inbound) (bool, error) {
	at := d.ReceivedAt
	if at.IsZero() {
		at = s.now()
	}
	tag, err := s.acks.Exec(ctx, acceptSQL, string(d.Forge), d.ID, d.Event, at.UnixNano(), d.Payload)
	if err != nil {
		return false, fmt.Errorf("postgres: accept delivery %s: %w", d.ID, err)
	}
	return tag.RowsAffected() == 0, nil
}

const acceptSQL = `INSERT INTO inbox (forge, delivery_id, event, received_at, payload)
	SELECT $1, $2, $3, $4, $5
	WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE forge = $1 AND delivery_id = $2)
	ON CONFLICT (forge, delivery_id) DO NOTHING`

// newAckPool opens AcceptDelivery's connections (ackConns), which the ack
// gate never holds back (WithAckGate), each warmed up as it opens.
func newAckPool(ctx context.Context, pcfg *pgxpool.Config) (*pgxpool.Pool, error) {
	c := pcfg.Copy()
	c.MaxConns, c.MinConns, c.MinIdleConns = ackConns, ackConns, ackConns
	c.ConnConfig.Tracer = nil
	c.AfterConnect = warmUpAccept
	return pgxpool.NewWithConfig(ctx, c)
}

// warmUpAccept runs AcceptDelivery's statement once on a new connection,
// in a transaction rolled back. A fresh backend loads the catalog entries
// of every table, index and TOAST table a statement touches, and pgx
// prepares the statement, the first time it runs: 5-60 ms on a busy
// server (measured), which would otherwise fall on the first
// acknowledgement each connection serves, in a burst when all of them
// are needed at once.
func warmUpAccept(ctx context.Context, c *pgx.Conn) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: warm up an acknowledgements' connection: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// Random, so that it is stored out of line as a delivery's payload is
	// (GitHub's are ~14 KB). No forge is named "".
	payload := make([]byte, 4<<10)
	_, _ = rand.Read(payload)
	if _, err := tx.Exec(ctx, acceptSQL, "", "warm-up", "", int64(0), payload); err != nil {
		return fmt.Errorf("postgres: warm up an acknowledgements' connection: %w", err)
	}
	return nil
}

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
