package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

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

// tryAdvisoryLock takes the session-level advisory lock named name, on a
// connection of its own held until unlock: every process sharing the
// database sees it, and it ends with the session, so a holder that dies
// (or loses its connection) lets another process take it. The connection
// is not the pool's, so that holders never starve transactions of
// connections.
func (s *Store) tryAdvisoryLock(ctx context.Context, name string) (func(), bool, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, false, err
	}
	var ok bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, name).Scan(&ok)
	if err != nil || !ok {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, false, err
	}
	var once sync.Once
	return func() {
		// Ending the session releases its advisory locks.
		once.Do(func() { _ = conn.Close(context.Background()) })
	}, true, nil
}
