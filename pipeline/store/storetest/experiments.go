package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

func change(repo store.RepoKey, key string) store.Change {
	return store.Change{
		Repo:      repo,
		Key:       key,
		Desired:   store.Active,
		Status:    store.Pending,
		Name:      "alpha",
		Branch:    "exp/alpha",
		BaseRef:   "main",
		Request:   json.RawMessage(`{"name":"alpha","lr":0.1}`),
		SourceURL: "https://forge.example/acme/models/issues/1",
		Requester: "ada",
		Thread:    event.Thread{Kind: event.IssueThread, Number: 1},
	}
}

func apply(ctx context.Context, t *testing.T, s store.Store, c store.Change) (store.Experiment, bool) {
	t.Helper()
	var (
		e       store.Experiment
		changed bool
	)
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		var err error
		e, changed, err = tx.ApplyChange(ctx, c)
		return err
	})
	return e, changed
}

// sameExperiment compares experiments with times at microsecond precision
// (PostgreSQL's).
func sameExperiment(t *testing.T, what string, got, want store.Experiment) {
	t.Helper()
	norm := func(e store.Experiment) store.Experiment {
		e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Microsecond)
		e.UpdatedAt = e.UpdatedAt.UTC().Truncate(time.Microsecond)
		return e
	}
	if g, w := norm(got), norm(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func sameTime(a, b time.Time) bool {
	return a.UTC().Truncate(time.Microsecond).Equal(b.UTC().Truncate(time.Microsecond))
}

func testApplyChange(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	requestV2 := json.RawMessage(`{"name":"alpha","lr":0.2}`)
	cur := change(repoA(), "issue:1")
	var e store.Experiment // as the last step left it

	steps := []struct {
		name    string
		before  func(t *testing.T) // runs against e before the change
		edit    func(c *store.Change)
		changed bool
		gen     int64
		status  store.Status
		check   func(t *testing.T, e store.Experiment)
	}{
		{
			name: "create", changed: true, gen: 1, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.ID == 0 || e.Desired != store.Active || e.Applied != 0 || e.BaseSHA != "" || e.CommentID != 0 {
					t.Errorf("new experiment = %+v", e)
				}
				if e.CreatedAt.IsZero() || !sameTime(e.CreatedAt, e.UpdatedAt) {
					t.Errorf("created %v, updated %v: want set and equal", e.CreatedAt, e.UpdatedAt)
				}
			},
		},
		{name: "redelivery", changed: false, gen: 1, status: store.Pending},
		{
			name: "same change after it was applied",
			before: func(t *testing.T) {
				setOutcome(ctx, t, s, e.ID, 1, store.Applied, "applied", "sha-1")
			},
			changed: false, gen: 1, status: store.Applied,
			check: func(t *testing.T, e store.Experiment) {
				if e.Applied != 1 || e.BaseSHA != "sha-1" || e.Detail != "applied" {
					t.Errorf("applied = %d, base sha %q, detail %q", e.Applied, e.BaseSHA, e.Detail)
				}
			},
		},
		{
			name: "requester and source do not matter",
			edit: func(c *store.Change) {
				c.Requester, c.SourceURL = "bob", "https://forge.example/acme/models/issues/1#note-2"
			},
			changed: false, gen: 1, status: store.Applied,
			check: func(t *testing.T, e store.Experiment) {
				if e.Requester != "ada" {
					t.Errorf("requester = %q, want unchanged ada", e.Requester)
				}
			},
		},
		{
			name: "new request bytes", edit: func(c *store.Change) { c.Request = requestV2 },
			changed: true, gen: 2, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if string(e.Request) != string(requestV2) || e.Detail != "" || e.Requester != "bob" {
					t.Errorf("request %s, detail %q, requester %q", e.Request, e.Detail, e.Requester)
				}
				if e.BaseSHA != "sha-1" || e.Applied != 1 {
					t.Errorf("base sha %q, applied %d: want kept sha-1, 1", e.BaseSHA, e.Applied)
				}
			},
		},
		{name: "new branch", edit: func(c *store.Change) { c.Branch = "exp/beta" }, changed: true, gen: 3, status: store.Pending},
		{name: "new name", edit: func(c *store.Change) { c.Name = "beta" }, changed: true, gen: 4, status: store.Pending},
		{
			name: "new base ref clears the base sha, keeps the comment",
			before: func(t *testing.T) {
				if err := s.SetComment(ctx, e.ID, 77, "discussion-9"); err != nil {
					t.Fatal(err)
				}
			},
			edit:    func(c *store.Change) { c.BaseRef = "dev" },
			changed: true, gen: 5, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.BaseRef != "dev" || e.BaseSHA != "" {
					t.Errorf("base ref %q, sha %q: want dev and cleared", e.BaseRef, e.BaseSHA)
				}
				if e.CommentID != 77 || e.CommentNote != "discussion-9" {
					t.Errorf("comment %d %q lost", e.CommentID, e.CommentNote)
				}
			},
		},
		{
			name: "invalid edit keeps the last valid request",
			edit: func(c *store.Change) {
				c.Status, c.Detail = store.Invalid, "- line 1: unknown key"
				c.Name, c.Branch, c.BaseRef, c.Request = "", "", "", nil
			},
			changed: true, gen: 6, status: store.Invalid,
			check: func(t *testing.T, e store.Experiment) {
				if e.Name != "beta" || e.Branch != "exp/beta" || e.BaseRef != "dev" || string(e.Request) != string(requestV2) {
					t.Errorf("invalid edit replaced the request: %+v", e)
				}
				if e.Detail != "- line 1: unknown key" {
					t.Errorf("detail = %q", e.Detail)
				}
			},
		},
		{name: "same invalid edit", changed: false, gen: 6, status: store.Invalid},
		{
			name: "another problem", edit: func(c *store.Change) { c.Detail = "- line 2: bad value" },
			changed: true, gen: 7, status: store.Invalid,
		},
		{
			name: "valid again with the last valid request",
			edit: func(c *store.Change) {
				c.Status, c.Detail = store.Pending, ""
				c.Name, c.Branch, c.BaseRef, c.Request = "beta", "exp/beta", "dev", requestV2
			},
			changed: true, gen: 8, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.Detail != "" {
					t.Errorf("detail = %q, want cleared", e.Detail)
				}
			},
		},
		{
			name: "retire", edit: func(c *store.Change) { c.Desired = store.Retired },
			changed: true, gen: 9, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.Desired != store.Retired || e.DeleteBranch || e.Branch != "exp/beta" || e.Name != "beta" {
					t.Errorf("retired experiment = %+v, want desired retired, branch kept", e)
				}
			},
		},
		{name: "retire again", changed: false, gen: 9, status: store.Pending},
		{
			name: "retire deleting the branch", edit: func(c *store.Change) { c.DeleteBranch = true },
			changed: true, gen: 10, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if !e.DeleteBranch {
					t.Error("delete branch not set")
				}
			},
		},
		{
			name: "retire after release",
			before: func(t *testing.T) {
				setOutcome(ctx, t, s, e.ID, 10, store.Released, "released", "")
			},
			changed: false, gen: 10, status: store.Released,
			check: func(t *testing.T, e store.Experiment) {
				if e.Applied != 10 {
					t.Errorf("applied = %d, want 10", e.Applied)
				}
			},
		},
		{
			name: "bring back", edit: func(c *store.Change) { c.Desired, c.DeleteBranch = store.Active, false },
			changed: true, gen: 11, status: store.Pending,
			check: func(t *testing.T, e store.Experiment) {
				if e.Desired != store.Active || e.DeleteBranch {
					t.Errorf("desired %s, delete branch %v", e.Desired, e.DeleteBranch)
				}
			},
		},
	}
	for _, st := range steps {
		if st.before != nil {
			st.before(t)
		}
		if st.edit != nil {
			st.edit(&cur)
		}
		got, changed := apply(ctx, t, s, cur)
		if changed != st.changed || got.Generation != st.gen || got.Status != st.status {
			t.Fatalf("%s: changed %v, generation %d, status %s; want %v, %d, %s",
				st.name, changed, got.Generation, got.Status, st.changed, st.gen, st.status)
		}
		if e.ID != 0 && got.ID != e.ID {
			t.Fatalf("%s: id changed from %d to %d", st.name, e.ID, got.ID)
		}
		stored, err := s.Experiment(ctx, got.ID)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		sameExperiment(t, st.name+": stored vs returned", stored, got)
		if st.check != nil {
			t.Run(st.name, func(t *testing.T) { st.check(t, got) })
		}
		if !st.changed && e.ID != 0 && !sameTime(got.UpdatedAt, e.UpdatedAt) && st.before == nil {
			t.Errorf("%s: a no-op change wrote the row (updated %v -> %v)", st.name, e.UpdatedAt, got.UpdatedAt)
		}
		e = got
	}

	byKey, err := s.ExperimentByKey(ctx, repoA(), "issue:1")
	if err != nil {
		t.Fatal(err)
	}
	sameExperiment(t, "by key", byKey, e)
}

