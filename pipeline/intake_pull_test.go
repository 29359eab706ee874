package pipeline

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/allow"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// pullRepo is acme/model on forge.test, the repository of these tests.
func pullRepo(path string) event.Repo {
	return event.Repo{Forge: event.GitHub, Host: "forge.test", Path: path, ID: 7, DefaultBranch: "trunk"}
}

// commentOn is a comment by alice on pull request #7 of repo path.
func commentOn(path, body string) *event.CommentCreated {
	return &event.CommentCreated{
		Repo:      pullRepo(path),
		Thread:    event.Thread{Kind: event.PullThread, Number: 7},
		CommentID: 501, Body: body, URL: "https://forge.test/" + path + "/pull/7#comment-501",
		Actor:      event.Actor{ID: 3, Login: "alice"},
		HeadBranch: "feature", HeadSHA: cmdHeadSHA,
	}
}

func pullChange(path string, number int, open, wasOpen, merged bool) *event.PullChange {
	return &event.PullChange{
		Repo: pullRepo(path), Number: number, Open: open, WasOpen: wasOpen, Merged: merged,
		Actor: event.Actor{ID: 3, Login: "alice"}, At: testTime,
	}
}

func record(t *testing.T, in *Intake, id, name string, p event.Event) event.Outcome {
	t.Helper()
	out, err := in.Record(context.Background(), event.Delivery{
		Forge: event.GitHub, ID: id, Event: name, ReceivedAt: testTime, Payload: p,
	})
	if err != nil {
		t.Fatalf("Record(%s): %v", id, err)
	}
	return out
}

// taskJobs decodes the queued task jobs.
func taskJobs(t *testing.T, db testDB) []commandTask {
	t.Helper()
	var out []commandTask
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
			t.Fatalf("task job %s: %v", j, err)
		}
		if a.Task != TaskCommand {
			t.Errorf("task kind %q, want %q", a.Task, TaskCommand)
		}
		var ct commandTask
		if err := json.Unmarshal(a.Payload, &ct); err != nil {
			t.Fatalf("task payload %s: %v", a.Payload, err)
		}
		out = append(out, ct)
	}
	return out
}

func TestIntakeRecordComment(t *testing.T) {
	tests := []struct {
		name    string
		comment func() *event.CommentCreated
		want    event.Outcome
	}{
		{"commands", func() *event.CommentCreated {
			return commentOn("acme/model", "/experiment new a lr=1\n/experiment list")
		}, event.OutcomeAccepted},
		{"a mistake still gets an answer", func() *event.CommentCreated { return commentOn("acme/model", "/experimnet new a") }, event.OutcomeAccepted},
		{"help", func() *event.CommentCreated { return commentOn("acme/model", "/experiment help") }, event.OutcomeAccepted},
		{"from a bot", func() *event.CommentCreated {
			c := commentOn("acme/model", "/experiment new a")
			c.Actor.Bot = true
			return c
		}, event.OutcomeIgnored},
		{"our own status comment", func() *event.CommentCreated {
			return commentOn("acme/model", StatusMarker+"\nSay `/experiment new a` to start.\n/experiment new a")
		}, event.OutcomeIgnored},
		{"no command line", func() *event.CommentCreated {
			return commentOn("acme/model", "LGTM; try /experiment new a later\n> /experiment new b\n```\n/experiment new c\n```")
		}, event.OutcomeIgnored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			in := &Intake{Store: db}
			c := tt.comment()
			if out := record(t, in, "d-1", "issue_comment", c); out != tt.want {
				t.Fatalf("outcome %v, want %v", out, tt.want)
			}
			if tt.want == event.OutcomeIgnored {
				if jobs := db.jobs(t); len(jobs) != 0 {
					t.Errorf("jobs %q, want none", jobs)
				}
				// The delivery was not recorded either: the same id with a
				// comment to act on is new.
				if out := record(t, in, "d-1", "issue_comment", commentOn("acme/model", "/experiment list")); out != event.OutcomeAccepted {
					t.Errorf("the ignored delivery was recorded: a later one with its id is %v", out)
				}
				return
			}
			want := []commandTask{{
				Delivery: "d-1", Repo: store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, Thread: c.Thread,
				CommentID: 501, CommentURL: c.URL, Body: c.Body, Actor: c.Actor,
				HeadBranch: "feature", HeadSHA: cmdHeadSHA,
			}}
			if got := taskJobs(t, db); !reflect.DeepEqual(got, want) {
				t.Errorf("tasks\n %+v\nwant\n %+v", got, want)
			}
			if jobs := db.jobs(t); len(jobs) != 1 {
				t.Errorf("jobs %q, want the task only", jobs)
			}
			// Nothing is decided at intake: no experiment yet.
			if all, err := db.Experiments(context.Background(), cmdRepo); err != nil || len(all) != 0 {
				t.Errorf("experiments %+v, %v", all, err)
			}

			if out := record(t, in, "d-1", "issue_comment", c); out != event.OutcomeDuplicate {
				t.Errorf("redelivery outcome %v, want Duplicate", out)
			}
			if got := taskJobs(t, db); len(got) != 1 {
				t.Errorf("%d tasks after a redelivery, want 1", len(got))
			}
		})
	}
}

