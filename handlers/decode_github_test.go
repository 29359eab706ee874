package handlers

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/event"
)

const trigger = "new-experiment"

// ghLabelJSON is a label object as GitHub sends it.
func ghLabelJSON(name string) string {
	return fmt.Sprintf(`{"id": 6512345678, "node_id": "LA_kwDOKx1234", "url": "https://api.github.com/repos/octo-org/llm-variants/labels/%s",
      "name": %q, "color": "0e8a16", "default": false, "description": "Ask expbot for a variant branch"}`, name, name)
}

func ghLabelsJSON(names ...string) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = ghLabelJSON(n)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// ghIssues is an "issues" delivery shaped like github.com's. extra holds
// top-level members (label, changes) ending in a comma; issueExtra members
// of the issue (pull_request) likewise.
func ghIssues(action, state, labels, extra, issueExtra, senderType string) string {
	return fmt.Sprintf(`{
  "action": %q,
  "issue": {
    "url": "https://api.github.com/repos/octo-org/llm-variants/issues/7",
    "repository_url": "https://api.github.com/repos/octo-org/llm-variants",
    "labels_url": "https://api.github.com/repos/octo-org/llm-variants/issues/7/labels{/name}",
    "comments_url": "https://api.github.com/repos/octo-org/llm-variants/issues/7/comments",
    "events_url": "https://api.github.com/repos/octo-org/llm-variants/issues/7/events",
    "html_url": "https://github.com/octo-org/llm-variants/issues/7",
    "id": 2301234567,
    "node_id": "I_kwDOKx1234M6JABCD",
    "number": 7,
    "title": "Lower learning rate",
    "user": {"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": "User", "site_admin": false},
    "labels": %s,
    "state": %q,
    "locked": false,
    "assignee": null,
    "assignees": [],
    "milestone": null,
    "comments": 0,
    "created_at": "2024-05-01T10:00:00Z",
    "updated_at": "2024-05-01T10:05:00Z",
    "closed_at": null,
    "author_association": "MEMBER",
    "active_lock_reason": null,
    %s
    "body": "base: main\nlearning_rate: 1e-5\n",
    "reactions": {"url": "https://api.github.com/repos/octo-org/llm-variants/issues/7/reactions", "total_count": 0},
    "timeline_url": "https://api.github.com/repos/octo-org/llm-variants/issues/7/timeline",
    "performed_via_github_app": null,
    "state_reason": null
  },
  %s
  "repository": {
    "id": 712345678,
    "node_id": "R_kgDOKx1234",
    "name": "llm-variants",
    "full_name": "octo-org/llm-variants",
    "private": true,
    "owner": {"login": "octo-org", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk=", "type": "Organization", "site_admin": false},
    "html_url": "https://github.com/octo-org/llm-variants",
    "description": null,
    "fork": false,
    "url": "https://api.github.com/repos/octo-org/llm-variants",
    "default_branch": "main",
    "visibility": "private"
  },
  "organization": {"login": "octo-org", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk="},
  "sender": {"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "type": %q, "site_admin": false}
}`, action, labels, state, issueExtra, extra, senderType)
}

func ghLabelMember(name string) string { return `"label": ` + ghLabelJSON(name) + `,` }

const ghPingBody = `{"zen": "Keep it logically awesome.", "hook_id": 470012345,
  "hook": {"type": "Repository", "id": 470012345, "name": "web", "active": true, "events": ["issues"],
    "config": {"content_type": "json", "insecure_ssl": "0", "url": "https://expbot.example.com/webhooks/github"}},
  "repository": {"id": 712345678, "full_name": "octo-org/llm-variants", "html_url": "https://github.com/octo-org/llm-variants"},
  "sender": {"login": "octocat", "id": 583231, "type": "User"}}`

// ghWant is the IssueChange the standard payload decodes to, before the
// per-case differences.
func ghWant(open, wasOpen bool, labels, prev []string) *event.IssueChange {
	return &event.IssueChange{
		Repo: event.Repo{Forge: event.GitHub, Host: "github.com", Path: "octo-org/llm-variants", ID: 712345678,
			DefaultBranch: "main", WebURL: "https://github.com/octo-org/llm-variants"},
		Number: 7, Title: "Lower learning rate", Body: "base: main\nlearning_rate: 1e-5\n",
		URL:  "https://github.com/octo-org/llm-variants/issues/7",
		Open: open, WasOpen: wasOpen, Labels: labels, PrevLabels: prev,
		Actor: event.Actor{ID: 583231, Login: "octocat"},
	}
}

type decodeCase struct {
	name    string
	event   string
	body    string
	want    event.Event // nil when an error is expected
	trigger event.Trigger
}

