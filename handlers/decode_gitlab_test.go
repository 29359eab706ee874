package handlers

import (
	"fmt"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/event"
)

// glLabelJSON is a label object as GitLab sends it in issue hooks.
func glLabelJSON(id int, title string) string {
	return fmt.Sprintf(`{"id": %d, "title": %q, "color": "#428BCA", "project_id": 14, "created_at": "2024-05-01 10:00:00 UTC",
      "updated_at": "2024-05-01 10:00:00 UTC", "template": false, "description": null, "type": "ProjectLabel", "group_id": null}`, id, title)
}

func glLabels(titles ...string) string {
	parts := make([]string, len(titles))
	for i, tl := range titles {
		parts[i] = glLabelJSON(200+i, tl)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// glIssue is an Issue Hook payload shaped like GitLab 17's. changes is the
// inside of the "changes" object.
func glIssue(kind, typ, action, state, labels, changes, username string) string {
	return fmt.Sprintf(`{
  "object_kind": %q,
  "event_type": %q,
  "user": {"id": 51, "name": "Ada Lovelace", "username": %q, "avatar_url": "https://secure.gravatar.com/avatar/x", "email": "[REDACTED]"},
  "project": {
    "id": 14,
    "name": "llm-variants",
    "description": "",
    "web_url": "https://gitlab.example.com/ml/research/llm-variants",
    "avatar_url": null,
    "git_ssh_url": "git@gitlab.example.com:ml/research/llm-variants.git",
    "git_http_url": "https://gitlab.example.com/ml/research/llm-variants.git",
    "namespace": "research",
    "visibility_level": 0,
    "path_with_namespace": "ml/research/llm-variants",
    "default_branch": "trunk",
    "ci_config_path": null,
    "homepage": "https://gitlab.example.com/ml/research/llm-variants",
    "url": "git@gitlab.example.com:ml/research/llm-variants.git",
    "ssh_url": "git@gitlab.example.com:ml/research/llm-variants.git",
    "http_url": "https://gitlab.example.com/ml/research/llm-variants.git"
  },
  "object_attributes": {
    "author_id": 51,
    "closed_at": null,
    "confidential": false,
    "created_at": "2024-05-01 10:00:00 UTC",
    "description": "base: main\nlearning_rate: 1e-5\n",
    "discussion_locked": null,
    "due_date": null,
    "id": 301,
    "iid": 23,
    "last_edited_at": null,
    "last_edited_by_id": null,
    "milestone_id": null,
    "moved_to_id": null,
    "duplicated_to_id": null,
    "project_id": 14,
    "relative_position": 0,
    "state_id": 1,
    "time_estimate": 0,
    "title": "Lower learning rate",
    "updated_at": "2024-05-01 10:05:00 UTC",
    "updated_by_id": 51,
    "type": %q,
    "url": "https://gitlab.example.com/ml/research/llm-variants/-/issues/23",
    "total_time_spent": 0,
    "time_change": 0,
    "human_total_time_spent": null,
    "human_time_change": null,
    "human_time_estimate": null,
    "assignee_ids": [],
    "assignee_id": null,
    "labels": %s,
    "state": %q,
    "severity": "unknown",
    "customer_relations_contacts": [],
    "action": %q
  },
  "labels": %s,
  "changes": {%s},
  "repository": {"name": "llm-variants", "url": "git@gitlab.example.com:ml/research/llm-variants.git", "description": "",
    "homepage": "https://gitlab.example.com/ml/research/llm-variants"}
}`, kind, kind, username, typ, labels, state, action, labels, changes)
}

func glLabelChange(prev, cur string) string {
	return `"labels": {"previous": ` + prev + `, "current": ` + cur + `}, "updated_at": {"previous": "2024-05-01 10:00:00 UTC", "current": "2024-05-01 10:05:00 UTC"}`
}

func glWant(open, wasOpen bool, labels, prev []string) *event.IssueChange {
	return &event.IssueChange{
		Repo: event.Repo{Forge: event.GitLab, Host: "gitlab.example.com", Path: "ml/research/llm-variants", ID: 14,
			DefaultBranch: "trunk", WebURL: "https://gitlab.example.com/ml/research/llm-variants"},
		Number: 23, Title: "Lower learning rate", Body: "base: main\nlearning_rate: 1e-5\n",
		URL:  "https://gitlab.example.com/ml/research/llm-variants/-/issues/23",
		Open: open, WasOpen: wasOpen, Labels: labels, PrevLabels: prev,
		Actor: event.Actor{ID: 51, Login: "ada"},
	}
}

func gitlabCases() []decodeCase {
	none := []string{}
	both := []string{"bug", trigger}
	one := []string{trigger}
	std := func(action, state, labels, changes string) string {
		return glIssue("issue", "Issue", action, state, labels, changes, "ada")
	}
	described := glWant(true, true, both, both)
	described.BodyChanged = true
	bot := glWant(true, true, one, none)
	bot.Actor = event.Actor{ID: 51, Login: "project_14_bot_3f2a9c", Bot: true}
	svc := glWant(true, true, one, one)
	svc.Actor = event.Actor{ID: 51, Login: "service_account_group_7_a1b2", Bot: true}
	local := glWant(true, true, one, none)
	local.Repo.Host, local.Repo.WebURL = "localhost:8929", "http://localhost:8929/ml/research/llm-variants"
	local.URL = "http://localhost:8929/ml/research/llm-variants/-/issues/23"
	labelChange := glLabelChange(glLabels("bug"), glLabels("bug", trigger))
	confidential := glWant(true, true, both, []string{"bug"})
	confidential.Confidential = true
	turnedConfidential := glWant(true, true, both, both)
	turnedConfidential.Confidential, turnedConfidential.ConfidentialChanged = true, true

	return append([]decodeCase{
		{"open with the label", "Issue Hook", std("open", "opened", glLabels(trigger), `"author_id": {"previous": null, "current": 51}`),
			glWant(true, false, one, none), event.Apply},
		{"open, label changes sent", "Issue Hook", std("open", "opened", glLabels(trigger), glLabelChange("[]", glLabels(trigger))),
			glWant(true, false, one, none), event.Apply},
		{"label added", "Issue Hook", std("update", "opened", glLabels("bug", trigger), labelChange),
			glWant(true, true, both, []string{"bug"}), event.Apply},
		{"label removed", "Issue Hook", std("update", "opened", glLabels("bug"), glLabelChange(glLabels("bug", trigger), glLabels("bug"))),
			glWant(true, true, []string{"bug"}, both), event.Retire},
		{"description edited", "Issue Hook", std("update", "opened", glLabels("bug", trigger),
			`"description": {"previous": "base: main\n", "current": "base: main\nlearning_rate: 1e-5\n"}`), described, event.Apply},
		{"title edited", "Issue Hook", std("update", "opened", glLabels("bug", trigger), `"title": {"previous": "Lower lr", "current": "Lower learning rate"}`),
			glWant(true, true, both, both), event.NoTrigger},
		{"closed", "Issue Hook", std("close", "closed", glLabels(trigger), `"state_id": {"previous": 1, "current": 2}`),
			glWant(false, true, one, one), event.Retire},
		{"reopened", "Issue Hook", std("reopen", "opened", glLabels(trigger), `"state_id": {"previous": 2, "current": 1}`),
			glWant(true, false, one, one), event.Apply},
		{"label added to a closed issue", "Issue Hook", std("update", "closed", glLabels(trigger), glLabelChange("[]", glLabels(trigger))),
			glWant(false, false, one, none), event.NoTrigger},
		{"confidential issue", "Confidential Issue Hook", std("update", "opened", glLabels("bug", trigger), labelChange),
			confidential, event.Apply},
		{"made confidential while labeled", "Confidential Issue Hook", strings.Replace(std("update", "opened", glLabels("bug", trigger),
			`"confidential": {"previous": false, "current": true}`), `"confidential": false`, `"confidential": true`, 1), turnedConfidential, event.Apply},
		{"confidential attribute, plain hook name", "Issue Hook", strings.Replace(std("update", "opened", glLabels("bug", trigger), labelChange),
			`"confidential": false`, `"confidential": true`, 1), confidential, event.Apply},
		{"work item of type Issue", "Issue Hook", glIssue("work_item", "Issue", "update", "opened", glLabels("bug", trigger), labelChange, "ada"),
			glWant(true, true, both, []string{"bug"}), event.Apply},
		{"no type (before GitLab 17.2)", "Issue Hook", strings.Replace(std("update", "opened", glLabels("bug", trigger), labelChange), `"type": "Issue",`, ``, 1),
			glWant(true, true, both, []string{"bug"}), event.Apply},
		{"labels only in object_attributes", "Issue Hook", strings.Replace(std("update", "opened", glLabels("bug", trigger), labelChange),
			"\n  \"labels\": ", "\n  \"other\": ", 1), // the top-level list only (two-space indent)
			glWant(true, true, both, []string{"bug"}), event.Apply},
		{"project access token bot", "Issue Hook", glIssue("issue", "Issue", "update", "opened", glLabels(trigger), glLabelChange("[]", glLabels(trigger)), "project_14_bot_3f2a9c"),
			bot, event.Apply},
		{"service account", "Issue Hook", glIssue("issue", "Issue", "update", "opened", glLabels(trigger), "", "service_account_group_7_a1b2"),
			svc, event.NoTrigger},
		{"self-hosted on a port", "Issue Hook", strings.ReplaceAll(std("update", "opened", glLabels(trigger), glLabelChange("[]", glLabels(trigger))),
			"https://gitlab.example.com/", "http://localhost:8929/"), local, event.Apply},

		{"task", "Issue Hook", glIssue("work_item", "Task", "update", "opened", glLabels(trigger), labelChange, "ada"),
			&event.Ignored{Reason: `gitlab work_item of type "Task" not handled`}, 0},
		{"incident", "Issue Hook", glIssue("issue", "Incident", "update", "opened", glLabels(trigger), labelChange, "ada"),
			&event.Ignored{Reason: `gitlab issue of type "Incident" not handled`}, 0},
		{"unknown action", "Issue Hook", std("move", "opened", glLabels(trigger), ""),
			&event.Ignored{Reason: `gitlab issue action "move" not handled`}, 0},
		{"other event", "Job Hook", `{not json`, &event.Ignored{Reason: `gitlab event "Job Hook" not handled`}, 0},

		{"malformed JSON", "Issue Hook", `{"object_kind": "issue", `, nil, 0},
		{"object_attributes missing", "Issue Hook", `{"object_kind": "issue", "project": {"path_with_namespace": "g/p", "web_url": "https://gitlab.com/g/p"}}`, nil, 0},
		{"iid missing", "Issue Hook", strings.Replace(std("close", "closed", "[]", ""), `"iid": 23,`, ``, 1), nil, 0},
		{"iid of the wrong type", "Issue Hook", strings.Replace(std("close", "closed", "[]", ""), `"iid": 23,`, `"iid": "23",`, 1), nil, 0},
		{"project missing", "Issue Hook", strings.Replace(std("close", "closed", "[]", ""), `"path_with_namespace": "ml/research/llm-variants",`, ``, 1), nil, 0},
		{"project web_url missing", "Issue Hook", strings.Replace(std("close", "closed", "[]", ""), `"web_url": "https://gitlab.example.com/ml/research/llm-variants",`, ``, 1), nil, 0},
	}, append(gitlabPullCases(), gitlabTagCases()...)...)
}

func TestDecodeGitLab(t *testing.T) {
	for _, tt := range gitlabCases() {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeGitLab(tt.event, []byte(tt.body))
			checkDecoded(t, got, err, tt)
		})
	}
}

func FuzzDecodeGitLab(f *testing.F) {
	for _, c := range gitlabCases() {
		f.Add(c.event, []byte(c.body))
	}
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		ev, err := DecodeGitLab(name, body)
		checkInvariants(t, ev, err)
	})
}
