package handlers

import (
	"fmt"
	"strings"

	"github.com/expbot/expbot/internal/event"
)

// ghRepoJSON is the repository object of GitHub's issue_comment and
// pull_request deliveries.
const ghRepoJSON = `{
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
  }`

// ghUserJSON is an account as GitHub sends it; typ is User or Bot.
func ghUserJSON(login string, id int64, typ string) string {
	return fmt.Sprintf(`{"login": %q, "id": %d, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "avatar_url": "https://avatars.githubusercontent.com/u/%d?v=4",
      "url": "https://api.github.com/users/%s", "html_url": "https://github.com/%s", "type": %q, "site_admin": false}`,
		login, id, id, login, login, typ)
}

const ghPRLinks = `"pull_request": {"url": "https://api.github.com/repos/octo-org/llm-variants/pulls/12",
      "html_url": "https://github.com/octo-org/llm-variants/pull/12", "diff_url": "https://github.com/octo-org/llm-variants/pull/12.diff",
      "patch_url": "https://github.com/octo-org/llm-variants/pull/12.patch", "merged_at": null},`

// ghIssueComment is an issue_comment delivery shaped like github.com's.
// issueExtra holds members of the issue ending in a comma (ghPRLinks for a
// comment on a pull request); user is the comment's author and the sender.
func ghIssueComment(action, issueExtra, user string) string {
	kind := "issues"
	if issueExtra != "" {
		kind = "pull"
	}
	return fmt.Sprintf(`{
  "action": %q,
  "issue": {
    "url": "https://api.github.com/repos/octo-org/llm-variants/issues/12",
    "repository_url": "https://api.github.com/repos/octo-org/llm-variants",
    "html_url": "https://github.com/octo-org/llm-variants/%s/12",
    "id": 2301239999,
    "node_id": "PR_kwDOKx1234M5abcde",
    "number": 12,
    "title": "Try a cosine schedule",
    "user": %s,
    "labels": [],
    "state": "open",
    "locked": false,
    "assignees": [],
    "comments": 1,
    "created_at": "2024-05-01T10:00:00Z",
    "updated_at": "2024-05-01T10:07:00Z",
    "closed_at": null,
    "author_association": "MEMBER",
    "draft": false,
    %s
    "body": "Cosine schedule instead of linear decay.",
    "state_reason": null
  },
  "comment": {
    "url": "https://api.github.com/repos/octo-org/llm-variants/issues/comments/2101234567",
    "html_url": "https://github.com/octo-org/llm-variants/%s/12#issuecomment-2101234567",
    "issue_url": "https://api.github.com/repos/octo-org/llm-variants/issues/12",
    "id": 2101234567,
    "node_id": "IC_kwDOKx1234M59Abcd",
    "user": %s,
    "created_at": "2024-05-01T10:07:00Z",
    "updated_at": "2024-05-01T10:07:00Z",
    "author_association": "MEMBER",
    "body": "/experiment\nlearning_rate: 3e-5\n",
    "reactions": {"url": "https://api.github.com/repos/octo-org/llm-variants/issues/comments/2101234567/reactions", "total_count": 0},
    "performed_via_github_app": null
  },
  "repository": %s,
  "organization": {"login": "octo-org", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk="},
  "sender": %s
}`, action, kind, ghUserJSON("octocat", 583231, "User"), issueExtra, kind, user, ghRepoJSON, user)
}