// seedPulls stores experiments of repo path: a and b of pull #7, c of pull
// #7 already retired, a of pulls #8 and #70 (whose key shares the text
// "pull:7" with #7's), and an issue's. It returns them by key.
func seedPulls(t *testing.T, db testDB, path string) map[string]store.Experiment {
	t.Helper()
	ctx := context.Background()
	repo := store.RepoKey{Forge: event.GitHub, Path: path}
	change := func(key string, d store.Desired) store.Change { return seedChange(path, key, d) }
	err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		for _, ch := range []store.Change{
			change("pull:7:a", store.Active), change("pull:7:b", store.Active), change("pull:7:c", store.Active),
			change("pull:8:a", store.Active), change("pull:70:a", store.Active), change("issue:7", store.Active),
			change("pull:7:c", store.Retired),
		} {
			if _, _, err := tx.ApplyChange(ctx, ch); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	all, err := db.Experiments(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Experiment{}
	for _, e := range all {
		out[e.Key] = e
	}
	if len(out) != 6 {
		t.Fatalf("seeded %d experiments, want 6", len(out))
	}
	return out
}

// seedChange makes experiment key of repo path desired d.
func seedChange(path, key string, d store.Desired) store.Change {
	name := key[strings.LastIndex(key, ":")+1:]
	return store.Change{
		Repo: store.RepoKey{Forge: event.GitHub, Path: path}, Key: key, Desired: d, Status: store.Pending, Name: name,
		Branch: "exp/" + strings.ReplaceAll(key, ":", "-"), BaseRef: cmdHeadSHA,
		Request: json.RawMessage(`{"Name":"` + name + `","Params":{"lr":1}}`), Requester: "alice",
		Thread: event.Thread{Kind: event.PullThread, Number: 7},
	}
}

func TestIntakeRecordPull(t *testing.T) {
	tests := []struct {
		name   string
		cfg    IntakeConfig
		change *event.PullChange
		want   event.Outcome
	}{
		{name: "closed", change: pullChange("acme/model", 7, false, true, false), want: event.OutcomeAccepted},
		{name: "merged", change: pullChange("acme/model", 7, false, true, true), want: event.OutcomeAccepted},
		{name: "merged, delete on retire", cfg: IntakeConfig{DeleteOnRetire: true}, change: pullChange("acme/model", 7, false, true, true), want: event.OutcomeAccepted},
		{name: "opened", change: pullChange("acme/model", 7, true, false, false), want: event.OutcomeIgnored},
		{name: "reopened", change: pullChange("acme/model", 7, true, false, false), want: event.OutcomeIgnored},
		{name: "still open", change: pullChange("acme/model", 7, true, true, false), want: event.OutcomeIgnored},
		{name: "closed while closed", change: pullChange("acme/model", 7, false, false, false), want: event.OutcomeIgnored},
		{name: "closed, no experiments", change: pullChange("acme/model", 9, false, true, false), want: event.OutcomeIgnored},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t)
			before := seedPulls(t, db, "acme/model")
			in := &Intake{Store: db, Cfg: tt.cfg}
			if out := record(t, in, "d-1", "pull_request", tt.change); out != tt.want {
				t.Fatalf("outcome %v, want %v", out, tt.want)
			}
			after := seedless(t, db)
			retired := map[string]bool{}
			if tt.want == event.OutcomeAccepted {
				retired = map[string]bool{"pull:7:a": true, "pull:7:b": true}
			}
			var wantJobs []string
			for key, old := range before {
				e := after[key]
				if !retired[key] {
					if !reflect.DeepEqual(e, old) {
						t.Errorf("%s changed:\n got %+v\nwant %+v", key, e, old)
					}
					continue
				}
				if e.Desired != store.Retired || e.DeleteBranch != tt.cfg.DeleteOnRetire || e.Status != store.Pending ||
					e.Generation != old.Generation+1 || e.Branch != old.Branch || e.BaseRef != old.BaseRef ||
					string(e.Request) != string(old.Request) {
					t.Errorf("%s after the close: %+v", key, e)
				}
				wantJobs = append(wantJobs, reportJob(e.ID))
			}
			if len(wantJobs) > 0 {
				wantJobs = append(wantJobs, reconcileCmdJob)
			}
			got := db.jobs(t)
			if !sameSet(got, wantJobs) {
				t.Errorf("jobs %q, want %q", got, wantJobs)
			}
			if tt.want == event.OutcomeIgnored {
				return
			}
			depth := db.queueDepth(t)
			// A redelivery changes nothing more. (It is Ignored rather than
			// Duplicate: nothing is active any more when it is read, before
			// the delivery id is looked at.)
			if out := record(t, in, "d-1", "pull_request", tt.change); out != event.OutcomeDuplicate && out != event.OutcomeIgnored {
				t.Errorf("redelivery outcome %v, want Duplicate or Ignored", out)
			}
			if again := seedless(t, db); !reflect.DeepEqual(again, after) {
				t.Error("the redelivery changed experiments")
			}
			// Once there is something active again, the redelivery is
			// recognised as one and still retires nothing.
			late := seedChange("acme/model", "pull:7:z", store.Active)
			if err := db.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
				_, _, err := tx.ApplyChange(ctx, late)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if out := record(t, in, "d-1", "pull_request", tt.change); out != event.OutcomeDuplicate {
				t.Errorf("redelivery outcome %v, want Duplicate", out)
			}
			if z := seedless(t, db)["pull:7:z"]; z.Desired != store.Active || z.Generation != 1 {
				t.Errorf("a redelivery retired %+v", z)
			}
			if n := db.queueDepth(t); n != depth {
				t.Errorf("QueueDepth %d after the redelivery, was %d", n, depth)
			}
			// The same close sent again under a new id is a repeat and
			// retires nothing; a later close (reopened and closed again)
			// retires it.
			if out := record(t, in, "d-2", "pull_request", tt.change); out != event.OutcomeIgnored {
				t.Errorf("the same close under a new id: outcome %v, want Ignored", out)
			}
			if z := seedless(t, db)["pull:7:z"]; z.Desired != store.Active {
				t.Errorf("a repeated close retired %+v", z)
			}
			later := *tt.change
			later.At = later.At.Add(time.Second)
			if out := record(t, in, "d-3", "pull_request", &later); out != event.OutcomeAccepted {
				t.Errorf("second close outcome %v, want Accepted", out)
			}
			if z := seedless(t, db)["pull:7:z"]; z.Desired != store.Retired {
				t.Errorf("the second close left %+v", z)
			}
		})
	}
}