func githubCases() []decodeCase {
	none := []string{}
	both := []string{"bug", trigger}
	edited := ghWant(true, true, both, both)
	edited.BodyChanged = true
	bot := ghWant(true, true, []string{trigger}, none)
	bot.Actor.Bot = true
	ghe := ghWant(true, true, []string{trigger}, none)
	ghe.Repo.Host, ghe.Repo.WebURL = "ghe.example.com", "https://ghe.example.com/octo-org/llm-variants"
	ghe.URL = "https://ghe.example.com/octo-org/llm-variants/issues/7"
	nullBody := ghWant(true, true, []string{trigger}, none)
	nullBody.Body = ""

	const noPR, user = "", "User"
	std := func(action, state, labels, extra string) string {
		return ghIssues(action, state, labels, extra, noPR, user)
	}
	return append([]decodeCase{
		{"ping", "ping", ghPingBody, &event.Ping{}, 0},
		{"opened with the label", "issues", std("opened", "open", ghLabelsJSON(trigger), ""),
			ghWant(true, false, []string{trigger}, none), event.Apply},
		{"opened without labels", "issues", std("opened", "open", "[]", ""),
			ghWant(true, false, none, none), event.NoTrigger},
		{"labeled", "issues", std("labeled", "open", ghLabelsJSON("bug", trigger), ghLabelMember(trigger)),
			ghWant(true, true, both, []string{"bug"}), event.Apply},
		{"labeled, other label", "issues", std("labeled", "open", ghLabelsJSON("bug", trigger), ghLabelMember("bug")),
			ghWant(true, true, both, []string{trigger}), event.NoTrigger},
		{"labeled on a closed issue", "issues", std("labeled", "closed", ghLabelsJSON(trigger), ghLabelMember(trigger)),
			ghWant(false, false, []string{trigger}, none), event.NoTrigger},
		{"unlabeled", "issues", std("unlabeled", "open", ghLabelsJSON("bug"), ghLabelMember(trigger)),
			ghWant(true, true, []string{"bug"}, both), event.Retire},
		{"edited body", "issues", std("edited", "open", ghLabelsJSON("bug", trigger), `"changes": {"body": {"from": "base: main\n"}},`),
			edited, event.Apply},
		{"edited title only", "issues", std("edited", "open", ghLabelsJSON("bug", trigger), `"changes": {"title": {"from": "Lower lr"}},`),
			ghWant(true, true, both, both), event.NoTrigger},
		{"closed", "issues", std("closed", "closed", ghLabelsJSON(trigger), ""),
			ghWant(false, true, []string{trigger}, []string{trigger}), event.Retire},
		{"reopened", "issues", std("reopened", "open", ghLabelsJSON(trigger), ""),
			ghWant(true, false, []string{trigger}, []string{trigger}), event.Apply},
		{"deleted while open", "issues", std("deleted", "open", ghLabelsJSON(trigger), ""),
			ghWant(false, true, []string{trigger}, []string{trigger}), event.Retire},
		{"deleted after closing", "issues", std("deleted", "closed", ghLabelsJSON(trigger), ""),
			ghWant(false, false, []string{trigger}, []string{trigger}), event.NoTrigger},
		{"transferred away", "issues", std("transferred", "open", ghLabelsJSON(trigger), `"changes": {"new_issue": {"number": 1}, "new_repository": {"full_name": "octo-org/other"}},`),
			ghWant(false, true, []string{trigger}, []string{trigger}), event.Retire},
		{"sender is a bot", "issues", ghIssues("labeled", "open", ghLabelsJSON(trigger), ghLabelMember(trigger), noPR, "Bot"),
			bot, event.Apply},
		{"GitHub Enterprise host", "issues", strings.ReplaceAll(std("labeled", "open", ghLabelsJSON(trigger), ghLabelMember(trigger)),
			"https://github.com/", "https://ghe.example.com/"), ghe, event.Apply},
		{"null body", "issues", strings.Replace(std("labeled", "open", ghLabelsJSON(trigger), ghLabelMember(trigger)),
			`"body": "base: main\nlearning_rate: 1e-5\n"`, `"body": null`, 1), nullBody, event.Apply},

		{"pull request as an issue", "issues", ghIssues("labeled", "open", ghLabelsJSON(trigger), ghLabelMember(trigger),
			`"pull_request": {"url": "https://api.github.com/repos/octo-org/llm-variants/pulls/7", "html_url": "https://github.com/octo-org/llm-variants/pull/7"},`, user),
			&event.Ignored{Reason: "github issues event for a pull request"}, 0},
		{"other action", "issues", std("assigned", "open", ghLabelsJSON(trigger), ""),
			&event.Ignored{Reason: `github issues action "assigned" not handled`}, 0},
		{"other action, fields missing", "issues", `{"action": "pinned"}`,
			&event.Ignored{Reason: `github issues action "pinned" not handled`}, 0},
		{"other event", "star", `{"action": "created"}`, &event.Ignored{Reason: `github event "star" not handled`}, 0},

		{"malformed JSON", "issues", `{"action": "labeled", "issue": {`, nil, 0},
		{"not an object", "issues", `[]`, nil, 0},
		{"malformed ping", "ping", `zen`, nil, 0},
		{"number of the wrong type", "issues", strings.Replace(std("labeled", "open", "[]", ghLabelMember(trigger)), `"number": 7`, `"number": "7"`, 1), nil, 0},
		{"issue missing", "issues", `{"action": "labeled", "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r"}}`, nil, 0},
		{"issue number missing", "issues", strings.Replace(std("closed", "closed", "[]", ""), `"number": 7,`, ``, 1), nil, 0},
		{"repository missing", "issues", strings.Replace(std("closed", "closed", "[]", ""), `"full_name": "octo-org/llm-variants",`, ``, 1), nil, 0},
		{"repository html_url missing", "issues", strings.Replace(std("closed", "closed", "[]", ""), `"html_url": "https://github.com/octo-org/llm-variants",`, ``, 1), nil, 0},
		{"labeled without label", "issues", std("labeled", "open", ghLabelsJSON(trigger), ""), nil, 0},
	}, append(githubPullCases(), githubTagCases()...)...)
}

