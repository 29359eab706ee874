package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

// Advisory locks are held on connections of a bounded pool: with every one
// in use, taking another lock waits for one only as long as its context
// lets it; an unlocked connection goes back to the pool holding nothing,
// so another process can take the lock and this one reuses it.
func TestLockConnsBounded(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := pgtest.NewDatabase(t)
	s := openAt(t, dbURL, WithLockConns(1))
	other := openAt(t, dbURL)
	a, b := store.RepoKey{Forge: "github", Path: "o/a"}, store.RepoKey{Forge: "github", Path: "o/b"}

	unlockA, ok, err := s.TryLockRepo(ctx, a)
	if err != nil || !ok {
		t.Fatalf("first lock: %v, %v", ok, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, ok, err = s.TryLockComment(wctx, "experiment 1")
	cancel()
	if ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a lock with every lock connection in use: ok %v, %v; want the context's deadline", ok, err)
	}
	if _, ok, err := other.TryLockRepo(ctx, a); ok || err != nil {
		t.Fatalf("another process took a held lock: %v, %v", ok, err)
	}
	unlockA()
	unlockB, ok, err := s.TryLockRepo(ctx, b)
	if err != nil || !ok {
		t.Fatalf("a lock after unlock, on the one connection: %v, %v", ok, err)
	}
	// The connection that held a is b's now, and holds only b.
	unlockA2, ok, err := other.TryLockRepo(ctx, a)
	if err != nil || !ok {
		t.Fatalf("another process could not take the released lock: %v, %v", ok, err)
	}
	unlockA2()
	unlockB()
	var n int
	if err := pgtest.Connect(t, dbURL).QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("advisory locks held after every unlock: %d, %v", n, err)
	}
}