// seedless reads the experiments of acme/model by key.
func seedless(t *testing.T, db testDB) map[string]store.Experiment {
	t.Helper()
	all, err := db.Experiments(context.Background(), store.RepoKey{Forge: event.GitHub, Path: "acme/model"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.Experiment{}
	for _, e := range all {
		out[e.Key] = e
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestIntakeAllowlist(t *testing.T) {
	list, err := allow.Parse([]string{"forge.test/acme/*", "!forge.test/acme/secret"})
	if err != nil {
		t.Fatal(err)
	}
	label := []string{"new-experiment"}
	issue := func(path string) event.Event {
		c := issueChange(event.GitHub, validBody, nil, label)
		c.Repo = pullRepo(path)
		return c
	}
	payloads := []struct {
		name  string
		event string
		p     func(path string) event.Event
	}{
		{"issue change", "issues", issue},
		{"comment", "issue_comment", func(path string) event.Event { return commentOn(path, "/experiment new a") }},
		{"pull closed", "pull_request", func(path string) event.Event { return pullChange(path, 7, false, true, true) }},
	}
	repos := []struct {
		path string
		want event.Outcome
	}{
		{"acme/model", event.OutcomeAccepted},
		{"other/model", event.OutcomeIgnored},
		{"acme/secret", event.OutcomeIgnored},
		{"acme/model/sub", event.OutcomeIgnored}, // * is one segment
	}
	for _, p := range payloads {
		for _, r := range repos {
			t.Run(p.name+" in "+r.path, func(t *testing.T) {
				db := openStore(t)
				seedPulls(t, db, r.path)
				repo := store.RepoKey{Forge: event.GitHub, Path: r.path}
				before, err := db.Experiments(context.Background(), repo)
				if err != nil {
					t.Fatal(err)
				}
				in := &Intake{Store: db, Allow: list}
				if out := record(t, in, "d-1", p.event, p.p(r.path)); out != r.want {
					t.Fatalf("outcome %v, want %v", out, r.want)
				}
				after, err := db.Experiments(context.Background(), repo)
				if err != nil {
					t.Fatal(err)
				}
				n := db.queueDepth(t)
				if r.want == event.OutcomeAccepted {
					if n == 0 && reflect.DeepEqual(after, before) {
						t.Error("an allowed delivery was accepted but did nothing")
					}
					return
				}
				if n != 0 {
					t.Errorf("jobs %q, want none", db.jobs(t))
				}
				if !reflect.DeepEqual(after, before) {
					t.Errorf("experiments changed:\n got %+v\nwant %+v", after, before)
				}
				// Not even the delivery was recorded.
				if out := record(t, &Intake{Store: db}, "d-1", p.event, p.p(r.path)); out == event.OutcomeDuplicate {
					t.Error("the ignored delivery was recorded")
				}
			})
		}
	}
}
