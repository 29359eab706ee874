package pipeline

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/postgres"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

// rendezvousForge holds each look for a status comment until two reporters
// are looking at once, or until a bound passes: two writers of one comment
// that are not kept apart both find nothing and both post.
type rendezvousForge struct {
	*fakeForge
	mu      sync.Mutex
	looking int
	both    chan struct{}
}

func (f *rendezvousForge) FindComment(ctx context.Context, repo string, th event.Thread, marker string) (forge.Comment, bool, error) {
	f.mu.Lock()
	f.looking++
	if f.looking == 2 {
		close(f.both)
	}
	f.mu.Unlock()
	select {
	case <-f.both:
	case <-time.After(3 * time.Second): // kept apart: the other waits for us
	case <-ctx.Done():
		return forge.Comment{}, false, ctx.Err()
	}
	return f.fakeForge.FindComment(ctx, repo, th, marker)
}

// Two replicas (two stores on one PostgreSQL database, a reporter each)
// report a new experiment at once: one status comment is posted, and the
// other report edits it. Fails when the reporters are kept apart only
// within a process.
func TestReportersOfTwoReplicasPostOneComment(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := pgtest.NewDatabase(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, dbURL, postgres.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	deliverIssue(t, &Intake{Store: a}, "d-1", issueChange(event.GitLab, validBody, nil, []string{"new-experiment"}))
	e, err := a.ExperimentByKey(ctx, store.RepoKey{Forge: event.GitLab, Path: "acme/model"}, "issue:12")
	if err != nil {
		t.Fatal(err)
	}
	fg := &rendezvousForge{fakeForge: newFakeForge(event.GitLab), both: make(chan struct{})}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []store.Store{a, b} {
		rep := &Reporter{Store: s, Forges: map[event.Forge]forge.Client{event.GitLab: fg}}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = rep.Report(ctx, e.ID)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("report of replica %d: %v", i, err)
		}
	}
	creates, edits := fg.calls()
	if len(creates) != 1 || len(edits) != 1 {
		t.Fatalf("%d comments posted and %d edits; want 1 and 1", len(creates), len(edits))
	}
	stored, err := b.Experiment(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.CommentID != creates[0].Comment.ID || edits[0].Comment.ID != creates[0].Comment.ID {
		t.Errorf("stored comment %d, edited %d; want the posted %d", stored.CommentID, edits[0].Comment.ID, creates[0].Comment.ID)
	}
}

// Two replicas' reporters take turns on a sweep's comment: each edit
// writes what the store holds, whichever replica wrote the comment last.
// Fails with a per-process cache of the body last written (replica A
// remembers X, B edits it to Y, the sweep goes back to X and A skips the
// edit, leaving Y).
func TestSweepCommentOfTwoReplicasIsNeverLeftStale(t *testing.T) {
	ctx := context.Background()
	const sha = "0123456789abcdef0123456789abcdef01234567"
	dbURL, _ := pgtest.NewDatabase(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(ctx, dbURL, postgres.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	var exps []store.Experiment
	for _, name := range []string{"x", "y"} {
		c := seedChange("acme/model", "tag:sweep-1:"+name, store.Active)
		c.Thread = event.Thread{Kind: event.CommitThread, SHA: sha}
		err := a.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			e, _, err := tx.ApplyChange(ctx, c)
			exps = append(exps, e)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	setStatus := func(s store.Status) {
		t.Helper()
		e := exps[0]
		if err := b.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.SetOutcome(ctx, e.ID, e.Generation, s, "", sha)
		}); err != nil {
			t.Fatal(err)
		}
	}
	fg := newFakeForge(event.GitHub)
	repA := &Reporter{Store: a, Forges: map[event.Forge]forge.Client{event.GitHub: fg}}
	repB := &Reporter{Store: b, Forges: map[event.Forge]forge.Client{event.GitHub: fg}}
	last := func() string {
		creates, edits := fg.calls()
		if len(edits) > 0 {
			return edits[len(edits)-1].Body
		}
		if len(creates) > 0 {
			return creates[len(creates)-1].Body
		}
		return ""
	}

	if err := repA.Report(ctx, exps[0].ID); err != nil { // posts X: both pending
		t.Fatal(err)
	}
	pending := last()
	setStatus(store.Failed)
	if err := repB.Report(ctx, exps[1].ID); err != nil { // edits to Y: one failed
		t.Fatal(err)
	}
	if last() == pending {
		t.Fatal("replica B did not edit the sweep's comment")
	}
	setStatus(store.Pending) // back to X (a new attempt)
	if err := repA.Report(ctx, exps[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := last(); got != pending {
		t.Errorf("the sweep's comment says\n%s\nwant what the store holds\n%s", got, pending)
	}
	if creates, _ := fg.calls(); len(creates) != 1 {
		t.Errorf("%d comments posted, want 1", len(creates))
	}
}