func testApplyChangeEdges(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)

	retire := change(repoA(), "issue:404")
	retire.Desired = store.Retired
	e, changed := apply(ctx, t, s, retire)
	if changed || !reflect.DeepEqual(e, store.Experiment{}) {
		t.Errorf("retiring an unknown key: changed %v, experiment %+v; want false and zero", changed, e)
	}
	if _, err := s.ExperimentByKey(ctx, repoA(), "issue:404"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("retiring an unknown key stored it: err = %v", err)
	}

	invalid := store.Change{
		Repo: repoA(), Key: "issue:5", Desired: store.Active, Status: store.Invalid, Detail: "- line 3: no name",
		SourceURL: "https://forge.example/acme/models/issues/5", Requester: "cy",
		Thread: event.Thread{Kind: event.CommitThread, SHA: "0123abcd"},
	}
	e, changed = apply(ctx, t, s, invalid)
	if !changed || e.Generation != 1 || e.Status != store.Invalid || e.Detail != invalid.Detail || e.Request != nil {
		t.Errorf("new invalid experiment: changed %v, %+v", changed, e)
	}
	got, err := s.ExperimentByKey(ctx, repoA(), "issue:5")
	if err != nil {
		t.Fatal(err)
	}
	sameExperiment(t, "invalid experiment", got, e)
	if got.Thread != invalid.Thread {
		t.Errorf("thread = %+v, want %+v", got.Thread, invalid.Thread)
	}

	// Same key on another repository or forge is another experiment.
	a, _ := apply(ctx, t, s, change(repoA(), "issue:1"))
	b, changedB := apply(ctx, t, s, change(repoB(), "issue:1"))
	c, changedC := apply(ctx, t, s, change(store.RepoKey{Forge: event.GitLab, Path: repoA().Path}, "issue:1"))
	if !changedB || !changedC || a.ID == b.ID || a.ID == c.ID || b.ID == c.ID {
		t.Errorf("same key elsewhere: ids %d %d %d, changed %v %v", a.ID, b.ID, c.ID, changedB, changedC)
	}

	bad := []struct {
		name string
		edit func(c *store.Change)
	}{
		{"no desired state", func(c *store.Change) { c.Desired = "" }},
		{"status a change cannot set", func(c *store.Change) { c.Status = store.Applied }},
		{"request not JSON", func(c *store.Change) { c.Request = json.RawMessage(`{"name":`) }},
		{"no key", func(c *store.Change) { c.Key = "" }},
	}
	for _, b := range bad {
		c := change(repoC(), "issue:9")
		b.edit(&c)
		err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
			_, _, err := tx.ApplyChange(ctx, c)
			return err
		})
		if err == nil {
			t.Errorf("%s: ApplyChange accepted %+v", b.name, c)
		}
	}
	if es, err := s.Experiments(ctx, repoC()); err != nil || len(es) != 0 {
		t.Errorf("rejected changes stored experiments: %v, %v", es, err)
	}
}

