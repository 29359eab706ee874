package sqlite

import (
	"context"
	"sync"

	"github.com/expbot/expbot/pipeline/store"
)

// repoLocks are the repositories' run locks (store.Store.TryLockRepo).
// They live in memory: the database file belongs to one process (its lock
// file), so no other process can run the repositories' stacks.
type repoLocks struct {
	mu   sync.Mutex
	held map[store.RepoKey]bool
}

// TryLockRepo takes repo's run lock if no run of this process holds it.
func (s *Store) TryLockRepo(_ context.Context, repo store.RepoKey) (func(), bool, error) {
	l := &s.repoLocks
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[repo] {
		return nil, false, nil
	}
	if l.held == nil {
		l.held = map[store.RepoKey]bool{}
	}
	l.held[repo] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			delete(l.held, repo)
			l.mu.Unlock()
		})
	}, true, nil
}
