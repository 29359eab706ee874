package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
)

// A job's handler is told whether the job was started before: not on its
// first run, but after a failed run and after a run that shutdown
// interrupted (whose attempt River gives back).
func TestRetriedReachesHandlers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "expbot.db")
	var (
		mu   sync.Mutex
		seen = map[string][]bool{}
	)
	handlers := store.Handlers{
		Reconcile: func(context.Context, store.RepoKey) error { return nil },
		Report:    func(context.Context, int64) error { return nil },
		Tasks: map[string]func(context.Context, json.RawMessage) error{
			"command": func(ctx context.Context, payload json.RawMessage) error {
				var p string
				_ = json.Unmarshal(payload, &p)
				mu.Lock()
				seen[p] = append(seen[p], store.Retried(ctx))
				n := len(seen[p])
				mu.Unlock()
				switch {
				case p == "fail" && n == 1:
					return errors.New("the forge is down")
				case p == "hang" && n == 1:
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			},
		}}
	runs := func(p string) []bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen[p])
	}
	enqueue := func(s *Store, p string) {
		raw, _ := json.Marshal(p)
		inTx(t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.EnqueueTask(ctx, store.RawTask{Kind: "command", Payload: raw})
		})
	}

	s := openAt(t, path)
	if err := s.Start(ctx, handlers); err != nil {
		t.Fatal(err)
	}
	enqueue(s, "ok")
	enqueue(s, "fail")
	enqueue(s, "hang")
	waitFor(t, func() bool { return len(runs("ok")) == 1 && len(runs("fail")) == 2 && len(runs("hang")) == 1 })
	if got := runs("ok"); !slices.Equal(got, []bool{false}) {
		t.Errorf("a job run once saw retried %v, want [false]", got)
	}
	if got := runs("fail"); !slices.Equal(got, []bool{false, true}) {
		t.Errorf("a job that failed once saw retried %v, want [false true]", got)
	}
	stop, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_ = s.Stop(stop) // interrupts "hang"
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path)
	start(t, s, handlers)
	waitFor(t, func() bool { return len(runs("hang")) == 2 })
	if got := runs("hang"); !slices.Equal(got, []bool{false, true}) {
		t.Errorf("a job interrupted by shutdown saw retried %v, want [false true]", got)
	}
}
