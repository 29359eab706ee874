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
