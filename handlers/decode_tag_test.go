package handlers

import (
	"fmt"
	"strings"

	"github.com/expbot/expbot/internal/event"
)

// Object names of the tag push fixtures.
const (
	zeroSHA   = "0000000000000000000000000000000000000000"
	zeroSHA2  = zeroSHA + "000000000000000000000000" // SHA-256 repositories
	commitA   = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	commitB   = "9f2c1e0b7a6d5c4b3a291807f6e5d4c3b2a19080"
	tagObject = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678" // an annotated tag's own object
)

// ghPushRepoJSON is the repository object of GitHub's push deliveries
// (dates as unix seconds, master_branch besides default_branch).
const ghPushRepoJSON = `{
    "id": 712345678,
    "node_id": "R_kgDOKx1234",
    "name": "llm-variants",
    "full_name": "octo-org/llm-variants",
    "private": true,
    "owner": {"name": "octo-org", "email": null, "login": "octo-org", "id": 9919, "type": "Organization", "site_admin": false},
    "html_url": "https://github.com/octo-org/llm-variants",
    "description": null,
    "fork": false,
    "url": "https://github.com/octo-org/llm-variants",
    "created_at": 1714557600,
    "updated_at": "2024-05-01T10:00:00Z",
    "pushed_at": 1714644000,
    "default_branch": "main",
    "master_branch": "main",
    "stargazers": 0,
    "visibility": "private"
  }`

// ghHeadCommitJSON is a push's head_commit with id sha.
func ghHeadCommitJSON(sha string) string {
	return fmt.Sprintf(`{
    "id": %q,
    "tree_id": "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
    "distinct": true,
    "message": "Cosine schedule",
    "timestamp": "2024-05-02T10:00:00+02:00",
    "url": "https://github.com/octo-org/llm-variants/commit/%s",
    "author": {"name": "The Octocat", "email": "octocat@github.com", "username": "octocat"},
    "committer": {"name": "GitHub", "email": "noreply@github.com", "username": "web-flow"},
    "added": [], "removed": [], "modified": ["lr.yaml"]
  }`, sha, sha)
}

// ghPush is a push delivery shaped like github.com's; headCommit is the
// head_commit member's JSON ("null" on deletion).
func ghPush(ref, before, after string, created, deleted, forced bool, headCommit, sender string) string {
	baseRef, compare := "null", fmt.Sprintf("https://github.com/octo-org/llm-variants/compare/%s...%s", before[:12], after[:12])
	if created {
		baseRef, compare = `"refs/heads/main"`, "https://github.com/octo-org/llm-variants/compare/"+strings.TrimPrefix(ref, "refs/tags/")
	}
	return fmt.Sprintf(`{
  "ref": %q,
  "before": %q,
  "after": %q,
  "repository": %s,
  "pusher": {"name": "octocat", "email": "octocat@github.com"},
  "organization": {"login": "octo-org", "id": 9919, "node_id": "MDEyOk9yZ2FuaXphdGlvbjk5MTk="},
  "sender": %s,
  "created": %t,
  "deleted": %t,
  "forced": %t,
  "base_ref": %s,
  "compare": %q,
  "commits": [],
  "head_commit": %s
}`, ref, before, after, ghPushRepoJSON, sender, created, deleted, forced, baseRef, compare, headCommit)
}

// ghRefEvent is a create (or, without master_branch, delete) delivery.
func ghRefEvent(eventName, ref, refType string) string {
	master := ""
	if eventName == "create" {
		master = `"master_branch": "main", "description": null,`
	}
	return fmt.Sprintf(`{"ref": %q, "ref_type": %q, %s "pusher_type": "user", "repository": %s,
  "organization": {"login": "octo-org", "id": 9919}, "sender": %s}`, ref, refType, master, ghRepoJSON, ghUserJSON("octocat", 583231, "User"))
}

func ghWantTag(before, after string, actor event.Actor) *event.TagPush {
	return &event.TagPush{Repo: ghTestRepo, Tag: "v1.2", Before: before, After: after, Actor: actor}
}

