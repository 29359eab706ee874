package glsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forgesim/state"
)

const hookBase = "https://forge.example.test"

// deliver turns an event into its one GitLab delivery and parses it back
// the way a receiver using go-gitlab does.
func deliver(t *testing.T, ev state.Event) (*http.Request, any) {
	t.Helper()
	hook := state.Hook{ID: 7, Flavor: "gitlab", URL: "http://bot.example.test/webhooks/gitlab", Secret: "s3cret"}
	reqs, err := NewDelivery(context.Background(), ev, hook, "delivery-1", hookBase)
	if err != nil {
		t.Fatalf("NewDelivery(%s): %v", ev.Kind, err)
	}
	if len(reqs) != 1 {
		t.Fatalf("NewDelivery(%s) = %d requests, want 1", ev.Kind, len(reqs))
	}
	req := reqs[0]
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := gitlab.ParseWebhook(gitlab.HookEventType(req), body)
	if err != nil {
		t.Fatalf("ParseWebhook(%s): %v\n%s", gitlab.HookEventType(req), err, body)
	}
	return req, parsed
}

// deliverIssue is deliver for an event that must arrive as an issue hook.
func deliverIssue(t *testing.T, ev state.Event) (*http.Request, *gitlab.IssueEvent) {
	t.Helper()
	req, parsed := deliver(t, ev)
	e, ok := parsed.(*gitlab.IssueEvent)
	if !ok {
		t.Fatalf("parsed %T, want *gitlab.IssueEvent", parsed)
	}
	return req, e
}

// one adapts only to actions that return ([]state.Event, error).
func one(t *testing.T) func([]state.Event, error) state.Event {
	return func(evs []state.Event, err error) state.Event {
		t.Helper()
		return only(t, evs, err)
	}
}

// only returns the single event an action produced.
func only(t *testing.T, evs []state.Event, err error) state.Event {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1: %+v", len(evs), evs)
	}
	return evs[0]
}

