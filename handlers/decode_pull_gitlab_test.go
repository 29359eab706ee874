package handlers

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/expbot/expbot/internal/event"
)

// glProjectJSON is the project object of GitLab's hooks.
const glProjectJSON = `{
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
  }`

const glRepositoryJSON = `{"name": "llm-variants", "url": "git@gitlab.example.com:ml/research/llm-variants.git", "description": "",
    "homepage": "https://gitlab.example.com/ml/research/llm-variants"}`

func glUserJSON(username string) string {
	return fmt.Sprintf(`{"id": 51, "name": "Ada Lovelace", "username": %q, "avatar_url": "https://secure.gravatar.com/avatar/x", "email": "[REDACTED]"}`, username)
}

// glMRAttrsJSON is a merge request as GitLab 17 shows it in hooks; extra
// holds members ending in a comma (action, for Merge Request Hooks).
func glMRAttrsJSON(state, extra string) string {
	return fmt.Sprintf(`{
    "assignee_id": null,
    "author_id": 51,
    "created_at": "2024-05-01 10:00:00 UTC",
    "description": "Cosine schedule instead of linear decay.",
    "draft": false,
    "head_pipeline_id": null,
    "id": 9001,
    "iid": 5,
    "last_edited_at": null,
    "last_edited_by_id": null,
    "merge_commit_sha": null,
    "merge_error": null,
    "merge_params": {"force_remove_source_branch": "1"},
    "merge_status": "can_be_merged",
    "merge_user_id": null,
    "merge_when_pipeline_succeeds": false,
    "milestone_id": null,
    "source_branch": "exp/cosine",
    "source_project_id": 14,
    "state_id": 1,
    "target_branch": "trunk",
    "target_project_id": 14,
    "time_estimate": 0,
    "title": "Try a cosine schedule",
    "updated_at": "2024-05-01 10:07:00 UTC",
    "updated_by_id": null,
    "prepared_at": "2024-05-01 10:00:01 UTC",
    "assignee_ids": [],
    "blocking_discussions_resolved": true,
    "detailed_merge_status": "mergeable",
    "first_contribution": false,
    "human_time_change": null,
    "human_time_estimate": null,
    "human_total_time_spent": null,
    "labels": [],
    "last_commit": {
      "id": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
      "message": "Cosine schedule\n",
      "title": "Cosine schedule",
      "timestamp": "2024-05-01T10:06:00+00:00",
      "url": "https://gitlab.example.com/ml/research/llm-variants/-/commit/4b825dc642cb6eb9a060e54bf8d69288fbee4904",
      "author": {"name": "Ada Lovelace", "email": "ada@example.com"}
    },
    "reviewer_ids": [],
    "source": %s,
    "state": %q,
    "target": %s,
    "time_change": 0,
    "total_time_spent": 0,
    "url": "https://gitlab.example.com/ml/research/llm-variants/-/merge_requests/5",
    %s
    "work_in_progress": false
  }`, glProjectJSON, state, glProjectJSON, extra)
}

// glNote is a Note Hook on a merge request shaped like GitLab 17's; extra
// holds members of object_attributes ending in a comma (action, system).
func glNote(noteableType, extra, username string) string {
	return fmt.Sprintf(`{
  "object_kind": "note",
  "event_type": "note",
  "user": %s,
  "project_id": 14,
  "project": %s,
  "object_attributes": {
    "attachment": null,
    "author_id": 51,
    "change_position": null,
    "commit_id": null,
    "created_at": "2024-05-01 10:07:00 UTC",
    "discussion_id": "4e1bd7ee0c5b7a5b2c4e6f1a2b3c4d5e6f7a8b9c",
    "id": 1244,
    "line_code": null,
    "note": "/experiment\nlearning_rate: 3e-5\n",
    "noteable_id": 9001,
    "noteable_type": %q,
    "original_position": null,
    "position": null,
    "project_id": 14,
    "resolved_at": null,
    "resolved_by_id": null,
    "resolved_by_push": null,
    "st_diff": null,
    "system": false,
    "type": null,
    "updated_at": "2024-05-01 10:07:00 UTC",
    "updated_by_id": null,
    "description": "/experiment\nlearning_rate: 3e-5\n",
    "url": "https://gitlab.example.com/ml/research/llm-variants/-/merge_requests/5#note_1244",
    %s
    "internal": false
  },
  "repository": %s,
  "merge_request": %s
}`, glUserJSON(username), glProjectJSON, noteableType, extra, glRepositoryJSON, glMRAttrsJSON("opened", ""))
}

// glMergeRequest is a Merge Request Hook shaped like GitLab 17's.
func glMergeRequest(action, state string) string {
	return fmt.Sprintf(`{
  "object_kind": "merge_request",
  "event_type": "merge_request",
  "user": %s,
  "project": %s,
  "object_attributes": %s,
  "labels": [],
  "changes": {"state_id": {"previous": 1, "current": 2}},
  "repository": %s,
  "assignees": [],
  "reviewers": []
}`, glUserJSON("ada"), glProjectJSON, glMRAttrsJSON(state, fmt.Sprintf(`"action": %q,`, action)), glRepositoryJSON)
}

