package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// issueEvent is the webhook event name of an issue change per flavour.
var issueEvent = map[string]string{"github": "issues", "gitlab": "Issue Hook"}

// act runs a forge action and returns the one delivery of event it caused.
func (h *harness) act(t *testing.T, event string, action func() ([]state.Event, error)) forgesim.Delivery {
	t.Helper()
	before := len(h.sim.Deliveries())
	if _, err := action(); err != nil {
		t.Fatal(err)
	}
	var found []forgesim.Delivery
	for _, d := range h.sim.Deliveries()[before:] {
		if d.Event == event {
			found = append(found, d)
		}
	}
	if len(found) != 1 || found[0].Status != http.StatusAccepted {
		t.Fatalf("action made deliveries %+v, want one accepted %s", found, event)
	}
	return found[0]
}

// nextSecond waits for the clock's second to change: the forges time
// issues in whole seconds, and this test is about deliveries whose times
// tell their order.
func nextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now) + 10*time.Millisecond)
}

// waitIdle waits until the bot has no queued or running work.
func (h *harness) waitIdle(t *testing.T) {
	t.Helper()
	h.waitFor(t, "the bot's queue to empty", func() bool { return h.metric("expbot_queue_depth ") == "0" })
}

// resendLate sends an earlier delivery's exact bytes again under a new id,
// as a late retry would arrive, and checks that the bot calls it stale.
func (h *harness) resendLate(t *testing.T, d forgesim.Delivery, newID string) {
	t.Helper()
	again, err := h.sim.ResendAs(context.Background(), d.ID, newID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != http.StatusAccepted || !strings.Contains(again.ResponseBody, `"stale"`) {
		t.Fatalf("late delivery of %s answered %d %s, want 202 stale", d.ID, again.Status, again.ResponseBody)
	}
}

// TestLateIssueDeliveriesNeverUndoNewerOnes: the issue's body, labels and
// state, each delivered again late under a new id, interleaved with newer
// changes, on both forges: the branch and the comment follow the issue as
// it is, never an older delivery.
func TestLateIssueDeliveriesNeverUndoNewerOnes(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo, ev := repoFor[flavor], issueEvent[flavor]
			issue, _, err := h.forge.OpenIssue(repo, "alice", "late deliveries", request("late", "0.02"), nil)
			if err != nil {
				t.Fatal(err)
			}
			branch := fmt.Sprintf("exp/%d-late", issue.Number)
			late := 0
			lateID := func() string { late++; return fmt.Sprintf("late-%s-%d-%d", flavor, issue.Number, late) }

			// Body: label with lr 0.02 (A), edit to 0.04 (B), A again.
			labeledA := h.act(t, ev, func() ([]state.Event, error) {
				return h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil)
			})
			h.waitComment(t, repo, issue.Number, "is ready")
			nextSecond()
			body := request("late", "0.04")
			editedB := h.act(t, ev, func() ([]state.Event, error) { return h.forge.EditIssue(repo, issue.Number, "alice", nil, &body) })
			h.waitFor(t, "lr 0.04 on the branch", func() bool { return strings.Contains(h.branch(repo, branch).file, "lr: 0.04") })
			h.waitComment(t, repo, issue.Number, "`0.04`")
			h.waitIdle(t)
			head := h.branch(repo, branch).head

			h.resendLate(t, labeledA, lateID())
			h.waitIdle(t)
			if b := h.branch(repo, branch); b.head != head || !strings.Contains(b.file, "lr: 0.04") {
				t.Fatalf("the late label delivery moved the branch: %+v", b)
			}

			// Labels: unlabel (C); the label and the edit again, late.
			nextSecond()
			h.act(t, ev, func() ([]state.Event, error) {
				return h.forge.LabelIssue(repo, issue.Number, "alice", nil, []string{label})
			})
			h.waitComment(t, repo, issue.Number, "retired")
			h.resendLate(t, labeledA, lateID())
			h.resendLate(t, editedB, lateID())
			h.waitIdle(t)
			if c := h.statusComments(repo, issue.Number); len(c) != 1 || !strings.Contains(c[0].Body, "retired") {
				t.Fatalf("after late label and edit deliveries: %+v", c)
			}

			// State: label again (D), close (E), D again; reopen (F),
			// close (G), F again.
			nextSecond()
			labeledD := h.act(t, ev, func() ([]state.Event, error) {
				return h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil)
			})
			h.waitComment(t, repo, issue.Number, "is ready")
			nextSecond()
			h.act(t, ev, func() ([]state.Event, error) { return h.forge.SetIssueState(repo, issue.Number, "alice", "closed") })
			h.waitComment(t, repo, issue.Number, "retired")
			h.resendLate(t, labeledD, lateID())
			nextSecond()
			reopenedF := h.act(t, ev, func() ([]state.Event, error) { return h.forge.SetIssueState(repo, issue.Number, "alice", "open") })
			h.waitComment(t, repo, issue.Number, "is ready")
			nextSecond()
			h.act(t, ev, func() ([]state.Event, error) { return h.forge.SetIssueState(repo, issue.Number, "alice", "closed") })
			h.waitComment(t, repo, issue.Number, "retired")
			h.waitIdle(t)
			head = h.branch(repo, branch).head
			h.resendLate(t, reopenedF, lateID())
			h.waitIdle(t)
			if c := h.statusComments(repo, issue.Number); len(c) != 1 || !strings.Contains(c[0].Body, "retired") {
				t.Fatalf("a late reopen brought the experiment back: %+v", c)
			}
			if b := h.branch(repo, branch); b.head != head || !strings.Contains(b.file, "lr: 0.04") {
				t.Fatalf("late deliveries moved the branch: %+v", b)
			}
		})
	}
}

