package sqlite

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/scrub"
	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/storetest"
)

// The scrubbing decorator keeps the Store contract.
func TestConformanceScrubbed(t *testing.T) {
	var (
		mu    sync.Mutex
		paths = map[*testing.T]string{}
	)
	storetest.Exercise(context.Background(), t, func(t *testing.T) store.Store {
		mu.Lock()
		p, ok := paths[t]
		if !ok {
			p = filepath.Join(t.TempDir(), "expbot.db")
			paths[t] = p
		}
		mu.Unlock()
		return store.Scrubbed(openAt(t, p), scrub.New("ghp_secretValue123"))
	})
}

// Nothing written through the decorator, nor the error a job failed with
// (which the queue keeps), leaves the secret in the database file.
func TestScrubbedStoreKeepsSecretsOutOfTheFile(t *testing.T) {
	const secret = "ghp_secretValue123"
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "expbot.db")
	raw := openAt(t, path, WithMaxAttempts(1))
	st := store.Scrubbed(raw, scrub.New(secret))
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/llm"}
	echo := "422 Authorization=Bearer " + secret

	var exp store.Experiment
	err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		exp, _, err = tx.ApplyChange(ctx, store.Change{Repo: repo, Key: "issue:1", Desired: store.Active, Status: store.Pending,
			Detail: echo, Name: "n", Branch: "exp/1-n", Request: json.RawMessage(`{"note":"` + secret + `"}`)})
		if err != nil {
			return err
		}
		if err := tx.EnqueueTask(ctx, store.RawTask{Kind: "command", Payload: json.RawMessage(`{"text":"` + secret + `"}`)}); err != nil {
			return err
		}
		return tx.EnqueueReconcile(ctx, repo)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return tx.SetOutcome(ctx, exp.ID, exp.Generation, store.Failed, echo, "")
	}); err != nil {
		t.Fatal(err)
	}
	run, err := st.StartRun(ctx, repo, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	run.Outcome, run.Summary, run.FinishedAt = "failed", echo, time.Now()
	if err := st.FinishRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	failed := make(chan struct{}, 2)
	fail := func() error {
		failed <- struct{}{}
		return errors.New("pulumi up: " + echo)
	}
	err = st.Start(ctx, store.Handlers{Workers: 1,
		Reconcile: func(context.Context, store.RepoKey) error { return fail() },
		Report:    func(context.Context, int64) error { return nil },
		Tasks:     map[string]func(context.Context, json.RawMessage) error{"command": func(context.Context, json.RawMessage) error { return fail() }},
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case <-failed:
		case <-time.After(time.Minute):
			t.Fatal("the jobs did not run")
		}
	}
	deadline := time.Now().Add(time.Minute)
	for n, err := st.QueueDepth(ctx); n != 0 || err != nil; n, err = st.QueueDepth(ctx) {
		if time.Now().After(deadline) {
			t.Fatalf("queue depth %d, %v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := st.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := st.Experiment(ctx, exp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Detail != "422 Authorization=Bearer "+scrub.Mask {
		t.Errorf("detail = %q", got.Detail)
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret", filepath.Base(path+suffix))
		}
	}
	if b, _ := os.ReadFile(path); !bytes.Contains(b, []byte(scrub.Mask)) {
		t.Error("the database holds no mask: nothing was written through the decorator")
	}
}
