package storetest

import (
	"context"
	"testing"

	"github.com/expbot/expbot/pipeline/store"
)

// testRepoLock: a repository's run lock has one holder at a time, other
// repositories' locks are apart, and unlock (even twice) frees it.
func testRepoLock(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	lock := func(repo store.RepoKey) (func(), bool) {
		t.Helper()
		unlock, ok, err := s.TryLockRepo(ctx, repo)
		if err != nil {
			t.Fatalf("TryLockRepo(%v): %v", repo, err)
		}
		return unlock, ok
	}
	unlockA, ok := lock(repoA())
	if !ok {
		t.Fatal("the first lock of a repository failed")
	}
	if _, ok := lock(repoA()); ok {
		t.Fatal("a held repository was locked again")
	}
	unlockB, ok := lock(repoB())
	if !ok {
		t.Fatal("another repository's lock failed while the first was held")
	}
	unlockA()
	unlockA()
	unlockA2, ok := lock(repoA())
	if !ok {
		t.Fatal("a repository could not be locked after unlock")
	}
	if _, ok := lock(repoB()); ok {
		t.Fatal("a second unlock of another repository freed this one")
	}
	unlockA2()
	unlockB()
}