// tagEvent is the webhook event name of a tag push per flavour.
var tagEvent = map[string]string{"github": "push", "gitlab": "Tag Push Hook"}

// resend sends an earlier delivery's exact bytes again under a new id and
// checks that it was taken (tag pushes are ordered when their task runs).
func (h *harness) resend(t *testing.T, d forgesim.Delivery, newID string) {
	t.Helper()
	again, err := h.sim.ResendAs(context.Background(), d.ID, newID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != http.StatusAccepted {
		t.Fatalf("delivery %s sent again answered %d %s", d.ID, again.Status, again.ResponseBody)
	}
}

// sweepState is what a sweep looks like from the outside: each branch's
// parent, and the comments on the tagged commits.
func (h *harness) sweepState(repo, tag string, shas ...string) string {
	var lines []string
	for name, br := range h.sweepBranches(repo, tag) {
		lines = append(lines, fmt.Sprintf("%s on %s (%s)\n", name, br.parent, br.head))
	}
	slices.Sort(lines)
	var b strings.Builder
	b.WriteString(strings.Join(lines, ""))
	for _, sha := range shas {
		c, _ := h.commitComment(repo, sha)
		fmt.Fprintf(&b, "comment on %s: %s\n", sha, c.Body)
	}
	return b.String()
}

// TestLateTagPushesNeverUndoNewerOnes: a sweep tag created, moved, deleted
// and created again, with every earlier push delivered again late (under a
// new id) after each later one, on both forges: the sweep follows the tag
// as it is.
func TestLateTagPushesNeverUndoNewerOnes(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo, ev, tag := repoFor[flavor], tagEvent[flavor], "sweep-late"
			c1 := push(t, h, repo, map[string]string{".expbot/sweep.yaml": sweepFile})
			c2 := push(t, h, repo, map[string]string{"train.py": "print('v2')\n"})
			c3 := push(t, h, repo, map[string]string{"train.py": "print('v3')\n"})
			late := 0
			lateID := func() string { late++; return fmt.Sprintf("late-tag-%s-%d", flavor, late) }
			// settled waits for the bot to be idle and checks the sweep
			// looks as it did before the late deliveries.
			settled := func(what, want string) {
				t.Helper()
				h.waitIdle(t)
				if got := h.sweepState(repo, tag, c1, c2, c3); got != want {
					t.Fatalf("%s changed the sweep:\n%s\nwant\n%s", what, got, want)
				}
			}
			onAll := func(sha string) {
				t.Helper()
				bs := h.sweepBranches(repo, tag)
				if len(bs) != 4 {
					t.Fatalf("sweep branches %v, want 4", bs)
				}
				for name, b := range bs {
					if b.parent != sha {
						t.Fatalf("branch %s on %s, want %s", name, b.parent, sha)
					}
				}
			}

			created := h.act(t, ev, func() ([]state.Event, error) { return h.forge.PushTag(repo, "alice", tag, c1) })
			h.waitCommitComment(t, repo, c1, "all 4 branches ready")
			moved := h.act(t, ev, func() ([]state.Event, error) { return h.forge.PushTag(repo, "alice", tag, c2) })
			h.waitCommitComment(t, repo, c2, "all 4 branches ready")
			h.waitIdle(t)
			onAll(c2)
			want := h.sweepState(repo, tag, c1, c2, c3)
			h.resend(t, created, lateID()) // create after move
			settled("the late create", want)

			deleted := h.act(t, ev, func() ([]state.Event, error) { return h.forge.RemoveTag(repo, "alice", tag) })
			h.waitCommitComment(t, repo, c2, "retired")
			h.waitIdle(t)
			want = h.sweepState(repo, tag, c1, c2, c3)
			h.resend(t, moved, lateID()) // move after delete
			h.resend(t, created, lateID())
			settled("late pushes after the delete", want)

			h.act(t, ev, func() ([]state.Event, error) { return h.forge.PushTag(repo, "alice", tag, c3) })
			h.waitCommitComment(t, repo, c3, "all 4 branches ready")
			h.waitIdle(t)
			onAll(c3)
			want = h.sweepState(repo, tag, c1, c2, c3)
			h.resend(t, deleted, lateID()) // delete after create
			h.resend(t, moved, lateID())
			h.resend(t, created, lateID())
			settled("late pushes after the tag was made again", want)
			onAll(c3)
		})
	}
}