var hookTimeFormat = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`)

func TestDeliveryHeaders(t *testing.T) {
	fx := newFixture(t)
	_, evs, err := fx.f.OpenIssue(project, "dev", "t", "b", nil)
	ev := only(t, evs, err)
	req, _ := deliver(t, ev)
	want := map[string]string{
		"Content-Type":          "application/json",
		"User-Agent":            "GitLab/17.11.0",
		"X-Gitlab-Event":        "Issue Hook",
		"X-Gitlab-Token":        "s3cret",
		"X-Gitlab-Event-Uuid":   "delivery-1",
		"X-Gitlab-Instance":     hookBase,
		"Idempotency-Key":       "delivery-1",
		"X-Gitlab-Webhook-Uuid": webhookUUID(7),
	}
	for k, v := range want {
		if got := req.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if req.Method != http.MethodPost || req.URL.String() != "http://bot.example.test/webhooks/gitlab" {
		t.Errorf("request = %s %s", req.Method, req.URL)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(webhookUUID(7)) || webhookUUID(7) == webhookUUID(8) {
		t.Errorf("webhook UUIDs %s / %s", webhookUUID(7), webhookUUID(8))
	}

	// No secret, no token header.
	reqs, err := NewDelivery(context.Background(), ev, state.Hook{ID: 1, Flavor: "gitlab", URL: "http://x/"}, "d", hookBase)
	if err != nil || len(reqs) != 1 {
		t.Fatalf("NewDelivery = %v, %v", reqs, err)
	}
	if _, ok := reqs[0].Header["X-Gitlab-Token"]; ok {
		t.Error("X-Gitlab-Token sent for a hook without secret")
	}
	if _, err := NewDelivery(context.Background(), ev, state.Hook{ID: 1, Flavor: "github", URL: "http://x/"}, "d", hookBase); err == nil {
		t.Error("a GitHub hook got a GitLab delivery")
	}
	if reqs, err := NewDelivery(context.Background(), state.Event{Kind: state.IssueOpened}, state.Hook{URL: "http://x/"}, "d", hookBase); err != nil || len(reqs) != 0 {
		t.Errorf("event without an issue: %v, %v", reqs, err)
	}
}

func TestIssueHooks(t *testing.T) {
	fx := newFixture(t)
	dev, _ := fx.f.UserByLogin("dev")
	maint, _ := fx.f.UserByLogin("maint")
	issue, evs, err := fx.f.OpenIssue(project, "dev", "Try lr 2", "body v1", []string{"bug"})
	opened := only(t, evs, err)
	labeled := one(t)(fx.f.LabelIssue(project, issue.Number, "maint", []string{"new-experiment"}, nil))
	unlabeled := one(t)(fx.f.LabelIssue(project, issue.Number, "maint", nil, []string{"bug"}))
	body := "body v2"
	edited := one(t)(fx.f.EditIssue(project, issue.Number, "dev", nil, &body))
	closed := one(t)(fx.f.SetIssueState(project, issue.Number, "maint", "closed"))
	reopened := one(t)(fx.f.SetIssueState(project, issue.Number, "maint", "open"))

	titles := func(ls []*gitlab.EventLabel) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Title)
		}
		return out
	}
	tests := []struct {
		name   string
		ev     state.Event
		check  func(t *testing.T, e *gitlab.IssueEvent)
		action string
		state  string
		actor  int
	}{
		{"open", opened, func(t *testing.T, e *gitlab.IssueEvent) {
			if e.ObjectAttributes.AuthorID != int(dev.ID) || e.Changes.Title.Current != "Try lr 2" || strings.Join(titles(e.Labels), ",") != "bug" ||
				len(e.Changes.Labels.Previous) != 0 || strings.Join(titles(e.Changes.Labels.Current), ",") != "bug" {
				t.Errorf("open: author %d changes %+v labels %v", e.ObjectAttributes.AuthorID, e.Changes.Title, titles(e.Labels))
			}
		}, "open", "opened", int(dev.ID)},
		{"labeled", labeled, func(t *testing.T, e *gitlab.IssueEvent) {
			if strings.Join(titles(e.Changes.Labels.Previous), ",") != "bug" || strings.Join(titles(e.Changes.Labels.Current), ",") != "bug,new-experiment" {
				t.Errorf("labels change %v -> %v", titles(e.Changes.Labels.Previous), titles(e.Changes.Labels.Current))
			}
			l := e.Changes.Labels.Current[1]
			if l.ID == 0 || l.ProjectID != int(fx.repo.ID) || l.Type != "ProjectLabel" || !strings.HasPrefix(l.Color, "#") || !hookTimeFormat.MatchString(l.CreatedAt) {
				t.Errorf("label object = %+v", l)
			}
			if e.ObjectAttributes.AuthorID != 0 {
				t.Errorf("author of someone else's issue should be unknown (0), got %d", e.ObjectAttributes.AuthorID)
			}
		}, "update", "opened", int(maint.ID)},
		{"unlabeled", unlabeled, func(t *testing.T, e *gitlab.IssueEvent) {
			if strings.Join(titles(e.Changes.Labels.Previous), ",") != "bug,new-experiment" || strings.Join(titles(e.Changes.Labels.Current), ",") != "new-experiment" {
				t.Errorf("labels change %v -> %v", titles(e.Changes.Labels.Previous), titles(e.Changes.Labels.Current))
			}
		}, "update", "opened", int(maint.ID)},
		{"edited", edited, func(t *testing.T, e *gitlab.IssueEvent) {
			if e.Changes.Description.Previous != "body v1" || e.Changes.Description.Current != "body v2" || e.Changes.Title.Current != "" {
				t.Errorf("description change %+v title %+v", e.Changes.Description, e.Changes.Title)
			}
		}, "update", "opened", int(dev.ID)},
		{"closed", closed, func(t *testing.T, e *gitlab.IssueEvent) {
			if e.Changes.StateID.Previous != gitlab.StateIDOpen || e.Changes.StateID.Current != gitlab.StateIDClosed || e.ObjectAttributes.StateID != gitlab.StateIDClosed {
				t.Errorf("state change %+v", e.Changes.StateID)
			}
		}, "close", "closed", int(maint.ID)},
		{"reopened", reopened, func(t *testing.T, e *gitlab.IssueEvent) {
			if e.Changes.StateID.Previous != gitlab.StateIDClosed || e.Changes.StateID.Current != gitlab.StateIDOpen {
				t.Errorf("state change %+v", e.Changes.StateID)
			}
		}, "reopen", "opened", int(maint.ID)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, e := deliverIssue(t, tt.ev)
			if req.Header.Get("X-Gitlab-Event") != "Issue Hook" || e.ObjectKind != "issue" || e.EventType != "issue" {
				t.Errorf("kind %q/%q header %q", e.ObjectKind, e.EventType, req.Header.Get("X-Gitlab-Event"))
			}
			a := e.ObjectAttributes
			if a.Action != tt.action || a.State != tt.state || a.IID != issue.Number || a.ID == 0 || a.Title != "Try lr 2" ||
				a.ProjectID != int(fx.repo.ID) || a.URL != hookBase+"/acme/llm/-/issues/1" ||
				!hookTimeFormat.MatchString(a.CreatedAt) || !hookTimeFormat.MatchString(a.UpdatedAt) {
				t.Errorf("object_attributes = %+v", a)
			}
			if e.User == nil || e.User.ID != tt.actor || e.User.Username == "" || e.User.Email == "" || e.User.AvatarURL == "" {
				t.Errorf("user = %+v", e.User)
			}
			p := e.Project
			if p.ID != int(fx.repo.ID) || p.PathWithNamespace != project || p.WebURL != hookBase+"/acme/llm" || p.DefaultBranch != "main" ||
				p.GitHTTPURL != hookBase+"/acme/llm.git" || p.GitSSHURL != "git@forge.example.test:acme/llm.git" || p.Namespace != "acme" {
				t.Errorf("project = %+v", p)
			}
			if e.Repository == nil || e.Repository.Name != "llm" || e.Repository.Homepage != hookBase+"/acme/llm" {
				t.Errorf("repository = %+v", e.Repository)
			}
			tt.check(t, e)
		})
	}
}

func TestMergeRequestHooks(t *testing.T) {
	fx := newFixture(t)
	if _, _, err := fx.f.PushFiles(project, "exp/mr", "dev", "variant", []state.FileChange{{Path: "v", Content: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	mr, evs, err := fx.f.OpenPull(project, "dev", "Variant", "desc", "exp/mr", "")
	opened := only(t, evs, err)
	labeled := one(t)(fx.f.LabelIssue(project, mr.Number, "dev", []string{"experiment"}, nil))
	closed := one(t)(fx.f.SetIssueState(project, mr.Number, "dev", "closed"))
	reopened := one(t)(fx.f.SetIssueState(project, mr.Number, "dev", "open"))
	merged := one(t)(fx.f.SetIssueState(project, mr.Number, "maint", "merged"))
	tests := []struct {
		ev            state.Event
		action, state string
		stateID       gitlab.StateID
	}{
		{opened, "open", "opened", gitlab.StateIDOpen},
		{labeled, "update", "opened", gitlab.StateIDOpen},
		{closed, "close", "closed", gitlab.StateIDClosed},
		{reopened, "reopen", "opened", gitlab.StateIDOpen},
		{merged, "merge", "merged", gitlab.StateIDMerged},
	}
	for _, tt := range tests {
		t.Run(tt.action+"/"+tt.state, func(t *testing.T) {
			req, parsed := deliver(t, tt.ev)
			e, ok := parsed.(*gitlab.MergeEvent)
			if !ok {
				t.Fatalf("parsed %T, want *gitlab.MergeEvent", parsed)
			}
			a := e.ObjectAttributes
			if req.Header.Get("X-Gitlab-Event") != "Merge Request Hook" || e.ObjectKind != "merge_request" || a.Action != tt.action ||
				a.State != tt.state || a.StateID != tt.stateID || a.IID != mr.Number || a.SourceBranch != "exp/mr" || a.TargetBranch != "main" ||
				a.Title != "Variant" || a.Description != "desc" || a.URL != hookBase+"/acme/llm/-/merge_requests/"+strconv.Itoa(mr.Number) ||
				a.Source == nil || a.Target == nil || a.Target.PathWithNamespace != project || e.Project.PathWithNamespace != project {
				t.Errorf("merge event = %+v", a)
			}
		})
	}
	_, parsed := deliver(t, labeled)
	if e := parsed.(*gitlab.MergeEvent); len(e.Changes.Labels.Current) != 1 || e.Changes.Labels.Current[0].Title != "experiment" || len(e.Labels) != 1 {
		t.Errorf("MR label change = %+v", e.Changes.Labels)
	}
	// When an event carries the source head, it is last_commit.
	withHead := opened
	withHead.After = fx.head("exp/mr")
	_, parsed = deliver(t, withHead)
	if e := parsed.(*gitlab.MergeEvent); e.ObjectAttributes.LastCommit.ID != withHead.After {
		t.Errorf("last_commit = %+v", e.ObjectAttributes.LastCommit)
	}
}

func TestNoteHooks(t *testing.T) {
	fx := newFixture(t)
	issue, _, err := fx.f.OpenIssue(project, "dev", "Issue", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := fx.f.PushFiles(project, "exp/n", "dev", "n", []state.FileChange{{Path: "n", Content: []byte("n")}}); err != nil {
		t.Fatal(err)
	}
	mr, _, err := fx.f.OpenPull(project, "dev", "MR", "", "exp/n", "")
	if err != nil {
		t.Fatal(err)
	}
	fx.takeEvents()
	dev := fx.client("dev")

	in, _, err := dev.Notes.CreateIssueNote(project, issue.Number, &gitlab.CreateIssueNoteOptions{Body: gitlab.Ptr("hello issue")})
	if err != nil {
		t.Fatal(err)
	}
	issueNote := fx.takeEvents()[0]
	if _, _, err := dev.Notes.UpdateIssueNote(project, issue.Number, in.ID, &gitlab.UpdateIssueNoteOptions{Body: gitlab.Ptr("edited")}); err != nil {
		t.Fatal(err)
	}
	issueEdit := fx.takeEvents()[0]
	if _, _, err := dev.Notes.CreateMergeRequestNote(project, mr.Number, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr("/experiment x")}); err != nil {
		t.Fatal(err)
	}
	mrNote := fx.takeEvents()[0]
	head := fx.head("main")
	if _, _, err := dev.Discussions.CreateCommitDiscussion(project, head, &gitlab.CreateCommitDiscussionOptions{Body: gitlab.Ptr("on commit")}); err != nil {
		t.Fatal(err)
	}
	commitNote := fx.takeEvents()[0]
	_, evs, err := fx.f.Comment(project, 0, head, "dev", "admin-made commit note")
	bareCommitNote := only(t, evs, err)

	t.Run("issue note", func(t *testing.T) {
		req, parsed := deliver(t, issueNote)
		e, ok := parsed.(*gitlab.IssueCommentEvent)
		if !ok {
			t.Fatalf("parsed %T", parsed)
		}
		a := e.ObjectAttributes
		if req.Header.Get("X-Gitlab-Event") != "Note Hook" || e.ObjectKind != "note" || e.EventType != "note" || a.NoteableType != "Issue" ||
			a.Action != "create" || a.Note != "hello issue" || a.ID != in.ID || a.AuthorID != int(issueNote.Actor.ID) ||
			a.URL != hookBase+"/acme/llm/-/issues/1#note_"+strconv.Itoa(in.ID) || e.Issue.IID != issue.Number || e.Issue.Title != "Issue" ||
			e.User.Username != "dev" || e.ProjectID != int(fx.repo.ID) || !hookTimeFormat.MatchString(a.CreatedAt) {
			t.Errorf("issue note event = %+v issue %+v", a, e.Issue)
		}
	})
	t.Run("issue note edit", func(t *testing.T) {
		_, parsed := deliver(t, issueEdit)
		e := parsed.(*gitlab.IssueCommentEvent)
		if e.ObjectAttributes.Action != "update" || e.ObjectAttributes.Note != "edited" {
			t.Errorf("edit event = %+v", e.ObjectAttributes)
		}
	})
	t.Run("merge request note", func(t *testing.T) {
		_, parsed := deliver(t, mrNote)
		e, ok := parsed.(*gitlab.MergeCommentEvent)
		if !ok {
			t.Fatalf("parsed %T", parsed)
		}
		if e.ObjectAttributes.NoteableType != "MergeRequest" || e.ObjectAttributes.Note != "/experiment x" || e.ObjectAttributes.Action != "create" ||
			e.MergeRequest.IID != mr.Number || e.MergeRequest.SourceBranch != "exp/n" || e.MergeRequest.TargetBranch != "main" ||
			e.ObjectAttributes.DiscussionID == "" || e.Project.PathWithNamespace != project {
			t.Errorf("MR note event = %+v mr %+v", e.ObjectAttributes, e.MergeRequest)
		}
	})
	t.Run("commit note", func(t *testing.T) {
		_, parsed := deliver(t, commitNote)
		e, ok := parsed.(*gitlab.CommitCommentEvent)
		if !ok {
			t.Fatalf("parsed %T", parsed)
		}
		if e.ObjectAttributes.NoteableType != "Commit" || e.ObjectAttributes.CommitID != head || e.Commit == nil || e.Commit.ID != head ||
			e.Commit.Message != "Initial commit" || e.Commit.Timestamp == nil || e.Commit.Author.Name != "Init" {
			t.Errorf("commit note event = %+v commit %+v", e.ObjectAttributes, e.Commit)
		}
	})
	t.Run("commit note without commit details", func(t *testing.T) {
		_, parsed := deliver(t, bareCommitNote)
		e := parsed.(*gitlab.CommitCommentEvent)
		if e.Commit == nil || e.Commit.ID != head || e.ObjectAttributes.Note != "admin-made commit note" {
			t.Errorf("commit note event = %+v commit %+v", e.ObjectAttributes, e.Commit)
		}
	})
}

func TestPushHooks(t *testing.T) {
	fx := newFixture(t)
	dev, _ := fx.f.UserByLogin("dev")
	cm, evs, err := fx.f.PushFiles(project, "exp/p", "dev", "first\n\nbody", []state.FileChange{{Path: "p.yaml", Content: []byte("p")}})
	created := only(t, evs, err)
	// Two commits in one push: the second lists its changes against the first.
	second := created
	c2 := cm
	c2.SHA, c2.Parents, c2.Message = strings.Repeat("b", 40), []string{cm.SHA}, "second"
	c2.Tree = map[string]string{"p.yaml": "changed", "new.txt": "x"}
	for k, v := range cm.Tree {
		if k != "p.yaml" {
			c2.Tree[k] = v
		}
	}
	delete(c2.Tree, "README.md")
	second.Before, second.After, second.Commits = cm.SHA, c2.SHA, []state.Commit{cm, c2}

	if _, err := fx.client("dev").Branches.DeleteBranch(project, "exp/p"); err != nil {
		t.Fatal(err)
	}
	deleted := fx.takeEvents()[1]

	t.Run("new branch", func(t *testing.T) {
		req, parsed := deliver(t, created)
		e, ok := parsed.(*gitlab.PushEvent)
		if !ok {
			t.Fatalf("parsed %T", parsed)
		}
		if req.Header.Get("X-Gitlab-Event") != "Push Hook" || e.ObjectKind != "push" || e.EventName != "push" || e.Before != state.ZeroSHA ||
			e.After != cm.SHA || e.CheckoutSHA != cm.SHA || e.Ref != "refs/heads/exp/p" || e.UserID != int(dev.ID) || e.UserUsername != "dev" ||
			e.UserName != "Dev" || e.ProjectID != int(fx.repo.ID) || e.TotalCommitsCount != 1 || len(e.Commits) != 1 || e.Project.PathWithNamespace != project {
			t.Fatalf("push event = %+v", e)
		}
		c := e.Commits[0]
		if c.ID != cm.SHA || c.Title != "first" || c.Message != "first\n\nbody" || c.Timestamp == nil || !c.Timestamp.Equal(cm.Committer.When) ||
			c.URL != hookBase+"/acme/llm/-/commit/"+cm.SHA || c.Author.Name != "Dev" {
			t.Errorf("commit = %+v", c)
		}
	})
	t.Run("two commits", func(t *testing.T) {
		_, parsed := deliver(t, second)
		e := parsed.(*gitlab.PushEvent)
		if len(e.Commits) != 2 || e.TotalCommitsCount != 2 {
			t.Fatalf("commits = %d", len(e.Commits))
		}
		c := e.Commits[1]
		if strings.Join(c.Added, ",") != "new.txt" || strings.Join(c.Modified, ",") != "p.yaml" || strings.Join(c.Removed, ",") != "README.md" {
			t.Errorf("changes = +%v ~%v -%v", c.Added, c.Modified, c.Removed)
		}
	})
	t.Run("deleted branch", func(t *testing.T) {
		_, parsed := deliver(t, deleted)
		e := parsed.(*gitlab.PushEvent)
		if e.After != state.ZeroSHA || e.Before != cm.SHA || e.CheckoutSHA != "" || len(e.Commits) != 0 {
			t.Errorf("deletion push = %+v", e)
		}
	})
}

func TestTagPushHooks(t *testing.T) {
	fx := newFixture(t)
	head := fx.head("main")
	pushed := one(t)(fx.f.PushTag(project, "dev", "exp-v1", "main"))
	removed := one(t)(fx.f.RemoveTag(project, "dev", "exp-v1"))
	tests := []struct {
		name                    string
		ev                      state.Event
		before, after, checkout string
	}{
		{"created", pushed, state.ZeroSHA, head, head},
		{"deleted", removed, head, state.ZeroSHA, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, parsed := deliver(t, tt.ev)
			e, ok := parsed.(*gitlab.TagEvent)
			if !ok {
				t.Fatalf("parsed %T", parsed)
			}
			if req.Header.Get("X-Gitlab-Event") != "Tag Push Hook" || e.ObjectKind != "tag_push" || e.EventName != "tag_push" ||
				e.Ref != "refs/tags/exp-v1" || e.Before != tt.before || e.After != tt.after || e.CheckoutSHA != tt.checkout ||
				e.UserUsername != "dev" || e.ProjectID != int(fx.repo.ID) || e.Project.DefaultBranch != "main" {
				t.Errorf("tag event = %+v", e)
			}
		})
	}
}

type flagChange struct {
	Previous bool `json:"previous"`
	Current  bool `json:"current"`
}

func TestConfidentialIssueHooks(t *testing.T) {
	fx := newFixture(t)
	issue, evs, err := fx.f.OpenIssue(project, "dev", "Secret lr", "body", nil)
	only(t, evs, err)
	hidden := one(t)(fx.f.SetConfidential(project, issue.Number, "maint", true))
	labeled := one(t)(fx.f.LabelIssue(project, issue.Number, "maint", []string{"new-experiment"}, nil))
	public := one(t)(fx.f.SetConfidential(project, issue.Number, "maint", false))
	if evs, err := fx.f.SetConfidential(project, issue.Number, "maint", false); err != nil || len(evs) != 0 {
		t.Errorf("no change: %d events, %v; want none", len(evs), err)
	}
	tests := []struct {
		name       string
		ev         state.Event
		wantHeader string
		wantFlag   bool
		wantChange *flagChange // changes.confidential; nil for none
	}{
		{"made confidential", hidden, "Confidential Issue Hook", true, &flagChange{false, true}},
		{"labeled while confidential", labeled, "Confidential Issue Hook", true, nil},
		{"made public again", public, "Issue Hook", false, &flagChange{true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, e := deliverIssue(t, tt.ev)
			if got := req.Header.Get("X-Gitlab-Event"); got != tt.wantHeader {
				t.Errorf("X-Gitlab-Event = %q, want %q", got, tt.wantHeader)
			}
			if e.ObjectAttributes.Confidential != tt.wantFlag || e.ObjectAttributes.Action != "update" {
				t.Errorf("object_attributes: confidential %v action %q", e.ObjectAttributes.Confidential, e.ObjectAttributes.Action)
			}
			var raw struct {
				Changes struct {
					Confidential *flagChange `json:"confidential"`
				} `json:"changes"`
			}
			body, _ := req.GetBody()
			if err := json.NewDecoder(body).Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if got := raw.Changes.Confidential; (got == nil) != (tt.wantChange == nil) || (got != nil && *got != *tt.wantChange) {
				t.Errorf("changes.confidential = %+v, want %+v", got, tt.wantChange)
			}
		})
	}
	// A comment on a confidential issue is a Confidential Note Hook.
	setConfidential := one(t)
	setConfidential(fx.f.SetConfidential(project, issue.Number, "maint", true))
	_, evs, err = fx.f.Comment(project, issue.Number, "", "dev", "a note")
	req, parsed := deliver(t, only(t, evs, err))
	if got := req.Header.Get("X-Gitlab-Event"); got != "Confidential Note Hook" {
		t.Errorf("note on a confidential issue: X-Gitlab-Event = %q", got)
	}
	if _, ok := parsed.(*gitlab.IssueCommentEvent); !ok {
		t.Errorf("note parsed as %T, want *gitlab.IssueCommentEvent", parsed)
	}
	if _, err := fx.f.SetConfidential(project, 99, "maint", true); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("missing issue: %v, want not found", err)
	}
}
