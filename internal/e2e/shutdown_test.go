package e2e

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/cpuslice"
	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/internal/pulumicli"
)

// forgeWrites matches the requests that change the forge: what the
// providers and the bot's comments send.
func forgeWrites(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead
}

// branchCreates matches a provider's branch create on either forge.
func branchCreates(r *http.Request) bool {
	return r.Method == http.MethodPost &&
		(strings.HasSuffix(r.URL.Path, "/git/refs") || strings.HasSuffix(r.URL.Path, "/repository/branches"))
}

// statusPosts matches the first post of a status comment on an issue.
func statusPosts(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/issues/") &&
		(strings.HasSuffix(r.URL.Path, "/comments") || strings.HasSuffix(r.URL.Path, "/notes"))
}

// proc is a process seen at one moment; its start time tells it from a
// later process given the same pid.
type proc struct {
	pid     int
	start   string
	cmdline string
}

func procStat(pid int) (state byte, start string, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, "", false
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 20 {
		return 0, "", false
	}
	return f[0][0], f[19], true
}

// snapshot lists the processes below the running expbot.
func (h *harness) snapshot(t *testing.T) []proc {
	t.Helper()
	var out []proc
	for _, pid := range descendants(h.cmd.Process.Pid) {
		_, start, ok := procStat(pid)
		if !ok {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		out = append(out, proc{pid: pid, start: start, cmdline: strings.ReplaceAll(string(cmd), "\x00", " ")})
	}
	return out
}

// hasPlugin tells whether ps holds a provider plugin, so that a check that
// they are gone checks something.
func hasPlugin(ps []proc) bool {
	for _, p := range ps {
		if strings.Contains(p.cmdline, "pulumi-resource-") {
			return true
		}
	}
	return false
}

// checkCPUSlices checks that the bot runs with short CPU slices, which
// the processes it starts (guards, the Pulumi CLI, plugins) do not
// inherit.
func checkCPUSlices(t *testing.T, bot int, below []proc) {
	t.Helper()
	if got, ok := cpuSlice(t, bot); !ok || got != cpuslice.Short {
		t.Errorf("expbot runs with a CPU slice of %v (read: %v), want %v", got, ok, cpuslice.Short)
	}
	for _, p := range below {
		if got, ok := cpuSlice(t, p.pid); ok && got == cpuslice.Short {
			t.Errorf("pid %d (%s) runs with expbot's short CPU slice", p.pid, p.cmdline)
		}
	}
}

// cpuSlice reads a process's CPU slice; ok is false once it has ended.
func cpuSlice(t *testing.T, pid int) (slice time.Duration, ok bool) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/sched")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if k, v, found := strings.Cut(line, ":"); found && strings.TrimSpace(k) == "se.slice" {
			ns, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("pid %d: se.slice %q: %v", pid, v, err)
			}
			return time.Duration(ns), true
		}
	}
	t.Fatalf("pid %d: no se.slice in its scheduler state", pid)
	return 0, false
}

// running lists those of ps that still run (zombies do not).
func running(ps []proc) []proc {
	var out []proc
	for _, p := range ps {
		if state, start, ok := procStat(p.pid); ok && start == p.start && state != 'Z' && state != 'X' {
			out = append(out, p)
		}
	}
	return out
}

// waitAllGone waits until none of ps runs; what is left is killed when
// the test fails.
func waitAllGone(t *testing.T, what string, ps []proc) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left := running(ps)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, p := range left {
				t.Errorf("%s: pid %d still runs: %s", what, p.pid, p.cmdline)
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
			t.FailNow()
		}
	}
}

// waitExit waits for expbot to exit by itself.
func (h *harness) waitExit(t *testing.T) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.cmd.Wait() }()
	select {
	case err := <-done:
		h.cmd = nil
		return err
	case <-time.After(waitLimit):
		h.crash()
		t.Fatal("expbot did not exit")
		return nil
	}
}