// pullEvents are the webhook event names of a request's state change and
// of a comment on it, per flavour.
var pullEvents = map[string][2]string{"github": {"pull_request", "issue_comment"}, "gitlab": {"Merge Request Hook", "Note Hook"}}

// TestLateCommandsAndRequestStates: commands and merge/close/reopen of a
// pull/merge request, delivered late under new ids, on both forges. A
// command written before the request was merged changes nothing once the
// merge is known; a command on a closed request is refused; a late close
// does not retire what was asked for after the request was reopened.
func TestLateCommandsAndRequestStates(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo, ev := repoFor[flavor], pullEvents[flavor]
			late := 0
			lateID := func() string { late++; return fmt.Sprintf("late-pull-%s-%d", flavor, late) }

			// A command, then the merge; the command again, late.
			number, _ := openPull(t, h, repo, "feature/late-"+flavor)
			cmdA := h.act(t, ev[1], func() ([]state.Event, error) {
				_, evs, err := h.forge.Comment(repo, number, "", "alice", "/experiment new late-a lr=0.1")
				return evs, err
			})
			h.waitBotComment(t, repo, number, "late-a", "is ready")
			nextSecond()
			h.act(t, ev[0], func() ([]state.Event, error) { return h.forge.SetIssueState(repo, number, "alice", "merged") })
			h.waitBotComment(t, repo, number, "late-a", "retired")
			h.waitIdle(t)
			h.resend(t, cmdA, lateID())
			h.waitBotComment(t, repo, number, "closed or merged after this comment was written")
			h.waitIdle(t)
			if cs := h.statusComments(repo, number); !slices.ContainsFunc(cs, func(c state.Comment) bool {
				return strings.Contains(c.Body, "late-a") && strings.Contains(c.Body, "retired")
			}) || slices.ContainsFunc(cs, func(c state.Comment) bool {
				return strings.Contains(c.Body, "late-a") && strings.Contains(c.Body, "is ready")
			}) {
				t.Fatalf("a late command brought late-a back: %+v", cs)
			}

			// A command written on the merged request is refused.
			comment(t, h, repo, number, "alice", "/experiment new late-b lr=0.2")
			h.waitBotComment(t, repo, number, "This request is closed or merged")
			h.waitIdle(t)
			if b := h.branch(repo, fmt.Sprintf("exp/mr-%d-late-b", number)); b.exists {
				t.Fatalf("a command on a merged request made %+v", b)
			}

			// Close, reopen, a new command; the close again, late.
			number, _ = openPull(t, h, repo, "feature/reopen-"+flavor)
			comment(t, h, repo, number, "alice", "/experiment new late-x lr=0.3")
			h.waitBotComment(t, repo, number, "late-x", "is ready")
			nextSecond()
			closed := h.act(t, ev[0], func() ([]state.Event, error) { return h.forge.SetIssueState(repo, number, "alice", "closed") })
			h.waitBotComment(t, repo, number, "late-x", "retired")
			nextSecond()
			// (A reopen is recorded and answered 200: it changes no experiment.)
			if _, err := h.forge.SetIssueState(repo, number, "alice", "open"); err != nil {
				t.Fatal(err)
			}
			comment(t, h, repo, number, "alice", "/experiment new late-y lr=0.4")
			h.waitBotComment(t, repo, number, "late-y", "is ready")
			h.waitIdle(t)
			h.resendLate(t, closed, lateID())
			h.waitIdle(t)
			if cs := h.statusComments(repo, number); slices.ContainsFunc(cs, func(c state.Comment) bool {
				return strings.Contains(c.Body, "late-y") && strings.Contains(c.Body, "retired")
			}) {
				t.Fatalf("a late close retired late-y: %+v", cs)
			}
		})
	}
}