func TestDecodeGitHub(t *testing.T) {
	for _, tt := range githubCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeGitHub(tt.event, []byte(tt.body))
			checkDecoded(t, got, err, tt)
		})
	}
}

func checkDecoded(t *testing.T, got event.Event, err error, tt decodeCase) {
	t.Helper()
	if tt.want == nil {
		if err == nil {
			t.Fatalf("got %#v, want an error", got)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(untimed(got), tt.want) {
		t.Fatalf("got  %#v\nwant %#v", got, tt.want)
	}
	if c, ok := got.(*event.IssueChange); ok {
		if tr := c.TriggerFor(trigger); tr != tt.trigger {
			t.Errorf("TriggerFor(%q) = %v, want %v", trigger, tr, tt.trigger)
		}
	}
}

func TestGitHubFormPayload(t *testing.T) {
	body := "payload=" + strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "=", "%3D").Replace(ghPingBody)
	tests := []struct {
		name, ct, body string
		want           string
		err            bool
	}{
		{"json as is", "application/json", ghPingBody, ghPingBody, false},
		{"no content type", "", ghPingBody, ghPingBody, false},
		{"form", "application/x-www-form-urlencoded", body, ghPingBody, false},
		{"form with charset", "application/x-www-form-urlencoded; charset=utf-8", body, ghPingBody, false},
		{"form without payload", "application/x-www-form-urlencoded", "zen=1", "", true},
		{"broken form", "application/x-www-form-urlencoded", "payload=%zz", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := githubJSON(tt.ct, []byte(tt.body))
			if tt.err {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("err = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("githubJSON() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func FuzzDecodeGitHub(f *testing.F) {
	for _, c := range githubCases() {
		f.Add(c.event, []byte(c.body))
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		ev, err := DecodeGitHub(name, body)
		checkInvariants(t, ev, err)
	})
}

// checkInvariants holds for any decoder result.
func checkInvariants(t *testing.T, ev event.Event, err error) {
	t.Helper()
	if err != nil {
		if ev != nil {
			t.Fatalf("error %v with event %#v", err, ev)
		}
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
		return
	}
	switch ev := ev.(type) {
	case *event.Ping:
	case *event.Ignored:
		if ev.Reason == "" || len(ev.Reason) > 200 {
			t.Fatalf("Ignored reason %q: empty or unbounded", ev.Reason)
		}
	case *event.IssueChange:
		if ev.Number <= 0 || !hasIdentity(ev.Repo) {
			t.Fatalf("IssueChange without identity: %#v", ev)
		}
		if ev.Labels == nil || ev.PrevLabels == nil {
			t.Fatalf("nil label lists: %#v", ev)
		}
	case *event.CommentCreated:
		if ev.Thread.Kind != event.PullThread || ev.Thread.Number <= 0 || ev.CommentID <= 0 || !hasIdentity(ev.Repo) {
			t.Fatalf("CommentCreated without identity: %#v", ev)
		}
	case *event.PullChange:
		if ev.Number <= 0 || !hasIdentity(ev.Repo) {
			t.Fatalf("PullChange without identity: %#v", ev)
		}
		if ev.Merged && ev.Open {
			t.Fatalf("PullChange merged yet open: %#v", ev)
		}
	case *event.TagPush:
		if ev.Tag == "" || !hasIdentity(ev.Repo) {
			t.Fatalf("TagPush without identity: %#v", ev)
		}
		if ev.Before == "" && ev.After == "" {
			t.Fatalf("TagPush with neither before nor after: %#v", ev)
		}
		for _, s := range []string{ev.Before, ev.After} {
			if s != "" && (!isFullSHA(s) || isZeroSHA(s)) {
				t.Fatalf("TagPush with object name %q: %#v", s, ev)
			}
		}
	default:
		t.Fatalf("unexpected event %#v", ev)
	}
}

func hasIdentity(r event.Repo) bool { return r.Path != "" && r.Host != "" && r.Forge != "" }
