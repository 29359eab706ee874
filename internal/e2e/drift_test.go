package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// sync runs `expbot sync --repo <forge>:<repo>` against the running bot, as
// an operator would.
func (h *harness) sync(t *testing.T, flavor, repo string) {
	t.Helper()
	cmd := exec.Command(h.bin, "sync", "--repo", flavor+":"+repo)
	cmd.Env = []string{"EXPBOT_ADMIN_TOKEN=" + adminToken, "EXPBOT_LISTEN=" + h.addr}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "queued") {
		t.Fatalf("expbot sync: %v\n%s", err, out)
	}
}

// adminPost sends POST /admin/sync and returns the status.
func (h *harness) adminPost(t *testing.T, auth, repo string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+h.addr+"/admin/sync?repo="+url.QueryEscape(repo), nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// counter reads a counter of the bot's metrics; 0 when absent.
func (h *harness) counter(t *testing.T, series string) int {
	t.Helper()
	v := h.metric(series + " ")
	if v == "" {
		return 0
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("metric %s = %q", series, v)
	}
	return int(n)
}

// checks counts the finished drift checks of a forge, all outcomes.
func (h *harness) checks(t *testing.T, flavor string) int {
	n := 0
	for _, o := range []string{"clean", "repaired", "failed", "refused"} {
		n += h.counter(t, fmt.Sprintf(`expbot_drift_checks_total{forge=%q,outcome=%q}`, flavor, o))
	}
	return n
}

func repairs(flavor, kind string) string {
	return fmt.Sprintf(`expbot_drift_repairs_total{forge=%q,kind=%q}`, flavor, kind)
}

// syncAndWait asks for a drift check and waits until one more has ended.
func (h *harness) syncAndWait(t *testing.T, flavor, repo string) {
	t.Helper()
	before := h.checks(t, flavor)
	h.sync(t, flavor, repo)
	h.waitFor(t, "a drift check to end", func() bool { return h.checks(t, flavor) > before })
}

// labeledIssue opens an issue with a request and labels it; it returns the
// issue's number once its branch is ready.
func (h *harness) labeledIssue(t *testing.T, repo, name, lr string) int {
	t.Helper()
	issue, _, err := h.forge.OpenIssue(repo, "alice", name, request(name, lr), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil); err != nil {
		t.Fatal(err)
	}
	h.waitComment(t, repo, issue.Number, "is ready")
	return issue.Number
}

func (h *harness) push(t *testing.T, admin *forgesim.Client, repo, branch, message string, files map[string]*string) string {
	t.Helper()
	res, err := admin.Push(context.Background(), repo, forgesim.PushRequest{Actor: "alice", Branch: branch, Message: message, Files: files})
	if err != nil {
		t.Fatal(err)
	}
	return res.Commit.SHA
}

// TestDrift changes experiment branches behind the bot's back through the
// simulated forge's admin API, as people do, and asks for drift checks with
// `expbot sync`: what the request defines is restored, what people may do
// is left alone, and a forge that fails during the check loses nothing.
func TestDrift(t *testing.T) {
	h := newHarness(t)
	admin := forgesim.NewClient(h.simURL, nil)
	ctx := context.Background()

	// The admin API answers only its token, and only about repositories.
	for _, tt := range []struct {
		auth, repo string
		want       int
	}{
		{"", "github:acme/llm", http.StatusUnauthorized},
		{"Bearer not-the-admin-token", "github:acme/llm", http.StatusUnauthorized},
		{"Bearer " + adminToken, "acme/llm", http.StatusBadRequest},
		{"Bearer " + adminToken, "gitea:acme/llm", http.StatusBadRequest},
	} {
		if got := h.adminPost(t, tt.auth, tt.repo); got != tt.want {
			t.Errorf("POST /admin/sync (auth %q, repo %q) = %d, want %d", tt.auth, tt.repo, got, tt.want)
		}
	}
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			base := mainSHA(h, repo)
			n := h.labeledIssue(t, repo, "drift", "0.1")
			branch := fmt.Sprintf("exp/%d-drift", n)
			made := h.branch(repo, branch)

			// A retired experiment whose branch is kept.
			kept := h.labeledIssue(t, repo, "kept", "0.2")
			keptBranch := fmt.Sprintf("exp/%d-kept", kept)
			if _, err := h.forge.LabelIssue(repo, kept, "alice", nil, []string{label}); err != nil {
				t.Fatal(err)
			}
			h.waitComment(t, repo, kept, "retired")

			// Branch deleted while active: made again from its pinned base
			// plus the variant file.
			if _, err := admin.DeleteBranch(ctx, repo, branch, "alice"); err != nil {
				t.Fatal(err)
			}
			h.syncAndWait(t, flavor, repo)
			h.waitFor(t, "the branch to be made again", func() bool { return h.branch(repo, branch).file == made.file })
			if b := h.branch(repo, branch); b.parent != base {
				t.Errorf("remade branch = %+v, want one commit on %s with the same variant file as before", b, base)
			}
			c := h.waitComment(t, repo, n, "the branch had been deleted")
			if !strings.Contains(c.Body, "Repaired 20") || !strings.Contains(c.Body, "| Drift |") {
				t.Errorf("the status comment does not say what was repaired and when:\n%s", c.Body)
			}
			if got := h.counter(t, repairs(flavor, "branch_deleted")); got != 1 {
				t.Errorf("branch_deleted repairs = %d, want 1", got)
			}

			// Variant file edited on the branch: restored by a new commit on
			// top of the person's.
			edited := h.push(t, admin, repo, branch, "tweak lr", map[string]*string{"experiment.yaml": new("lr: 999\n")})
			h.syncAndWait(t, flavor, repo)
			if b := h.branch(repo, branch); b.file != made.file || b.parent != edited {
				t.Errorf("after an edit of the file: %+v, want the file restored by a commit on %s", b, edited)
			}
			h.waitComment(t, repo, n, "had been changed on the branch")
			if got := h.counter(t, repairs(flavor, "file_changed")); got != 1 {
				t.Errorf("file_changed repairs = %d, want 1", got)
			}

			// Variant file deleted from the branch: committed again.
			deleted := h.push(t, admin, repo, branch, "drop the file", map[string]*string{"experiment.yaml": nil})
			h.syncAndWait(t, flavor, repo)
			if b := h.branch(repo, branch); b.file != made.file || b.parent != deleted {
				t.Errorf("after deleting the file: %+v, want it committed again on %s", b, deleted)
			}
			repaired := h.waitComment(t, repo, n, "had been deleted from the branch")

			// Commits pushed on top are normal use: not rewritten, not
			// reported. A retired branch that was kept is not touched.
			mine := h.push(t, admin, repo, branch, "train on more data", map[string]*string{"notes.md": new("more data\n")})
			keptEdit := h.push(t, admin, repo, keptBranch, "reuse the branch", map[string]*string{"experiment.yaml": new("mine now\n")})
			h.syncAndWait(t, flavor, repo)
			if b := h.branch(repo, branch); b.head != mine {
				t.Errorf("the commit pushed on top was rewritten: head %s, want %s", b.head, mine)
			}
			if k := h.branch(repo, keptBranch); k.head != keptEdit || k.file != "mine now\n" {
				t.Errorf("the kept branch of a retired experiment was touched: %+v", k)
			}
			total := 0
			for _, k := range []string{"branch_deleted", "file_changed", "file_deleted"} {
				total += h.counter(t, repairs(flavor, k))
			}
			if total != 3 {
				t.Errorf("%d repairs counted, want 3: a push on top or a kept branch counted as drift", total)
			}
			// The comment said once what was repaired: a clean check
			// leaves it as it was.
			if cs := h.statusComments(repo, n); len(cs) != 1 || cs[0].Body != repaired.Body {
				t.Errorf("after a clean check the status comments are %d, the last:\n%s\nwant one, unchanged:\n%s", len(cs), cs[len(cs)-1].Body, repaired.Body)
			}

			// The forge fails during the check: nothing is deleted, the
			// failure is counted, the check is retried until it works.
			gone := h.push(t, admin, repo, branch, "drop it again", map[string]*string{"experiment.yaml": nil})
			failedBefore := h.counter(t, fmt.Sprintf(`expbot_drift_checks_total{forge=%q,outcome="failed"}`, flavor))
			outage, heal := h.failRequests(t, func(r *http.Request) bool {
				return strings.HasPrefix(r.URL.Path, "/api/") && !strings.Contains(r.URL.Path, "/comments") && !strings.Contains(r.URL.Path, "/notes")
			})
			h.sync(t, flavor, repo)
			h.waitFor(t, "a failed drift check", func() bool {
				return h.counter(t, fmt.Sprintf(`expbot_drift_checks_total{forge=%q,outcome="failed"}`, flavor)) > failedBefore
			})
			if outage.hits.Load() == 0 {
				t.Error("the failing forge was not asked")
			}
			for _, b := range []string{branch, keptBranch} {
				if !h.branch(repo, b).exists {
					t.Errorf("a failed drift check deleted %s", b)
				}
			}
			if b := h.branch(repo, branch); b.head != gone {
				t.Errorf("a failed drift check changed %s: %+v", branch, b)
			}
			heal()
			h.waitFor(t, "the retried check to restore the file", func() bool {
				b := h.branch(repo, branch)
				return b.file == made.file && b.parent == gone
			})
			h.waitFor(t, "the second file_deleted repair to be counted", func() bool { return h.counter(t, repairs(flavor, "file_deleted")) == 2 })
			// That repair's update left the kept branch as people made it.
			if k := h.branch(repo, keptBranch); k.head != keptEdit || k.file != "mine now\n" {
				t.Errorf("a repair's update touched the kept branch of a retired experiment: %+v", k)
			}
		})
	}
}