// TestSameSecondIssueChangesAreReadFromTheForge: with the forge's clock
// stopped, so that every change of the issue carries the same updated_at, deliveries cannot be ordered by time; expbot reads the issue
// from the forge and follows it, also when the first delivery comes again
// late under a new id.
func TestSameSecondIssueChangesAreReadFromTheForge(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			now := time.Now()
			h.frozen.Store(&now)
			defer h.frozen.Store(nil)
			repo, ev := repoFor[flavor], issueEvent[flavor]
			issue, _, err := h.forge.OpenIssue(repo, "alice", "one second", request("tie", "0.02"), nil)
			if err != nil {
				t.Fatal(err)
			}
			branch := fmt.Sprintf("exp/%d-tie", issue.Number)
			labeled := h.act(t, ev, func() ([]state.Event, error) {
				return h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil)
			})
			body := request("tie", "0.04")
			h.act(t, ev, func() ([]state.Event, error) { return h.forge.EditIssue(repo, issue.Number, "alice", nil, &body) })
			h.waitFor(t, "lr 0.04 on the branch", func() bool { return strings.Contains(h.branch(repo, branch).file, "lr: 0.04") })
			h.waitIdle(t)
			head := h.branch(repo, branch).head

			again, err := h.sim.ResendAs(context.Background(), labeled.ID, fmt.Sprintf("tie-%s-%d", flavor, issue.Number))
			if err != nil {
				t.Fatal(err)
			}
			if again.Status != http.StatusAccepted {
				t.Fatalf("the label delivery again answered %d %s", again.Status, again.ResponseBody)
			}
			h.waitIdle(t)
			if b := h.branch(repo, branch); b.head != head || !strings.Contains(b.file, "lr: 0.04") {
				t.Fatalf("a same-second delivery moved the branch: %+v", b)
			}
			h.waitComment(t, repo, issue.Number, "`0.04`")

			// Closed in the same second: read, and retired.
			h.act(t, ev, func() ([]state.Event, error) { return h.forge.SetIssueState(repo, issue.Number, "alice", "closed") })
			h.waitComment(t, repo, issue.Number, "retired")
		})
	}
}