func testSetOutcome(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	c := change(repoA(), "issue:1")
	e1, _ := apply(ctx, t, s, c)

	read := func() store.Experiment {
		t.Helper()
		e, err := s.Experiment(ctx, e1.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	setOutcome := func(gen int64, st store.Status, detail, sha string) {
		t.Helper()
		inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
			return tx.SetOutcome(ctx, e1.ID, gen, st, detail, sha)
		})
	}

	setOutcome(1, store.Running, "", "sha-a")
	if e := read(); e.Status != store.Running || e.BaseSHA != "sha-a" || e.Applied != 0 {
		t.Errorf("running: %+v", e)
	}

	c.Request = json.RawMessage(`{"name":"alpha","lr":0.3}`)
	e2, _ := apply(ctx, t, s, c)
	if e2.Generation != 2 {
		t.Fatalf("generation %d, want 2", e2.Generation)
	}
	setOutcome(1, store.Applied, "stale run", "sha-b") // a run of gen 1 ends after gen 2 arrived
	if e := read(); e.Status != store.Pending || e.Applied != 0 || e.Detail != "" || e.BaseSHA != "sha-a" || e.Generation != 2 {
		t.Errorf("a stale outcome changed the experiment: %+v", e)
	}

	setOutcome(2, store.Failed, "boom", "")
	if e := read(); e.Status != store.Failed || e.Detail != "boom" || e.Applied != 0 || e.BaseSHA != "sha-a" {
		t.Errorf("failed: %+v (an empty sha must not clear the stored one)", e)
	}
	setOutcome(2, store.Applied, "done", "")
	if e := read(); e.Status != store.Applied || e.Applied != 2 || e.Detail != "done" {
		t.Errorf("applied: %+v", e)
	}

	c.Desired = store.Retired
	if e3, _ := apply(ctx, t, s, c); e3.Generation != 3 {
		t.Fatalf("generation %d, want 3", e3.Generation)
	}
	setOutcome(3, store.Released, "gone", "")
	if e := read(); e.Status != store.Released || e.Applied != 3 {
		t.Errorf("released: %+v", e)
	}

	const missing = 1 << 40
	err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		if err := tx.SetOutcome(ctx, missing, 1, store.Applied, "", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SetOutcome of a missing experiment: %v, want ErrNotFound", err)
		}
		// The transaction goes on after it: a missing experiment is an
		// answer, not a failed statement (which PostgreSQL would abort on).
		return tx.SetOutcome(ctx, e1.ID, 3, store.Released, "gone again", "")
	})
	if err != nil {
		t.Errorf("SetOutcome after a missing experiment's in the same transaction: %v", err)
	}
	if err := s.SetComment(ctx, missing, 1, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetComment of a missing experiment: %v, want ErrNotFound", err)
	}
	if _, err := s.Experiment(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Experiment of a missing id: %v, want ErrNotFound", err)
	}
}

