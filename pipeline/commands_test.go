package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/command"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/pipeline/store"
)

const (
	cmdPull    = 7
	cmdHeadSHA = "1111111111111111111111111111111111111111"
	cmdPullSHA = "2222222222222222222222222222222222222222"
)

var cmdRepo = store.RepoKey{Forge: event.GitHub, Path: "acme/model"}

// cmdTask is a comment by login on pull request #7 of acme/model whose head
// is known from the webhook.
func cmdTask(login, body string) commandTask {
	return commandTask{
		Delivery: "d-" + login, Repo: cmdRepo,
		Thread:    event.Thread{Kind: event.PullThread, Number: cmdPull},
		CommentID: 501, CommentURL: "https://forge.test/acme/model/pull/7#comment-501",
		Body: body, Actor: event.Actor{ID: 3, Login: login},
		HeadBranch: "feature", HeadSHA: cmdHeadSHA,
	}
}

type cmdEnv struct {
	db testDB
	fg *fakeForge
	c  *Commands
}

func newCmdEnv(t *testing.T, cfg CommandConfig) cmdEnv {
	t.Helper()
	db := openStore(t)
	fg := newFakeForge(event.GitHub)
	return cmdEnv{db: db, fg: fg, c: &Commands{
		Store: db, Forges: map[event.Forge]forge.Client{event.GitHub: fg}, Cfg: cfg, Log: zerolog.Nop(),
	}}
}

func (env cmdEnv) run(t *testing.T, task commandTask) error {
	t.Helper()
	payload, err := json.Marshal(task)
	if err != nil {
		t.Fatal(err)
	}
	return env.c.Run(context.Background(), payload)
}

// must runs a comment by alice (write access by default) and forgets the
// forge calls it made, for setting a test up.
func (env cmdEnv) must(t *testing.T, body string) {
	t.Helper()
	if err := env.run(t, cmdTask("alice", body)); err != nil {
		t.Fatalf("setup %q: %v", body, err)
	}
	env.fg.calledLog()
	env.fg.mu.Lock()
	env.fg.creates, env.fg.reactions = nil, nil
	env.fg.mu.Unlock()
}

// replies returns the bodies of the comments posted since the last must.
func (env cmdEnv) replies() []string {
	creates, _ := env.fg.calls()
	var out []string
	for _, c := range creates {
		out = append(out, c.Body)
	}
	return out
}

func (env cmdEnv) exp(t *testing.T, name string) store.Experiment {
	t.Helper()
	e, err := env.db.ExperimentByKey(context.Background(), cmdRepo, pullKey(cmdPull, name))
	if err != nil {
		t.Fatalf("experiment %s: %v", name, err)
	}
	return e
}

