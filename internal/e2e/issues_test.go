package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/forgesim"
)

const label = "new-experiment"

func mainSHA(h *harness, repo string) string { return h.branch(repo, "main").head }

// One bot serves both forges; each subtest uses its own issues, so they
// share the process and its Pulumi stacks like a real deployment.
func TestLabeledIssueLifecycle(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			base := mainSHA(h, repo)
			issue := h.labelRequest(t, repo)
			branch := fmt.Sprintf("exp/%d-lr-high", issue)

			// Create: the branch is the base commit plus one commit with the variant file.
			c := h.waitComment(t, repo, issue, "is ready")
			b := h.branch(repo, branch)
			if !b.exists || b.parent != base {
				t.Fatalf("branch %s = %+v, want one commit on main %s", branch, b, base)
			}
			for _, want := range []string{"name: lr-high", "lr: 0.01", "batch_size: 32", "sha: " + base, "requested_by: alice"} {
				if !strings.Contains(b.file, want) {
					t.Errorf("experiment.yaml lacks %q:\n%s", want, b.file)
				}
			}
			for _, want := range []string{branch, base[:12], "`lr`", "`0.01`"} {
				if !strings.Contains(c.Body, want) {
					t.Errorf("status comment lacks %q:\n%s", want, c.Body)
				}
			}

			// Edit: new params become a new commit on the same branch, same comment.
			body := request("lr-high", "0.02")
			if _, err := h.forge.EditIssue(repo, issue, "alice", nil, &body); err != nil {
				t.Fatal(err)
			}
			h.waitFor(t, "the variant file to change", func() bool { return strings.Contains(h.branch(repo, branch).file, "lr: 0.02") })
			if nb := h.branch(repo, branch); nb.parent != b.head {
				t.Errorf("update made %+v, want a commit on top of %s", nb, b.head)
			}
			h.waitComment(t, repo, issue, "`0.02`")

			// Unlabel: retired, branch kept (the default policy).
			if _, err := h.forge.LabelIssue(repo, issue, "alice", nil, []string{label}); err != nil {
				t.Fatal(err)
			}
			h.waitComment(t, repo, issue, "retired")
			if !h.branch(repo, branch).exists {
				t.Errorf("retire deleted %s; the default policy keeps it", branch)
			}

			// Label again, then close: back, then retired again.
			if _, err := h.forge.LabelIssue(repo, issue, "alice", []string{label}, nil); err != nil {
				t.Fatal(err)
			}
			h.waitComment(t, repo, issue, "is ready")
			if _, err := h.forge.SetIssueState(repo, issue, "alice", "closed"); err != nil {
				t.Fatal(err)
			}
			h.waitComment(t, repo, issue, "retired")

			if n := len(h.statusComments(repo, issue)); n != 1 {
				t.Errorf("%d status comments, want exactly one edited in place", n)
			}
		})
	}
}

func TestInvalidRequestGetsAnErrorCommentAndNoBranch(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			before := h.branches(repo)
			body := "Try this\n\n```yaml\nname: Bad Name!\nparams:\n  lr: 0.1\nlearning_rate: 3\n```\n"
			issue, _, err := h.forge.OpenIssue(repo, "alice", "bad", body, []string{label})
			if err != nil {
				t.Fatal(err)
			}
			c := h.waitComment(t, repo, issue.Number, "cannot run")
			for _, want := range []string{"line 4", "Bad Name!", "line 7", "learning_rate"} {
				if !strings.Contains(c.Body, want) {
					t.Errorf("error comment lacks %q:\n%s", want, c.Body)
				}
			}
			if after := h.branches(repo); len(after) != len(before) {
				t.Errorf("branches %v -> %v: an invalid request made a branch", before, after)
			}
		})
	}
}

