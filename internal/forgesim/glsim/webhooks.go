package glsim

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// userAgent is what GitLab 17.11 sends on webhook deliveries.
const userAgent = "GitLab/" + gitlabVersion

// maxPushCommits is how many commits GitLab puts in a push payload (the
// newest ones); total_commits_count still counts all.
const maxPushCommits = 20

// delivery builds the webhook request GitLab would POST to hook for ev.
func delivery(ctx context.Context, ev state.Event, hook state.Hook, deliveryID, baseURL string) ([]*http.Request, error) {
	if hook.Flavor != "" && hook.Flavor != "gitlab" {
		return nil, fmt.Errorf("hook %d is a %s hook, not a GitLab one", hook.ID, hook.Flavor)
	}
	base := strings.TrimRight(baseURL, "/")
	event, payload := hookPayload(ev, base)
	if payload == nil {
		return nil, nil
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encoding %s payload for %s: %w", event, ev.Kind, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building %s delivery to hook %d: %w", event, hook.ID, err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", userAgent)
	h.Set("X-Gitlab-Event", event)
	if hook.Secret != "" {
		h.Set("X-Gitlab-Token", hook.Secret)
	}
	h.Set("X-Gitlab-Event-UUID", deliveryID)
	h.Set("X-Gitlab-Webhook-UUID", webhookUUID(hook.ID))
	h.Set("X-Gitlab-Instance", base)
	h.Set("Idempotency-Key", deliveryID)
	return []*http.Request{req}, nil
}

// webhookUUID is a stable UUID (version 5 layout) for a hook registration.
func webhookUUID(id int64) string {
	sum := sha1.Sum([]byte("glsim-webhook:" + strconv.FormatInt(id, 10)))
	sum[6] = sum[6]&0x0f | 0x50
	sum[8] = sum[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// hookPayload picks the hook kind and builds its payload; a nil payload
// means GitLab sends nothing for the event.
func hookPayload(ev state.Event, base string) (string, obj) {
	switch ev.Kind {
	case state.IssueOpened, state.IssueEdited, state.IssueLabeled, state.IssueUnlabeled, state.IssueClosed, state.IssueReopened,
		state.IssueConfidentiality, state.PullOpened, state.PullClosed, state.PullMerged, state.PullReopened:
		if ev.Issue == nil {
			return "", nil
		}
		if ev.Issue.IsPull {
			return "Merge Request Hook", mergeRequestHook(ev, base)
		}
		if ev.Issue.Confidential {
			return "Confidential Issue Hook", issueHook(ev, base)
		}
		return "Issue Hook", issueHook(ev, base)
	case state.CommentCreated, state.CommentEdited:
		if p := noteHook(ev, base); p != nil {
			if ev.Issue != nil && ev.Issue.Confidential {
				return "Confidential Note Hook", p
			}
			return "Note Hook", p
		}
	case state.BranchPushed:
		return "Push Hook", pushHook(ev, base, "push")
	case state.TagPushed, state.TagDeleted:
		return "Tag Push Hook", pushHook(ev, base, "tag_push")
	}
	return "", nil
}

// issueAction is object_attributes.action for an issue or MR event.
func issueAction(k state.EventKind) string {
	switch k {
	case state.IssueOpened, state.PullOpened:
		return "open"
	case state.IssueClosed, state.PullClosed:
		return "close"
	case state.IssueReopened, state.PullReopened:
		return "reopen"
	case state.PullMerged:
		return "merge"
	}
	return "update"
}

func hookUser(u state.User) obj {
	return obj{"id": u.ID, "name": u.Name, "username": u.Login, "avatar_url": avatarURL(u.Email), "email": u.Email}
}

func sshURL(base, fullName string) string {
	return "git@" + sshHost(base) + ":" + fullName + ".git"
}

// hookProject is Project#hook_attrs. Projects are internal (level 10).
func hookProject(repo state.RepoInfo, base string) obj {
	web := projectURL(base, repo.FullName)
	ssh := sshURL(base, repo.FullName)
	return obj{
		"id":                  repo.ID,
		"name":                repo.Name,
		"description":         "",
		"web_url":             web,
		"avatar_url":          nil,
		"git_ssh_url":         ssh,
		"git_http_url":        web + ".git",
		"namespace":           repo.Owner,
		"visibility_level":    10,
		"path_with_namespace": repo.FullName,
		"default_branch":      repo.DefaultBranch,
		"ci_config_path":      nil,
		"homepage":            web,
		"url":                 ssh,
		"ssh_url":             ssh,
		"http_url":            web + ".git",
	}
}

// hookRepository is the legacy "repository" object of hook payloads.
func hookRepository(repo state.RepoInfo, base string) obj {
	web := projectURL(base, repo.FullName)
	ssh := sshURL(base, repo.FullName)
	return obj{
		"name": repo.Name, "url": ssh, "description": "", "homepage": web,
		"git_http_url": web + ".git", "git_ssh_url": ssh, "visibility_level": 10,
	}
}

// labelColors is GitLab's palette of suggested label colours.
var labelColors = [...]string{"#009966", "#8fbc8f", "#3cb371", "#00b140", "#013220", "#6699cc", "#0000ff",
	"#e6e6fa", "#9400d3", "#330066", "#808080", "#36454f", "#f7e7ce", "#c21e56", "#cc338b", "#dc143c",
	"#ff0000", "#cd5b45", "#eee600", "#ed9121", "#c39953"}

// hookLabels renders label names as Label#hook_attrs. The model keeps only
// names, so ids and colours derive from them and times from the project.
func hookLabels(repo state.RepoInfo, names []string) []obj {
	out := make([]obj, 0, len(names))
	for _, n := range names {
		id := stableID(strconv.FormatInt(repo.ID, 10) + "/" + n)
		out = append(out, obj{
			"id": id, "title": n, "color": labelColors[id%int64(len(labelColors))],
			"project_id": repo.ID, "created_at": hookTime(repo.CreatedAt), "updated_at": hookTime(repo.CreatedAt),
			"template": false, "description": nil, "type": "ProjectLabel", "group_id": nil,
		})
	}
	return out
}

// authorID is the id of login when the event knows it: events carry only
// the actor, so another author's id is unknown (null).
func authorID(ev state.Event, login string) any {
	if login == ev.Actor.Login {
		return ev.Actor.ID
	}
	return nil
}

// change is one entry of a payload's "changes".
func change(prev, cur any) obj { return obj{"previous": prev, "current": cur} }

// issuableChanges are the changes an issue or MR event reports.
func issuableChanges(ev state.Event) obj {
	i := ev.Issue
	ch := obj{}
	switch ev.Kind {
	case state.IssueOpened, state.PullOpened:
		ch["author_id"] = change(nil, authorID(ev, i.Author))
		ch["created_at"] = change(nil, hookTime(i.CreatedAt))
		ch["description"] = change(nil, i.Body)
		ch["id"] = change(nil, issueID(ev.Repo.ID, i.Number))
		ch["iid"] = change(nil, i.Number)
		ch["project_id"] = change(nil, ev.Repo.ID)
		ch["title"] = change(nil, i.Title)
		ch["updated_at"] = change(nil, hookTime(i.UpdatedAt))
		if len(i.Labels) > 0 {
			ch["labels"] = change([]obj{}, hookLabels(ev.Repo, i.Labels))
		}
	case state.IssueLabeled, state.IssueUnlabeled:
		ch["labels"] = change(hookLabels(ev.Repo, ev.PrevLabels), hookLabels(ev.Repo, i.Labels))
		ch["updated_by_id"] = change(nil, ev.Actor.ID)
	case state.IssueEdited:
		if prev, ok := ev.Changes["title"]; ok {
			ch["title"] = change(prev, i.Title)
		}
		if prev, ok := ev.Changes["body"]; ok {
			ch["description"] = change(prev, i.Body)
		}
		ch["last_edited_at"] = change(nil, hookTime(ev.At))
		ch["last_edited_by_id"] = change(nil, ev.Actor.ID)
		ch["updated_by_id"] = change(nil, ev.Actor.ID)
	case state.IssueConfidentiality:
		ch["confidential"] = change(!i.Confidential, i.Confidential)
		ch["updated_by_id"] = change(nil, ev.Actor.ID)
	case state.IssueClosed, state.PullClosed, state.PullMerged:
		ch["state_id"] = change(1, stateID(i.State))
		ch["closed_at"] = change(nil, hookTime(ev.At))
	case state.IssueReopened, state.PullReopened:
		ch["state_id"] = change(2, 1)
		ch["closed_at"] = change(nil, nil)
	}
	if ev.Kind != state.IssueOpened && ev.Kind != state.PullOpened {
		ch["updated_at"] = change(nil, hookTime(i.UpdatedAt))
	}
	return ch
}

// issueAttrs is Issue#hook_attrs (the issue in issue and note hooks).
func issueAttrs(ev state.Event, base string) obj {
	i := ev.Issue
	var closedAt any
	if i.State == "closed" {
		closedAt = hookTime(i.UpdatedAt)
	}
	return obj{
		"id":                     issueID(ev.Repo.ID, i.Number),
		"iid":                    i.Number,
		"title":                  i.Title,
		"description":            i.Body,
		"state":                  issueState(i.State),
		"state_id":               stateID(i.State),
		"author_id":              authorID(ev, i.Author),
		"project_id":             ev.Repo.ID,
		"created_at":             hookTime(i.CreatedAt),
		"updated_at":             hookTime(i.UpdatedAt),
		"updated_by_id":          nil,
		"closed_at":              closedAt,
		"last_edited_at":         nil,
		"last_edited_by_id":      nil,
		"relative_position":      nil,
		"milestone_id":           nil,
		"confidential":           i.Confidential,
		"discussion_locked":      nil,
		"due_date":               nil,
		"moved_to_id":            nil,
		"duplicated_to_id":       nil,
		"time_estimate":          0,
		"total_time_spent":       0,
		"time_change":            0,
		"human_total_time_spent": nil,
		"human_time_estimate":    nil,
		"human_time_change":      nil,
		"weight":                 nil,
		"health_status":          nil,
		"type":                   "Issue",
		"url":                    projectURL(base, ev.Repo.FullName) + "/-/issues/" + strconv.Itoa(i.Number),
		"assignee_ids":           []int64{},
		"assignee_id":            nil,
		"labels":                 hookLabels(ev.Repo, i.Labels),
		"severity":               "unknown",
	}
}

func issueHook(ev state.Event, base string) obj {
	attrs := issueAttrs(ev, base)
	attrs["action"] = issueAction(ev.Kind)
	if ev.Kind != state.IssueOpened {
		attrs["updated_by_id"] = ev.Actor.ID
	}
	if ev.Kind == state.IssueEdited {
		attrs["last_edited_at"] = hookTime(ev.At)
		attrs["last_edited_by_id"] = ev.Actor.ID
	}
	return obj{
		"object_kind":       "issue",
		"event_type":        "issue",
		"user":              hookUser(ev.Actor),
		"project":           hookProject(ev.Repo, base),
		"object_attributes": attrs,
		"labels":            hookLabels(ev.Repo, ev.Issue.Labels),
		"changes":           issuableChanges(ev),
		"repository":        hookRepository(ev.Repo, base),
		"assignees":         []any{},
	}
}

// hookCommit is Commit#hook_attrs; added/modified/removed are filled for
// push payloads only.
func hookCommit(cm state.Commit, repo state.RepoInfo, base string) obj {
	return obj{
		"id":        cm.SHA,
		"message":   cm.Message,
		"title":     commitTitle(cm.Message),
		"timestamp": cm.Committer.When.Format(time.RFC3339),
		"url":       projectURL(base, repo.FullName) + "/-/commit/" + cm.SHA,
		"author":    obj{"name": cm.Author.Name, "email": cm.Author.Email},
	}
}

// findCommit looks for sha among the commits an event carries.
func findCommit(ev state.Event, sha string) (state.Commit, bool) {
	for _, cm := range ev.Commits {
		if cm.SHA == sha {
			return cm, true
		}
	}
	return state.Commit{}, false
}

// mrAttrs is MergeRequest#hook_attrs. The model's pull events do not carry
// the source head; when an event has one (After) it becomes last_commit.
func mrAttrs(ev state.Event, base string) obj {
	i := ev.Issue
	detailed := "mergeable"
	if i.State != "open" {
		detailed = "not_open"
	}
	attrs := obj{
		"id":                            issueID(ev.Repo.ID, i.Number),
		"iid":                           i.Number,
		"target_branch":                 i.Base,
		"source_branch":                 i.Head,
		"source_project_id":             ev.Repo.ID,
		"target_project_id":             ev.Repo.ID,
		"author_id":                     authorID(ev, i.Author),
		"assignee_id":                   nil,
		"assignee_ids":                  []int64{},
		"reviewer_ids":                  []int64{},
		"title":                         i.Title,
		"description":                   i.Body,
		"created_at":                    hookTime(i.CreatedAt),
		"updated_at":                    hookTime(i.UpdatedAt),
		"last_edited_at":                nil,
		"last_edited_by_id":             nil,
		"milestone_id":                  nil,
		"state_id":                      stateID(i.State),
		"state":                         issueState(i.State),
		"merge_status":                  "can_be_merged",
		"detailed_merge_status":         detailed,
		"merge_commit_sha":              nil,
		"merge_error":                   nil,
		"merge_params":                  obj{"force_remove_source_branch": false},
		"merge_user_id":                 nil,
		"merge_when_pipeline_succeeds":  false,
		"head_pipeline_id":              nil,
		"url":                           projectURL(base, ev.Repo.FullName) + "/-/merge_requests/" + strconv.Itoa(i.Number),
		"source":                        hookProject(ev.Repo, base),
		"target":                        hookProject(ev.Repo, base),
		"work_in_progress":              false,
		"draft":                         false,
		"blocking_discussions_resolved": true,
		"first_contribution":            false,
		"time_estimate":                 0,
		"total_time_spent":              0,
		"time_change":                   0,
		"human_total_time_spent":        nil,
		"human_time_change":             nil,
		"human_time_estimate":           nil,
		"labels":                        hookLabels(ev.Repo, i.Labels),
		"prepared_at":                   hookTime(i.CreatedAt),
	}
	if ev.After != "" && ev.After != state.ZeroSHA {
		lc := obj{"id": ev.After, "url": projectURL(base, ev.Repo.FullName) + "/-/commit/" + ev.After}
		if cm, ok := findCommit(ev, ev.After); ok {
			lc = hookCommit(cm, ev.Repo, base)
		}
		attrs["last_commit"] = lc
	}
	return attrs
}

func mergeRequestHook(ev state.Event, base string) obj {
	attrs := mrAttrs(ev, base)
	attrs["action"] = issueAction(ev.Kind)
	if ev.Kind != state.PullOpened {
		attrs["updated_by_id"] = ev.Actor.ID
	}
	return obj{
		"object_kind":       "merge_request",
		"event_type":        "merge_request",
		"user":              hookUser(ev.Actor),
		"project":           hookProject(ev.Repo, base),
		"object_attributes": attrs,
		"labels":            hookLabels(ev.Repo, ev.Issue.Labels),
		"changes":           issuableChanges(ev),
		"repository":        hookRepository(ev.Repo, base),
		"assignees":         []any{},
		"reviewers":         []any{},
	}
}

// noteHook is the Note Hook for a comment on an issue, MR or commit
// (object_attributes.action "create", or "update" for edits as in 16.11+).
func noteHook(ev state.Event, base string) obj {
	cm := ev.Comment
	if cm == nil {
		return nil
	}
	web := projectURL(base, ev.Repo.FullName)
	action := "create"
	if ev.Kind == state.CommentEdited {
		action = "update"
	}
	attrs := obj{
		"id":                cm.ID,
		"note":              cm.Body,
		"author_id":         authorID(ev, cm.Author),
		"created_at":        hookTime(cm.CreatedAt),
		"updated_at":        hookTime(cm.UpdatedAt),
		"project_id":        ev.Repo.ID,
		"attachment":        nil,
		"line_code":         nil,
		"commit_id":         "",
		"noteable_id":       nil,
		"system":            false,
		"st_diff":           nil,
		"type":              nil,
		"position":          nil,
		"original_position": nil,
		"change_position":   nil,
		"resolved_at":       nil,
		"resolved_by_id":    nil,
		"resolved_by_push":  nil,
		"updated_by_id":     nil,
		"internal":          false,
		"confidential":      false,
		"discussion_id":     discussionID(cm.ID),
		"description":       cm.Body,
		"action":            action,
	}
	if action == "update" {
		attrs["updated_by_id"] = ev.Actor.ID
	}
	p := obj{
		"object_kind":       "note",
		"event_type":        "note",
		"user":              hookUser(ev.Actor),
		"project_id":        ev.Repo.ID,
		"project":           hookProject(ev.Repo, base),
		"repository":        hookRepository(ev.Repo, base),
		"object_attributes": attrs,
	}
	switch {
	case cm.CommitSHA != "":
		attrs["noteable_type"] = "Commit"
		attrs["commit_id"] = cm.CommitSHA
		attrs["url"] = web + "/-/commit/" + cm.CommitSHA + "#note_" + strconv.FormatInt(cm.ID, 10)
		commit := obj{"id": cm.CommitSHA, "url": web + "/-/commit/" + cm.CommitSHA}
		if c, ok := findCommit(ev, cm.CommitSHA); ok {
			commit = hookCommit(c, ev.Repo, base)
		}
		p["commit"] = commit
	case ev.Issue != nil && ev.Issue.IsPull:
		attrs["noteable_type"] = "MergeRequest"
		attrs["noteable_id"] = issueID(ev.Repo.ID, ev.Issue.Number)
		attrs["url"] = web + "/-/merge_requests/" + strconv.Itoa(ev.Issue.Number) + "#note_" + strconv.FormatInt(cm.ID, 10)
		p["merge_request"] = mrAttrs(ev, base)
	case ev.Issue != nil:
		attrs["noteable_type"] = "Issue"
		attrs["noteable_id"] = issueID(ev.Repo.ID, ev.Issue.Number)
		attrs["url"] = web + "/-/issues/" + strconv.Itoa(ev.Issue.Number) + "#note_" + strconv.FormatInt(cm.ID, 10)
		p["issue"] = issueAttrs(ev, base)
	default:
		return nil
	}
	return p
}

// pushHook is the Push Hook and Tag Push Hook payload. The event does not
// carry the tree the push started from, so the first commit's
// added/modified/removed lists stay empty; later commits are compared with
// their predecessor in the push.
func pushHook(ev state.Event, base, kind string) obj {
	var checkout any
	if ev.After != state.ZeroSHA {
		checkout = ev.After
	}
	shown := ev.Commits
	if len(shown) > maxPushCommits {
		shown = shown[len(shown)-maxPushCommits:]
	}
	commits := make([]obj, 0, len(shown))
	for idx, cm := range shown {
		hc := hookCommit(cm, ev.Repo, base)
		added, modified, removed := []string{}, []string{}, []string{}
		if idx > 0 && len(cm.Parents) > 0 && shown[idx-1].SHA == cm.Parents[0] {
			added, modified, removed = changedPaths(shown[idx-1].Tree, cm.Tree)
		}
		hc["added"], hc["modified"], hc["removed"] = added, modified, removed
		commits = append(commits, hc)
	}
	protected := kind == "push" && ev.Ref == "refs/heads/"+ev.Repo.DefaultBranch
	return obj{
		"object_kind":         kind,
		"event_name":          kind,
		"before":              ev.Before,
		"after":               ev.After,
		"ref":                 ev.Ref,
		"ref_protected":       protected,
		"checkout_sha":        checkout,
		"message":             nil,
		"user_id":             ev.Actor.ID,
		"user_name":           ev.Actor.Name,
		"user_username":       ev.Actor.Login,
		"user_email":          ev.Actor.Email,
		"user_avatar":         avatarURL(ev.Actor.Email),
		"project_id":          ev.Repo.ID,
		"project":             hookProject(ev.Repo, base),
		"commits":             commits,
		"total_commits_count": len(ev.Commits),
		"push_options":        obj{},
		"repository":          hookRepository(ev.Repo, base),
	}
}
