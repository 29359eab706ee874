package ghsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/forgesim/state"
)

const hookSecret = "s3cret"

// delivered is one webhook request after GitHub-style verification.
type delivered struct {
	event   string
	header  http.Header
	raw     map[string]any
	payload any
}

// deliver builds the deliveries for ev and verifies each as received.
func deliver(t *testing.T, ev state.Event, hook state.Hook) []delivered {
	t.Helper()
	reqs, err := NewDelivery(t.Context(), ev, hook, "guid-1", "http://forge.test/")
	must(t, err)
	target, targetID := "repository", ev.Repo.ID
	if hook.Namespace != "" {
		target, targetID = "organization", hook.NamespaceID
	}
	var out []delivered
	for i, req := range reqs {
		wantID := "guid-1"
		if i > 0 {
			wantID = "guid-1-" + strconv.Itoa(i)
		}
		out = append(out, received(t, req, hook, wantID, target, targetID))
	}
	return out
}

// received verifies one webhook request the way a receiver does: headers
// naming the delivery, the hook and what it is installed on, signature over
// the exact bytes, then ParseWebHook.
func received(t *testing.T, req *http.Request, hook state.Hook, wantID, target string, targetID int64) delivered {
	t.Helper()
	if req.Method != http.MethodPost || req.URL.String() != hook.URL {
		t.Errorf("request %s %s", req.Method, req.URL)
	}
	h := req.Header
	if h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("User-Agent"), "GitHub-Hookshot/") ||
		h.Get("X-GitHub-Delivery") != wantID || h.Get("X-GitHub-Hook-ID") != strconv.FormatInt(hook.ID, 10) ||
		h.Get("X-GitHub-Hook-Installation-Target-Type") != target ||
		h.Get("X-GitHub-Hook-Installation-Target-ID") != strconv.FormatInt(targetID, 10) {
		t.Errorf("headers %v", h)
	}
	body, err := io.ReadAll(req.Body)
	must(t, err)
	if hook.Secret != "" && h.Get("X-Hub-Signature-256") != "sha256="+sign(sha256.New, hook.Secret, body) {
		t.Errorf("signature %q", h.Get("X-Hub-Signature-256"))
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	payload, err := github.ValidatePayload(req, []byte(hook.Secret))
	must(t, err)
	parsed, err := github.ParseWebHook(github.WebHookType(req), payload)
	must(t, err)
	var raw map[string]any
	must(t, json.Unmarshal(payload, &raw))
	return delivered{event: github.WebHookType(req), header: h, raw: raw, payload: parsed}
}

// An organisation's hook names the organisation as what it is installed
// on, as GitHub does, not the repository the event is about.
func TestOrganizationHookDeliveryNamesTheOrganization(t *testing.T) {
	fx := newFixture(t)
	orgID, ok := fx.f.OrgID("acme")
	if !ok {
		t.Fatal("no organisation acme")
	}
	hook, err := fx.f.CreateHook(state.Scope{Namespace: "acme"}, state.Hook{Flavor: "github", URL: "http://bot.test/hook", Secret: hookSecret})
	must(t, err)
	if hook.NamespaceID != orgID {
		t.Fatalf("organisation hook's namespace id %d, want %d", hook.NamespaceID, orgID)
	}
	_, evs, err := fx.f.OpenIssue("acme/llm", "rita", "t", "b", nil)
	must(t, err)
	out := deliver(t, evs[0], hook)
	if len(out) != 1 || out[0].header.Get("X-GitHub-Hook-Installation-Target-Type") != "organization" ||
		out[0].header.Get("X-GitHub-Hook-Installation-Target-ID") != strconv.FormatInt(orgID, 10) {
		t.Errorf("organisation hook delivery headers %v", out[0].header)
	}
}

func TestSignatureMatchesGitHubVector(t *testing.T) {
	// From GitHub's "Validating webhook deliveries" documentation.
	got := "sha256=" + sign(sha256.New, "It's a Secret to Everybody", []byte("Hello, World!"))
	if got != "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17" {
		t.Errorf("signature %s", got)
	}
}

