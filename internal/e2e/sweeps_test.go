package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/pipeline"
)

const sweepFile = `name: lr
params:
  epochs: 3
matrix:
  lr: [0.1, 0.01]
  batch_size: [16, 32]
  exclude:
    - {lr: 0.1, batch_size: 32}
  include:
    - {lr: 0.001, batch_size: 64}
`

// commitComment returns the bot's comment on a commit, if any.
func (h *harness) commitComment(repo, sha string) (state.Comment, bool) {
	var out state.Comment
	found := false
	_ = h.forge.WithRepo(repo, func(r *state.Repo) error {
		for _, c := range r.Comments(0, sha) {
			if strings.Contains(c.Body, pipeline.StatusMarker) {
				out, found = *c, true
			}
		}
		return nil
	})
	return out, found
}

func (h *harness) waitCommitComment(t *testing.T, repo, sha string, want ...string) state.Comment {
	t.Helper()
	var c state.Comment
	h.waitFor(t, fmt.Sprintf("a comment on %s saying %q", sha[:8], want), func() bool {
		var ok bool
		c, ok = h.commitComment(repo, sha)
		return ok && containsAll(c.Body, want)
	})
	return c
}

// sweepBranches returns the branches of a tag's sweep with their state.
func (h *harness) sweepBranches(repo, tag string) map[string]branchInfo {
	out := map[string]branchInfo{}
	for _, b := range h.branches(repo) {
		if strings.HasPrefix(b, "exp/"+tag+"/") {
			out[b] = h.branch(repo, b)
		}
	}
	return out
}

func push(t *testing.T, h *harness, repo string, files map[string]string) string {
	t.Helper()
	var changes []state.FileChange
	for p, c := range files {
		changes = append(changes, state.FileChange{Path: p, Content: []byte(c)})
	}
	c, _, err := h.forge.PushFiles(repo, "main", "alice", "update", changes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SHA
}

func TestTagSweeps(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			first := push(t, h, repo, map[string]string{".expbot/sweep.yaml": sweepFile})

			// A tag that doesn't match the pattern is acknowledged and ignored.
			if _, err := h.forge.PushTag(repo, "alice", "v1.0", first); err != nil {
				t.Fatal(err)
			}
			if last := h.sim.Deliveries()[len(h.sim.Deliveries())-1]; last.Status != http.StatusOK {
				t.Errorf("non-matching tag answered %d, want 200", last.Status)
			}
			if c, ok := h.commitComment(repo, first); ok {
				t.Errorf("a non-matching tag got a comment:\n%s", c.Body)
			}

			// The sweep: 2x2 minus one excluded plus one included = 4 branches.
			if _, err := h.forge.PushTag(repo, "alice", "sweep-1", first); err != nil {
				t.Fatal(err)
			}
			c := h.waitCommitComment(t, repo, first, "all 4 branches ready")
			branches := h.sweepBranches(repo, "sweep-1")
			if len(branches) != 4 {
				t.Fatalf("sweep made branches %v, want 4", branches)
			}
			lrs := map[string]int{}
			for name, b := range branches {
				if b.parent != first || !strings.Contains(b.file, "epochs: 3") {
					t.Errorf("branch %s = %+v, want one commit on %s with the common params", name, b, first)
				}
				if !strings.Contains(b.file, "# Managed by expbot from the sweep definition at the tagged commit at source") {
					t.Errorf("the variant file on %s does not name the tagged commit:\n%s", name, b.file)
				}
				for _, lr := range []string{"0.1", "0.01", "0.001"} {
					if strings.Contains(b.file, "lr: "+lr+"\n") {
						lrs[lr]++
					}
				}
				if !strings.Contains(c.Body, name) {
					t.Errorf("comment does not list %s:\n%s", name, c.Body)
				}
			}
			if lrs["0.1"] != 1 || lrs["0.01"] != 2 || lrs["0.001"] != 1 {
				t.Errorf("learning rates over the branches = %v, want 0.1 once (one excluded), 0.01 twice, 0.001 once (included)", lrs)
			}

			// Moving the tag recreates the branches from the new commit.
			second := push(t, h, repo, map[string]string{"train.py": "print('v2')\n"})
			if _, err := h.forge.PushTag(repo, "alice", "sweep-1", second); err != nil {
				t.Fatal(err)
			}
			h.waitCommitComment(t, repo, second, "all 4 branches ready")
			for name, b := range h.sweepBranches(repo, "sweep-1") {
				if b.parent != second {
					t.Errorf("after the move %s = %+v, want it on %s", name, b, second)
				}
			}

			// Deleting the tag retires the sweep; branches are kept by default.
			if _, err := h.forge.RemoveTag(repo, "alice", "sweep-1"); err != nil {
				t.Fatal(err)
			}
			h.waitCommitComment(t, repo, second, "retired")
			if n := len(h.sweepBranches(repo, "sweep-1")); n != 4 {
				t.Errorf("%d branches after the tag was deleted, want the 4 kept", n)
			}

			// Over the limit: refused with a clear comment, nothing made.
			big := "matrix:\n  a: [1,2,3,4,5,6,7,8,9]\n  b: [1,2,3,4,5,6,7,8,9]\n"
			third := push(t, h, repo, map[string]string{".expbot/sweep.yaml": big})
			if _, err := h.forge.PushTag(repo, "alice", "sweep-big", third); err != nil {
				t.Fatal(err)
			}
			r := h.waitCommitComment(t, repo, third, "refused")
			if !strings.Contains(r.Body, "81") || !strings.Contains(r.Body, "64") {
				t.Errorf("refusal does not say how many and the limit:\n%s", r.Body)
			}
			if n := len(h.sweepBranches(repo, "sweep-big")); n != 0 {
				t.Errorf("a refused sweep made %d branches", n)
			}
		})
	}
}