func (env cmdEnv) all(t *testing.T) []store.Experiment {
	t.Helper()
	all, err := env.db.Experiments(context.Background(), cmdRepo)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

func params(t *testing.T, e store.Experiment) map[string]any {
	t.Helper()
	req, err := decodeRequest(e.Request)
	if err != nil {
		t.Fatalf("decode request of %s: %v", e.Key, err)
	}
	return req.Params
}

const reconcileCmdJob = `reconcile {"forge":"github","path":"acme/model"}`

func reportJob(id int64) string { return fmt.Sprintf(`report {"experiment_id":%d}`, id) }

// snapshot is what a command that must change nothing is compared against.
type snapshot struct {
	exps []store.Experiment
	jobs []string
}

func (env cmdEnv) snapshot(t *testing.T) snapshot {
	t.Helper()
	return snapshot{exps: env.all(t), jobs: env.db.jobs(t)}
}

func (env cmdEnv) unchanged(t *testing.T, before snapshot) {
	t.Helper()
	if got := env.all(t); !reflect.DeepEqual(got, before.exps) {
		t.Errorf("experiments changed:\n got %+v\nwant %+v", got, before.exps)
	}
	if got := env.db.jobs(t); !reflect.DeepEqual(got, before.jobs) {
		t.Errorf("jobs changed: got %q, want %q", got, before.jobs)
	}
}

func TestCommandsRun(t *testing.T) {
	tests := []struct {
		name   string
		cfg    CommandConfig
		before []string // comments alice made first
		// prepare runs after before, e.g. to play a reconcile run.
		prepare func(t *testing.T, env cmdEnv)
		access  map[string]forge.Access
		heads   map[int][2]string
		task    commandTask
		// reply: substrings of the one reply wanted; nil means no reply.
		reply []string
		// noChange: experiments and jobs are as before the comment.
		noChange bool
		// calls, if set, is the forge's call log wanted.
		calls []string
		check func(t *testing.T, env cmdEnv)
	}{
		{
			name:     "mistakes get the problems and the usage, nothing runs",
			task:     cmdTask("alice", "/experiment new a lr=1\n/experimnet update a lr=2"),
			reply:    []string{"No command of this comment was run", "line 2", "`/experimnet`", "<summary>Usage</summary>"},
			noChange: true,
			calls:    []string{"react eyes", "comment"},
		},
		{
			name:     "help gets the usage",
			task:     cmdTask("bob", "/experiment help"),
			access:   map[string]forge.Access{"bob": forge.Read},
			reply:    []string{command.Usage()},
			noChange: true,
			calls:    []string{"react eyes", "comment"},
		},
		{
			name:     "a comment without commands gets nothing",
			task:     cmdTask("alice", "just prose, /experiment in the middle of a line"),
			noChange: true,
			calls:    []string{"react eyes"},
		},
		{
			name:     "read access is refused by default",
			task:     cmdTask("bob", "/experiment new a lr=1"),
			access:   map[string]forge.Access{"bob": forge.Read},
			reply:    []string{"Sorry @bob", "need at least write access", "Nothing was done."},
			noChange: true,
			calls:    []string{"react eyes", "access bob", "comment"},
		},
		{
			name:     "triage access cannot preview either",
			task:     cmdTask("bob", "/experiment preview new a lr=1"),
			access:   map[string]forge.Access{"bob": forge.Triage},
			reply:    []string{"Sorry @bob", "at least write access"},
			noChange: true,
		},
		{
			name:     "a configured maintain refuses write",
			cfg:      CommandConfig{MinAccess: forge.Maintain},
			task:     cmdTask("bob", "/experiment new a lr=1"),
			access:   map[string]forge.Access{"bob": forge.Write},
			reply:    []string{"Sorry @bob", "at least maintain access"},
			noChange: true,
		},
		{
			name:   "a configured maintain lets maintainers in",
			cfg:    CommandConfig{MinAccess: forge.Maintain},
			task:   cmdTask("bob", "/experiment new a lr=1"),
			access: map[string]forge.Access{"bob": forge.Maintain},
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.Desired != store.Active || e.Requester != "bob" {
					t.Errorf("stored %+v", e)
				}
			},
		},
		{
			name:   "list needs no write access",
			before: []string{"/experiment new a lr=0.1 opt.name=adamw", "/experiment new b lr=0.2 base=v1.2"},
			task:   cmdTask("bob", "/experiment list"),
			access: map[string]forge.Access{"bob": forge.Read},
			reply: []string{
				"### Experiments of this request",
				"| `a` | `exp/mr-7-a` | `" + cmdHeadSHA + "` | pending |",
				"| `b` | `exp/mr-7-b` | `v1.2` | pending |",
				command.ParamsComparison([]string{"a", "b"}, []map[string]any{
					{"lr": 0.1, "opt": map[string]any{"name": "adamw"}},
					{"lr": 0.2},
				}),
			},
			noChange: true,
			calls:    []string{"react eyes", "comment"}, // no access check
		},
		{
			name:   "list links the branches that exist and shows pinned bases",
			before: []string{"/experiment new made", "/experiment new kept", "/experiment new gone", "/experiment new never"},
			prepare: func(t *testing.T, env cmdEnv) {
				for _, n := range []string{"made", "kept", "gone"} {
					applied(t, env, n, cmdPullSHA)
				}
				env.must(t, "/experiment delete kept\n/experiment delete gone --delete-branch\n/experiment delete never")
			},
			task: cmdTask("bob", "/experiment list"),
			reply: []string{
				"| `made` | [`exp/mr-7-made`](https://forge.test/acme/model/tree/exp/mr-7-made) | `222222222222` | applied |",
				"| `kept` | [`exp/mr-7-kept`](https://forge.test/acme/model/tree/exp/mr-7-kept) | `222222222222` | retired |",
				"| `gone` | `exp/mr-7-gone` | `222222222222` | retired |",
				"| `never` | `exp/mr-7-never` | `" + cmdHeadSHA + "` | retired |",
			},
			noChange: true,
		},
		{
			name:     "list of no experiments says how to start one",
			task:     cmdTask("bob", "/experiment list"),
			reply:    []string{"No experiments in this request yet", "/experiment new"},
			noChange: true,
		},
		{
			name:  "new: key, default branch, the head as base, typed params, jobs",
			task:  cmdTask("alice", "/experiment new lr-low lr=0.0001 epochs=3 warm=1.0 opt.name=adamw fast=true tag=\"007\""),
			calls: []string{"react eyes", "access alice"},
			check: func(t *testing.T, env cmdEnv) {
				all := env.all(t)
				if len(all) != 1 {
					t.Fatalf("%d experiments, want 1", len(all))
				}
				e := all[0]
				if e.Key != "pull:7:lr-low" || e.Name != "lr-low" || e.Branch != "exp/mr-7-lr-low" ||
					e.BaseRef != cmdHeadSHA || e.Desired != store.Active || e.Status != store.Pending ||
					e.DeleteBranch || e.Requester != "alice" || e.Generation != 1 ||
					e.SourceURL != "https://forge.test/acme/model/pull/7#comment-501" ||
					e.Thread != (event.Thread{Kind: event.PullThread, Number: cmdPull}) {
					t.Errorf("stored %+v", e)
				}
				want := map[string]any{
					"lr": 0.0001, "epochs": int64(3), "warm": 1.0, "opt": map[string]any{"name": "adamw"},
					"fast": true, "tag": "007",
				}
				if got := params(t, e); !reflect.DeepEqual(got, want) {
					t.Errorf("params %#v, want %#v", got, want)
				}
				// The stored JSON keeps 1.0 a float and 3 an integer.
				if raw := string(e.Request); !strings.Contains(raw, `"warm":1.0`) || !strings.Contains(raw, `"epochs":3,`) {
					t.Errorf("stored request %s loses number types", raw)
				}
				if req, _ := decodeRequest(e.Request); req.Base != cmdHeadSHA || req.Name != "lr-low" {
					t.Errorf("stored request name %q base %q", req.Name, req.Base)
				}
				if got, want := env.db.jobs(t), []string{reconcileCmdJob, reportJob(e.ID)}; !reflect.DeepEqual(got, want) {
					t.Errorf("jobs %q, want %q", got, want)
				}
			},
		},
		{
			name:  "new: the head from the forge when the webhook had none",
			heads: map[int][2]string{cmdPull: {"feature", cmdPullSHA}},
			task: func() commandTask {
				tk := cmdTask("alice", "/experiment new a")
				tk.HeadBranch, tk.HeadSHA = "", ""
				return tk
			}(),
			calls: []string{"react eyes", "access alice", "head 7"},
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.BaseRef != cmdPullSHA {
					t.Errorf("BaseRef %q, want %q", e.BaseRef, cmdPullSHA)
				}
			},
		},
		{
			name: "new: base= wins over the head",
			task: cmdTask("alice", "/experiment new a base=release/v1 lr=1"),
			check: func(t *testing.T, env cmdEnv) {
				e := env.exp(t, "a")
				if e.BaseRef != "release/v1" {
					t.Errorf("BaseRef %q, want release/v1", e.BaseRef)
				}
				if _, ok := params(t, e)["base"]; ok {
					t.Error("base became a parameter")
				}
			},
		},
		{
			name: "new: a yaml block",
			task: cmdTask("alice", "/experiment new a\n```yaml\nbase: v2\nmodel: m/x\nparams:\n  lr: 0.5\n```\n"),
			check: func(t *testing.T, env cmdEnv) {
				e := env.exp(t, "a")
				req, err := decodeRequest(e.Request)
				if err != nil {
					t.Fatal(err)
				}
				if e.BaseRef != "v2" || req.Model != "m/x" || !reflect.DeepEqual(req.Params, map[string]any{"lr": 0.5}) {
					t.Errorf("stored base %q request %+v", e.BaseRef, req)
				}
			},
		},
		{
			name: "new: the configured branch template",
			cfg:  CommandConfig{BranchTemplate: "{forge}/pr-{number}/{name}"},
			task: cmdTask("alice", "/experiment new a"),
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.Branch != "github/pr-7/a" {
					t.Errorf("branch %q", e.Branch)
				}
			},
		},
		{
			name:   "new of an existing name explains and changes nothing",
			before: []string{"/experiment new a lr=1"},
			task: func() commandTask {
				tk := cmdTask("alice", "/experiment new a lr=2")
				tk.CommentID, tk.CommentURL = 502, "https://forge.test/acme/model/pull/7#comment-502"
				return tk
			}(),
			reply:    []string{"Experiment `a` already exists", "/experiment update a"},
			noChange: true,
		},
		{
			// The job of a comment that made an experiment runs again when
			// its end was not recorded (the database went away): no
			// "already exists" to its own author, nothing changes.
			name:     "new run again by its own comment's job changes and says nothing",
			before:   []string{"/experiment new a lr=1"},
			task:     cmdTask("alice", "/experiment new a lr=1"),
			noChange: true,
			calls:    []string{"react eyes", "access alice"},
		},
		{
			name:   "new of a name another request uses is another experiment",
			before: []string{"/experiment new a lr=1"},
			task: func() commandTask {
				tk := cmdTask("alice", "/experiment new a lr=2")
				tk.Thread.Number = 8
				return tk
			}(),
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.Generation != 1 || !reflect.DeepEqual(params(t, e), map[string]any{"lr": int64(1)}) {
					t.Errorf("pull #7's experiment changed: %+v", e)
				}
				e, err := env.db.ExperimentByKey(context.Background(), cmdRepo, "pull:8:a")
				if err != nil || e.Branch != "exp/mr-8-a" {
					t.Errorf("pull #8's experiment: %+v, %v", e, err)
				}
			},
		},
		{
			name:   "update merges params, nested maps key by key, keeping branch and base",
			before: []string{"/experiment new a base=v1 lr=0.1 epochs=3 opt.name=adamw opt.beta=0.9"},
			task:   cmdTask("alice", "/experiment update a lr=0.2 opt.beta=0.95 opt.eps=1e-8 seed=1"),
			check: func(t *testing.T, env cmdEnv) {
				e := env.exp(t, "a")
				want := map[string]any{
					"lr": 0.2, "epochs": int64(3), "seed": int64(1),
					"opt": map[string]any{"name": "adamw", "beta": 0.95, "eps": 1e-8},
				}
				if got := params(t, e); !reflect.DeepEqual(got, want) {
					t.Errorf("params %#v, want %#v", got, want)
				}
				if e.Branch != "exp/mr-7-a" || e.BaseRef != "v1" || e.Generation != 2 || e.Status != store.Pending {
					t.Errorf("stored %+v", e)
				}
				if got, want := env.db.jobs(t), []string{reconcileCmdJob, reportJob(e.ID)}; !reflect.DeepEqual(got, want) {
					t.Errorf("jobs %q, want %q", got, want)
				}
			},
		},
		{
			name:   "update with the same base is fine",
			before: []string{"/experiment new a base=v1 lr=0.1"},
			task:   cmdTask("alice", "/experiment update a base=v1 lr=0.3"),
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.BaseRef != "v1" || params(t, e)["lr"] != 0.3 {
					t.Errorf("stored base %q params %v", e.BaseRef, params(t, e))
				}
			},
		},
		{
			name:   "update with a yaml block replaces what it sets and merges params",
			before: []string{"/experiment new a\n```yaml\nbase: v1\ndescription: first\nmodel: m/1\ndataset: d/1\nparams:\n  lr: 0.1\n  opt: {name: adamw, beta: 0.9}\n```"},
			task:   cmdTask("alice", "/experiment update a\n```yaml\nmodel: m/2\nparams:\n  opt: {beta: 0.95}\n  seed: 1\n```"),
			check: func(t *testing.T, env cmdEnv) {
				e := env.exp(t, "a")
				req, err := decodeRequest(e.Request)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]any{"lr": 0.1, "seed": int64(1), "opt": map[string]any{"name": "adamw", "beta": 0.95}}
				if req.Model != "m/2" || req.Description != "first" || req.Dataset != "d/1" || req.Base != "v1" ||
					e.BaseRef != "v1" || !reflect.DeepEqual(req.Params, want) {
					t.Errorf("stored base %q request %+v", e.BaseRef, req)
				}
			},
		},
		{
			name:     "update refuses a base change",
			before:   []string{"/experiment new a base=v1 lr=0.1"},
			task:     cmdTask("alice", "/experiment update a base=v2 lr=0.3"),
			reply:    []string{"The base of `a` cannot change"},
			noChange: true,
		},
		{
			name:     "update of an unknown name",
			before:   []string{"/experiment new a lr=0.1"},
			task:     cmdTask("alice", "/experiment update b lr=0.3"),
			reply:    []string{"There is no experiment `b` in this request", "/experiment new b"},
			noChange: true,
		},
		{
			name:    "new of a deleted name comes back on its kept branch and base",
			before:  []string{"/experiment new a base=v1 lr=1"},
			prepare: func(t *testing.T, env cmdEnv) { applied(t, env, "a", cmdPullSHA); env.must(t, "/experiment delete a") },
			task:    cmdTask("alice", "/experiment new a base=v2 lr=2"),
			check: func(t *testing.T, env cmdEnv) {
				e := env.exp(t, "a")
				if e.Desired != store.Active || e.BaseRef != "v1" || e.BaseSHA != cmdPullSHA || params(t, e)["lr"] != int64(2) {
					t.Errorf("stored %+v", e)
				}
				if req, _ := decodeRequest(e.Request); req.Base != "v1" {
					t.Errorf("stored request says base %q, the experiment v1", req.Base)
				}
			},
		},
		{
			name:   "new of a deleted name whose branch was gone takes the base asked",
			before: []string{"/experiment new a base=v1 lr=1"},
			prepare: func(t *testing.T, env cmdEnv) {
				applied(t, env, "a", cmdPullSHA)
				env.must(t, "/experiment delete a --delete-branch")
				e := env.exp(t, "a")
				if err := env.db.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
					return tx.SetOutcome(ctx, e.ID, e.Generation, store.Released, "branch deleted", "")
				}); err != nil {
					t.Fatal(err)
				}
			},
			task: cmdTask("alice", "/experiment new a base=v2 lr=2"),
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.Desired != store.Active || e.DeleteBranch || e.BaseRef != "v2" || e.BaseSHA != "" {
					t.Errorf("stored %+v", e)
				}
			},
		},
		{
			name:   "new of a deleted name never made takes the base asked",
			before: []string{"/experiment new a base=v1", "/experiment delete a"},
			task:   cmdTask("alice", "/experiment new a base=v2"),
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.Desired != store.Active || e.BaseRef != "v2" {
					t.Errorf("stored %+v", e)
				}
			},
		},
		{
			name:     "update of a deleted experiment",
			before:   []string{"/experiment new a lr=0.1", "/experiment delete a"},
			task:     cmdTask("alice", "/experiment update a lr=0.3"),
			reply:    []string{"There is no experiment `a` in this request"},
			noChange: true,
		},
		{
			name:   "delete retires and keeps the branch",
			before: []string{"/experiment new a lr=0.1"},
			task:   cmdTask("alice", "/experiment delete a"),
			check: func(t *testing.T, env cmdEnv) {
				e := env.exp(t, "a")
				if e.Desired != store.Retired || e.DeleteBranch || e.Branch != "exp/mr-7-a" || e.Generation != 2 {
					t.Errorf("stored %+v", e)
				}
				if got, want := env.db.jobs(t), []string{reconcileCmdJob, reportJob(e.ID)}; !reflect.DeepEqual(got, want) {
					t.Errorf("jobs %q, want %q", got, want)
				}
			},
		},
		{
			name:   "delete --delete-branch",
			before: []string{"/experiment new a lr=0.1"},
			task:   cmdTask("alice", "/experiment delete a --delete-branch"),
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.Desired != store.Retired || !e.DeleteBranch {
					t.Errorf("stored %+v", e)
				}
			},
		},
		{
			name:   "delete with delete-on-retire configured",
			cfg:    CommandConfig{DeleteOnRetire: true},
			before: []string{"/experiment new a lr=0.1"},
			task:   cmdTask("alice", "/experiment delete a"),
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); e.Desired != store.Retired || !e.DeleteBranch {
					t.Errorf("stored %+v", e)
				}
			},
		},
		{
			name:     "delete of an unknown name",
			task:     cmdTask("alice", "/experiment delete a"),
			reply:    []string{"There is no experiment `a` in this request to delete"},
			noChange: true,
		},
		{
			name: "new then update of the same name in one comment",
			task: cmdTask("alice", "/experiment new a lr=0.1 opt.name=sgd\n/experiment update a lr=0.2 opt.m=0.9"),
			check: func(t *testing.T, env cmdEnv) {
				e := env.exp(t, "a")
				want := map[string]any{"lr": 0.2, "opt": map[string]any{"name": "sgd", "m": 0.9}}
				if got := params(t, e); !reflect.DeepEqual(got, want) {
					t.Errorf("params %#v, want %#v", got, want)
				}
				if e.Desired != store.Active || e.BaseRef != cmdHeadSHA {
					t.Errorf("stored %+v", e)
				}
				if got, want := env.db.jobs(t), []string{reconcileCmdJob, reportJob(e.ID)}; !reflect.DeepEqual(got, want) {
					t.Errorf("jobs %q, want %q", got, want)
				}
			},
		},
		{
			name:  "new twice in one comment: the second is refused, the first stands",
			task:  cmdTask("alice", "/experiment new a lr=1\n/experiment new a lr=2"),
			reply: []string{"Experiment `a` already exists"},
			check: func(t *testing.T, env cmdEnv) {
				if e := env.exp(t, "a"); params(t, e)["lr"] != int64(1) {
					t.Errorf("params %v", params(t, e))
				}
			},
		},
		{
			name:  "new then delete then list in one comment",
			task:  cmdTask("alice", "/experiment new a\n/experiment new b\n/experiment delete a\n/experiment list"),
			reply: []string{"| `a` | `exp/mr-7-a` |", "| retired |", "| `b` | `exp/mr-7-b` |", "| pending |"},
			check: func(t *testing.T, env cmdEnv) {
				if a, b := env.exp(t, "a"), env.exp(t, "b"); a.Desired != store.Retired || b.Desired != store.Active {
					t.Errorf("a %s, b %s", a.Desired, b.Desired)
				}
			},
		},
		{
			name:     "a preview with a problem replies it without a reconciler",
			before:   []string{"/experiment new a lr=1"},
			task:     cmdTask("alice", "/experiment preview update b lr=2\n/experiment preview new a\n/experiment preview delete c"),
			reply:    []string{"There is no experiment `b`", "Experiment `a` already exists", "no experiment `c` in this request to delete"},
			noChange: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCmdEnv(t, tt.cfg)
			for _, b := range tt.before {
				env.must(t, b)
			}
			if tt.prepare != nil {
				tt.prepare(t, env)
			}
			env.fg.access, env.fg.heads = tt.access, tt.heads
			before := env.snapshot(t)

			if err := env.run(t, tt.task); err != nil {
				t.Fatalf("Run: %v", err)
			}

			log := env.fg.calledLog()
			if len(log) == 0 || log[0] != "react eyes" {
				t.Errorf("calls %q do not start with the eyes reaction", log)
			}
			wantReaction := []fakeReaction{{Repo: "acme/model", Thread: tt.task.Thread, CommentID: tt.task.CommentID, Reaction: "eyes"}}
			if !reflect.DeepEqual(env.fg.reactions, wantReaction) {
				t.Errorf("reactions %+v, want %+v", env.fg.reactions, wantReaction)
			}
			if tt.calls != nil && !reflect.DeepEqual(log, tt.calls) {
				t.Errorf("calls %q, want %q", log, tt.calls)
			}
			creates, _ := env.fg.calls()
			switch {
			case tt.reply == nil && len(creates) > 0:
				t.Errorf("unexpected reply %q", creates[0].Body)
			case tt.reply != nil && len(creates) != 1:
				t.Fatalf("%d replies, want 1", len(creates))
			case tt.reply != nil:
				c := creates[0]
				if c.Repo != "acme/model" || c.Thread != tt.task.Thread {
					t.Errorf("reply in %s %+v", c.Repo, c.Thread)
				}
				if !strings.HasPrefix(c.Body, StatusMarker+"\n") {
					t.Errorf("reply does not start with the status marker: %q", c.Body)
				}
				for _, s := range tt.reply {
					if !strings.Contains(c.Body, s) {
						t.Errorf("reply does not contain %q:\n%s", s, c.Body)
					}
				}
			}
			if tt.noChange {
				env.unchanged(t, before)
			}
			if tt.check != nil {
				tt.check(t, env)
			}
		})
	}
}