// ghPullRequest is a pull_request delivery shaped like github.com's.
func ghPullRequest(action, state string, merged bool, sender string) string {
	mergedAt, mergedBy := "null", "null"
	if merged {
		mergedAt, mergedBy = `"2024-05-02T09:00:00Z"`, sender
	}
	return fmt.Sprintf(`{
  "action": %q,
  "number": 12,
  "pull_request": {
    "url": "https://api.github.com/repos/octo-org/llm-variants/pulls/12",
    "id": 1876543210,
    "node_id": "PR_kwDOKx1234M5abcde",
    "html_url": "https://github.com/octo-org/llm-variants/pull/12",
    "diff_url": "https://github.com/octo-org/llm-variants/pull/12.diff",
    "patch_url": "https://github.com/octo-org/llm-variants/pull/12.patch",
    "issue_url": "https://api.github.com/repos/octo-org/llm-variants/issues/12",
    "number": 12,
    "state": %q,
    "locked": false,
    "title": "Try a cosine schedule",
    "user": %s,
    "body": "Cosine schedule instead of linear decay.",
    "created_at": "2024-05-01T10:00:00Z",
    "updated_at": "2024-05-02T09:00:00Z",
    "closed_at": null,
    "merged_at": %s,
    "merge_commit_sha": "9f2c1e0b7a6d5c4b3a291807f6e5d4c3b2a19080",
    "assignees": [],
    "requested_reviewers": [],
    "labels": [],
    "draft": false,
    "head": {"label": "octo-org:exp/cosine", "ref": "exp/cosine", "sha": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
      "user": {"login": "octo-org", "id": 9919, "type": "Organization"}, "repo": %s},
    "base": {"label": "octo-org:main", "ref": "main", "sha": "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
      "user": {"login": "octo-org", "id": 9919, "type": "Organization"}, "repo": %s},
    "author_association": "MEMBER",
    "auto_merge": null,
    "merged": %t,
    "mergeable": null,
    "rebaseable": null,
    "mergeable_state": "unknown",
    "merged_by": %s,
    "comments": 1,
    "review_comments": 0,
    "maintainer_can_modify": false,
    "commits": 2,
    "additions": 10,
    "deletions": 3,
    "changed_files": 1
  },
  "repository": %s,
  "organization": {"login": "octo-org", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk="},
  "sender": %s
}`, action, state, ghUserJSON("octocat", 583231, "User"), mergedAt, ghRepoJSON, ghRepoJSON, merged, mergedBy, ghRepoJSON, sender)
}

// swap replaces every old in s with new; a fixture edit that matches
// nothing would leave the case testing the unedited payload, so it panics.
func swap(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic(fmt.Sprintf("fixture edit: %q not found", old))
	}
	return strings.ReplaceAll(s, old, new)
}

var ghTestRepo = event.Repo{Forge: event.GitHub, Host: "github.com", Path: "octo-org/llm-variants", ID: 712345678,
	DefaultBranch: "main", WebURL: "https://github.com/octo-org/llm-variants"}

func ghWantComment(actor event.Actor) *event.CommentCreated {
	return &event.CommentCreated{
		Repo: ghTestRepo, Thread: event.Thread{Kind: event.PullThread, Number: 12},
		CommentID: 2101234567, Body: "/experiment\nlearning_rate: 3e-5\n",
		URL:   "https://github.com/octo-org/llm-variants/pull/12#issuecomment-2101234567",
		Actor: actor,
	}
}

func ghWantPull(open, wasOpen, merged bool) *event.PullChange {
	return &event.PullChange{Repo: ghTestRepo, Number: 12, Open: open, WasOpen: wasOpen, Merged: merged,
		Actor: event.Actor{ID: 583231, Login: "octocat"}}
}

