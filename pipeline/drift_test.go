package pipeline

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
)

// TestClassifyDrift: what a preview after a refresh would do tells which
// experiments drifted and how; steps of other experiments (pending work,
// retired branches) are not drift; deletes and replaces are refused.
func TestClassifyDrift(t *testing.T) {
	a := store.Experiment{Key: "issue:1", Branch: "exp/1-a"}
	b := store.Experiment{Key: "issue:2", Branch: "exp/2-b"}
	br := func(e store.Experiment) string { return resourceName(e.Key, "branch") }
	fl := func(e store.Experiment) string { return resourceName(e.Key, "file") }
	other := store.Experiment{Key: "pull:3:c"}
	tests := []struct {
		name   string
		steps  []step
		want   map[string]string // key -> kind
		unsafe int
	}{
		{"nothing differs", []step{{"same", br(a)}, {"same", fl(a)}, {"same", br(b)}, {"same", fl(b)}}, map[string]string{}, 0},
		{"branch deleted: branch and file made again", []step{{"create", br(a)}, {"create", fl(a)}, {"same", br(b)}}, map[string]string{"issue:1": BranchDeleted}, 0},
		{"file deleted", []step{{"same", br(a)}, {"create", fl(a)}}, map[string]string{"issue:1": FileDeleted}, 0},
		{"file changed", []step{{"same", br(b)}, {"update", fl(b)}}, map[string]string{"issue:2": FileChanged}, 0},
		{"two at once", []step{{"update", fl(a)}, {"create", br(b)}, {"create", fl(b)}}, map[string]string{"issue:1": FileChanged, "issue:2": BranchDeleted}, 0},
		{"pending work of another experiment is not drift", []step{{"create", br(other)}, {"delete", fl(other)}, {"same", fl(a)}}, map[string]string{}, 0},
		{"a replace is refused", []step{{"replace", br(a)}, {"create-replacement", br(a)}, {"delete-replaced", br(a)}}, map[string]string{}, 3},
		{"a delete is refused", []step{{"delete", fl(b)}}, map[string]string{}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repairs, unsafe := classifyDrift(tt.steps, []store.Experiment{a, b})
			got := map[string]string{}
			for _, r := range repairs {
				got[r.exp.Key] = r.kind
			}
			if !reflect.DeepEqual(got, tt.want) || len(unsafe) != tt.unsafe {
				t.Errorf("repairs %v unsafe %v, want %v and %d unsafe", got, unsafe, tt.want, tt.unsafe)
			}
		})
	}
}

// TestRepairNote: the status comment says what was repaired and when, and
// shows it in its own row.
func TestRepairNote(t *testing.T) {
	e := store.Experiment{Key: "issue:1", Name: "a", Branch: "exp/1-a", BaseSHA: "0123456789abcdef0123456789abcdef01234567", Status: store.Applied, Desired: store.Active}
	at := time.Date(2026, 12, 6, 4, 5, 0, 0, time.FixedZone("CET", 3600))
	for kind, want := range map[string]string{
		BranchDeleted: "Repaired 2026-12-06 03:05 UTC: the branch had been deleted; it was made again from its base `0123456789ab` with `run/v.yaml`.",
		FileChanged:   "Repaired 2026-12-06 03:05 UTC: `run/v.yaml` had been changed on the branch; a new commit restores it.",
		FileDeleted:   "Repaired 2026-12-06 03:05 UTC: `run/v.yaml` had been deleted from the branch; a new commit restores it.",
	} {
		got := repairNote(repair{e, kind}, "run/v.yaml", at)
		if got != want {
			t.Errorf("%s: %q, want %q", kind, got, want)
		}
		e.Detail = got
		body := RenderStatus(e, fakeLinks{}, "run/v.yaml")
		if !strings.Contains(body, "| Drift | "+got+" |") || strings.Contains(body, "| Pulumi |") {
			t.Errorf("%s: the status comment does not show the repair in its own row:\n%s", kind, body)
		}
	}
}

type fakeLinks struct{}

func (fakeLinks) BranchURL(repo, branch string) string {
	return "https://forge.example/" + repo + "/tree/" + branch
}
func (fakeLinks) CommitURL(repo, sha string) string {
	return "https://forge.example/" + repo + "/commit/" + sha
}

func TestParseRepo(t *testing.T) {
	tests := map[string]string{ // input -> "forge path" or "!" for an error
		"github:acme/llm":          "github acme/llm",
		"gitlab:group/sub/project": "gitlab group/sub/project",
		"gitlab:/acme/vision/":     "gitlab acme/vision",
		"github:acme/a/b":          "!",
		"gitea:acme/llm":           "!",
		"acme/llm":                 "!",
		"github:":                  "!",
		"github:llm":               "!",
		"github:acme//llm":         "!",
		"github:acme/llm maybe":    "!",
		"":                         "!",
	}
	for in, want := range tests {
		repo, err := ParseRepo(in)
		got := string(repo.Forge) + " " + repo.Path
		if err != nil {
			got = "!"
		}
		if got != want {
			t.Errorf("ParseRepo(%q) = %q (%v), want %q", in, got, err, want)
		}
	}
}