func TestCommandsRunErrors(t *testing.T) {
	transient := &forge.TransientError{Err: errors.New("502 bad gateway")}
	tests := []struct {
		name      string
		payload   func(t *testing.T) json.RawMessage
		setup     func(fg *fakeForge)
		permanent bool
		transient bool
		calls     []string
	}{
		{
			name:      "a payload that is not a task",
			payload:   func(*testing.T) json.RawMessage { return json.RawMessage(`["not", "a", "task"]`) },
			permanent: true,
		},
		{
			name:      "a payload that is not JSON",
			payload:   func(*testing.T) json.RawMessage { return json.RawMessage(`{`) },
			permanent: true,
		},
		{
			name: "a forge that is not configured",
			payload: func(t *testing.T) json.RawMessage {
				tk := cmdTask("alice", "/experiment new a")
				tk.Repo.Forge = "gitea"
				return mustJSON(t, tk)
			},
			permanent: true,
		},
		{
			name:      "a transient error checking access is retried",
			payload:   func(t *testing.T) json.RawMessage { return mustJSON(t, cmdTask("alice", "/experiment new a")) },
			setup:     func(fg *fakeForge) { fg.accessErr = transient },
			transient: true,
			calls:     []string{"react eyes", "access alice"},
		},
		{
			name:      "a transient error reacting is retried before anything else",
			payload:   func(t *testing.T) json.RawMessage { return mustJSON(t, cmdTask("alice", "/experiment new a")) },
			setup:     func(fg *fakeForge) { fg.reactErr = transient },
			transient: true,
			calls:     []string{"react eyes"},
		},
		{
			name:      "a failed reply is retried",
			payload:   func(t *testing.T) json.RawMessage { return mustJSON(t, cmdTask("alice", "/experiment delete a")) },
			setup:     func(fg *fakeForge) { fg.failing = transient },
			transient: true,
			calls:     []string{"react eyes", "access alice"},
		},
		{
			name: "the head cannot be read",
			payload: func(t *testing.T) json.RawMessage {
				tk := cmdTask("alice", "/experiment new a")
				tk.HeadSHA = ""
				return mustJSON(t, tk)
			},
			calls: []string{"react eyes", "access alice", "head 7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCmdEnv(t, CommandConfig{})
			if tt.setup != nil {
				tt.setup(env.fg)
			}
			err := env.c.Run(context.Background(), tt.payload(t))
			if err == nil {
				t.Fatal("Run succeeded, want an error")
			}
			var perm *store.PermanentError
			if got := errors.As(err, &perm); got != tt.permanent {
				t.Errorf("Run error %v: permanent %v, want %v", err, got, tt.permanent)
			}
			if got := forge.IsTransient(err); got != tt.transient {
				t.Errorf("Run error %v: transient %v, want %v", err, got, tt.transient)
			}
			log := env.fg.calledLog()
			if slices.Contains(log, "comment") {
				t.Errorf("an error was replied instead of returned: calls %q", log)
			}
			if tt.calls != nil && !reflect.DeepEqual(log, tt.calls) {
				t.Errorf("calls %q, want %q", log, tt.calls)
			}
			if all := env.all(t); len(all) != 0 {
				t.Errorf("stored %+v", all)
			}
			if jobs := env.db.jobs(t); len(jobs) != 0 {
				t.Errorf("jobs %q", jobs)
			}
		})
	}
}