// githubTagCases are the push, create and delete cases of the GitHub
// decoding table.
func githubTagCases() []decodeCase {
	octocat := ghUserJSON("octocat", 583231, "User")
	octoActor := event.Actor{ID: 583231, Login: "octocat"}
	const tag = "refs/tags/v1.2"
	created := ghPush(tag, zeroSHA, commitA, true, false, false, ghHeadCommitJSON(commitA), octocat)
	moved := ghPush(tag, commitA, commitB, false, false, true, ghHeadCommitJSON(commitB), octocat)
	deleted := ghPush(tag, commitA, zeroSHA, false, true, false, "null", octocat)
	ghe := ghWantTag("", commitA, octoActor)
	ghe.Repo.Host, ghe.Repo.WebURL = "ghe.example.com:8443", "https://ghe.example.com:8443/octo-org/llm-variants"
	ignoredTag := &event.Ignored{Reason: "tag handled through push"}
	slashed := ghWantTag("", commitA, octoActor)
	slashed.Tag = "release/v1.2"

	return []decodeCase{
		{"tag created", "push", created, ghWantTag("", commitA, octoActor), 0},
		{"annotated tag created: head_commit is the commit", "push",
			ghPush(tag, zeroSHA, tagObject, true, false, false, ghHeadCommitJSON(commitA), octocat), ghWantTag("", commitA, octoActor), 0},
		{"tag created, no head_commit: after", "push", swap(created, `"head_commit": {`, `"head_commit": null, "x": {`),
			ghWantTag("", commitA, octoActor), 0},
		{"tag moved by a forced push", "push", moved, ghWantTag(commitA, commitB, octoActor), 0},
		{"tag deleted", "push", deleted, ghWantTag(commitA, "", octoActor), 0},
		{"created flag alone", "push", swap(created, `"before": "`+zeroSHA+`"`, `"before": "`+commitB+`"`),
			ghWantTag("", commitA, octoActor), 0},
		{"deleted flag alone", "push", swap(deleted, `"after": "`+zeroSHA+`"`, `"after": "`+commitB+`"`),
			ghWantTag(commitA, "", octoActor), 0},
		{"zero after without the flag", "push", swap(deleted, `"deleted": true`, `"deleted": false`),
			ghWantTag(commitA, "", octoActor), 0},
		{"SHA-256 zeros", "push", swap(swap(created, `"before": "`+zeroSHA+`"`, `"before": "`+zeroSHA2+`"`), `"created": true`, `"created": false`),
			ghWantTag("", commitA, octoActor), 0},
		{"pushed by an app", "push", ghPush(tag, commitA, commitB, false, false, true, ghHeadCommitJSON(commitB), ghUserJSON("expbot[bot]", 149000001, "Bot")),
			ghWantTag(commitA, commitB, event.Actor{ID: 149000001, Login: "expbot[bot]", Bot: true}), 0},
		{"GitHub Enterprise host", "push", strings.ReplaceAll(created, "https://github.com/", "https://ghe.example.com:8443/"), ghe, 0},
		{"tag name with slashes", "push", swap(created, `"ref": "refs/tags/v1.2"`, `"ref": "refs/tags/release/v1.2"`),
			slashed, 0},

		{"branch push", "push", ghPush("refs/heads/main", commitA, commitB, false, false, false, ghHeadCommitJSON(commitB), octocat),
			&event.Ignored{Reason: "github branch push not handled"}, 0},
		{"branch deleted", "push", ghPush("refs/heads/exp/x", commitA, zeroSHA, false, true, false, "null", octocat),
			&event.Ignored{Reason: "github branch push not handled"}, 0},
		{"branch push, repository missing", "push", `{"ref": "refs/heads/main"}`,
			&event.Ignored{Reason: "github branch push not handled"}, 0},
		{"other ref", "push", swap(created, `"ref": "refs/tags/v1.2"`, `"ref": "refs/notes/commits"`),
			&event.Ignored{Reason: `github push of ref "refs/notes/commits" not handled`}, 0},
		{"create of a tag", "create", ghRefEvent("create", "v1.2", "tag"), ignoredTag, 0},
		{"delete of a tag", "delete", ghRefEvent("delete", "v1.2", "tag"), ignoredTag, 0},
		{"create of a branch", "create", ghRefEvent("create", "exp/x", "branch"),
			&event.Ignored{Reason: `github create of ref type "branch" not handled`}, 0},
		{"delete of a branch", "delete", ghRefEvent("delete", "exp/x", "branch"),
			&event.Ignored{Reason: `github delete of ref type "branch" not handled`}, 0},
		{"create of a repository", "create", `{"ref": null, "ref_type": "repository"}`,
			&event.Ignored{Reason: `github create of ref type "repository" not handled`}, 0},

		{"push: malformed JSON", "push", `{"ref": "refs/tags/v1.2", `, nil, 0},
		{"push: ref missing", "push", swap(created, `"ref": "refs/tags/v1.2",`, ``), nil, 0},
		{"push: ref empty", "push", swap(created, `"ref": "refs/tags/v1.2"`, `"ref": ""`), nil, 0},
		{"push: ref of the wrong type", "push", swap(created, `"ref": "refs/tags/v1.2"`, `"ref": 12`), nil, 0},
		{"push: tag name empty", "push", swap(created, `"ref": "refs/tags/v1.2"`, `"ref": "refs/tags/"`), nil, 0},
		{"push: repository missing", "push", swap(created, `"full_name": "octo-org/llm-variants",`, ``), nil, 0},
		{"push: repository html_url missing", "push", swap(created, `"html_url": "https://github.com/octo-org/llm-variants",`, ``), nil, 0},
		{"push: created and deleted at once", "push", swap(created, `"deleted": false`, `"deleted": true`), nil, 0},
		{"push: before and after zero", "push", ghPush(tag, zeroSHA, zeroSHA, false, false, false, "null", octocat), nil, 0},
		{"push: after not a SHA", "push", swap(moved, `"id": "`+commitB+`"`, `"id": "main"`), nil, 0},
		{"push: before not a SHA", "push", swap(moved, `"before": "`+commitA+`"`, `"before": "`+commitA[:12]+`"`), nil, 0},
		{"create: malformed JSON", "create", `{"ref_type": "tag"`, nil, 0},
		{"delete: not an object", "delete", `["tag"]`, nil, 0},
	}
}

