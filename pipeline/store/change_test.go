package store

import (
	"encoding/json"
	"testing"
	"time"
)

func TestPlanChange(t *testing.T) {
	now := time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)
	repo := RepoKey{Forge: "github", Path: "acme/llm"}
	active := func(req string) Change {
		return Change{Repo: repo, Key: "issue:1", Desired: Active, Name: "lr", Branch: "exp/1-lr", BaseRef: "main", Request: json.RawMessage(req)}
	}
	stored := Experiment{ID: 7, Repo: repo, Key: "issue:1", Desired: Active, Generation: 3, Applied: 3, Status: Applied,
		Name: "lr", Branch: "exp/1-lr", BaseRef: "main", BaseSHA: "abc", Request: json.RawMessage(`{"lr":1}`)}
	invalid := active(`{"lr":1}`)
	invalid.Status, invalid.Detail = Invalid, "line 2: bad"
	retire := Change{Repo: repo, Key: "issue:1", Desired: Retired}
	otherBase := active(`{"lr":1}`)
	otherBase.BaseRef = "dev"

	tests := []struct {
		name      string
		old       *Experiment
		change    Change
		write     bool
		gen       int64
		status    Status
		baseSHA   string
		wantError bool
	}{
		{name: "new", change: active(`{"lr":1}`), write: true, gen: 1, status: Pending},
		{name: "retire of nothing makes nothing", change: retire},
		{name: "same request changes nothing", old: &stored, change: active(`{"lr":1}`), gen: 3, status: Applied, baseSHA: "abc"},
		{name: "new params bump the generation", old: &stored, change: active(`{"lr":2}`), write: true, gen: 4, status: Pending, baseSHA: "abc"},
		{name: "another base unpins the SHA", old: &stored, change: otherBase, write: true, gen: 4, status: Pending},
		{name: "an invalid edit keeps the request", old: &stored, change: invalid, write: true, gen: 4, status: Invalid, baseSHA: "abc"},
		{name: "retire", old: &stored, change: retire, write: true, gen: 4, status: Pending, baseSHA: "abc"},
		{name: "no key", change: Change{Repo: repo, Desired: Active}, wantError: true},
		{name: "bad desired", change: Change{Repo: repo, Key: "k", Desired: "maybe"}, wantError: true},
		{name: "bad status", change: Change{Repo: repo, Key: "k", Desired: Active, Status: Applied}, wantError: true},
		{name: "bad JSON", change: Change{Repo: repo, Key: "k", Desired: Active, Request: json.RawMessage(`{`)}, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next, write, err := PlanChange(tt.old, tt.change, now)
			if (err != nil) != tt.wantError {
				t.Fatalf("error %v, want error %v", err, tt.wantError)
			}
			if err != nil {
				return
			}
			if write != tt.write || next.Generation != tt.gen || next.Status != tt.status || next.BaseSHA != tt.baseSHA {
				t.Errorf("got write=%v gen=%d status=%q base_sha=%q, want %v %d %q %q",
					write, next.Generation, next.Status, next.BaseSHA, tt.write, tt.gen, tt.status, tt.baseSHA)
			}
			if tt.change.Status == Invalid && string(next.Request) != `{"lr":1}` {
				t.Errorf("an invalid change replaced the request with %s", next.Request)
			}
		})
	}
}
