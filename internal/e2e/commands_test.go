package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// openPull pushes a change on a feature branch and opens a pull/merge
// request from it; it returns the request's number and its head commit.
func openPull(t *testing.T, h *harness, repo, branch string) (int, string) {
	t.Helper()
	c, _, err := h.forge.PushFiles(repo, branch, "alice", "new data loader", []state.FileChange{{Path: "loader.py", Content: []byte("print('v2')\n")}})
	if err != nil {
		t.Fatal(err)
	}
	pr, _, err := h.forge.OpenPull(repo, "alice", "New loader", "", branch, "")
	if err != nil {
		t.Fatal(err)
	}
	return pr.Number, c.SHA
}

// comment posts as login and returns the comment.
func comment(t *testing.T, h *harness, repo string, number int, login, body string) state.Comment {
	t.Helper()
	c, _, err := h.forge.Comment(repo, number, "", login, body)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitBotComment waits for a bot comment in the thread containing every
// one of want, and returns it.
func (h *harness) waitBotComment(t *testing.T, repo string, number int, want ...string) state.Comment {
	t.Helper()
	var found state.Comment
	h.waitFor(t, fmt.Sprintf("a bot comment on #%d with %q", number, want), func() bool {
		for _, c := range h.statusComments(repo, number) {
			if containsAll(c.Body, want) {
				found = c
				return true
			}
		}
		return false
	})
	return found
}

func containsAll(s string, subs []string) bool {
	for _, w := range subs {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

func (h *harness) reactions(repo string, id int64) []string {
	var out []string
	_ = h.forge.WithRepo(repo, func(r *state.Repo) error {
		if c, ok := r.Comment(id); ok {
			out = slices.Clone(c.Reactions)
		}
		return nil
	})
	return out
}

func TestExperimentCommands(t *testing.T) {
	h := newHarness(t)
	h.forge.AddUser("bob", "Bob", "bob@example.com", "bob-token", false)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			if err := h.forge.SetAccess(repo, "bob", state.Reporter); err != nil {
				t.Fatal(err)
			}
			number, head := openPull(t, h, repo, "feature/loader-"+flavor)
			branchA := fmt.Sprintf("exp/mr-%d-lr-a", number)
			branchB := fmt.Sprintf("exp/mr-%d-lr-b", number)

			// Several commands in one comment, run in order; an eyes reaction first.
			c := comment(t, h, repo, number, "alice", "Let's try two rates.\n/experiment new lr-a lr=0.1 batch=32\n/experiment new lr-b lr=0.2 batch=32\n")
			h.waitBotComment(t, repo, number, "lr-a", "is ready")
			h.waitBotComment(t, repo, number, "lr-b", "is ready")
			if r := h.reactions(repo, c.ID); !slices.ContainsFunc(r, func(s string) bool { return strings.HasPrefix(s, "eyes:") }) {
				t.Errorf("reactions on the command = %v, want eyes", r)
			}
			a := h.branch(repo, branchA)
			if !a.exists || a.parent != head || !strings.Contains(a.file, "lr: 0.1") {
				t.Fatalf("branch %s = %+v, want one commit on the request's head %s with lr 0.1", branchA, a, head)
			}
			request := map[string]string{"github": "pull request", "gitlab": "merge request"}[flavor]
			if !strings.Contains(a.file, "# Managed by expbot from an /experiment command in the "+request+" comment at source") {
				t.Errorf("the variant file's header does not name the %s comment:\n%s", request, a.file)
			}

			// Update: a new commit of the variant file, other params kept.
			comment(t, h, repo, number, "alice", "/experiment update lr-a lr=0.05")
			h.waitFor(t, "lr-a to be updated", func() bool { return strings.Contains(h.branch(repo, branchA).file, "lr: 0.05") })
			if u := h.branch(repo, branchA); u.parent != a.head || !strings.Contains(u.file, "batch: 32") {
				t.Errorf("after update %s = %+v, want a commit on %s keeping batch", branchA, u, a.head)
			}

			// List: both experiments and a comparison marking lr as different.
			comment(t, h, repo, number, "alice", "/experiment list")
			l := h.waitBotComment(t, repo, number, "Experiments of this request", branchA, branchB)
			if !strings.Contains(l.Body, "0.05") || !strings.Contains(l.Body, "0.2") {
				t.Errorf("list reply lacks the params:\n%s", l.Body)
			}

			// Preview: says what would change, changes nothing.
			before := h.branches(repo)
			comment(t, h, repo, number, "alice", "/experiment preview new lr-c lr=0.3")
			p := h.waitBotComment(t, repo, number, "Preview of")
			branchC := fmt.Sprintf("exp/mr-%d-lr-c", number)
			if !containsAll(p.Body, []string{"Nothing was changed", "- create branch `" + branchC + "` from `" + head[:12] + "`", "- commit `experiment.yaml` on branch `" + branchC + "`"}) ||
				strings.Contains(p.Body, "-branch`") || strings.Contains(p.Body, "-file`") {
				t.Errorf("preview reply does not name the real branch and file:\n%s", p.Body)
			}
			// A preview of an update shows the params that change.
			comment(t, h, repo, number, "alice", "/experiment preview update lr-b lr=0.3")
			p = h.waitBotComment(t, repo, number, "Preview of `lr-b`")
			if !containsAll(p.Body, []string{"- commit a new version of `experiment.yaml` on branch `" + branchB + "`", "| `lr` | `0.2` → `0.3` |"}) || strings.Contains(p.Body, "`batch`") {
				t.Errorf("update preview reply:\n%s", p.Body)
			}
			if after := h.branches(repo); !slices.Equal(before, after) {
				t.Errorf("preview changed branches: %v -> %v", before, after)
			}

			// A user without write access is refused and nothing happens.
			comment(t, h, repo, number, "bob", "/experiment delete lr-a --delete-branch")
			h.waitBotComment(t, repo, number, "Sorry @bob")
			if !h.branch(repo, branchA).exists {
				t.Fatalf("a refused delete removed %s", branchA)
			}

			// An edited comment is not a command.
			c2 := comment(t, h, repo, number, "alice", "nothing here")
			if _, _, err := h.forge.EditComment(repo, c2.ID, "alice", "/experiment delete lr-b --delete-branch"); err != nil {
				t.Fatal(err)
			}

			// Delete with --delete-branch removes the branch; the other stays.
			comment(t, h, repo, number, "alice", "/experiment delete lr-a --delete-branch")
			h.waitFor(t, branchA+" to be deleted", func() bool { return !h.branch(repo, branchA).exists })
			if !h.branch(repo, branchB).exists {
				t.Errorf("%s vanished: the edited comment ran", branchB)
			}

			// Help and near-misses get a usage reply.
			comment(t, h, repo, number, "alice", "/experiment nwe lr-d")
			h.waitBotComment(t, repo, number, "did you mean", "new")

			// Merging retires what is left (the default keeps the branch).
			if _, err := h.forge.SetIssueState(repo, number, "alice", "merged"); err != nil {
				t.Fatal(err)
			}
			h.waitBotComment(t, repo, number, "lr-b", "retired")
			if !h.branch(repo, branchB).exists {
				t.Errorf("merging deleted %s; the default keeps it", branchB)
			}
		})
	}
}