// glTagPush is a Tag Push Hook shaped like GitLab 17's; checkout is the
// checkout_sha member's JSON ("null" on deletion).
func glTagPush(ref, before, after, checkout, username string) string {
	return fmt.Sprintf(`{
  "object_kind": "tag_push",
  "event_name": "tag_push",
  "before": %q,
  "after": %q,
  "ref": %q,
  "ref_protected": false,
  "checkout_sha": %s,
  "message": null,
  "user_id": 51,
  "user_name": "Ada Lovelace",
  "user_username": %q,
  "user_email": "",
  "user_avatar": "https://secure.gravatar.com/avatar/x",
  "project_id": 14,
  "project": %s,
  "commits": [],
  "total_commits_count": 0,
  "push_options": {},
  "repository": {"name": "llm-variants", "url": "git@gitlab.example.com:ml/research/llm-variants.git", "description": "",
    "homepage": "https://gitlab.example.com/ml/research/llm-variants",
    "git_http_url": "https://gitlab.example.com/ml/research/llm-variants.git",
    "git_ssh_url": "git@gitlab.example.com:ml/research/llm-variants.git", "visibility_level": 0}
}`, before, after, ref, checkout, username, glProjectJSON)
}

func glWantTag(before, after string, actor event.Actor) *event.TagPush {
	return &event.TagPush{Repo: glTestRepo, Tag: "v1.2", Before: before, After: after, Actor: actor}
}