// A confidential GitLab issue's request would be published by its branch:
// the bot says so and makes nothing until the issue is public again, and a
// branch made before the issue turned confidential stays as it was.
func TestConfidentialIssueMakesNoBranch(t *testing.T) {
	h := newHarness(t)
	repo := repoFor["gitlab"]
	before := h.branches(repo)
	issue, _, err := h.forge.OpenIssue(repo, "alice", "secret lr", request("secret-lr", "0.5"), nil)
	if err != nil {
		t.Fatal(err)
	}
	setConfidential := func(on bool) {
		t.Helper()
		if _, err := h.forge.SetConfidential(repo, issue.Number, "alice", on); err != nil {
			t.Fatal(err)
		}
	}
	setConfidential(true)
	if _, err := h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil); err != nil {
		t.Fatal(err)
	}
	c := h.waitComment(t, repo, issue.Number, "cannot run")
	for _, want := range []string{"confidential", "turn confidentiality off"} {
		if !strings.Contains(c.Body, want) {
			t.Errorf("refusal lacks %q:\n%s", want, c.Body)
		}
	}
	if after := h.branches(repo); len(after) != len(before) {
		t.Errorf("branches %v -> %v: a confidential request made a branch", before, after)
	}

	// Public again: the request runs, with nothing else to do.
	setConfidential(false)
	h.waitComment(t, repo, issue.Number, "is ready")
	branch := fmt.Sprintf("exp/%d-secret-lr", issue.Number)
	made := h.branch(repo, branch)
	if !made.exists || !strings.Contains(made.file, "lr: 0.5") {
		t.Fatalf("once public, branch = %+v, want the request's", made)
	}

	// Confidential again, then edited: refused, the branch keeps its commit.
	setConfidential(true)
	h.waitComment(t, repo, issue.Number, "stays as it was")
	const confidentialHooks = `expbot_webhook_deliveries_total{event="Confidential Issue Hook",forge="gitlab",outcome="accepted"}`
	seen := h.metric(confidentialHooks)
	body := request("secret-lr", "0.25")
	if _, err := h.forge.EditIssue(repo, issue.Number, "alice", nil, &body); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "the edit to be recorded", func() bool { return h.metric(confidentialHooks) != seen })
	h.waitComment(t, repo, issue.Number, "cannot run")
	if got := h.branch(repo, branch); got.head != made.head {
		t.Errorf("an edit of a confidential issue moved %s: %s -> %s", branch, made.head, got.head)
	}
	if n := len(h.statusComments(repo, issue.Number)); n != 1 {
		t.Errorf("%d status comments, want exactly one edited in place", n)
	}
}

// A base that does not exist is only known once the forge is asked: the
// run reports it and makes nothing.
func TestMissingBaseIsReported(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			body := "```yaml\nname: nobase\nbase: no-such-branch\nparams:\n  lr: 1\n```\n"
			issue, _, err := h.forge.OpenIssue(repo, "alice", "missing base", body, []string{label})
			if err != nil {
				t.Fatal(err)
			}
			c := h.waitComment(t, repo, issue.Number, "failed")
			if !strings.Contains(c.Body, "no-such-branch") || !strings.Contains(c.Body, "was not found") {
				t.Errorf("failure comment does not explain the base:\n%s", c.Body)
			}
			if b := h.branch(repo, fmt.Sprintf("exp/%d-nobase", issue.Number)); b.exists {
				t.Errorf("a branch was made without a base: %+v", b)
			}
		})
	}
}