var glTestRepo = event.Repo{Forge: event.GitLab, Host: "gitlab.example.com", Path: "ml/research/llm-variants", ID: 14,
	DefaultBranch: "trunk", WebURL: "https://gitlab.example.com/ml/research/llm-variants"}

func glWantComment(login string, bot bool) *event.CommentCreated {
	return &event.CommentCreated{
		Repo: glTestRepo, Thread: event.Thread{Kind: event.PullThread, Number: 5},
		CommentID: 1244, Body: "/experiment\nlearning_rate: 3e-5\n",
		URL:        "https://gitlab.example.com/ml/research/llm-variants/-/merge_requests/5#note_1244",
		Actor:      event.Actor{ID: 51, Login: login, Bot: bot},
		HeadBranch: "exp/cosine", HeadSHA: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
	}
}

func glWantPull(open, wasOpen, merged bool) *event.PullChange {
	return &event.PullChange{Repo: glTestRepo, Number: 5, Open: open, WasOpen: wasOpen, Merged: merged,
		Actor: event.Actor{ID: 51, Login: "ada"}}
}

// gitlabPullCases are the Note Hook and Merge Request Hook cases of the
// GitLab decoding table.
func gitlabPullCases() []decodeCase {
	const create = `"action": "create",`
	note := glNote("MergeRequest", create, "ada")
	flagged := swap(note, `"username": "ada",`, `"username": "ada", "bot": true,`)
	noHead := glWantComment("ada", false)
	noHead.HeadSHA = ""
	closed := glMergeRequest("close", "closed")

	return []decodeCase{
		{"note on a merge request", "Note Hook", note, glWantComment("ada", false), 0},
		{"confidential note on a merge request", "Confidential Note Hook", note, glWantComment("ada", false), 0},
		{"note without action (before 16.11)", "Note Hook", glNote("MergeRequest", "", "ada"), glWantComment("ada", false), 0},
		{"note by a project access token bot", "Note Hook", glNote("MergeRequest", create, "project_14_bot_3f2a9c"),
			glWantComment("project_14_bot_3f2a9c", true), 0},
		{"note by a user flagged bot", "Note Hook", flagged, glWantComment("ada", true), 0},
		{"note, merge request without last_commit", "Note Hook", swap(note, `"last_commit": {`, `"last_commit_old": {`), noHead, 0},
		{"note on an issue", "Note Hook", glNote("Issue", create, "ada"), &event.Ignored{Reason: `gitlab note on "Issue" not handled`}, 0},
		{"note on a commit", "Note Hook", glNote("Commit", create, "ada"), &event.Ignored{Reason: `gitlab note on "Commit" not handled`}, 0},
		{"note on a snippet", "Note Hook", glNote("Snippet", create, "ada"), &event.Ignored{Reason: `gitlab note on "Snippet" not handled`}, 0},
		{"note edited", "Note Hook", glNote("MergeRequest", `"action": "update",`, "ada"),
			&event.Ignored{Reason: `gitlab note action "update" not handled`}, 0},
		{"system note", "Note Hook", swap(note, `"system": false,`, `"system": true,`), &event.Ignored{Reason: "gitlab system note"}, 0},
		{"internal note", "Confidential Note Hook", swap(note, `"internal": false`, `"internal": true`),
			&event.Ignored{Reason: "gitlab internal note: expbot answers in public, so it acts on public comments only"}, 0},
		{"confidential note (GitLab before 15)", "Confidential Note Hook", swap(note, `"internal": false`, `"confidential": true`),
			&event.Ignored{Reason: "gitlab internal note: expbot answers in public, so it acts on public comments only"}, 0},
		{"note hook of another kind", "Note Hook", swap(note, `"object_kind": "note",`, `"object_kind": "issue",`),
			&event.Ignored{Reason: `gitlab note hook of kind "issue" not handled`}, 0},

		{"merge request opened", "Merge Request Hook", glMergeRequest("open", "opened"), glWantPull(true, false, false), 0},
		{"merge request closed", "Merge Request Hook", closed, glWantPull(false, true, false), 0},
		{"merge request merged", "Merge Request Hook", glMergeRequest("merge", "merged"), glWantPull(false, true, true), 0},
		{"merge request reopened", "Merge Request Hook", glMergeRequest("reopen", "opened"), glWantPull(true, false, false), 0},
		{"merge request updated", "Merge Request Hook", glMergeRequest("update", "opened"),
			&event.Ignored{Reason: `gitlab merge request action "update" not handled`}, 0},
		{"merge request approved", "Merge Request Hook", glMergeRequest("approved", "opened"),
			&event.Ignored{Reason: `gitlab merge request action "approved" not handled`}, 0},
		{"merge request without action", "Merge Request Hook", swap(closed, `"action": "close",`, ``),
			&event.Ignored{Reason: `gitlab merge request action "" not handled`}, 0},
		{"merge request hook of another kind", "Merge Request Hook", swap(closed, `"object_kind": "merge_request",`, `"object_kind": "note",`),
			&event.Ignored{Reason: `gitlab merge request hook of kind "note" not handled`}, 0},

		{"note: malformed JSON", "Note Hook", `{"object_kind": "note", `, nil, 0},
		{"note: object_attributes missing", "Note Hook", `{"object_kind": "note", "merge_request": {"iid": 5}}`, nil, 0},
		{"note: merge_request missing", "Note Hook", swap(note, `"merge_request": {`, `"merge_request_old": {`), nil, 0},
		{"note: merge request iid missing", "Note Hook", swap(note, `"iid": 5,`, ``), nil, 0},
		{"note: id missing", "Note Hook", swap(note, `"id": 1244,`, ``), nil, 0},
		{"note: system of the wrong type", "Note Hook", swap(note, `"system": false,`, `"system": "false",`), nil, 0},
		{"note: project missing", "Note Hook", swap(note, `"path_with_namespace": "ml/research/llm-variants",`, ``), nil, 0},
		{"note: project web_url missing", "Note Hook", swap(note, `"web_url": "https://gitlab.example.com/ml/research/llm-variants",`, ``), nil, 0},
		{"merge request: malformed JSON", "Merge Request Hook", `{"object_kind": "merge_request"`, nil, 0},
		{"merge request: object_attributes missing", "Merge Request Hook", `{"object_kind": "merge_request"}`, nil, 0},
		{"merge request: iid missing", "Merge Request Hook", swap(closed, `"iid": 5,`, ``), nil, 0},
		{"merge request: iid of the wrong type", "Merge Request Hook", swap(closed, `"iid": 5,`, `"iid": "5",`), nil, 0},
		{"merge request: project missing", "Merge Request Hook", swap(closed, `"path_with_namespace": "ml/research/llm-variants",`, ``), nil, 0},
		{"merge request: project web_url missing", "Merge Request Hook", swap(closed, `"web_url": "https://gitlab.example.com/ml/research/llm-variants",`, ``), nil, 0},
	}
}

