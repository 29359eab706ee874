package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
)

// advance runs AdvanceSource in a transaction of its own.
func advance(ctx context.Context, t *testing.T, s store.Store, src store.Source, settled bool) store.Order {
	t.Helper()
	var o store.Order
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		o, err = tx.AdvanceSource(ctx, src, settled)
		return err
	})
	return o
}

func readSource(ctx context.Context, t *testing.T, s store.Store, repo store.RepoKey, key string) (store.Source, error) {
	t.Helper()
	var got store.Source
	var srcErr error
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		got, srcErr = tx.Source(ctx, repo, key)
		return nil
	})
	return got, srcErr
}

// testSources: a source's stored state only moves forward, times survive
// to the nanosecond and a reopen, keys are per repository, and a rolled
// back transaction records nothing.
func testSources(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 123456789, time.UTC)
	src := func(repo store.RepoKey, sec int, state string) store.Source {
		return store.Source{Repo: repo, Key: "issue:7", At: t0.Add(time.Duration(sec) * time.Second), State: state}
	}
	if _, err := readSource(ctx, t, s, repoA(), "issue:7"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Source of nothing stored: %v, want ErrNotFound", err)
	}
	steps := []struct {
		name    string
		s       store.Source
		settled bool
		want    store.Order
		stored  store.Source
	}{
		{"first", src(repoA(), 0, "lr=0.02"), false, store.Newer, src(repoA(), 0, "lr=0.02")},
		{"later", src(repoA(), 2, "lr=0.04"), false, store.Newer, src(repoA(), 2, "lr=0.04")},
		{"late delivery", src(repoA(), 0, "lr=0.02"), false, store.Older, src(repoA(), 2, "lr=0.04")},
		{"repeat", src(repoA(), 2, "lr=0.04"), false, store.Same, src(repoA(), 2, "lr=0.04")},
		{"same second, other state", src(repoA(), 2, "retired"), false, store.Tied, src(repoA(), 2, "lr=0.04")},
		{"read from the forge", src(repoA(), 2, "retired"), true, store.Newer, src(repoA(), 2, "retired")},
		{"other repository", src(repoB(), 0, "x"), false, store.Newer, src(repoA(), 2, "retired")},
	}
	for _, st := range steps {
		if got := advance(ctx, t, s, st.s, st.settled); got != st.want {
			t.Fatalf("%s: AdvanceSource = %v, want %v", st.name, got, st.want)
		}
		got, err := readSource(ctx, t, s, repoA(), "issue:7")
		if err != nil || got.State != st.stored.State || !got.At.Equal(st.stored.At) || got.Key != "issue:7" || got.Repo != repoA() {
			t.Fatalf("%s: stored %+v, %v; want %+v", st.name, got, err, st.stored)
		}
	}
	if got, err := readSource(ctx, t, s, repoB(), "issue:7"); err != nil || got.State != "x" {
		t.Fatalf("repository B's source: %+v, %v", got, err)
	}

	// No time: stored as unknown, then ordered by state alone.
	untimed := store.Source{Repo: repoC(), Key: "pull:1", State: "open"}
	if got := advance(ctx, t, s, untimed, false); got != store.Newer {
		t.Fatalf("untimed first: %v", got)
	}
	if got, err := readSource(ctx, t, s, repoC(), "pull:1"); err != nil || !got.At.IsZero() {
		t.Fatalf("untimed stored as %+v, %v; want a zero time", got, err)
	}
	untimed.State = "closed"
	if got := advance(ctx, t, s, untimed, false); got != store.Tied {
		t.Fatalf("untimed other state: %v, want tied", got)
	}

	// A rolled back transaction leaves the stored source as it was.
	errBoom := errors.New("boom")
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if _, err := tx.AdvanceSource(ctx, src(repoA(), 9, "rolled back"), false); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx = %v", err)
	}
	if got, _ := readSource(ctx, t, s, repoA(), "issue:7"); got.State != "retired" {
		t.Fatalf("after a rollback the source is %+v", got)
	}
	// Required fields.
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AdvanceSource(ctx, store.Source{Repo: repoA()}, false)
		return err
	})
	if err == nil {
		t.Error("AdvanceSource without a key succeeded")
	}

	// Durable across a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openStore(t, open)
	if got, err := readSource(ctx, t, s2, repoA(), "issue:7"); err != nil || got.State != "retired" || !got.At.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
}

// testSourcesConcurrent: deliveries of one source racing in separate
// transactions leave the newest state stored, whatever order they commit
// in, and exactly one of them sees a given state as Newer.
func testSourcesConcurrent(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	const n = 24
	var wg sync.WaitGroup
	newer := make(chan int, n)
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			errs <- s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				o, err := tx.AdvanceSource(ctx, store.Source{Repo: repoA(), Key: "tag:sweep-1", At: t0.Add(time.Duration(i) * time.Second), State: fmt.Sprint(i)}, false)
				if o == store.Newer {
					newer <- i
				}
				return err
			})
		})
	}
	wg.Wait()
	close(errs)
	close(newer)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got, err := readSource(ctx, t, s, repoA(), "tag:sweep-1"); err != nil || got.State != fmt.Sprint(n-1) {
		t.Fatalf("stored %+v, %v; want the newest state %d", got, err, n-1)
	}
	seen := 0
	for range newer {
		seen++
	}
	if seen == 0 || seen > n {
		t.Fatalf("%d transactions saw their state as newer", seen)
	}
}