func TestRedeliveryHasNoSecondEffect(t *testing.T) {
	h := newHarness(t)
	repo := repoFor["github"]
	issue, _, err := h.forge.OpenIssue(repo, "alice", "once", request("once", "0.5"), nil)
	if err != nil {
		t.Fatal(err)
	}
	before := len(h.sim.Deliveries())
	if _, err := h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil); err != nil {
		t.Fatal(err)
	}
	var labeled forgesim.Delivery
	for _, d := range h.sim.Deliveries()[before:] {
		if d.Event == "issues" && d.Status == http.StatusAccepted {
			labeled = d
		}
	}
	if labeled.ID == "" {
		t.Fatalf("no accepted issues delivery among %+v", h.sim.Deliveries()[before:])
	}
	c := h.waitComment(t, repo, issue.Number, "is ready")
	head := h.branch(repo, "exp/"+fmt.Sprint(issue.Number)+"-once").head
	// The delivery's commit waited for the disk; recording the comment's id did not.
	for _, fsync := range []string{"true", "false"} {
		if n, _ := strconv.Atoi(h.metric(`expbot_store_commit_seconds_count{fsync="` + fsync + `"}`)); n == 0 {
			t.Errorf("no commit with fsync=%s in the metrics", fsync)
		}
	}

	again, err := h.sim.Redeliver(context.Background(), labeled.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].Status != http.StatusAccepted || !strings.Contains(again[0].ResponseBody, "duplicate") {
		t.Fatalf("redelivery answered %+v, want 202 duplicate", again)
	}
	if got := h.metric(`expbot_webhook_deliveries_total{event="issues",forge="github",outcome="duplicate"}`); got != "1" {
		t.Errorf("duplicate deliveries metric = %q, want 1", got)
	}
	if got := h.branch(repo, "exp/"+fmt.Sprint(issue.Number)+"-once").head; got != head {
		t.Errorf("redelivery moved the branch %s -> %s", head, got)
	}
	if cs := h.statusComments(repo, issue.Number); len(cs) != 1 || cs[0].Body != c.Body {
		t.Errorf("redelivery changed the comments: %+v", cs)
	}
}

func TestForgedDeliveriesAreRefusedAndNotRecorded(t *testing.T) {
	h := newHarness(t)
	payload, err := json.Marshal(map[string]any{
		"action": "labeled", "label": map[string]any{"name": label},
		"issue":      map[string]any{"number": 99, "title": "x", "body": request("forged", "1"), "state": "open", "labels": []any{map[string]any{"name": label}}, "html_url": "http://x/acme/llm/issues/99", "user": map[string]any{"login": "mallory"}},
		"repository": map[string]any{"id": 1, "full_name": "acme/llm", "default_branch": "main", "html_url": "http://x/acme/llm"},
		"sender":     map[string]any{"login": "mallory", "id": 7, "type": "User"},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, flavor, secret, event string
	}{
		{"github wrong secret", "github", "not-the-secret", "issues"},
		{"github unsigned", "github", "", "issues"},
		{"gitlab wrong token", "gitlab", "not-the-token", "Issue Hook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := h.sim.Emit(context.Background(), forgesim.RawWebhook{
				Flavor: tt.flavor, URL: "http://" + h.addr + "/webhooks/" + tt.flavor,
				Secret: tt.secret, Event: tt.event, Payload: payload,
			})
			if err != nil {
				t.Fatal(err)
			}
			if d.Status != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", d.Status)
			}
		})
	}
	if got := h.metric(`expbot_webhook_deliveries_total{event="issues",forge="github",outcome="unauthorized"}`); got != "2" {
		t.Errorf("unauthorized github deliveries = %q, want 2", got)
	}
	if got := h.metric(`expbot_webhook_deliveries_total{event="issues",forge="github",outcome="accepted"}`); got != "" {
		t.Errorf("a forged delivery was accepted: %s", got)
	}
	if bs := h.branches("acme/llm"); len(bs) != 1 {
		t.Errorf("branches after forged deliveries: %v", bs)
	}
}

// The bot dies right after acknowledging, or in the middle of the Pulumi
// update (taking the CLI with it, leaving a lock and pending operations);
// after a restart the work still completes.
func TestCrashAfterAcknowledgeStillCompletes(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ flavor, when string }{
		{"github", "after-ack"}, {"gitlab", "after-ack"}, {"github", "mid-update"}, {"gitlab", "mid-update"},
	} {
		flavor := tc.flavor
		t.Run(flavor+"/"+tc.when, func(t *testing.T) {
			repo := repoFor[flavor]
			issue, _, err := h.forge.OpenIssue(repo, "alice", "crash", request("crash", "0.3"), nil)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil)
			if err != nil || len(evs) != 1 {
				t.Fatalf("label: %v %v", evs, err)
			}
			last := h.sim.Deliveries()[len(h.sim.Deliveries())-1]
			if last.Status != http.StatusAccepted {
				t.Fatalf("label delivery answered %d, want 202", last.Status)
			}
			if tc.when == "mid-update" {
				h.waitComment(t, repo, issue.Number, "Making branch")
			}
			h.crash()
			h.restart()
			h.waitComment(t, repo, issue.Number, "is ready")
			if b := h.branch(repo, fmt.Sprintf("exp/%d-crash", issue.Number)); !b.exists || !strings.Contains(b.file, "lr: 0.3") {
				t.Errorf("after restart the branch is %+v", b)
			}
		})
	}
}