// Ignored reasons echo forge-supplied names; escapes must not unbound them.
func TestIgnoredReasonsBounded(t *testing.T) {
	for _, hostile := range []string{strings.Repeat("\x01", 300), strings.Repeat("\u2028", 100), strings.Repeat("é", 200)} {
		js, err := json.Marshal(hostile)
		if err != nil {
			t.Fatal(err)
		}
		h := string(js)
		cases := []struct {
			decode func(string, []byte) (event.Event, error)
			name   string
			body   string
		}{
			{DecodeGitHub, hostile, `{}`},
			{DecodeGitHub, "issues", `{"action": ` + h + `}`},
			{DecodeGitHub, "issue_comment", `{"action": ` + h + `}`},
			{DecodeGitHub, "pull_request", `{"action": ` + h + `}`},
			{DecodeGitHub, "push", `{"ref": ` + h + `}`},
			{DecodeGitHub, "create", `{"ref_type": ` + h + `}`},
			{DecodeGitHub, "delete", `{"ref_type": ` + h + `}`},
			{DecodeGitLab, hostile, `{}`},
			{DecodeGitLab, "Issue Hook", `{"object_kind": ` + h + `, "object_attributes": {"type": ` + h + `}}`},
			{DecodeGitLab, "Issue Hook", `{"object_kind": "issue", "object_attributes": {"action": ` + h + `}}`},
			{DecodeGitLab, "Note Hook", `{"object_kind": ` + h + `, "object_attributes": {}}`},
			{DecodeGitLab, "Note Hook", `{"object_kind": "note", "object_attributes": {"noteable_type": ` + h + `}}`},
			{DecodeGitLab, "Note Hook", `{"object_kind": "note", "object_attributes": {"noteable_type": "MergeRequest", "action": ` + h + `}}`},
			{DecodeGitLab, "Merge Request Hook", `{"object_kind": ` + h + `, "object_attributes": {}}`},
			{DecodeGitLab, "Merge Request Hook", `{"object_kind": "merge_request", "object_attributes": {"action": ` + h + `}}`},
			{DecodeGitLab, "Tag Push Hook", `{"object_kind": ` + h + `}`},
			{DecodeGitLab, "Tag Push Hook", `{"object_kind": "tag_push", "ref": ` + h + `}`},
		}
		for i, c := range cases {
			ev, err := c.decode(c.name, []byte(c.body))
			ig, ok := ev.(*event.Ignored)
			if err != nil || !ok {
				t.Fatalf("case %d: got %#v, %v; want Ignored", i, ev, err)
			}
			if len(ig.Reason) > 200 || !utf8.ValidString(ig.Reason) {
				t.Errorf("case %d: reason of %d bytes (valid UTF-8: %t): %q", i, len(ig.Reason), utf8.ValidString(ig.Reason), ig.Reason)
			}
		}
	}
}
