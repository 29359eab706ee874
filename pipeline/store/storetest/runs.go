package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
)

func testRuns(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	r1, err := s.StartRun(ctx, repoA(), t0)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.StartRun(ctx, repoA(), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	r3, err := s.StartRun(ctx, repoB(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if r1.ID == 0 || r1.ID == r2.ID || r2.ID == r3.ID || r1.Repo != repoA() || !sameTime(r1.StartedAt, t0) {
		t.Fatalf("runs %+v %+v %+v", r1, r2, r3)
	}
	r1.FinishedAt, r1.Outcome, r1.Summary = t0.Add(3*time.Second), "succeeded", "+1 ~0 -0"
	if err := s.FinishRun(ctx, r1); err != nil {
		t.Fatal(err)
	}

	runs, err := s.Runs(ctx, repoA(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].ID != r2.ID || runs[1].ID != r1.ID {
		t.Fatalf("Runs(A) = %+v, want r2 then r1", runs)
	}
	got := runs[1]
	if !sameTime(got.StartedAt, t0) || !sameTime(got.FinishedAt, r1.FinishedAt) || got.Outcome != "succeeded" ||
		got.Summary != r1.Summary || got.Repo != repoA() {
		t.Errorf("finished run = %+v, want %+v", got, r1)
	}
	if !runs[0].FinishedAt.IsZero() || runs[0].Outcome != "" {
		t.Errorf("unfinished run = %+v", runs[0])
	}
	if runs, err := s.Runs(ctx, repoA(), 1); err != nil || len(runs) != 1 || runs[0].ID != r2.ID {
		t.Errorf("Runs(A, 1) = %+v, %v; want the newest", runs, err)
	}
	if runs, err := s.Runs(ctx, repoB(), 10); err != nil || len(runs) != 1 || runs[0].ID != r3.ID {
		t.Errorf("Runs(B) = %+v, %v", runs, err)
	}
	if err := s.FinishRun(ctx, store.Run{ID: 1 << 40, Outcome: "failed"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("FinishRun of a missing run: %v, want ErrNotFound", err)
	}
}