// emitJSON posts raw bytes like a forge would, for cases the simulator's
// helpers don't cover.
func emitJSON(t *testing.T, url string, hdr map[string]string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestMalformedAndOversizedBodies(t *testing.T) {
	h := newHarness(t)
	url := "http://" + h.addr + "/webhooks/github"
	sign := func(b []byte) map[string]string {
		return map[string]string{"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-" + fmt.Sprint(len(b)), "X-Hub-Signature-256": forgesim.GitHubSignature(githubSecret, b), "Content-Type": "application/json"}
	}
	if got := emitJSON(t, url, sign([]byte("{not json")), []byte("{not json")); got != http.StatusBadRequest {
		t.Errorf("malformed body: %d, want 400", got)
	}
	big := bytes.Repeat([]byte("a"), 26<<20)
	if got := emitJSON(t, url, sign(big), big); got != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d, want 413", got)
	}
	ping := []byte(`{"zen":"Keep it logically awesome.","hook_id":1}`)
	hdr := sign(ping)
	hdr["X-GitHub-Event"] = "ping"
	if got := emitJSON(t, url, hdr, ping); got != http.StatusOK {
		t.Errorf("ping: %d, want 200", got)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
}

// After real work on both forges, no file the bot wrote (database, Pulumi
// state and work dirs, its log) holds a token, secret or the passphrase in
// plain text.
func TestSecretsNeverWrittenInPlainText(t *testing.T) {
	h := newHarness(t)
	for _, flavor := range []string{"github", "gitlab"} {
		repo := repoFor[flavor]
		issue, _, err := h.forge.OpenIssue(repo, "alice", "secrets", request("secrets", "0.1"), []string{label})
		if err != nil {
			t.Fatal(err)
		}
		h.waitComment(t, repo, issue.Number, "is ready")
	}
	h.stop()
	secrets := []string{botToken, githubSecret, gitlabToken, passphrase}
	files := 0
	for _, root := range []string{h.dataDir, h.log.Name()} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := readPlain(path)
			if err != nil {
				return err
			}
			files++
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds a secret in plain text", strings.TrimPrefix(path, root))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 5 {
		t.Fatalf("only %d files looked at: the walk missed the data directory", files)
	}
}

// The bot dies while a branch it asked for is being made: Pulumi has
// recorded a pending create, and the forge makes the branch after all (the
// request had left). After a restart the experiment still completes on the
// branch that exists, instead of failing to make it a second time.
func TestCrashWithABranchCreateInFlight(t *testing.T) {
	h := newHarness(t)
	creates := map[string]func(*http.Request) bool{
		"github": func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git/refs")
		},
		"gitlab": func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/repository/branches")
		},
	}
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			g := h.holdRequests(t, creates[flavor])
			issue, _, err := h.forge.OpenIssue(repo, "alice", "in flight", request("inflight", "0.4"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil); err != nil {
				t.Fatal(err)
			}
			select {
			case <-g.arrived:
			case <-time.After(waitLimit):
				t.Fatal("the bot never asked for the branch")
			}
			h.crash()
			h.open(g) // the request had left: the forge makes the branch
			name := fmt.Sprintf("exp/%d-inflight", issue.Number)
			h.waitFor(t, "the held create to go through", func() bool { return h.branch(repo, name).exists })
			h.restart()
			h.waitComment(t, repo, issue.Number, "is ready")
			if b := h.branch(repo, name); !b.exists || !strings.Contains(b.file, "lr: 0.4") {
				t.Errorf("after restart the branch is %+v", b)
			}
		})
	}
}
