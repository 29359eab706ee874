package pipeline

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/spec"
	"github.com/expbot/expbot/pipeline/store"
)

const (
	validBody   = "Please try this.\n\n```yaml\nname: lr-sweep\nbase: release/v1\nparams:\n  lr: 3.0e-4\n  epochs: 3\n```\n"
	noBaseBody  = "```yaml\nname: lr-sweep\n```\n"
	invalidBody = "```yaml\nname: Not_Valid!\nbogus: 1\n```\n"
)

// issueChange is an open issue #12 of acme/model on GitHub whose labels went from
// prev to now; tweak the result for other changes.
func issueChange(forge event.Forge, body string, prev, now []string) *event.IssueChange {
	return &event.IssueChange{
		Repo: event.Repo{
			Forge: forge, Host: "forge.test", Path: "acme/model", ID: 7,
			DefaultBranch: "trunk", WebURL: "https://forge.test/acme/model",
		},
		Number:     12,
		Title:      "an experiment",
		Body:       body,
		URL:        "https://forge.test/acme/model/issues/12",
		Open:       true,
		WasOpen:    true,
		Labels:     now,
		PrevLabels: prev,
		Actor:      event.Actor{ID: 3, Login: "alice"},
	}
}

func TestIntakeChangeFor(t *testing.T) {
	label := []string{"new-experiment"}
	closed := func(c *event.IssueChange) *event.IssueChange { c.Open = false; return c }
	edited := func(c *event.IssueChange) *event.IssueChange { c.BodyChanged = true; return c }
	confidential := func(c *event.IssueChange) *event.IssueChange { c.Confidential = true; return c }
	onGitLab := func(c *event.IssueChange) *event.IssueChange {
		c.Repo.Path = "acme/ml/model"
		return c
	}
	parseProblems := func(body string) string {
		_, err := spec.ParseIssueBody(body)
		var p *spec.Problems
		if !errors.As(err, &p) {
			t.Fatalf("test body %q does not fail to parse with *spec.Problems: %v", body, err)
		}
		return p.Markdown()
	}

	tests := []struct {
		name string
		cfg  IntakeConfig
		in   *event.IssueChange
		// want is the change without its Request, or nil for "no change".
		want *store.Change
		// request is the body whose parse the Request must hold ("" = none).
		request string
		// detail, if set, must be contained in Detail (else Detail is compared exactly).
		detail []string
	}{
		{
			name: "label added: default template, base from the request",
			in:   issueChange(event.GitHub, validBody, nil, label),
			want: &store.Change{
				Desired: store.Active, Status: store.Pending,
				Name: "lr-sweep", Branch: "exp/12-lr-sweep", BaseRef: "release/v1",
			},
			request: validBody,
		},
		{
			name: "no base: the repository's default branch is pinned by name",
			in:   issueChange(event.GitHub, noBaseBody, []string{"bug"}, []string{"bug", "new-experiment"}),
			want: &store.Change{
				Desired: store.Active, Status: store.Pending,
				Name: "lr-sweep", Branch: "exp/12-lr-sweep", BaseRef: "trunk",
			},
			request: noBaseBody,
		},
		{
			name: "custom template on gitlab",
			cfg:  IntakeConfig{BranchTemplate: "{forge}/{name}-{number}"},
			in:   onGitLab(issueChange(event.GitLab, validBody, nil, label)),
			want: &store.Change{
				Desired: store.Active, Status: store.Pending,
				Name: "lr-sweep", Branch: "gitlab/lr-sweep-12", BaseRef: "release/v1",
			},
			request: validBody,
		},
		{
			name: "label added with delete-on-retire configured",
			cfg:  IntakeConfig{DeleteOnRetire: true},
			in:   issueChange(event.GitHub, validBody, nil, label),
			want: &store.Change{
				Desired: store.Active, DeleteBranch: true, Status: store.Pending,
				Name: "lr-sweep", Branch: "exp/12-lr-sweep", BaseRef: "release/v1",
			},
			request: validBody,
		},
		{
			name: "description edited while active",
			in:   edited(issueChange(event.GitHub, noBaseBody, label, label)),
			want: &store.Change{
				Desired: store.Active, Status: store.Pending,
				Name: "lr-sweep", Branch: "exp/12-lr-sweep", BaseRef: "trunk",
			},
			request: noBaseBody,
		},
		{
			name: "label added to a closed issue: nothing",
			in:   closed(issueChange(event.GitHub, validBody, nil, label)),
		},
		{
			name: "reopened with the label: applies",
			in: func() *event.IssueChange {
				c := issueChange(event.GitHub, validBody, label, label)
				c.WasOpen = false
				return c
			}(),
			want: &store.Change{
				Desired: store.Active, Status: store.Pending,
				Name: "lr-sweep", Branch: "exp/12-lr-sweep", BaseRef: "release/v1",
			},
			request: validBody,
		},
		{
			name: "label removed: retire, keep the branch",
			in:   issueChange(event.GitHub, validBody, label, nil),
			want: &store.Change{Desired: store.Retired, Status: store.Pending},
		},
		{
			name: "label removed: retire, delete the branch",
			cfg:  IntakeConfig{DeleteOnRetire: true},
			in:   issueChange(event.GitHub, validBody, label, []string{"bug"}),
			want: &store.Change{Desired: store.Retired, DeleteBranch: true, Status: store.Pending},
		},
		{
			name: "closed: retire, with an invalid body too",
			cfg:  IntakeConfig{DeleteOnRetire: true},
			in:   closed(issueChange(event.GitHub, invalidBody, label, label)),
			want: &store.Change{Desired: store.Retired, DeleteBranch: true, Status: store.Pending},
		},
		{
			name: "confidential issue labeled: refused, with what to do",
			in:   confidential(onGitLab(issueChange(event.GitLab, validBody, nil, label))),
			want: &store.Change{Desired: store.Active, Status: store.Invalid, Detail: confidentialText},
		},
		{
			name: "confidential issue edited: refused, the request is not even read",
			in:   confidential(edited(issueChange(event.GitLab, invalidBody, label, label))),
			want: &store.Change{Desired: store.Active, Status: store.Invalid, Detail: confidentialText},
		},
		{
			name: "confidential issue unlabeled: retires as any other",
			in:   confidential(issueChange(event.GitLab, validBody, label, nil)),
			want: &store.Change{Desired: store.Retired, Status: store.Pending},
		},
		{
			name: "invalid body: the parser's problems as markdown",
			in:   issueChange(event.GitHub, invalidBody, nil, label),
			want: &store.Change{Desired: store.Active, Status: store.Invalid, Detail: parseProblems(invalidBody)},
		},
		{
			name: "no yaml block at all",
			in:   issueChange(event.GitHub, "just words, no request", nil, label),
			want: &store.Change{Desired: store.Active, Status: store.Invalid, Detail: parseProblems("just words, no request")},
		},
		{
			name: "another label added: nothing",
			in:   issueChange(event.GitHub, validBody, nil, []string{"bug"}),
		},
		{
			name: "label unchanged, body unchanged: nothing",
			in:   issueChange(event.GitHub, validBody, label, label),
		},
		{
			name: "body edited without the label: nothing",
			in:   edited(issueChange(event.GitHub, validBody, []string{"bug"}, []string{"bug"})),
		},
		{
			name: "custom trigger label: the default one does nothing",
			cfg:  IntakeConfig{Label: "experiment"},
			in:   issueChange(event.GitHub, validBody, nil, label),
		},
		{
			name: "custom trigger label, matched regardless of case",
			cfg:  IntakeConfig{Label: "experiment"},
			in:   issueChange(event.GitHub, validBody, nil, []string{"Experiment"}),
			want: &store.Change{
				Desired: store.Active, Status: store.Pending,
				Name: "lr-sweep", Branch: "exp/12-lr-sweep", BaseRef: "release/v1",
			},
			request: validBody,
		},
		{
			name: "custom trigger label removed: retire",
			cfg:  IntakeConfig{Label: "experiment"},
			in:   issueChange(event.GitHub, validBody, []string{"experiment"}, label),
			want: &store.Change{Desired: store.Retired, Status: store.Pending},
		},
		{
			name:   "template gives an invalid branch for this name",
			cfg:    IntakeConfig{BranchTemplate: "x.{name}"},
			in:     issueChange(event.GitHub, "```yaml\nname: lock\n```", nil, label),
			want:   &store.Change{Desired: store.Active, Status: store.Invalid},
			detail: []string{"The branch name would be invalid", "`.lock`"},
		},
		{
			name:   "template that is invalid for every name",
			cfg:    IntakeConfig{BranchTemplate: "exp//{name}"},
			in:     issueChange(event.GitHub, validBody, nil, label),
			want:   &store.Change{Desired: store.Active, Status: store.Invalid},
			detail: []string{"The branch name would be invalid", "`//`"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &Intake{Cfg: tt.cfg}
			got, ok := in.changeFor(tt.in)
			if tt.want == nil {
				if ok {
					t.Fatalf("changeFor = %+v, true; want no change", got)
				}
				return
			}
			if !ok {
				t.Fatal("changeFor reported no change")
			}
			want := *tt.want
			want.Repo = store.RepoKey{Forge: tt.in.Repo.Forge, Path: tt.in.Repo.Path}
			want.Key = "issue:12"
			want.SourceURL = tt.in.URL
			want.Requester = "alice"
			want.Thread = event.Thread{Kind: event.IssueThread, Number: 12}

			if tt.request == "" {
				if len(got.Request) != 0 {
					t.Errorf("Request = %s, want none", got.Request)
				}
			} else {
				wantReq, err := spec.ParseIssueBody(tt.request)
				if err != nil {
					t.Fatal(err)
				}
				gotReq, err := decodeRequest(got.Request)
				if err != nil {
					t.Fatalf("stored request does not decode: %v (%s)", err, got.Request)
				}
				if !reflect.DeepEqual(gotReq, wantReq) {
					t.Errorf("Request decodes to %#v, want %#v", gotReq, wantReq)
				}
			}
			if tt.detail != nil {
				for _, s := range tt.detail {
					if !strings.Contains(got.Detail, s) {
						t.Errorf("Detail %q does not contain %q", got.Detail, s)
					}
				}
				want.Detail = got.Detail
			}
			got.Request = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("changeFor =\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

// deliverIssue records a change of issue #12 as delivery id.
// deliverIssue records ch as delivery id. A change without a time gets
// one later than every earlier delivery's, as the forges' payloads carry.
func deliverIssue(t *testing.T, in *Intake, id string, ch *event.IssueChange) event.Outcome {
	t.Helper()
	if ch.At.IsZero() {
		ch.At = testTime.Add(time.Duration(issueClock.Add(1)) * time.Second)
	}
	out, err := in.Record(context.Background(), event.Delivery{
		Forge: ch.Repo.Forge, ID: id, Event: "issues", ReceivedAt: testTime, Payload: ch,
	})
	if err != nil {
		t.Fatalf("Record(%s): %v", id, err)
	}
	return out
}

// issueClock numbers the untimed changes deliverIssue sends.
var issueClock atomic.Int64

func TestIntakeRecord(t *testing.T) {
	ctx := context.Background()
	label := []string{"new-experiment"}
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	reconcileJob := `reconcile {"forge":"github","path":"acme/model"}`
	reportJob := func(id int64) string { return fmt.Sprintf(`report {"experiment_id":%d}`, id) }
	load := func(t *testing.T, db testDB) store.Experiment {
		t.Helper()
		e, err := db.ExperimentByKey(ctx, repo, "issue:12")
		if err != nil {
			t.Fatalf("ExperimentByKey: %v", err)
		}
		return e
	}

	t.Run("accepted, then the same delivery again", func(t *testing.T) {
		db := openStore(t)
		in := &Intake{Store: db}
		ch := issueChange(event.GitHub, validBody, nil, label)
		if out := deliverIssue(t, in, "d-1", ch); out != event.OutcomeAccepted {
			t.Fatalf("outcome %v, want Accepted", out)
		}
		e := load(t, db)
		if e.Desired != store.Active || e.Status != store.Pending || e.Generation != 1 ||
			e.Name != "lr-sweep" || e.Branch != "exp/12-lr-sweep" || e.BaseRef != "release/v1" ||
			e.Requester != "alice" || e.Thread != (event.Thread{Kind: event.IssueThread, Number: 12}) {
			t.Errorf("stored experiment %+v", e)
		}
		if got, want := db.jobs(t), []string{reconcileJob, reportJob(e.ID)}; !reflect.DeepEqual(got, want) {
			t.Errorf("jobs %q, want %q", got, want)
		}
		if n := db.queueDepth(t); n != 2 {
			t.Errorf("QueueDepth %d, want 2", n)
		}

		// A redelivery carries the same id; by now the description says
		// something else, which must not matter.
		again := issueChange(event.GitHub, noBaseBody, nil, label)
		if out := deliverIssue(t, in, "d-1", again); out != event.OutcomeDuplicate {
			t.Fatalf("redelivery outcome %v, want Duplicate", out)
		}
		if e2 := load(t, db); e2.Generation != 1 || e2.BaseRef != "release/v1" {
			t.Errorf("redelivery changed the experiment: generation %d, base %q", e2.Generation, e2.BaseRef)
		}
		// A new delivery that changes nothing bumps nothing either.
		if out := deliverIssue(t, in, "d-2", ch); out != event.OutcomeAccepted {
			t.Fatalf("outcome %v, want Accepted", out)
		}
		if e2 := load(t, db); e2.Generation != 1 {
			t.Errorf("no-op delivery bumped the generation to %d", e2.Generation)
		}
		if n := db.queueDepth(t); n != 2 {
			t.Errorf("QueueDepth %d, want 2", n)
		}
	})

	t.Run("invalid request: report only, no reconcile", func(t *testing.T) {
		db := openStore(t)
		in := &Intake{Store: db}
		if out := deliverIssue(t, in, "d-1", issueChange(event.GitHub, invalidBody, nil, label)); out != event.OutcomeAccepted {
			t.Fatalf("outcome %v, want Accepted", out)
		}
		e := load(t, db)
		if e.Status != store.Invalid || !strings.Contains(e.Detail, "Not_Valid!") || e.Branch != "" {
			t.Errorf("stored %+v", e)
		}
		if got, want := db.jobs(t), []string{reportJob(e.ID)}; !reflect.DeepEqual(got, want) {
			t.Errorf("jobs %q, want %q", got, want)
		}
	})

	t.Run("retiring an unknown experiment changes nothing", func(t *testing.T) {
		db := openStore(t)
		in := &Intake{Store: db}
		if out := deliverIssue(t, in, "d-1", issueChange(event.GitHub, validBody, label, nil)); out != event.OutcomeAccepted {
			t.Fatalf("outcome %v, want Accepted", out)
		}
		if _, err := db.ExperimentByKey(ctx, repo, "issue:12"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ExperimentByKey: %v, want ErrNotFound", err)
		}
		if n := db.queueDepth(t); n != 0 {
			t.Errorf("QueueDepth %d, want 0", n)
		}
	})

	t.Run("retire enqueues a reconcile", func(t *testing.T) {
		db := openStore(t)
		in := &Intake{Store: db, Cfg: IntakeConfig{DeleteOnRetire: true}}
		deliverIssue(t, in, "d-1", issueChange(event.GitHub, validBody, nil, label))
		e := load(t, db)
		deliverIssue(t, in, "d-2", issueChange(event.GitHub, validBody, label, nil))
		r := load(t, db)
		if r.Desired != store.Retired || !r.DeleteBranch || r.Generation != e.Generation+1 || r.Branch != e.Branch {
			t.Errorf("after retire: %+v", r)
		}
		if got, want := db.jobs(t), []string{reconcileJob, reportJob(e.ID)}; !reflect.DeepEqual(got, want) {
			t.Errorf("jobs %q, want %q", got, want)
		}
	})

	// refuseRebase: once the branch exists, name and base are fixed.
	edits := []struct {
		name    string
		body    string
		branch  bool // the branch exists (SetOutcome with a base SHA)
		status  store.Status
		detail  []string // contained in Detail when refused
		newName string   // the stored name afterwards
		newBase string
	}{
		{
			name: "rename of a made branch is refused", branch: true,
			body:   "```yaml\nname: other\nbase: release/v1\n```",
			status: store.Invalid, detail: []string{"name cannot change", "`lr-sweep`", "`other`"},
			newName: "lr-sweep", newBase: "release/v1",
		},
		{
			name: "new base of a made branch is refused", branch: true,
			body:   "```yaml\nname: lr-sweep\nbase: dev\n```",
			status: store.Invalid, detail: []string{"base of an experiment cannot change", "`release/v1`", "`dev`"},
			newName: "lr-sweep", newBase: "release/v1",
		},
		{
			name: "dropping the base moves it to the default branch: refused", branch: true,
			body:   noBaseBody,
			status: store.Invalid, detail: []string{"base of an experiment cannot change", "`trunk`"},
			newName: "lr-sweep", newBase: "release/v1",
		},
		{
			name: "refused base with backticks stays inside code spans", branch: true,
			body:   "```yaml\nname: lr-sweep\nbase: \"x`@someone`<img\"\n```",
			status: store.Invalid, detail: []string{"base of an experiment cannot change", "``x`@someone`<img``"},
			newName: "lr-sweep", newBase: "release/v1",
		},
		{
			name: "new params on a made branch are fine", branch: true,
			body:    "```yaml\nname: lr-sweep\nbase: release/v1\nparams:\n  lr: 1.0e-4\n```",
			status:  store.Pending,
			newName: "lr-sweep", newBase: "release/v1",
		},
		{
			name: "rename before the branch was made is fine", branch: false,
			body:    "```yaml\nname: other\nbase: dev\n```",
			status:  store.Pending,
			newName: "other", newBase: "dev",
		},
	}
	for _, tt := range edits {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			in := &Intake{Store: db}
			deliverIssue(t, in, "d-1", issueChange(event.GitHub, validBody, nil, label))
			e := load(t, db)
			if tt.branch {
				if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
					return tx.SetOutcome(ctx, e.ID, e.Generation, store.Applied, "1 create", "0123456789abcdef0123456789abcdef01234567")
				}); err != nil {
					t.Fatal(err)
				}
			}
			out := deliverIssue(t, in, "d-2", func() *event.IssueChange {
				c := issueChange(event.GitHub, tt.body, label, label)
				c.BodyChanged = true
				return c
			}())
			if out != event.OutcomeAccepted {
				t.Fatalf("outcome %v, want Accepted", out)
			}
			got := load(t, db)
			if got.Status != tt.status {
				t.Errorf("status %q (%s), want %q", got.Status, got.Detail, tt.status)
			}
			for _, s := range tt.detail {
				if !strings.Contains(got.Detail, s) {
					t.Errorf("Detail %q does not contain %q", got.Detail, s)
				}
			}
			if strings.Contains(outsideCodeSpans(got.Detail), "@") {
				t.Errorf("Detail %q has request text outside code spans", got.Detail)
			}
			if got.Name != tt.newName || got.BaseRef != tt.newBase {
				t.Errorf("stored name %q base %q, want %q %q", got.Name, got.BaseRef, tt.newName, tt.newBase)
			}
			if tt.status == store.Invalid {
				if string(got.Request) != string(e.Request) || got.Branch != e.Branch {
					t.Errorf("a refused edit changed the stored request:\n%s\n%s", e.Request, got.Request)
				}
				if tt.branch && got.BaseSHA == "" {
					t.Error("a refused edit dropped the pinned base SHA")
				}
			}
			if got.Generation != e.Generation+1 {
				t.Errorf("generation %d, want %d", got.Generation, e.Generation+1)
			}
		})
	}

	t.Run("ignored payloads", func(t *testing.T) {
		db := openStore(t)
		in := &Intake{Store: db}
		payloads := []struct {
			name string
			p    event.Event
		}{
			{"ping", &event.Ping{}},
			{"ignored event", &event.Ignored{Reason: "push"}},
			{"nil payload", nil},
			{"issue change without a trigger", issueChange(event.GitHub, validBody, nil, []string{"bug"})},
		}
		for _, p := range payloads {
			out, err := in.Record(ctx, event.Delivery{Forge: event.GitHub, ID: "d-" + p.name, Event: "x", ReceivedAt: testTime, Payload: p.p})
			if err != nil || out != event.OutcomeIgnored {
				t.Errorf("%s: Record = %v, %v; want Ignored", p.name, out, err)
			}
		}
		if _, err := db.ExperimentByKey(ctx, repo, "issue:12"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ExperimentByKey: %v, want ErrNotFound", err)
		}
		if n := db.queueDepth(t); n != 0 {
			t.Errorf("QueueDepth %d, want 0", n)
		}
	})
}