// TestCommandsReactionFailureIsNotFatal: a forge that cannot react, or fails to
// for good, does not stop the commands.
func TestCommandsReactionFailureIsNotFatal(t *testing.T) {
	for _, reactErr := range []error{errors.ErrUnsupported, fmt.Errorf("403: %w", forge.ErrNotFound)} {
		t.Run(reactErr.Error(), func(t *testing.T) {
			env := newCmdEnv(t, CommandConfig{})
			env.fg.reactErr = reactErr
			if err := env.run(t, cmdTask("alice", "/experiment new a")); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if e := env.exp(t, "a"); e.Desired != store.Active {
				t.Errorf("stored %+v", e)
			}
		})
	}
}

// applied plays a successful reconcile of experiment name with its base
// resolved to sha.
func applied(t *testing.T, env cmdEnv, name, sha string) {
	t.Helper()
	e := env.exp(t, name)
	if err := env.db.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		return tx.SetOutcome(ctx, e.ID, e.Generation, store.Applied, "1 create", sha)
	}); err != nil {
		t.Fatal(err)
	}
}

// TestCommandsRefusalOnGitLab: the refusal names GitLab's roles.
func TestCommandsRefusalOnGitLab(t *testing.T) {
	for _, tt := range []struct {
		min  forge.Access
		want string
	}{
		{forge.NoAccess, "at least Developer"},
		{forge.Maintain, "at least Maintainer"},
		{forge.Admin, "at least Owner"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			db := openStore(t)
			fg := newFakeForge(event.GitLab)
			fg.access = map[string]forge.Access{"bob": forge.Triage}
			c := &Commands{Store: db, Forges: map[event.Forge]forge.Client{event.GitLab: fg}, Cfg: CommandConfig{MinAccess: tt.min}, Log: zerolog.Nop()}
			tk := cmdTask("bob", "/experiment new a")
			tk.Repo = store.RepoKey{Forge: event.GitLab, Path: "acme/ml/model"}
			if err := c.Run(context.Background(), mustJSON(t, tk)); err != nil {
				t.Fatalf("Run: %v", err)
			}
			creates, _ := fg.calls()
			if len(creates) != 1 || !strings.Contains(creates[0].Body, "need "+tt.want+" access") {
				t.Fatalf("replies %+v, want one saying %q", creates, tt.want)
			}
			if all, _ := db.Experiments(context.Background(), tk.Repo); len(all) != 0 {
				t.Errorf("stored %+v", all)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