func TestDeliveryWithoutSecretIsUnsigned(t *testing.T) {
	fx := newFixture(t)
	_, evs, err := fx.f.OpenIssue("acme/llm", "rita", "t", "b", nil)
	must(t, err)
	out := deliver(t, evs[0], state.Hook{ID: 7, Flavor: "github", URL: "http://bot.test/hook"})
	if len(out) != 1 || out[0].header.Get("X-Hub-Signature-256") != "" || out[0].header.Get("X-Hub-Signature") != "" {
		t.Errorf("unsigned delivery headers %v", out[0].header)
	}
	// The legacy SHA-1 header is sent alongside when there is a secret.
	reqs, err := NewDelivery(t.Context(), evs[0], state.Hook{ID: 7, Flavor: "github", URL: "http://bot.test/hook", Secret: "k"}, "g", "http://forge.test")
	must(t, err)
	if !strings.HasPrefix(reqs[0].Header.Get("X-Hub-Signature"), "sha1=") || len(reqs[0].Header.Get("X-Hub-Signature")) != 5+40 {
		t.Errorf("sha1 header %q", reqs[0].Header.Get("X-Hub-Signature"))
	}
	if _, err := NewDelivery(t.Context(), evs[0], state.Hook{ID: 8, Flavor: "gitlab", URL: "http://x"}, "g", "http://forge.test"); err == nil {
		t.Error("a GitLab hook got a GitHub delivery")
	}
	if reqs, err := NewDelivery(t.Context(), state.Event{Kind: "unknown"}, state.Hook{Flavor: "github", URL: "http://x"}, "g", ""); err != nil || len(reqs) != 0 {
		t.Errorf("unknown event kind: %v %v", reqs, err)
	}
}

