package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/expbot/expbot/pipeline/store"
)

// TryLockRepo takes repo's run lock as a session-level advisory lock (see
// tryAdvisoryLock).
func (s *Store) TryLockRepo(ctx context.Context, repo store.RepoKey) (func(), bool, error) {
	unlock, ok, err := s.tryAdvisoryLock(ctx, "repo\x1f"+string(repo.Forge)+"\x1f"+repo.Path)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: lock %s %s: %w", repo.Forge, repo.Path, err)
	}
	return unlock, ok, nil
}

// TryLockComment takes a status comment's lock as a session-level advisory
// lock (see tryAdvisoryLock), in a namespace of its own.
func (s *Store) TryLockComment(ctx context.Context, key string) (func(), bool, error) {
	unlock, ok, err := s.tryAdvisoryLock(ctx, "comment\x1f"+key)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: lock comment %s: %w", key, err)
	}
	return unlock, ok, nil
}

// Lock connections. Each held advisory lock keeps a session, so it keeps a
// connection: they come from a pool of their own (Store.locks), apart from
// the store's so that holders never starve transactions, and bounded so
// that a replica's connections are counted (README). A process holds at
// most one lock per running job: a run or preview its repository's, a
// report job one comment's at a time; hence two per worker.

// lockIdle is how long an unused lock connection stays open.
const lockIdle = time.Minute

// lockKeepalives are the server's TCP keepalive settings for the lock
// connections' sessions (seconds): a replica whose node vanishes without
// closing its connections holds its locks until the server sees the
// session end, over two hours with Linux's defaults; with these, about 25 s
// (idle, then three probes), within the lease's takeover bound. A setting
// of the store URL (e.g. options or a server default the operator chose
// by URL) wins. The server ignores them on Unix sockets, which do not
// vanish with a node.
func lockKeepalives() map[string]string {
	return map[string]string{
		"tcp_keepalives_idle":     "10",
		"tcp_keepalives_interval": "5",
		"tcp_keepalives_count":    "3",
	}
}

// newLockPool makes the pool of lock connections on pcfg's database, at
// most n.
func newLockPool(ctx context.Context, pcfg *pgxpool.Config, n int) (*pgxpool.Pool, error) {
	c := pcfg.Copy()
	c.MaxConns, c.MinConns, c.MinIdleConns = int32(n), 0, 0
	c.MaxConnIdleTime = lockIdle
	if c.ConnConfig.RuntimeParams == nil {
		c.ConnConfig.RuntimeParams = map[string]string{}
	}
	for k, v := range lockKeepalives() {
		if _, set := c.ConnConfig.RuntimeParams[k]; !set {
			c.ConnConfig.RuntimeParams[k] = v
		}
	}
	return pgxpool.NewWithConfig(ctx, c)
}

// tryAdvisoryLock takes the session-level advisory lock named name, on a
// connection of the lock pool held until unlock: every process sharing the
// database sees it, and it ends with the session, so a holder that dies
// (or loses its connection) lets another process take it. With every lock
// connection in use it waits for one, as long as ctx lets it.
func (s *Store) tryAdvisoryLock(ctx context.Context, name string) (func(), bool, error) {
	conn, err := s.locks.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	var ok bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, name).Scan(&ok)
	if err != nil {
		drop(conn)
		return nil, false, err
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			// The connection goes back to the pool: its session must hold
			// no lock then. One it cannot be sure of is closed instead,
			// which ends the session and so the lock.
			ctx, cancel := context.WithTimeout(context.Background(), lockIdle)
			defer cancel()
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
				drop(conn)
				return
			}
			conn.Release()
		})
	}, true, nil
}

// lockCloseWait bounds how long Close waits for held locks' connections:
// a lock still held then is a job that did not stop, whose connection ends
// with the process.
const lockCloseWait = 5 * time.Second

// closeLocks closes the lock pool, which waits for every held lock's
// connection, at most lockCloseWait.
func closeLocks(p *pgxpool.Pool) {
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(lockCloseWait):
	}
}

// drop closes a pooled connection rather than returning it to its pool.
func drop(c *pgxpool.Conn) {
	_ = c.Conn().Close(context.Background())
	c.Release() // the pool sees it closed and forgets it
}
