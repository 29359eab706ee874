package pipeline

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/spec"
	"github.com/expbot/expbot/pipeline/store"
)

const testSHA = "0123456789abcdef0123456789abcdef01234567"

func encodedRequest(t *testing.T, r spec.Request) []byte {
	t.Helper()
	raw, err := encodeRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestRenderStatus(t *testing.T) {
	links := newFakeForge(event.GitHub)
	withParams := encodedRequest(t, spec.Request{Name: "lr-sweep", Params: map[string]any{"lr": 3e-4, "epochs": int64(3)}})
	noParams := encodedRequest(t, spec.Request{Name: "lr-sweep", Params: map[string]any{}})
	base := store.Experiment{
		ID: 1, Repo: store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, Key: "issue:12",
		Desired: store.Active, Generation: 1,
		Name: "lr-sweep", Branch: "exp/12-lr-sweep", BaseRef: "main", Request: withParams,
	}
	branchLink := "[`exp/12-lr-sweep`](https://forge.test/acme/model/tree/exp/12-lr-sweep)"
	commitLink := "[`0123456789ab`](https://forge.test/acme/model/commit/" + testSHA + ")"
	paramsTable := "**Parameters**\n\n" + spec.MarkdownTable(map[string]any{"lr": 3e-4, "epochs": int64(3)}, "experiment.yaml")

	tests := []struct {
		name string
		edit func(*store.Experiment)
		want []string // each must appear
		not  []string // none may appear
	}{
		{
			name: "pending",
			edit: func(e *store.Experiment) { e.Status = store.Pending },
			want: []string{"### ⏳ Experiment `lr-sweep` accepted", "Branch `exp/12-lr-sweep` will be made from `main`.", paramsTable},
			not:  []string{"](", "❌", "⚠️"},
		},
		{
			name: "pending from the default branch",
			edit: func(e *store.Experiment) { e.Status, e.BaseRef = store.Pending, "" },
			want: []string{"will be made from the default branch."},
		},
		{
			name: "running before the base is resolved",
			edit: func(e *store.Experiment) { e.Status = store.Running },
			want: []string{"### 🔄 Making branch `exp/12-lr-sweep`…", "From `main`.\n", paramsTable},
			not:  []string{" at ", "](https://forge.test/acme/model/tree"},
		},
		{
			name: "running with the resolved base",
			edit: func(e *store.Experiment) { e.Status, e.BaseSHA = store.Running, testSHA },
			want: []string{"From `main` at " + commitLink + ".\n"},
			not:  []string{branchLink},
		},
		{
			name: "applied: links, Pulumi summary, params",
			edit: func(e *store.Experiment) {
				e.Status, e.BaseSHA, e.Applied, e.Detail = store.Applied, testSHA, 1, "2 create in 1.5 s"
			},
			want: []string{
				"### ✅ Experiment `lr-sweep` is ready",
				"| Branch | " + branchLink + " |",
				"| Base | `main` at " + commitLink + " |",
				"| Pulumi | 2 create in 1.5 s |",
				paramsTable,
				"| `epochs` | `3` |", "| `lr` | `0.0003` |",
			},
		},
		{
			name: "applied without params has no table",
			edit: func(e *store.Experiment) {
				e.Status, e.BaseSHA, e.Detail, e.Request = store.Applied, testSHA, "no changes in 0.2 s", noParams
			},
			want: []string{"is ready"},
			not:  []string{"**Parameters**"},
		},
		{
			name: "failed with its detail",
			edit: func(e *store.Experiment) {
				e.Status, e.Detail = store.Failed, "base `nope` was not found in acme/model"
			},
			want: []string{"### ❌ Experiment `lr-sweep` failed", "base `nope` was not found in acme/model", "tries again on the next edit", paramsTable},
			not:  []string{"](https://"},
		},
		{
			name: "invalid before any branch",
			edit: func(e *store.Experiment) {
				e.Status, e.Detail, e.Name, e.Branch, e.BaseRef, e.Request = store.Invalid, "- line 2: `name` is missing", "", "", "", nil
			},
			want: []string{"### ⚠️ expbot cannot run this experiment request", "- line 2: `name` is missing", "Edit the description to fix it"},
			not:  []string{"stays as it was", "**Parameters**"},
		},
		{
			name: "invalid edit of an existing branch",
			edit: func(e *store.Experiment) { e.Status, e.Detail, e.BaseSHA = store.Invalid, "- line 3: bad", testSHA },
			want: []string{"cannot run", "- line 3: bad", "The branch `exp/12-lr-sweep` stays as it was until then."},
			not:  []string{"**Parameters**", "](https://"},
		},
		{
			name: "retiring",
			edit: func(e *store.Experiment) { e.Desired, e.Status = store.Retired, store.Pending },
			want: []string{"### ⏳ Retiring experiment `lr-sweep`…"},
			not:  []string{"failed", "**Parameters**"},
		},
		{
			name: "retiring failed",
			edit: func(e *store.Experiment) {
				e.Desired, e.Status, e.Detail = store.Retired, store.Failed, "retiring failed: 403 Forbidden"
			},
			want: []string{"Retiring experiment `lr-sweep`", "The last attempt failed: retiring failed: 403 Forbidden"},
		},
		{
			name: "released, branch kept",
			edit: func(e *store.Experiment) { e.Desired, e.Status = store.Retired, store.Released },
			want: []string{"### 📦 Experiment `lr-sweep` retired", "The branch `exp/12-lr-sweep` is kept as it is and no longer managed by expbot."},
			not:  []string{"deleted", "**Parameters**"},
		},
		{
			name: "released, branch deleted",
			edit: func(e *store.Experiment) { e.Desired, e.Status, e.DeleteBranch = store.Retired, store.Released, true },
			want: []string{"### 🗑️ Experiment `lr-sweep` retired", "The branch `exp/12-lr-sweep` was deleted."},
			not:  []string{"kept", "**Parameters**"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.edit(&e)
			got := RenderStatus(e, links, "experiment.yaml")
			if !strings.HasPrefix(got, StatusMarker+"\n") {
				t.Errorf("does not start with the status marker:\n%s", got)
			}
			if strings.Count(got, StatusMarker) != 1 {
				t.Errorf("status marker appears %d times", strings.Count(got, StatusMarker))
			}
			for _, s := range tt.want {
				if !strings.Contains(got, s) {
					t.Errorf("missing %q in\n%s", s, got)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(got, s) {
					t.Errorf("unexpected %q in\n%s", s, got)
				}
			}
		})
	}
}

// TestRenderStatusUserTextStaysInCodeSpans renders requests full of
// Markdown, HTML and mentions: outside code spans none of it may remain.
func TestRenderStatusUserTextStaysInCodeSpans(t *testing.T) {
	links := newFakeForge(event.GitHub)
	hostile := []string{"@someone", "<script>", "</script>", "<img", "[x](", "#1", "**bold**"}
	params := map[string]any{
		"mention": "@someone please look",
		"pipe":    "a|b@someone|<script>alert(1)</script>",
		"html":    "<script>alert(1)</script>",
		"tick":    "x`@someone`y",
		"ticks":   "```@someone``` #1",
		"slash":   `C:\dir\|@someone`,
		"link":    "[x](https://evil.test) **bold**",
		"list":    []any{"@someone", "<img src=x>", "a|b"},
		"nested":  map[string]any{"deep": "`@someone`"},
		"_@key":   "v",
	}
	bases := []string{"main", "main`@someone`<img", "@someone", "x``#1``y", "x|@someone|y", "`|@someone|`"}
	for _, base := range bases {
		for _, st := range []store.Status{store.Pending, store.Running, store.Applied, store.Failed} {
			e := store.Experiment{
				Repo: store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, Key: "issue:12",
				Desired: store.Active, Status: st, Name: "lr-sweep", Branch: "exp/12-lr-sweep",
				BaseRef: base, BaseSHA: testSHA, Detail: "fine",
				Request: encodedRequest(t, spec.Request{Name: "lr-sweep", Base: base, Params: params}),
			}
			got := RenderStatus(e, links, "experiment.yaml")
			outside := outsideCodeSpans(got)
			for _, h := range hostile {
				if strings.Contains(outside, h) {
					t.Errorf("base %q, %s: %q outside code spans:\n%s\n--- outside code spans:\n%s", base, st, h, got, outside)
				}
			}
			// Every table row keeps two cells: no "|" of the user ends one.
			// GFM splits rows at every "|" not escaped as "\|", code spans
			// or not.
			for _, line := range strings.Split(got, "\n") {
				if !strings.HasPrefix(line, "|") {
					continue
				}
				if n := strings.Count(line, "|") - strings.Count(line, `\|`); n != 3 {
					t.Errorf("base %q, %s: table row %q has %d cell separators, want 3", base, st, line, n)
				}
			}
			if !strings.Contains(got, "| Parameter | Value |") {
				t.Errorf("no params table in\n%s", got)
			}
		}
	}
}

// countingReads counts a store's reads of experiments and tells whether
// one was made while no comment lock was held.
type countingReads struct {
	store.Store
	reads        int
	held         int
	readUnlocked bool
}

func (c *countingReads) Experiment(ctx context.Context, id int64) (store.Experiment, error) {
	c.reads++
	c.readUnlocked = c.readUnlocked || c.held == 0
	return c.Store.Experiment(ctx, id)
}

func (c *countingReads) TryLockComment(ctx context.Context, key string) (func(), bool, error) {
	unlock, ok, err := c.Store.TryLockComment(ctx, key)
	if !ok || err != nil {
		return unlock, ok, err
	}
	c.held++
	return func() { c.held--; unlock() }, true, nil
}

func TestReporterReport(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (testDB, *fakeForge, *Reporter, store.Experiment) {
		t.Helper()
		db := openStore(t)
		fg := newFakeForge(event.GitLab)
		in := &Intake{Store: db}
		ch := issueChange(event.GitLab, validBody, nil, []string{"new-experiment"})
		deliverIssue(t, in, "d-1", ch)
		e, err := db.ExperimentByKey(ctx, store.RepoKey{Forge: event.GitLab, Path: "acme/model"}, "issue:12")
		if err != nil {
			t.Fatal(err)
		}
		return db, fg, &Reporter{Store: db, Forges: map[event.Forge]forge.Client{event.GitLab: fg}}, e
	}

	t.Run("posts once, then edits the same comment", func(t *testing.T) {
		db, fg, rep, e := setup(t)
		if err := rep.Report(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		creates, edits := fg.calls()
		if len(creates) != 1 || len(edits) != 0 {
			t.Fatalf("after the first report: %d creates, %d edits; want 1, 0", len(creates), len(edits))
		}
		c := creates[0]
		if c.Repo != "acme/model" || c.Thread != e.Thread || c.Body != RenderStatus(e, fg, "") {
			t.Errorf("posted %+v", c)
		}
		stored, err := db.Experiment(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.CommentID != c.Comment.ID || stored.CommentNote != c.Comment.Note {
			t.Errorf("stored comment %d %q, want %d %q", stored.CommentID, stored.CommentNote, c.Comment.ID, c.Comment.Note)
		}

		// The outcome moves on; the next reports edit the same comment.
		if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.SetOutcome(ctx, e.ID, e.Generation, store.Applied, "2 create in 1.0 s", testSHA)
		}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := rep.Report(ctx, e.ID); err != nil {
				t.Fatal(err)
			}
		}
		creates, edits = fg.calls()
		if len(creates) != 1 || len(edits) != 2 {
			t.Fatalf("after three reports: %d creates, %d edits; want 1, 2", len(creates), len(edits))
		}
		for _, ed := range edits {
			if ed.Comment.ID != c.Comment.ID || ed.Comment.Note != c.Comment.Note || ed.Thread != e.Thread || ed.Repo != "acme/model" {
				t.Errorf("edited %+v, want comment %+v", ed, c.Comment)
			}
			if !strings.Contains(ed.Body, "is ready") || !strings.Contains(ed.Body, "2 create in 1.0 s") {
				t.Errorf("edit does not show the applied state:\n%s", ed.Body)
			}
		}
	})

	t.Run("one read of the experiment, under the comment's lock", func(t *testing.T) {
		_, _, rep, e := setup(t)
		counting := &countingReads{Store: rep.Store}
		rep.Store = counting
		if err := rep.Report(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if counting.reads != 1 {
			t.Errorf("the experiment was read %d times, want 1", counting.reads)
		}
		if counting.readUnlocked {
			t.Error("the experiment was read without its comment's lock")
		}
	})

	t.Run("acknowledgements in flight go first", func(t *testing.T) {
		_, fg, rep, e := setup(t)
		rep.Gate = ackfirst.New(time.Hour)
		exit := rep.Gate.Enter()
		done := make(chan error, 1)
		go func() { done <- rep.Report(ctx, e.ID) }()
		time.Sleep(50 * time.Millisecond)
		if creates, _ := fg.calls(); len(creates) != 0 {
			t.Fatalf("a comment was posted while an acknowledgement was in flight: %+v", creates)
		}
		exit()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if creates, _ := fg.calls(); len(creates) != 1 {
			t.Fatalf("after the acknowledgement: %d comments posted, want 1", len(creates))
		}
	})

	t.Run("a comment posted before a crash is adopted, not posted again", func(t *testing.T) {
		db, fg, rep, e := setup(t)
		// The bot died after the forge took its comment, before the id
		// was recorded: the comment is on the thread, the store knows
		// nothing of it. Another experiment's comment is there too.
		other := e
		other.Key = "issue:12x"
		for _, x := range []store.Experiment{other, e} {
			if _, err := fg.CreateComment(ctx, "acme/model", x.Thread, RenderStatus(x, fg, "")); err != nil {
				t.Fatal(err)
			}
		}
		mine, _ := fg.calls()
		if err := rep.Report(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		creates, edits := fg.calls()
		if len(creates) != 2 || len(edits) != 1 || edits[0].Comment.ID != mine[1].Comment.ID {
			t.Fatalf("%d creates, edits %+v; want no new comment and an edit of comment %d", len(creates), edits, mine[1].Comment.ID)
		}
		stored, err := db.Experiment(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.CommentID != mine[1].Comment.ID || stored.CommentNote != mine[1].Comment.Note {
			t.Errorf("stored comment %d %q, want the adopted %+v", stored.CommentID, stored.CommentNote, mine[1].Comment)
		}
		// Known now: later reports edit it without looking again.
		finds := fg.finds
		if err := rep.Report(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if fg.finds != finds {
			t.Errorf("a report with a recorded comment looked for it again")
		}
	})

	t.Run("concurrent first reports post one comment", func(t *testing.T) {
		db, fg, rep, e := setup(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() { errs <- rep.Report(ctx, e.ID) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		creates, edits := fg.calls()
		if len(creates) != 1 || len(edits) != n-1 {
			t.Fatalf("%d creates, %d edits; want 1, %d", len(creates), len(edits), n-1)
		}
		for _, ed := range edits {
			if ed.Comment.ID != creates[0].Comment.ID {
				t.Errorf("edited comment %d, posted %d", ed.Comment.ID, creates[0].Comment.ID)
			}
		}
		stored, err := db.Experiment(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.CommentID != creates[0].Comment.ID {
			t.Errorf("stored comment %d, posted %d", stored.CommentID, creates[0].Comment.ID)
		}
	})

	t.Run("a failed post stores nothing and is retried as a post", func(t *testing.T) {
		db, fg, rep, e := setup(t)
		fg.failing = errors.New("503 Service Unavailable")
		if err := rep.Report(ctx, e.ID); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("Report = %v, want the forge's error", err)
		}
		if stored, _ := db.Experiment(ctx, e.ID); stored.CommentID != 0 {
			t.Errorf("comment id %d stored after a failed post", stored.CommentID)
		}
		fg.failing = nil
		if err := rep.Report(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		if creates, edits := fg.calls(); len(creates) != 1 || len(edits) != 0 {
			t.Errorf("%d creates, %d edits; want 1, 0", len(creates), len(edits))
		}
	})

	t.Run("a deleted status comment is posted again", func(t *testing.T) {
		db, fg, rep, e := setup(t)
		if err := rep.Report(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		creates, _ := fg.calls()
		fg.deleted = map[int64]bool{creates[0].Comment.ID: true}
		if err := rep.Report(ctx, e.ID); err != nil {
			t.Fatal(err)
		}
		creates, edits := fg.calls()
		if len(creates) != 2 || len(edits) != 0 {
			t.Fatalf("%d creates, %d edits; want 2, 0", len(creates), len(edits))
		}
		if stored, _ := db.Experiment(ctx, e.ID); stored.CommentID != creates[1].Comment.ID {
			t.Errorf("stored comment %d, want the new one %d", stored.CommentID, creates[1].Comment.ID)
		}
	})

	t.Run("a thread that is gone is a permanent error", func(t *testing.T) {
		db, fg, rep, e := setup(t)
		fg.threadGone = true
		err := rep.Report(ctx, e.ID)
		var perm *store.PermanentError
		if !errors.As(err, &perm) || !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("Report = %v, want a permanent not-found error", err)
		}
		if stored, _ := db.Experiment(ctx, e.ID); stored.CommentID != 0 {
			t.Errorf("comment id %d stored", stored.CommentID)
		}
	})

	t.Run("unconfigured forge is a permanent error", func(t *testing.T) {
		_, fg, rep, e := setup(t)
		rep.Forges = map[event.Forge]forge.Client{event.GitHub: newFakeForge(event.GitHub)}
		err := rep.Report(ctx, e.ID)
		var perm *store.PermanentError
		if !errors.As(err, &perm) {
			t.Errorf("Report = %v, want a permanent error", err)
		}
		if creates, edits := fg.calls(); len(creates)+len(edits) != 0 {
			t.Errorf("the forge was called: %d creates, %d edits", len(creates), len(edits))
		}
	})

	t.Run("unknown experiment", func(t *testing.T) {
		_, _, rep, _ := setup(t)
		if err := rep.Report(ctx, 999); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Report = %v, want ErrNotFound", err)
		}
	})
}

// A sweep's one commit comment: posted once for all its experiments,
// posted again if someone deleted it, and a commit that is gone ends the
// report instead of retrying.
func TestReporterSweepComment(t *testing.T) {
	ctx := context.Background()
	const sha = "0123456789abcdef0123456789abcdef01234567"
	setup := func(t *testing.T) (testDB, *fakeForge, *Reporter, []store.Experiment) {
		t.Helper()
		db := openStore(t)
		var exps []store.Experiment
		for _, name := range []string{"a", "b"} {
			c := seedChange("acme/model", "sweep:sweep-1:"+name, store.Active)
			c.Thread = event.Thread{Kind: event.CommitThread, SHA: sha}
			err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
				e, _, err := tx.ApplyChange(ctx, c)
				exps = append(exps, e)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		fg := newFakeForge(event.GitHub)
		return db, fg, &Reporter{Store: db, Forges: map[event.Forge]forge.Client{event.GitHub: fg}}, exps
	}

	t.Run("one comment, posted again after a deletion", func(t *testing.T) {
		db, fg, rep, exps := setup(t)
		if err := rep.Report(ctx, exps[0].ID); err != nil {
			t.Fatal(err)
		}
		creates, _ := fg.calls()
		if len(creates) != 1 || creates[0].Thread.SHA != sha {
			t.Fatalf("posted %+v, want one comment on the commit", creates)
		}
		fg.deleted = map[int64]bool{creates[0].Comment.ID: true}
		if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			return tx.SetOutcome(ctx, exps[1].ID, exps[1].Generation, store.Applied, "done", sha)
		}); err != nil {
			t.Fatal(err)
		}
		if err := rep.Report(ctx, exps[1].ID); err != nil {
			t.Fatal(err)
		}
		creates, edits := fg.calls()
		if len(creates) != 2 || len(edits) != 0 {
			t.Fatalf("%d creates, %d edits; want the comment posted again (2, 0)", len(creates), len(edits))
		}
		for _, e := range exps {
			if stored, _ := db.Experiment(ctx, e.ID); stored.CommentID != creates[1].Comment.ID {
				t.Errorf("experiment %d remembers comment %d, want the new one %d", e.ID, stored.CommentID, creates[1].Comment.ID)
			}
		}
	})

	t.Run("a commit that is gone is a permanent error", func(t *testing.T) {
		_, fg, rep, exps := setup(t)
		fg.threadGone = true
		var perm *store.PermanentError
		if err := rep.Report(ctx, exps[0].ID); !errors.As(err, &perm) {
			t.Errorf("Report = %v, want a permanent error", err)
		}
	})
}

// A one-off comment is looked for only on a retried job, and found only
// by the marker of the job that posted it.
func TestPostOnce(t *testing.T) {
	th := event.Thread{Kind: event.IssueThread, Number: 7}
	first := replyMarker("command 42", "d-1")
	for _, tc := range []struct {
		name      string
		retried   bool
		earlier   string // marker of a comment already in the thread; "" for none
		wantPosts int    // comments in the thread afterwards
		wantFinds int
	}{
		{"first attempt posts without looking", false, first, 2, 0},
		{"retry finds its earlier post", true, first, 1, 1},
		{"retry with nothing posted posts", true, "", 1, 1},
		{"retry ignores another job's post", true, replyMarker("command 42", "d-2"), 2, 1},
		{"retry ignores another command's post", true, replyMarker("command 43", "d-1"), 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ff := newFakeForge(event.GitHub)
			ctx := context.Background()
			if tc.earlier != "" {
				if err := postOnce(ctx, ff, "acme/m", th, tc.earlier, "hello"); err != nil {
					t.Fatal(err)
				}
			}
			if tc.retried {
				ctx = store.WithRetried(ctx)
			}
			if err := postOnce(ctx, ff, "acme/m", th, first, "hello"); err != nil {
				t.Fatal(err)
			}
			creates, _ := ff.calls()
			if len(creates) != tc.wantPosts || ff.finds != tc.wantFinds {
				t.Errorf("%d comments after %d lookups, want %d after %d", len(creates), ff.finds, tc.wantPosts, tc.wantFinds)
			}
			last := creates[len(creates)-1].Body
			if !strings.HasPrefix(last, StatusMarker+"\n") || !strings.Contains(last, first) && tc.earlier != first {
				t.Errorf("posted body %q lacks the status marker or its own marker", last)
			}
		})
	}
}