func TestWebhookPayloads(t *testing.T) {
	hook := state.Hook{ID: 42, Flavor: "github", URL: "http://bot.test/webhooks/github", Secret: hookSecret}
	type check func(t *testing.T, fx *fixture, out []delivered)
	one := func(t *testing.T, out []delivered, event string) delivered {
		t.Helper()
		if len(out) != 1 || out[0].event != event {
			var got []string
			for _, d := range out {
				got = append(got, d.event)
			}
			t.Fatalf("deliveries %v, want one %s", got, event)
		}
		return out[0]
	}
	issueEvent := func(t *testing.T, out []delivered, action string) *github.IssuesEvent {
		t.Helper()
		e := one(t, out, "issues").payload.(*github.IssuesEvent)
		if e.GetAction() != action || e.GetRepo().GetFullName() != "acme/llm" || e.GetIssue().GetNumber() != 1 ||
			e.GetIssue().IsPullRequest() || e.GetIssue().GetUser().GetLogin() != "rita" ||
			!strings.HasPrefix(e.GetIssue().GetHTMLURL(), "http://forge.test/acme/llm/issues/1") {
			t.Errorf("issues event %+v", e)
		}
		return e
	}
	tests := []struct {
		name string
		act  func(t *testing.T, fx *fixture) []state.Event
		check
	}{
		{"issue opened", func(t *testing.T, fx *fixture) []state.Event {
			_, evs, err := fx.f.OpenIssue("acme/llm", "rita", "Try lr", "body **md**", []string{"new-experiment"})
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := issueEvent(t, out, "opened")
			if e.GetIssue().GetTitle() != "Try lr" || e.GetIssue().GetBody() != "body **md**" || e.GetIssue().GetState() != "open" ||
				len(e.GetIssue().Labels) != 1 || e.GetSender().GetLogin() != "rita" || e.GetSender().GetType() != "User" {
				t.Errorf("opened %+v", e.GetIssue())
			}
			if _, ok := out[0].raw["issue"].(map[string]any)["pull_request"]; ok {
				t.Error("plain issue carries pull_request")
			}
		}},
		{"issue labeled by the bot", func(t *testing.T, fx *fixture) []state.Event {
			openTestIssue(t, fx)
			evs, err := fx.f.LabelIssue("acme/llm", 1, botLogin, []string{"new-experiment"}, nil)
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := issueEvent(t, out, "labeled")
			if e.GetLabel().GetName() != "new-experiment" || e.GetSender().GetType() != "Bot" || e.GetSender().GetLogin() != botLogin {
				t.Errorf("labeled %+v sender %+v", e.GetLabel(), e.GetSender())
			}
		}},
		{"issue unlabeled", func(t *testing.T, fx *fixture) []state.Event {
			openTestIssue(t, fx, "new-experiment")
			evs, err := fx.f.LabelIssue("acme/llm", 1, "maint", nil, []string{"new-experiment"})
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := issueEvent(t, out, "unlabeled")
			if e.GetLabel().GetName() != "new-experiment" || len(e.GetIssue().Labels) != 0 || e.GetSender().GetLogin() != "maint" {
				t.Errorf("unlabeled %+v", e)
			}
		}},
		{"issue edited", func(t *testing.T, fx *fixture) []state.Event {
			openTestIssue(t, fx)
			title, body := "new title", "new body"
			evs, err := fx.f.EditIssue("acme/llm", 1, "rita", &title, &body)
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := issueEvent(t, out, "edited")
			if e.GetChanges().GetTitle().GetFrom() != "title" || e.GetChanges().GetBody().GetFrom() != "body" || e.GetIssue().GetTitle() != "new title" {
				t.Errorf("edited changes %+v", e.GetChanges())
			}
		}},
		{"issue closed", func(t *testing.T, fx *fixture) []state.Event {
			openTestIssue(t, fx)
			evs, err := fx.f.SetIssueState("acme/llm", 1, "rita", "closed")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			if e := issueEvent(t, out, "closed"); e.GetIssue().GetState() != "closed" || e.GetIssue().ClosedAt == nil {
				t.Errorf("closed %+v", e.GetIssue())
			}
		}},
		{"issue reopened", func(t *testing.T, fx *fixture) []state.Event {
			openTestIssue(t, fx)
			_, err := fx.f.SetIssueState("acme/llm", 1, "rita", "closed")
			must(t, err)
			evs, err := fx.f.SetIssueState("acme/llm", 1, "rita", "open")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			if e := issueEvent(t, out, "reopened"); e.GetIssue().GetState() != "open" {
				t.Errorf("reopened %+v", e.GetIssue())
			}
		}},
		{"pull opened", func(t *testing.T, fx *fixture) []state.Event {
			return openTestPull(t, fx)
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := one(t, out, "pull_request").payload.(*github.PullRequestEvent)
			pr := e.GetPullRequest()
			if e.GetAction() != "opened" || e.GetNumber() != 1 || pr.GetNumber() != 1 || pr.GetState() != "open" || pr.GetMerged() ||
				pr.GetHead().GetRef() != "exp/x" || pr.GetBase().GetRef() != "main" || pr.GetUser().GetLogin() != "dev" ||
				pr.GetTitle() != "Variant" || pr.GetHead().GetRepo().GetFullName() != "acme/llm" {
				t.Errorf("pull opened %+v", e)
			}
		}},
		{"pull merged", func(t *testing.T, fx *fixture) []state.Event {
			openTestPull(t, fx)
			evs, err := fx.f.SetIssueState("acme/llm", 1, "maint", "merged")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			pr := one(t, out, "pull_request").payload.(*github.PullRequestEvent)
			if pr.GetAction() != "closed" || !pr.GetPullRequest().GetMerged() || pr.GetPullRequest().GetState() != "closed" ||
				pr.GetPullRequest().GetMergedBy().GetLogin() != "maint" {
				t.Errorf("pull merged %+v", pr)
			}
		}},
		{"pull closed", func(t *testing.T, fx *fixture) []state.Event {
			openTestPull(t, fx)
			evs, err := fx.f.SetIssueState("acme/llm", 1, "dev", "closed")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			pr := one(t, out, "pull_request").payload.(*github.PullRequestEvent)
			if pr.GetAction() != "closed" || pr.GetPullRequest().GetMerged() {
				t.Errorf("pull closed %+v", pr)
			}
		}},
		{"pull reopened", func(t *testing.T, fx *fixture) []state.Event {
			openTestPull(t, fx)
			_, err := fx.f.SetIssueState("acme/llm", 1, "dev", "closed")
			must(t, err)
			evs, err := fx.f.SetIssueState("acme/llm", 1, "dev", "open")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			if pr := one(t, out, "pull_request").payload.(*github.PullRequestEvent); pr.GetAction() != "reopened" {
				t.Errorf("pull reopened %+v", pr)
			}
		}},
		{"pull labeled is a pull_request event", func(t *testing.T, fx *fixture) []state.Event {
			openTestPull(t, fx)
			evs, err := fx.f.LabelIssue("acme/llm", 1, "dev", []string{"run"}, nil)
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			pr := one(t, out, "pull_request").payload.(*github.PullRequestEvent)
			if pr.GetAction() != "labeled" || pr.GetLabel().GetName() != "run" {
				t.Errorf("pull labeled %+v", pr)
			}
		}},
		{"issue comment created", func(t *testing.T, fx *fixture) []state.Event {
			openTestIssue(t, fx)
			_, evs, err := fx.f.Comment("acme/llm", 1, "", "dev", "/experiment lr=0.2\n<!-- x -->")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := one(t, out, "issue_comment").payload.(*github.IssueCommentEvent)
			c := e.GetComment()
			if e.GetAction() != "created" || c.GetBody() != "/experiment lr=0.2\n<!-- x -->" || c.GetUser().GetLogin() != "dev" || c.GetID() == 0 ||
				e.GetIssue().IsPullRequest() || e.GetIssue().GetNumber() != 1 || c.CreatedAt == nil ||
				!strings.HasPrefix(c.GetHTMLURL(), "http://forge.test/acme/llm/issues/1#issuecomment-") || e.GetSender().GetLogin() != "dev" {
				t.Errorf("issue comment %+v", e)
			}
		}},
		{"pull comment created", func(t *testing.T, fx *fixture) []state.Event {
			openTestPull(t, fx)
			_, evs, err := fx.f.Comment("acme/llm", 1, "", botLogin, "status")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := one(t, out, "issue_comment").payload.(*github.IssueCommentEvent)
			if !e.GetIssue().IsPullRequest() || e.GetIssue().GetPullRequestLinks().GetHTMLURL() != "http://forge.test/acme/llm/pull/1" ||
				e.GetComment().GetUser().GetType() != "Bot" || e.GetSender().GetType() != "Bot" {
				t.Errorf("pull comment %+v", e)
			}
		}},
		{"comment edited through the API", func(t *testing.T, fx *fixture) []state.Event {
			openTestIssue(t, fx)
			c, _, err := fx.f.Comment("acme/llm", 1, "", botLogin, "queued")
			must(t, err)
			fx.takeEvents()
			_, _, err = fx.client(tokBot).Issues.EditComment(t.Context(), "acme", "llm", c.ID, &github.IssueComment{Body: github.String("done")})
			must(t, err)
			return fx.takeEvents()
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := one(t, out, "issue_comment").payload.(*github.IssueCommentEvent)
			if e.GetAction() != "edited" || e.GetComment().GetBody() != "done" || e.GetChanges().GetBody().GetFrom() != "queued" {
				t.Errorf("comment edited %+v", e)
			}
		}},
		{"comment edited in the model", func(t *testing.T, fx *fixture) []state.Event {
			openTestIssue(t, fx)
			c, _, err := fx.f.Comment("acme/llm", 1, "", "dev", "a")
			must(t, err)
			_, evs, err := fx.f.EditComment("acme/llm", c.ID, "dev", "b")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			e := one(t, out, "issue_comment").payload.(*github.IssueCommentEvent)
			if e.GetAction() != "edited" || e.GetComment().GetBody() != "b" || e.Changes == nil {
				t.Errorf("comment edited %+v", e)
			}
		}},
		{"commit comment created", func(t *testing.T, fx *fixture) []state.Event {
			_, evs, err := fx.f.Comment("acme/llm", 0, "main", botLogin, "Tag v1: done")
			must(t, err)
			return evs
		}, func(t *testing.T, fx *fixture, out []delivered) {
			e := one(t, out, "commit_comment").payload.(*github.CommitCommentEvent)
			if e.GetAction() != "created" || e.GetComment().GetCommitID() != fx.head("acme/llm", "main") || e.GetComment().GetBody() != "Tag v1: done" {
				t.Errorf("commit comment %+v", e)
			}
		}},
		{"commit comment edited sends nothing", func(t *testing.T, fx *fixture) []state.Event {
			c, _, err := fx.f.Comment("acme/llm", 0, "main", botLogin, "x")
			must(t, err)
			_, evs, err := fx.f.EditComment("acme/llm", c.ID, botLogin, "y")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			if len(out) != 0 {
				t.Errorf("deliveries %v", out)
			}
		}},
		{"push to existing branch", func(t *testing.T, fx *fixture) []state.Event {
			_, evs, err := fx.f.PushFiles("acme/llm", "main", "dev", "tune lr", []state.FileChange{{Path: "configs/base.yaml", Content: []byte("lr: 0.3\n")}})
			must(t, err)
			return evs
		}, func(t *testing.T, fx *fixture, out []delivered) {
			d := one(t, out, "push")
			e := d.payload.(*github.PushEvent)
			head := fx.head("acme/llm", "main")
			if e.GetRef() != "refs/heads/main" || e.GetAfter() != head || e.GetCreated() || e.GetDeleted() || e.GetForced() ||
				len(e.Commits) != 1 || e.Commits[0].GetID() != head || e.Commits[0].GetMessage() != "tune lr" ||
				e.GetHeadCommit().GetID() != head || e.GetHeadCommit().GetAuthor().GetLogin() != "dev" ||
				e.GetPusher().GetName() != "dev" || e.GetSender().GetLogin() != "dev" || e.GetRepo().GetFullName() != "acme/llm" ||
				e.GetRepo().GetDefaultBranch() != "main" || e.GetRepo().GetMasterBranch() != "main" {
				t.Errorf("push %+v", e)
			}
			// Push payloads give repository dates as unix seconds and an owner with a name.
			repo := d.raw["repository"].(map[string]any)
			if _, ok := repo["created_at"].(float64); !ok {
				t.Errorf("push repository.created_at %v", repo["created_at"])
			}
			if owner := repo["owner"].(map[string]any); owner["name"] != "acme" || owner["login"] != "acme" {
				t.Errorf("push repository.owner %v", owner)
			}
		}},
		{"push creating a branch", func(t *testing.T, fx *fixture) []state.Event {
			_, evs, err := fx.f.PushFiles("acme/llm", "exp/new", "dev", "start", []state.FileChange{{Path: "n", Content: []byte("n")}})
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			if len(out) != 2 || out[0].event != "push" || out[1].event != "create" {
				t.Fatalf("deliveries %v", out)
			}
			if p := out[0].payload.(*github.PushEvent); !p.GetCreated() || p.GetBefore() != state.ZeroSHA {
				t.Errorf("push %+v", p)
			}
			if c := out[1].payload.(*github.CreateEvent); c.GetRef() != "exp/new" || c.GetRefType() != "branch" || c.GetMasterBranch() != "main" {
				t.Errorf("create %+v", c)
			}
		}},
		{"tag pushed", func(t *testing.T, fx *fixture) []state.Event {
			evs, err := fx.f.PushTag("acme/llm", "dev", "exp/run-1", "main")
			must(t, err)
			return evs
		}, func(t *testing.T, fx *fixture, out []delivered) {
			if len(out) != 2 || out[0].event != "push" || out[1].event != "create" {
				t.Fatalf("deliveries %v", out)
			}
			main := fx.head("acme/llm", "main")
			p := out[0].payload.(*github.PushEvent)
			if p.GetRef() != "refs/tags/exp/run-1" || !p.GetCreated() || p.GetDeleted() || p.GetBefore() != state.ZeroSHA ||
				p.GetAfter() != main || p.GetHeadCommit().GetID() != main || len(p.Commits) != 0 || p.GetBaseRef() != "" {
				t.Errorf("tag push %+v", p)
			}
			c := out[1].payload.(*github.CreateEvent)
			if c.GetRef() != "exp/run-1" || c.GetRefType() != "tag" || c.GetMasterBranch() != "main" || c.GetPusherType() != "user" ||
				c.GetSender().GetLogin() != "dev" || c.GetRepo().GetFullName() != "acme/llm" {
				t.Errorf("create %+v", c)
			}
		}},
		{"tag moved", func(t *testing.T, fx *fixture) []state.Event {
			_, err := fx.f.PushTag("acme/llm", "dev", "v1", "main")
			must(t, err)
			_, _, err = fx.f.PushFiles("acme/llm", "main", "dev", "m", []state.FileChange{{Path: "m", Content: []byte("m")}})
			must(t, err)
			evs, err := fx.f.PushTag("acme/llm", "dev", "v1", "main")
			must(t, err)
			return evs
		}, func(t *testing.T, _ *fixture, out []delivered) {
			p := one(t, out, "push").payload.(*github.PushEvent)
			if p.GetCreated() || p.GetBefore() == state.ZeroSHA || p.GetHeadCommit().GetID() != p.GetAfter() {
				t.Errorf("tag move %+v", p)
			}
		}},
		{"tag deleted", func(t *testing.T, fx *fixture) []state.Event {
			_, err := fx.f.PushTag("acme/llm", "dev", "v1", "main")
			must(t, err)
			evs, err := fx.f.RemoveTag("acme/llm", "dev", "v1")
			must(t, err)
			return evs
		}, func(t *testing.T, fx *fixture, out []delivered) {
			if len(out) != 2 || out[0].event != "push" || out[1].event != "delete" {
				t.Fatalf("deliveries %v", out)
			}
			p := out[0].payload.(*github.PushEvent)
			if !p.GetDeleted() || p.GetAfter() != state.ZeroSHA || p.GetBefore() != fx.head("acme/llm", "main") || p.HeadCommit != nil {
				t.Errorf("tag delete push %+v", p)
			}
			if hc, ok := out[0].raw["head_commit"]; !ok || hc != nil {
				t.Errorf("head_commit should be null, got %v", hc)
			}
			if d := out[1].payload.(*github.DeleteEvent); d.GetRef() != "v1" || d.GetRefType() != "tag" || d.GetPusherType() != "user" {
				t.Errorf("delete %+v", d)
			}
		}},
		{"branch deleted through the API", func(t *testing.T, fx *fixture) []state.Event {
			must(t, fx.f.WithRepo("acme/llm", func(r *state.Repo) error { return r.CreateBranch("exp/gone", fx.headLocked(r, "main")) }))
			_, err := fx.client(tokDev).Git.DeleteRef(t.Context(), "acme", "llm", "refs/heads/exp/gone")
			must(t, err)
			return fx.takeEvents()
		}, func(t *testing.T, _ *fixture, out []delivered) {
			if len(out) != 2 || out[0].event != "push" || out[1].event != "delete" {
				t.Fatalf("deliveries %v", out)
			}
			if d := out[1].payload.(*github.DeleteEvent); d.GetRef() != "exp/gone" || d.GetRefType() != "branch" {
				t.Errorf("delete %+v", d)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			evs := tt.act(t, fx)
			if len(evs) != 1 {
				t.Fatalf("action produced %d events", len(evs))
			}
			tt.check(t, fx, deliver(t, evs[0], hook))
		})
	}
}

func openTestIssue(t *testing.T, fx *fixture, labels ...string) {
	t.Helper()
	_, _, err := fx.f.OpenIssue("acme/llm", "rita", "title", "body", labels)
	must(t, err)
	fx.takeEvents()
}

func openTestPull(t *testing.T, fx *fixture) []state.Event {
	t.Helper()
	_, _, err := fx.f.PushFiles("acme/llm", "exp/x", "dev", "x", []state.FileChange{{Path: "x", Content: []byte("x")}})
	must(t, err)
	_, evs, err := fx.f.OpenPull("acme/llm", "dev", "Variant", "please", "exp/x", "main")
	must(t, err)
	fx.takeEvents()
	return evs
}

// headLocked reads a branch head inside a WithRepo callback.
func (fx *fixture) headLocked(r *state.Repo, branch string) string {
	sha, _ := r.Branch(branch)
	return sha
}

// GitHub has no confidential issues: what GitLab reports as a change of
// confidentiality sends nothing here.
func TestNoDeliveryForConfidentiality(t *testing.T) {
	fx := newFixture(t)
	issue, _, err := fx.f.OpenIssue("acme/llm", "rita", "t", "b", nil)
	must(t, err)
	evs, err := fx.f.SetConfidential("acme/llm", issue.Number, "maint", true)
	must(t, err)
	if len(evs) != 1 {
		t.Fatalf("%d events, want 1", len(evs))
	}
	reqs, err := NewDelivery(t.Context(), evs[0], state.Hook{ID: 7, Flavor: "github", URL: "http://bot.test/hook", Secret: "k"}, "g", "http://forge.test")
	if err != nil || len(reqs) != 0 {
		t.Errorf("NewDelivery = %d requests, %v; want none", len(reqs), err)
	}
}
