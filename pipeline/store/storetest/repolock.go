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

// testCommentLock: a status comment's lock has one holder at a time, other
// comments' locks are apart, it is apart from the run lock of a repository
// of the same name, and unlock (even twice) frees it.
func testCommentLock(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	lock := func(key string) (func(), bool) {
		t.Helper()
		unlock, ok, err := s.TryLockComment(ctx, key)
		if err != nil {
			t.Fatalf("TryLockComment(%q): %v", key, err)
		}
		return unlock, ok
	}
	unlockA, ok := lock("experiment 1")
	if !ok {
		t.Fatal("the first lock of a comment failed")
	}
	if _, ok := lock("experiment 1"); ok {
		t.Fatal("a held comment was locked again")
	}
	unlockB, ok := lock("experiment 11")
	if !ok {
		t.Fatal("another comment's lock failed while the first was held")
	}
	unlockRepo, ok, err := s.TryLockRepo(ctx, store.RepoKey{Forge: "github", Path: "experiment 1"})
	if err != nil || !ok {
		t.Fatalf("a repository's run lock while a comment's is held = %v, %v", ok, err)
	}
	unlockRepo()
	unlockA()
	unlockA()
	unlockA2, ok := lock("experiment 1")
	if !ok {
		t.Fatal("a comment could not be locked after unlock")
	}
	if _, ok := lock("experiment 11"); ok {
		t.Fatal("a second unlock of another comment freed this one")
	}
	unlockA2()
	unlockB()
}
