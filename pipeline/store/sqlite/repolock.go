package sqlite

import (
	"context"
	"sync"

	"github.com/expbot/expbot/pipeline/store"
)

// repoLocks are the repositories' run locks (store.Store.TryLockRepo) and
// the status comments' locks (store.Store.TryLockComment). They live in
// memory: the database file belongs to one process (its lock file), so no
// other process can run the repositories' stacks or report.
type repoLocks struct {
	mu       sync.Mutex
	held     map[store.RepoKey]bool
	comments map[string]bool
}

// TryLockRepo takes repo's run lock if no run of this process holds it.
func (s *Store) TryLockRepo(_ context.Context, repo store.RepoKey) (func(), bool, error) {
	l := &s.repoLocks
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[store.RepoKey]bool{}
	}
	return tryLock(&l.mu, l.held, repo)
}

// TryLockComment takes the lock of the status comment key if no reporter
// of this process holds it.
func (s *Store) TryLockComment(_ context.Context, key string) (func(), bool, error) {
	l := &s.repoLocks
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.comments == nil {
		l.comments = map[string]bool{}
	}
	return tryLock(&l.mu, l.comments, key)
}

// tryLock marks k held in held, which mu guards and the caller has locked.
func tryLock[K comparable](mu *sync.Mutex, held map[K]bool, k K) (func(), bool, error) {
	if held[k] {
		return nil, false, nil
	}
	held[k] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			delete(held, k)
			mu.Unlock()
		})
	}, true, nil
}
