package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expbot/expbot/pipeline/store"
)

// At most ackWriters acknowledgements are written at a time, each on a
// connection of its own. A delivery arriving while all of them are busy
// waits, and when one is done, the deliveries waiting are inserted
// together by one statement, one commit. On a busy machine the deliveries
// that pile up behind a stall (the bot's or the server's CPU taken) are
// then kept by one commit, instead of as many backends contending for the
// table, its indexes and the log at once: with eight connections, the
// backends of such a pile each ran a whole scheduler tick (4 ms) in turn,
// and the last of them answered up to 330 ms late (docs/performance.md). A
// delivery that finds a writer free writes itself: no hand-off.
const (
	ackWriters  = 2
	ackBatchMax = 64
	// ackTimeout bounds one statement; each caller waits for its own
	// context besides.
	ackTimeout = 30 * time.Second
)

// AcceptDelivery is one insert, committed on its own or with others
// arriving at the same moment: the whole of an acknowledgement's wait. A
// delivery recorded already (applied) or accepted already is a duplicate;
// one applied between the check and the insert is accepted again, and its
// application then finds it recorded (Tx.RecordDelivery) and does nothing.
func (s *Store) AcceptDelivery(ctx context.Context, d store.Inbound) (bool, error) {
	if d.ReceivedAt.IsZero() {
		d.ReceivedAt = s.now()
	}
	p := &pendingAck{d: d, done: make(chan ackResult, 1)}
	s.accepts.submit(ctx, p)
	select {
	case r := <-p.done:
		if r.err != nil {
			return false, fmt.Errorf("postgres: accept delivery %s: %w", d.ID, r.err)
		}
		return r.dup, nil
	case <-ctx.Done():
		return false, fmt.Errorf("postgres: accept delivery %s: %w", d.ID, ctx.Err())
	}
}

type pendingAck struct {
	d    store.Inbound
	done chan ackResult // buffered: a writer never waits for a caller
}

type ackResult struct {
	dup bool
	err error
}

// acceptors write the acknowledgements.
type acceptors struct {
	pool    *pgxpool.Pool
	mu      sync.Mutex
	writing int           // writers at work, at most ackWriters
	pending []*pendingAck // waiting for one
	closed  bool
}

// startAcceptors opens the writers' connections (which the ack gate never
// holds back, WithAckGate), each warmed up as it opens.
func startAcceptors(ctx context.Context, pcfg *pgxpool.Config) (*acceptors, error) {
	c := pcfg.Copy()
	c.MaxConns, c.MinConns, c.MinIdleConns = ackWriters, ackWriters, ackWriters
	c.ConnConfig.Tracer = nil
	c.AfterConnect = warmUpAccept
	pool, err := pgxpool.NewWithConfig(ctx, c)
	if err != nil {
		return nil, err
	}
	return &acceptors{pool: pool}, nil
}