// lockFiles lists what is in the Pulumi state's locks folder: lock files
// and their .attrs sidecars.
func (h *harness) lockFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	root := filepath.Join(h.dataDir, "pulumi", "state", ".pulumi", "locks")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			out = append(out, strings.TrimPrefix(path, root))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// labeledIssues opens n labeled issues with requests named prefix-i.
func (h *harness) labeledIssues(t *testing.T, repo, prefix string, n int) []int {
	t.Helper()
	var out []int
	for i := range n {
		name := fmt.Sprintf("%s-%d", prefix, i)
		issue, _, err := h.forge.OpenIssue(repo, "alice", name, request(name, "0.5"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil); err != nil {
			t.Fatal(err)
		}
		out = append(out, issue.Number)
	}
	return out
}

// requireReady checks that each issue has one status comment, final, and
// its branch with the variant file.
func (h *harness) requireReady(t *testing.T, repo, prefix string, issues []int) {
	t.Helper()
	for i, n := range issues {
		h.waitComment(t, repo, n, "is ready")
		if cs := h.statusComments(repo, n); len(cs) != 1 {
			t.Errorf("%s#%d has %d status comments, want 1", repo, n, len(cs))
		}
		if b := h.branch(repo, fmt.Sprintf("exp/%d-%s-%d", n, prefix, i)); !b.exists || !strings.Contains(b.file, "lr: 0.5") {
			t.Errorf("%s#%d: branch %+v", repo, n, b)
		}
	}
}

// SIGTERM while an update is slowed by a slow forge: with a grace long
// enough the update finishes before expbot exits; with a short one it is
// interrupted (the CLI ends it and releases the stack) and runs again after
// the restart. Either way no Pulumi process and no lock is left behind, and
// every comment ends final.
func TestSigtermDuringASlowedUpdate(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		flavor, grace string
		finishes      bool
	}{
		{"github", "1s", false},
		{"gitlab", "1s", false},
		{"github", "60s", true},
	} {
		t.Run(tc.flavor+"/grace-"+tc.grace, func(t *testing.T) {
			h.envSet = map[string]string{"EXPBOT_SHUTDOWN_GRACE": tc.grace}
			h.stop()
			h.restart()
			repo := repoFor[tc.flavor]
			prefix := "term" + strings.TrimSuffix(tc.grace, "s")
			g := h.slowRequests(t, forgeWrites, 2*time.Second)
			issues := h.labeledIssues(t, repo, prefix, 3)
			h.waitFor(t, "the first branch", func() bool {
				return h.branch(repo, fmt.Sprintf("exp/%d-%s-0", issues[0], prefix)).exists ||
					h.branch(repo, fmt.Sprintf("exp/%d-%s-1", issues[1], prefix)).exists ||
					h.branch(repo, fmt.Sprintf("exp/%d-%s-2", issues[2], prefix)).exists
			})
			below := h.snapshot(t)
			if !hasPlugin(below) {
				t.Fatalf("no provider plugin runs in the middle of the update: %+v", below)
			}
			if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if err := h.waitExit(t); err != nil {
				t.Errorf("expbot exited with %v after SIGTERM", err)
			}
			waitAllGone(t, "after SIGTERM", below)
			if locks := h.lockFiles(t); len(locks) != 0 {
				t.Errorf("locks left after SIGTERM: %v", locks)
			}
			if tc.finishes {
				// The update that made branches before SIGTERM finished
				// them (a request it had not taken yet may wait).
				ready := 0
				for i, n := range issues {
					if !h.branch(repo, fmt.Sprintf("exp/%d-%s-%d", n, prefix, i)).exists {
						continue
					}
					ready++
					if cs := h.statusComments(repo, n); len(cs) != 1 || !strings.Contains(cs[0].Body, "is ready") {
						t.Errorf("%s#%d after a graceful exit: %d comments, last %q", repo, n, len(cs), lastBody(cs))
					}
				}
				if ready == 0 {
					t.Error("no branch after a graceful exit")
				}
			}
			h.open(g)
			h.restart()
			h.requireReady(t, repo, prefix, issues)
		})
	}
}

func lastBody(cs []state.Comment) string {
	if len(cs) == 0 {
		return ""
	}
	return cs[len(cs)-1].Body
}

// The bot is killed while the forge holds its first status comment: the
// forge makes the comment after all. After the restart the bot adopts it
// instead of posting a second one.
func TestKillDuringAStatusCommentPost(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			g := h.holdRequests(t, statusPosts)
			issues := h.labeledIssues(t, repo, "post", 1)
			select {
			case <-g.arrived:
			case <-time.After(waitLimit):
				t.Fatal("the bot never posted a status comment")
			}
			h.crash()
			h.open(g) // the request had left: the forge makes the comment
			h.waitFor(t, "the held comment to go through", func() bool { return len(h.statusComments(repo, issues[0])) > 0 })
			h.restart()
			h.requireReady(t, repo, "post", issues)
		})
	}
}