// TestDriftCommandAndSchedule: `/experiment sync` in a pull/merge request
// asks for a check (with the access other changing commands need), and
// the schedule checks every repository without being asked.
func TestDriftCommandAndSchedule(t *testing.T) {
	h := newHarness(t)
	h.forge.AddUser("bob", "Bob", "bob@example.com", "bob-token", false)
	admin := forgesim.NewClient(h.simURL, nil)
	ctx := context.Background()
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			if err := h.forge.SetAccess(repo, "bob", state.Reporter); err != nil {
				t.Fatal(err)
			}
			number, head := openPull(t, h, repo, "feature/drift-"+flavor)
			comment(t, h, repo, number, "alice", "/experiment new lr-a lr=0.1")
			h.waitBotComment(t, repo, number, "lr-a", "is ready")
			branch := fmt.Sprintf("exp/mr-%d-lr-a", number)
			made := h.branch(repo, branch)
			if _, err := admin.DeleteBranch(ctx, repo, branch, "alice"); err != nil {
				t.Fatal(err)
			}

			// Not enough access: refused, nothing checked.
			before := h.checks(t, flavor)
			comment(t, h, repo, number, "bob", "/experiment sync")
			h.waitBotComment(t, repo, number, "Sorry @bob")
			if h.checks(t, flavor) != before || h.branch(repo, branch).exists {
				t.Fatal("a refused /experiment sync ran a check")
			}

			comment(t, h, repo, number, "alice", "/experiment sync")
			h.waitBotComment(t, repo, number, "Drift check queued")
			h.waitFor(t, "the branch to be made again", func() bool { return h.branch(repo, branch).file == made.file })
			if b := h.branch(repo, branch); b.parent != head {
				t.Errorf("remade branch = %+v, want one commit on %s with the same file", b, head)
			}
			h.waitBotComment(t, repo, number, "lr-a", "the branch had been deleted")
		})
	}

	// The schedule: a bot with a short drift_interval repairs on its own,
	// an issue's branch and a sweep's alike (the sweep's one comment says so).
	h.stop()
	hs := newHarnessEnv(t, map[string]string{"EXPBOT_DRIFT_INTERVAL": "3s", "EXPBOT_ADMIN_TOKEN": ""})
	adminS := forgesim.NewClient(hs.simURL, nil)
	// Without a token the admin API is off: no route, and `expbot sync` says so.
	if got := hs.adminPost(t, "Bearer "+adminToken, "github:acme/llm"); got != http.StatusNotFound && got != http.StatusMethodNotAllowed {
		t.Errorf("POST /admin/sync without a configured token = %d, want no such route", got)
	}
	cmd := exec.Command(hs.bin, "sync", "--repo", "github:acme/llm")
	cmd.Env = []string{"EXPBOT_ADMIN_TOKEN=" + adminToken, "EXPBOT_LISTEN=" + hs.addr}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "admin API is off") {
		t.Errorf("expbot sync against a bot without an admin token: %v\n%s", err, out)
	}
	repo := repoFor["gitlab"]
	n := hs.labeledIssue(t, repo, "scheduled", "0.3")
	branch := fmt.Sprintf("exp/%d-scheduled", n)
	made := hs.branch(repo, branch)
	tagged := push(t, hs, repo, map[string]string{".expbot/sweep.yaml": sweepFile})
	if _, err := hs.forge.PushTag(repo, "alice", "sweep-1", tagged); err != nil {
		t.Fatal(err)
	}
	hs.waitCommitComment(t, repo, tagged, "all 4 branches ready")
	var swept string
	for b := range hs.sweepBranches(repo, "sweep-1") {
		swept = b
	}
	if _, err := adminS.Push(ctx, repo, forgesim.PushRequest{Actor: "alice", Branch: branch, Message: "edit", Files: map[string]*string{"experiment.yaml": new("x: 1\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := adminS.DeleteBranch(ctx, repo, swept, "alice"); err != nil {
		t.Fatal(err)
	}
	hs.waitFor(t, "the scheduled check to restore the file", func() bool { return hs.branch(repo, branch).file == made.file })
	hs.waitComment(t, repo, n, "had been changed on the branch")
	hs.waitFor(t, "the scheduled check to make the sweep's branch again", func() bool { return hs.branch(repo, swept).parent == tagged })
	hs.waitCommitComment(t, repo, tagged, "the branch had been deleted")
}