func testExperiments(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	active, _ := apply(ctx, t, s, change(repoA(), "issue:1"))

	retiring := change(repoA(), "issue:2")
	apply(ctx, t, s, retiring)
	retiring.Desired = store.Retired
	retiringE, _ := apply(ctx, t, s, retiring)

	released := change(repoA(), "issue:3")
	apply(ctx, t, s, released)
	released.Desired = store.Retired
	releasedE, _ := apply(ctx, t, s, released)
	setOutcome(ctx, t, s, releasedE.ID, releasedE.Generation, store.Released, "", "")

	invalid := change(repoA(), "issue:4")
	invalid.Status, invalid.Detail = store.Invalid, "bad"
	invalidE, _ := apply(ctx, t, s, invalid)

	failed, _ := apply(ctx, t, s, change(repoA(), "issue:5"))
	setOutcome(ctx, t, s, failed.ID, failed.Generation, store.Failed, "boom", "")
	other, _ := apply(ctx, t, s, change(repoB(), "issue:1"))

	ids := func(repo store.RepoKey) []int64 {
		t.Helper()
		es, err := s.Experiments(ctx, repo)
		if err != nil {
			t.Fatal(err)
		}
		out := []int64{}
		for _, e := range es {
			if e.Repo != repo {
				t.Errorf("Experiments(%v) returned one of %v", repo, e.Repo)
			}
			out = append(out, e.ID)
		}
		return out
	}
	if got, want := ids(repoA()), []int64{active.ID, retiringE.ID, releasedE.ID, invalidE.ID, failed.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("Experiments(A) = %v, want %v (all of them, oldest first)", got, want)
	}
	if got, want := ids(repoB()), []int64{other.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("Experiments(B) = %v, want %v", got, want)
	}
	if got := ids(store.RepoKey{Forge: event.GitLab, Path: repoA().Path}); len(got) != 0 {
		t.Errorf("same path on another forge: %v, want none", got)
	}
	onGitLab, _ := apply(ctx, t, s, change(store.RepoKey{Forge: event.GitLab, Path: "a/a"}, "issue:1"))
	repos, err := s.Repos(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each repository once, released experiments counting, by forge then path.
	if want := []store.RepoKey{repoA(), onGitLab.Repo, repoB()}; !reflect.DeepEqual(repos, want) {
		t.Errorf("Repos = %v, want %v", repos, want)
	}
}

// testTxExperiments: a transaction lists the repository's experiments with
// its own writes, and those of other transactions committed before it.
func testTxExperiments(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	apply(ctx, t, s, change(repoA(), "issue:1"))
	apply(ctx, t, s, change(repoB(), "issue:9"))
	var keys []string
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		if _, _, err := tx.ApplyChange(ctx, change(repoA(), "issue:2")); err != nil {
			return err
		}
		es, err := tx.Experiments(ctx, repoA())
		for _, e := range es {
			if e.Repo != repoA() {
				t.Errorf("experiment of another repository listed: %+v", e)
			}
			keys = append(keys, e.Key)
		}
		return err
	})
	if !reflect.DeepEqual(keys, []string{"issue:1", "issue:2"}) {
		t.Fatalf("the transaction listed %q, want issue:1 and its own issue:2, oldest first", keys)
	}
}

// setOutcome records an outcome in a transaction of its own.
func setOutcome(ctx context.Context, t *testing.T, s store.Store, id, gen int64, st store.Status, detail, sha string) {
	t.Helper()
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error { return tx.SetOutcome(ctx, id, gen, st, detail, sha) })
}
