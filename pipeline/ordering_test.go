package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/pipeline/store"
)

func lrBody(lr string) string {
	return "```yaml\nname: lr-sweep\nbase: release/v1\nparams:\n  lr: " + lr + "\n```\n"
}

// issueTasks decodes the queued issue reads.
func issueTasks(t *testing.T, db testDB) []json.RawMessage {
	t.Helper()
	var out []json.RawMessage
	for _, j := range db.jobs(t) {
		args, ok := strings.CutPrefix(j, "task ")
		if !ok {
			continue
		}
		var a struct {
			Task    string          `json:"task"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			t.Fatal(err)
		}
		if a.Task == TaskIssue {
			out = append(out, a.Payload)
		}
	}
	return out
}

// TestIssueDeliveriesOutOfOrder: a late, older delivery of an issue never
// undoes a newer one, whatever it asks (body, label, state); the same
// second with different contents is settled by reading the issue.
func TestIssueDeliveriesOutOfOrder(t *testing.T) {
	ctx := context.Background()
	label := []string{"new-experiment"}
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	at := func(c *event.IssueChange, sec int) *event.IssueChange {
		c.At = t0.Add(time.Duration(sec) * time.Second)
		return c
	}
	edited := func(c *event.IssueChange) *event.IssueChange { c.BodyChanged = true; return c }
	closed := func(c *event.IssueChange) *event.IssueChange { c.Open = false; return c }
	reopened := func(c *event.IssueChange) *event.IssueChange { c.WasOpen = false; return c }

	type step struct {
		id   string
		ch   *event.IssueChange
		want event.Outcome
	}
	for _, tt := range []struct {
		name    string
		steps   []step
		desired store.Desired
		lr      string // in the stored request, when active
	}{
		{
			name: "label 0.02, edit 0.04, label again late",
			steps: []step{
				{"A", at(issueChange(event.GitHub, lrBody("0.02"), nil, label), 1), event.OutcomeAccepted},
				{"B", at(edited(issueChange(event.GitHub, lrBody("0.04"), label, label)), 2), event.OutcomeAccepted},
				{"A-again", at(issueChange(event.GitHub, lrBody("0.02"), nil, label), 1), event.OutcomeStale},
			},
			desired: store.Active, lr: "0.04",
		},
		{
			name: "labeled arrives after unlabeled",
			steps: []step{
				{"unlabeled", at(issueChange(event.GitHub, lrBody("0.02"), label, nil), 5), event.OutcomeAccepted},
				{"labeled", at(issueChange(event.GitHub, lrBody("0.02"), nil, label), 3), event.OutcomeStale},
			},
		},
		{
			name: "labeled, unlabeled, then the label delivery again",
			steps: []step{
				{"labeled", at(issueChange(event.GitHub, lrBody("0.02"), nil, label), 3), event.OutcomeAccepted},
				{"unlabeled", at(issueChange(event.GitHub, lrBody("0.02"), label, nil), 5), event.OutcomeAccepted},
				{"labeled-late", at(issueChange(event.GitHub, lrBody("0.02"), nil, label), 3), event.OutcomeStale},
			},
			desired: store.Retired,
		},
		{
			name: "reopened arrives after closed",
			steps: []step{
				{"labeled", at(issueChange(event.GitHub, lrBody("0.02"), nil, label), 1), event.OutcomeAccepted},
				{"closed", at(closed(issueChange(event.GitHub, lrBody("0.02"), label, label)), 9), event.OutcomeAccepted},
				{"reopened-late", at(reopened(issueChange(event.GitHub, lrBody("0.02"), label, label)), 4), event.OutcomeStale},
			},
			desired: store.Retired,
		},
		{
			name: "an old edit after close",
			steps: []step{
				{"labeled", at(issueChange(event.GitHub, lrBody("0.02"), nil, label), 1), event.OutcomeAccepted},
				{"closed", at(closed(issueChange(event.GitHub, lrBody("0.02"), label, label)), 9), event.OutcomeAccepted},
				{"edit-late", at(edited(issueChange(event.GitHub, lrBody("0.07"), label, label)), 4), event.OutcomeStale},
			},
			desired: store.Retired,
		},
		{
			name: "in order, on GitLab",
			steps: []step{
				{"open", at(issueChange(event.GitLab, lrBody("0.02"), nil, label), 1), event.OutcomeAccepted},
				{"edit", at(edited(issueChange(event.GitLab, lrBody("0.03"), label, label)), 2), event.OutcomeAccepted},
				{"edit-repeat", at(edited(issueChange(event.GitLab, lrBody("0.03"), label, label)), 2), event.OutcomeAccepted},
			},
			desired: store.Active, lr: "0.03",
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			in := &Intake{Store: db}
			var forgeName event.Forge
			for _, s := range tt.steps {
				forgeName = s.ch.Repo.Forge
				if got := deliverIssue(t, in, s.id, s.ch); got != s.want {
					t.Fatalf("%s: outcome %v, want %v", s.id, got, s.want)
				}
			}
			if n := len(issueTasks(t, db)); n != 0 {
				t.Errorf("%d issue reads queued; distinct times need none", n)
			}
			e, err := db.ExperimentByKey(ctx, store.RepoKey{Forge: forgeName, Path: repo.Path}, "issue:12")
			if tt.desired == "" {
				if err == nil {
					t.Fatalf("experiment %+v made by a stale delivery", e)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.Desired != tt.desired {
				t.Errorf("desired %s, want %s", e.Desired, tt.desired)
			}
			if tt.lr != "" && !strings.Contains(string(e.Request), `"lr":`+tt.lr) {
				t.Errorf("request %s, want lr %s", e.Request, tt.lr)
			}
		})
	}
}

// TestIssueSameSecondIsReadFromTheForge: two changes of one issue in the
// same second cannot be ordered by their payloads: the second queues one
// read of the issue, and what the forge shows wins.
func TestIssueSameSecondIsReadFromTheForge(t *testing.T) {
	ctx := context.Background()
	label := []string{"new-experiment"}
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	db := openStore(t)
	ff := newFakeForge(event.GitHub)
	in := &Intake{Store: db, Forges: map[event.Forge]forge.Client{event.GitHub: ff}}

	b := issueChange(event.GitHub, lrBody("0.04"), label, label)
	b.BodyChanged, b.At = true, t0
	if got := deliverIssue(t, in, "B", b); got != event.OutcomeAccepted {
		t.Fatalf("B: %v", got)
	}
	before, _ := db.ExperimentByKey(ctx, repo, "issue:12")
	a := issueChange(event.GitHub, lrBody("0.02"), nil, label)
	a.At = t0 // the label, made in the same second, delivered last
	if got := deliverIssue(t, in, "A", a); got != event.OutcomeAccepted {
		t.Fatalf("A: %v", got)
	}
	if e, _ := db.ExperimentByKey(ctx, repo, "issue:12"); e.Generation != before.Generation || !strings.Contains(string(e.Request), `"lr":0.04`) {
		t.Fatalf("a tied delivery was applied: %+v", e)
	}
	tasks := issueTasks(t, db)
	if len(tasks) != 1 {
		t.Fatalf("%d issue reads queued, want 1", len(tasks))
	}
	// The forge shows the edit (0.04) last: it stays. Then it shows a
	// newer edit: that is applied, as the newest state known.
	ff.issues = map[int]forge.Issue{12: {Number: 12, Body: lrBody("0.04"), Open: true, Labels: label, UpdatedAt: t0}}
	if err := in.Reread(ctx, tasks[0]); err != nil {
		t.Fatal(err)
	}
	if e, _ := db.ExperimentByKey(ctx, repo, "issue:12"); !strings.Contains(string(e.Request), `"lr":0.04`) || e.Desired != store.Active {
		t.Fatalf("after the read: %+v", e)
	}
	ff.issues[12] = forge.Issue{Number: 12, Body: lrBody("0.05"), Open: true, Labels: label, UpdatedAt: t0}
	if err := in.Reread(ctx, tasks[0]); err != nil {
		t.Fatal(err)
	}
	if e, _ := db.ExperimentByKey(ctx, repo, "issue:12"); !strings.Contains(string(e.Request), `"lr":0.05`) {
		t.Fatalf("the forge's state was not applied: %+v", e)
	}
	// Closed and unlabeled since: retired. Then an answer from before what
	// was applied is refused and retried.
	ff.issues[12] = forge.Issue{Number: 12, Body: lrBody("0.05"), Open: false, UpdatedAt: t0.Add(time.Second)}
	if err := in.Reread(ctx, tasks[0]); err != nil {
		t.Fatal(err)
	}
	if e, _ := db.ExperimentByKey(ctx, repo, "issue:12"); e.Desired != store.Retired {
		t.Fatalf("a closed issue read from the forge left %+v", e)
	}
	ff.issues[12] = forge.Issue{Number: 12, Body: lrBody("0.09"), Open: true, Labels: label, UpdatedAt: t0}
	if err := in.Reread(ctx, tasks[0]); err == nil {
		t.Fatal("an answer older than the applied state was taken")
	}
	if e, _ := db.ExperimentByKey(ctx, repo, "issue:12"); e.Desired != store.Retired {
		t.Fatalf("an older answer changed %+v", e)
	}
	// A deleted issue retires (and reads nothing else).
	delete(ff.issues, 12)
	if err := in.Reread(ctx, tasks[0]); err != nil {
		t.Fatal(err)
	}
}

// TestIssueReadIsComparedInWholeSeconds: an API answer timed in
// milliseconds does not make a delivery from later in the same second
// look older.
func TestIssueReadIsComparedInWholeSeconds(t *testing.T) {
	ctx := context.Background()
	label := []string{"new-experiment"}
	repo := store.RepoKey{Forge: event.GitLab, Path: "acme/model"}
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	db := openStore(t)
	ff := newFakeForge(event.GitLab)
	ff.issues = map[int]forge.Issue{12: {Number: 12, Body: lrBody("0.04"), Open: true, Labels: label, UpdatedAt: t0.Add(400 * time.Millisecond)}}
	in := &Intake{Store: db, Forges: map[event.Forge]forge.Client{event.GitLab: ff}}
	payload, err := json.Marshal(issueTask{Repo: event.Repo{Forge: event.GitLab, Path: repo.Path, DefaultBranch: "trunk"}, Number: 12})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Reread(ctx, payload); err != nil {
		t.Fatal(err)
	}
	closedLater := issueChange(event.GitLab, lrBody("0.04"), label, label)
	closedLater.Open, closedLater.At = false, t0 // closed at .900 of the same second
	if got := deliverIssue(t, in, "close", closedLater); got != event.OutcomeAccepted {
		t.Fatalf("a close in the same second as the read: %v, want Accepted (then read again)", got)
	}
	if n := len(issueTasks(t, db)); n != 1 {
		t.Fatalf("%d reads queued, want 1", n)
	}
}

// timedCmd is a comment with commands, written at t0+sec with id.
func timedCmd(body string, sec int, id int64) commandTask {
	tk := cmdTask("alice", body)
	tk.At = time.Date(2026, 12, 6, 3, 0, sec, 0, time.UTC)
	tk.CommentID = id
	return tk
}

// TestCommandsOutOfOrder: a late command never undoes newer state.
func TestCommandsOutOfOrder(t *testing.T) {
	t.Run("an older update after a newer one", func(t *testing.T) {
		env := newCmdEnv(t, CommandConfig{})
		if err := env.run(t, timedCmd("/experiment new a lr=1", 1, 10)); err != nil {
			t.Fatal(err)
		}
		if err := env.run(t, timedCmd("/experiment update a lr=3", 5, 30)); err != nil {
			t.Fatal(err)
		}
		if err := env.run(t, timedCmd("/experiment update a lr=2", 3, 20)); err != nil {
			t.Fatal(err)
		}
		if p := params(t, env.exp(t, "a")); fmt.Sprint(p["lr"]) != "3" {
			t.Fatalf("params %v, want lr 3 from the newest command", p)
		}
		if r := env.replies(); len(r) == 0 || !strings.Contains(r[len(r)-1], "newer command for `a`") {
			t.Errorf("replies %q, want one saying a newer command was applied", r)
		}
	})
	t.Run("same second: the later comment id wins", func(t *testing.T) {
		env := newCmdEnv(t, CommandConfig{})
		for _, tk := range []commandTask{
			timedCmd("/experiment new a lr=1", 1, 10),
			timedCmd("/experiment update a lr=3", 5, 31),
			timedCmd("/experiment update a lr=2", 5, 30),
		} {
			if err := env.run(t, tk); err != nil {
				t.Fatal(err)
			}
		}
		if p := params(t, env.exp(t, "a")); fmt.Sprint(p["lr"]) != "3" {
			t.Fatalf("params %v, want lr 3 from comment 31", p)
		}
	})
	t.Run("written before the merge, run after it was recorded", func(t *testing.T) {
		env := newCmdEnv(t, CommandConfig{})
		in := &Intake{Store: env.db}
		merged := pullChange("acme/model", cmdPull, false, true, true)
		merged.At = time.Date(2026, 12, 6, 3, 0, 9, 0, time.UTC)
		record(t, in, "merge", "pull_request", merged)
		if err := env.run(t, timedCmd("/experiment new a lr=1", 4, 10)); err != nil {
			t.Fatal(err)
		}
		if len(env.all(t)) != 0 {
			t.Fatalf("a command written before the merge made %+v", env.all(t))
		}
		if r := env.replies(); len(r) != 1 || !strings.Contains(r[0], "closed or merged after this comment was written") {
			t.Errorf("replies %q", r)
		}
		// A request reopened later takes commands again.
		reopened := pullChange("acme/model", cmdPull, true, false, false)
		reopened.At = merged.At.Add(time.Minute)
		record(t, in, "reopen", "pull_request", reopened)
		tk := timedCmd("/experiment new c lr=1", 59, 12)
		tk.At = reopened.At.Add(time.Second)
		if err := env.run(t, tk); err != nil {
			t.Fatal(err)
		}
		if e := env.exp(t, "c"); e.Desired != store.Active {
			t.Fatalf("a command after the reopen: %+v", e)
		}
	})
	t.Run("written on a closed request", func(t *testing.T) {
		env := newCmdEnv(t, CommandConfig{})
		tk := timedCmd("/experiment new a lr=1", 1, 10)
		tk.PullClosed = true
		if err := env.run(t, tk); err != nil {
			t.Fatal(err)
		}
		if len(env.all(t)) != 0 {
			t.Fatal("a command on a closed request made an experiment")
		}
		if r := env.replies(); len(r) != 1 || !strings.Contains(r[0], "This request is closed or merged") {
			t.Errorf("replies %q", r)
		}
	})
	t.Run("a late close spares what was asked for after the reopen", func(t *testing.T) {
		env := newCmdEnv(t, CommandConfig{})
		in := &Intake{Store: env.db}
		closeAt := time.Date(2026, 12, 6, 3, 0, 5, 0, time.UTC)
		if err := env.run(t, timedCmd("/experiment new before lr=1", 1, 10)); err != nil {
			t.Fatal(err)
		}
		if err := env.run(t, timedCmd("/experiment new after lr=1", 20, 20)); err != nil {
			t.Fatal(err)
		}
		closed := pullChange("acme/model", cmdPull, false, true, false)
		closed.At = closeAt
		if got := record(t, in, "close-late", "pull_request", closed); got != event.OutcomeAccepted {
			t.Fatalf("close: %v", got)
		}
		if e := env.exp(t, "before"); e.Desired != store.Retired {
			t.Errorf("the experiment asked for before the close: %+v", e)
		}
		if e := env.exp(t, "after"); e.Desired != store.Active {
			t.Errorf("the experiment asked for after the close was retired: %+v", e)
		}
	})
}