// githubPullCases are the issue_comment and pull_request cases of the
// GitHub decoding table.
func githubPullCases() []decodeCase {
	octocat := ghUserJSON("octocat", 583231, "User")
	app := ghUserJSON("expbot[bot]", 149000001, "Bot")
	comment := ghIssueComment("created", ghPRLinks, octocat)
	// The comment's author decides, should the sender ever differ.
	authorFirst := swap(comment, `"sender": `+octocat, `"sender": `+ghUserJSON("hubot", 7, "User"))
	noUser := swap(comment, `"user": `+octocat+`,
    "created_at": "2024-05-01T10:07:00Z"`, `"created_at": "2024-05-01T10:07:00Z"`)
	emptyBody := ghWantComment(event.Actor{ID: 583231, Login: "octocat"})
	emptyBody.Body = ""
	closed := ghPullRequest("closed", "closed", false, octocat)

	return []decodeCase{
		{"comment on a pull request", "issue_comment", comment,
			ghWantComment(event.Actor{ID: 583231, Login: "octocat"}), 0},
		{"comment by a bot", "issue_comment", ghIssueComment("created", ghPRLinks, app),
			ghWantComment(event.Actor{ID: 149000001, Login: "expbot[bot]", Bot: true}), 0},
		{"comment author, not sender", "issue_comment", authorFirst,
			ghWantComment(event.Actor{ID: 583231, Login: "octocat"}), 0},
		{"comment without user: sender", "issue_comment", noUser,
			ghWantComment(event.Actor{ID: 583231, Login: "octocat"}), 0},
		{"comment with an empty body", "issue_comment", swap(comment, `"body": "/experiment\nlearning_rate: 3e-5\n"`, `"body": ""`),
			emptyBody, 0},
		{"comment on an issue", "issue_comment", ghIssueComment("created", "", octocat),
			&event.Ignored{Reason: "github issue_comment on an issue, not a pull request"}, 0},
		{"comment on an issue, pull_request null", "issue_comment", ghIssueComment("created", `"pull_request": null,`, octocat),
			&event.Ignored{Reason: "github issue_comment on an issue, not a pull request"}, 0},
		{"comment edited", "issue_comment", swap(ghIssueComment("edited", ghPRLinks, octocat),
			`"comment": {`, `"changes": {"body": {"from": "/experiment"}}, "comment": {`),
			&event.Ignored{Reason: `github issue_comment action "edited" not handled`}, 0},
		{"comment deleted", "issue_comment", ghIssueComment("deleted", ghPRLinks, octocat),
			&event.Ignored{Reason: `github issue_comment action "deleted" not handled`}, 0},
		{"comment action missing", "issue_comment", `{"issue": {"number": 12}}`,
			&event.Ignored{Reason: `github issue_comment action "" not handled`}, 0},

		{"pull request opened", "pull_request", ghPullRequest("opened", "open", false, octocat), ghWantPull(true, false, false), 0},
		{"pull request closed", "pull_request", closed, ghWantPull(false, true, false), 0},
		{"pull request merged", "pull_request", ghPullRequest("closed", "closed", true, octocat), ghWantPull(false, true, true), 0},
		{"pull request merged, merged_at only", "pull_request", swap(ghPullRequest("closed", "closed", true, octocat),
			`"merged": true,`, ``), ghWantPull(false, true, true), 0},
		{"pull request reopened", "pull_request", ghPullRequest("reopened", "open", false, octocat), ghWantPull(true, false, false), 0},
		{"pull request number at the top only", "pull_request", swap(closed, `"number": 12,
    "state"`, `"state"`), ghWantPull(false, true, false), 0},
		{"pull request synchronize", "pull_request", ghPullRequest("synchronize", "open", false, octocat),
			&event.Ignored{Reason: `github pull_request action "synchronize" not handled`}, 0},
		{"pull request labeled", "pull_request", ghPullRequest("labeled", "open", false, octocat),
			&event.Ignored{Reason: `github pull_request action "labeled" not handled`}, 0},
		{"pull request edited, fields missing", "pull_request", `{"action": "edited"}`,
			&event.Ignored{Reason: `github pull_request action "edited" not handled`}, 0},

		{"comment: malformed JSON", "issue_comment", `{"action": "created", "comment": {`, nil, 0},
		{"comment: issue missing", "issue_comment", `{"action": "created", "comment": {"id": 1}, "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r"}}`, nil, 0},
		{"comment: issue number missing", "issue_comment", swap(comment, `"number": 12,`, ``), nil, 0},
		{"comment: comment missing", "issue_comment", `{"action": "created", "issue": {"number": 12, "pull_request": {}}, "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r"}}`, nil, 0},
		{"comment: comment id missing", "issue_comment", swap(comment, `"id": 2101234567,`, ``), nil, 0},
		{"comment: id of the wrong type", "issue_comment", swap(comment, `"id": 2101234567,`, `"id": "2101234567",`), nil, 0},
		{"comment: repository missing", "issue_comment", swap(comment, `"full_name": "octo-org/llm-variants",`, ``), nil, 0},
		{"comment: repository html_url missing", "issue_comment", swap(comment, `"html_url": "https://github.com/octo-org/llm-variants",`, ``), nil, 0},
		{"pull: malformed JSON", "pull_request", `{"action": "closed", "pull_request": `, nil, 0},
		{"pull: pull_request missing", "pull_request", `{"action": "closed", "number": 12, "repository": {"full_name": "o/r", "html_url": "https://github.com/o/r"}}`, nil, 0},
		{"pull: number missing", "pull_request", swap(swap(closed, `"number": 12,
  "pull_request"`, `"pull_request"`), `"number": 12,
    "state"`, `"state"`), nil, 0},
		{"pull: merged of the wrong type", "pull_request", swap(closed, `"merged": false,`, `"merged": "no",`), nil, 0},
		{"pull: repository missing", "pull_request", swap(closed, `"full_name": "octo-org/llm-variants",`, ``), nil, 0},
		{"pull: repository html_url not absolute", "pull_request", swap(closed, `"html_url": "https://github.com/octo-org/llm-variants",`, `"html_url": "octo-org/llm-variants",`), nil, 0},
	}
}