// submit writes p itself when a writer is free, and then goes on with
// what waits in the background; otherwise p waits. Either way p.done gets
// its answer.
func (a *acceptors) submit(ctx context.Context, p *pendingAck) {
	a.mu.Lock()
	switch {
	case a.closed:
		a.mu.Unlock()
		p.done <- ackResult{err: errors.New("the store is closed")}
		return
	case a.writing == ackWriters:
		a.pending = append(a.pending, p)
		a.mu.Unlock()
		return
	}
	a.writing++
	a.mu.Unlock()
	a.write(ctx, []*pendingAck{p})
	a.mu.Lock()
	if len(a.pending) == 0 {
		a.writing--
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	go a.drain() // keeps the writer's place
}

// drain writes what waits, in batches, then gives its writer's place up.
func (a *acceptors) drain() {
	for {
		a.mu.Lock()
		if len(a.pending) == 0 {
			a.writing--
			a.mu.Unlock()
			return
		}
		n := min(len(a.pending), ackBatchMax)
		batch := slices.Clone(a.pending[:n])
		a.pending = slices.Delete(a.pending, 0, n)
		a.mu.Unlock()
		a.write(context.Background(), batch)
	}
}

// close answers whoever waits and closes the connections (once the
// writers at work are done).
func (a *acceptors) close() {
	a.mu.Lock()
	a.closed = true
	for _, p := range a.pending {
		p.done <- ackResult{err: errors.New("the store is closed")}
	}
	a.pending = nil
	a.mu.Unlock()
	a.pool.Close()
}

// write inserts batch and answers each of its callers. When a batch
// fails, each is tried alone, so that a delivery the server refuses fails
// no other.
func (a *acceptors) write(ctx context.Context, batch []*pendingAck) {
	tctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	dups, err := accept(tctx, a.pool, batch)
	if err != nil && len(batch) > 1 {
		for _, p := range batch {
			a.write(ctx, []*pendingAck{p})
		}
		return
	}
	for i, p := range batch {
		r := ackResult{err: err}
		if err == nil {
			r.dup = dups[i]
		}
		p.done <- r
	}
}

// accept inserts batch and says which of its deliveries were duplicates;
// of one delivery twice in a batch, the second is. One alone goes by the
// simpler statement, which costs the server less.
func accept(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, batch []*pendingAck) ([]bool, error) {
	n := len(batch)
	if n == 1 {
		d := batch[0].d
		tag, err := q.Exec(ctx, acceptOneSQL, string(d.Forge), d.ID, d.Event, d.ReceivedAt.UnixNano(), d.Payload)
		return []bool{tag.RowsAffected() == 0}, err
	}
	forges, ids, events, ats, payloads := make([]string, n), make([]string, n), make([]string, n), make([]int64, n), make([][]byte, n)
	for i, p := range batch {
		forges[i], ids[i], events[i], ats[i], payloads[i] = string(p.d.Forge), p.d.ID, p.d.Event, p.d.ReceivedAt.UnixNano(), p.d.Payload
	}
	rows, err := q.Query(ctx, acceptSQL, forges, ids, events, ats, payloads)
	if err != nil {
		return nil, err
	}
	type key struct{ forge, id string }
	inserted := map[key]bool{}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.forge, &k.id); err != nil {
			rows.Close()
			return nil, err
		}
		inserted[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	dups := make([]bool, n)
	for i := range batch {
		k := key{forges[i], ids[i]}
		dups[i] = !inserted[k]
		delete(inserted, k) // a second of the same is a duplicate
	}
	return dups, nil
}

const acceptOneSQL = `INSERT INTO inbox (forge, delivery_id, event, received_at, payload)
	SELECT $1, $2, $3, $4, $5
	WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE forge = $1 AND delivery_id = $2)
	ON CONFLICT (forge, delivery_id) DO NOTHING`

const acceptSQL = `INSERT INTO inbox (forge, delivery_id, event, received_at, payload)
	SELECT d.forge, d.id, d.event, d.at, d.payload
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bytea[]) WITH ORDINALITY AS d(forge, id, event, at, payload, n)
	WHERE NOT EXISTS (SELECT 1 FROM deliveries WHERE forge = d.forge AND delivery_id = d.id)
	ORDER BY d.n
	ON CONFLICT (forge, delivery_id) DO NOTHING
	RETURNING forge, delivery_id`

// warmUpAccept runs both statements once on a new connection, in a
// transaction rolled back. A fresh backend loads the catalog entries of every table,
// index and TOAST table a statement touches, and pgx prepares the
// statement, the first time it runs: 5-60 ms on a busy server (measured),
// which would otherwise fall on the first acknowledgements the connection
// serves.
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
	for _, n := range []int{1, 2} {
		batch := make([]*pendingAck, n)
		for i := range batch {
			batch[i] = &pendingAck{d: store.Inbound{ID: fmt.Sprintf("warm-up-%d-%d", n, i), ReceivedAt: time.Unix(0, 1), Payload: payload}}
		}
		if _, err := accept(ctx, tx, batch); err != nil {
			return fmt.Errorf("postgres: warm up an acknowledgements' connection: %w", err)
		}
	}
	return nil
}