// gitlabTagCases are the Tag Push Hook and Push Hook cases of the GitLab
// decoding table.
func gitlabTagCases() []decodeCase {
	ada := event.Actor{ID: 51, Login: "ada"}
	const tag = "refs/tags/v1.2"
	q := func(s string) string { return `"` + s + `"` }
	created := glTagPush(tag, zeroSHA, commitA, q(commitA), "ada")
	moved := glTagPush(tag, commitA, commitB, q(commitB), "ada")
	deleted := glTagPush(tag, commitA, zeroSHA, "null", "ada")

	return []decodeCase{
		{"tag created", "Tag Push Hook", created, glWantTag("", commitA, ada), 0},
		{"annotated tag created: checkout_sha is the commit", "Tag Push Hook", glTagPush(tag, zeroSHA, tagObject, q(commitA), "ada"),
			glWantTag("", commitA, ada), 0},
		{"tag moved", "Tag Push Hook", moved, glWantTag(commitA, commitB, ada), 0},
		{"tag deleted", "Tag Push Hook", deleted, glWantTag(commitA, "", ada), 0},
		{"no checkout_sha: after", "Tag Push Hook", swap(created, `"checkout_sha": "`+commitA+`",`, ``),
			glWantTag("", commitA, ada), 0},
		{"deleted, checkout_sha set anyway", "Tag Push Hook", glTagPush(tag, commitA, zeroSHA, q(commitB), "ada"),
			glWantTag(commitA, "", ada), 0},
		{"SHA-256 zeros", "Tag Push Hook", glTagPush(tag, zeroSHA2, commitA, q(commitA), "ada"), glWantTag("", commitA, ada), 0},
		{"no object_kind", "Tag Push Hook", swap(created, `"object_kind": "tag_push",`, ``), glWantTag("", commitA, ada), 0},
		{"pushed by a project access token bot", "Tag Push Hook", glTagPush(tag, commitA, commitB, q(commitB), "project_14_bot_3f2a9c"),
			glWantTag(commitA, commitB, event.Actor{ID: 51, Login: "project_14_bot_3f2a9c", Bot: true}), 0},

		{"branch push hook, body not even read", "Push Hook", `{not json`, &event.Ignored{Reason: "gitlab branch push not handled"}, 0},
		{"tag push hook of another kind", "Tag Push Hook", swap(created, `"object_kind": "tag_push"`, `"object_kind": "push"`),
			&event.Ignored{Reason: `gitlab tag push hook of kind "push" not handled`}, 0},
		{"tag push hook for a branch", "Tag Push Hook", swap(created, `"ref": "refs/tags/v1.2"`, `"ref": "refs/heads/main"`),
			&event.Ignored{Reason: `gitlab tag push of ref "refs/heads/main" not handled`}, 0},

		{"tag push: malformed JSON", "Tag Push Hook", `{"object_kind": "tag_push", `, nil, 0},
		{"tag push: ref missing", "Tag Push Hook", swap(created, `"ref": "refs/tags/v1.2",`, ``), nil, 0},
		{"tag push: ref null", "Tag Push Hook", swap(created, `"ref": "refs/tags/v1.2"`, `"ref": null`), nil, 0},
		{"tag push: tag name empty", "Tag Push Hook", swap(created, `"ref": "refs/tags/v1.2"`, `"ref": "refs/tags/"`), nil, 0},
		{"tag push: project missing", "Tag Push Hook", swap(created, `"path_with_namespace": "ml/research/llm-variants",`, ``), nil, 0},
		{"tag push: project web_url missing", "Tag Push Hook", swap(created, `"web_url": "https://gitlab.example.com/ml/research/llm-variants",`, ``), nil, 0},
		{"tag push: before and after zero", "Tag Push Hook", glTagPush(tag, zeroSHA, zeroSHA, "null", "ada"), nil, 0},
		{"tag push: checkout_sha not a SHA", "Tag Push Hook", glTagPush(tag, zeroSHA, commitA, q("v1.2"), "ada"), nil, 0},
		{"tag push: user_id of the wrong type", "Tag Push Hook", swap(created, `"user_id": 51,`, `"user_id": "51",`), nil, 0},
	}
}