// `kill -9` of expbot alone, in the middle of an update, takes the Pulumi
// CLI and its plugins with it. If they survive anyway (their guard was
// killed too), the next expbot on the same data directory kills them.
func TestKill9LeavesNoPulumiProcess(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		flavor string
		guard  bool // kill the guards as well
	}{{"github", false}, {"gitlab", false}, {"github", true}} {
		t.Run(fmt.Sprintf("%s/guard-killed-%v", tc.flavor, tc.guard), func(t *testing.T) {
			repo := repoFor[tc.flavor]
			g := h.holdRequests(t, branchCreates)
			prefix := fmt.Sprintf("kill%v", tc.guard)
			issues := h.labeledIssues(t, repo, prefix, 1)
			select {
			case <-g.arrived:
			case <-time.After(waitLimit):
				t.Fatal("the bot never asked for the branch")
			}
			below := h.snapshot(t)
			if !hasPlugin(below) {
				t.Fatalf("no provider plugin runs in the middle of the update: %+v", below)
			}
			checkCPUSlices(t, h.cmd.Process.Pid, below)
			if tc.guard {
				for _, p := range below {
					if strings.Contains(p.cmdline, pulumicli.GuardArg) {
						_ = syscall.Kill(p.pid, syscall.SIGKILL)
					}
				}
			}
			if err := h.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = h.cmd.Wait()
			h.cmd = nil
			if tc.guard {
				// Nothing could take them along: they run until the next
				// start sweeps them away.
				time.Sleep(time.Second)
				if len(running(below)) == 0 {
					t.Fatal("the CLI and plugins died with their guard; nothing is left to sweep")
				}
				h.restart()
			}
			waitAllGone(t, "after kill -9", below)
			h.open(g)
			if !tc.guard {
				h.restart()
			}
			h.requireReady(t, repo, prefix, issues)
		})
	}
}

// A crash in the middle of an update leaves the stack's lock, which the
// next update removes as stale: all of it, sidecar included.
func TestNoLockLeftAfterACrash(t *testing.T) {
	h := newHarness(t)
	repo := repoFor["github"]
	g := h.holdRequests(t, branchCreates)
	issues := h.labeledIssues(t, repo, "lock", 1)
	select {
	case <-g.arrived:
	case <-time.After(waitLimit):
		t.Fatal("the bot never asked for the branch")
	}
	if locks := h.lockFiles(t); len(locks) == 0 {
		t.Fatal("no lock while the update runs: nothing to check")
	}
	h.crash()
	h.open(g)
	h.restart()
	h.requireReady(t, repo, "lock", issues)
	h.waitFor(t, "the locks folder to be empty", func() bool { return len(h.lockFiles(t)) == 0 })
}

// replyPosts matches the post of a comment in request number's thread.
func replyPosts(number int) func(*http.Request) bool {
	gh, gl := fmt.Sprintf("/issues/%d/comments", number), fmt.Sprintf("/merge_requests/%d/notes", number)
	return func(r *http.Request) bool {
		return r.Method == http.MethodPost && (strings.HasSuffix(r.URL.Path, gh) || strings.HasSuffix(r.URL.Path, gl))
	}
}

// A kill while the reply to a command is being posted: the forge makes the
// comment, the command's job runs again after the restart, and finds its
// reply by its marker instead of posting it twice.
func TestKillDuringACommandReplyPost(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			number, _ := openPull(t, h, repo, "feature/reply-"+flavor)
			g := h.holdRequests(t, replyPosts(number))
			comment(t, h, repo, number, "alice", "/experiment list")
			select {
			case <-g.arrived:
			case <-time.After(waitLimit):
				t.Fatal("the bot never posted its reply")
			}
			h.crash()
			h.open(g) // the request had left: the forge makes the comment
			h.waitFor(t, "the held reply to go through", func() bool { return len(h.statusComments(repo, number)) > 0 })
			h.restart()
			h.waitIdle(t) // the command's job has run again
			// A later command is answered: the bot is at work after the restart.
			comment(t, h, repo, number, "alice", "/experiment list")
			h.waitFor(t, "the second reply", func() bool { return len(h.statusComments(repo, number)) >= 2 })
			h.waitIdle(t)
			if cs := h.statusComments(repo, number); len(cs) != 2 {
				for _, c := range cs {
					t.Logf("reply %d:\n%s", c.ID, c.Body)
				}
				t.Fatalf("%d replies to two commands, want 2", len(cs))
			}
		})
	}
}
