package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/pipeline/store"
)

// TryLockRepo takes repo's run lock as a session-level advisory lock, on a
// connection of its own held until unlock: every process sharing the
// database sees it, and it ends with the session, so a holder that dies
// (or loses its connection) lets another process take the repository. The
// connection is not the pool's, so that runs holding locks never starve
// transactions of connections.
func (s *Store) TryLockRepo(ctx context.Context, repo store.RepoKey) (func(), bool, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, false, fmt.Errorf("postgres: lock %s %s: %w", repo.Forge, repo.Path, err)
	}
	var ok bool
	err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`,
		"repo\x1f"+string(repo.Forge)+"\x1f"+repo.Path).Scan(&ok)
	if err != nil || !ok {
		_ = conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, false, fmt.Errorf("postgres: lock %s %s: %w", repo.Forge, repo.Path, err)
		}
		return nil, false, nil
	}
	var once sync.Once
	return func() {
		// Ending the session releases its advisory locks.
		once.Do(func() { _ = conn.Close(context.Background()) })
	}, true, nil
}
