package glsim

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// noteableKind tells issue endpoints from merge request endpoints; the
// model keeps both as issues (IsPull marks merge requests) in one sequence.
type noteableKind int

const (
	kindIssue noteableKind = iota
	kindMR
)

// noteableType is the class name GitLab reports in notes and hooks.
func (k noteableKind) noteableType() string {
	if k == kindMR {
		return "MergeRequest"
	}
	return "Issue"
}

func kindOf(i *state.Issue) noteableKind {
	if i.IsPull {
		return kindMR
	}
	return kindIssue
}

// findNoteable looks up an issue or merge request of the given kind inside a
// repo callback.
func findNoteable(r *state.Repo, kind noteableKind, iid int64) (*state.Issue, bool) {
	i, ok := r.Issue(int(iid))
	if !ok || kindOf(i) != kind {
		return nil, false
	}
	return i, true
}

// issueState maps the model's state to GitLab's words.
func issueState(s string) string {
	if s == "open" {
		return "opened"
	}
	return s
}

// stateID is GitLab's numeric state (1 opened, 2 closed, 3 merged).
func stateID(s string) int {
	switch s {
	case "closed":
		return 2
	case "merged":
		return 3
	}
	return 1
}

// labelsOrEmpty keeps "labels": [] rather than null.
func labelsOrEmpty(l []string) []string {
	if l == nil {
		return []string{}
	}
	return append([]string(nil), l...)
}

// issueEntity is GitLab's Issue entity. The model does not record who closed
// an issue or when, so closed_at is the last update and closed_by null.
func issueEntity(i state.Issue, repo *state.RepoInfo, author state.User, base string) obj {
	web := projectURL(base, repo.FullName)
	api := fmt.Sprintf("%s%s/projects/%d/issues/%d", base, apiPrefix, repo.ID, i.Number)
	var closedAt any
	if i.State == "closed" {
		closedAt = apiTime(i.UpdatedAt)
	}
	ref := "#" + strconv.Itoa(i.Number)
	return obj{
		"id":                     issueID(repo.ID, i.Number),
		"iid":                    i.Number,
		"project_id":             repo.ID,
		"title":                  i.Title,
		"description":            i.Body,
		"state":                  issueState(i.State),
		"created_at":             apiTime(i.CreatedAt),
		"updated_at":             apiTime(i.UpdatedAt),
		"closed_at":              closedAt,
		"closed_by":              nil,
		"labels":                 labelsOrEmpty(i.Labels),
		"milestone":              nil,
		"assignees":              []any{},
		"assignee":               nil,
		"author":                 userBasic(author, base),
		"type":                   "ISSUE",
		"issue_type":             "issue",
		"user_notes_count":       0,
		"merge_requests_count":   0,
		"upvotes":                0,
		"downvotes":              0,
		"due_date":               nil,
		"confidential":           i.Confidential,
		"discussion_locked":      nil,
		"web_url":                web + "/-/issues/" + strconv.Itoa(i.Number),
		"time_stats":             obj{"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": nil, "human_total_time_spent": nil},
		"task_completion_status": obj{"count": 0, "completed_count": 0},
		"references":             obj{"short": ref, "relative": ref, "full": repo.FullName + ref},
		"severity":               "UNKNOWN",
		"moved_to_id":            nil,
		"_links": obj{
			"self": api, "notes": api + "/notes", "award_emoji": api + "/award_emoji",
			"project": fmt.Sprintf("%s%s/projects/%d", base, apiPrefix, repo.ID),
		},
	}
}

// mrEntity is GitLab's MergeRequest entity; it runs inside a repo callback
// to report the source head (sha) and diff_refs.
func mrEntity(r *state.Repo, i state.Issue, repo *state.RepoInfo, author state.User, base string) obj {
	web := projectURL(base, repo.FullName)
	head, hasHead := r.Branch(i.Head)
	target, hasTarget := r.Branch(i.Base)
	var sha, diffBase, diffStart, diffHead any
	if hasHead {
		sha, diffHead = head, head
	}
	if hasTarget {
		diffStart = target
	}
	if hasHead && hasTarget {
		if mb := mergeBase(r, head, target); mb != "" {
			diffBase = mb
		}
	}
	var closedAt, mergedAt any
	switch i.State {
	case "closed":
		closedAt = apiTime(i.UpdatedAt)
	case "merged":
		mergedAt = apiTime(i.UpdatedAt)
	}
	ref := "!" + strconv.Itoa(i.Number)
	mergeStatus, detailed := "can_be_merged", "mergeable"
	if i.State != "open" {
		detailed = "not_open"
	}
	return obj{
		"id":                            issueID(repo.ID, i.Number),
		"iid":                           i.Number,
		"project_id":                    repo.ID,
		"title":                         i.Title,
		"description":                   i.Body,
		"state":                         issueState(i.State),
		"created_at":                    apiTime(i.CreatedAt),
		"updated_at":                    apiTime(i.UpdatedAt),
		"merged_by":                     nil,
		"merge_user":                    nil,
		"merged_at":                     mergedAt,
		"closed_by":                     nil,
		"closed_at":                     closedAt,
		"target_branch":                 i.Base,
		"source_branch":                 i.Head,
		"user_notes_count":              0,
		"upvotes":                       0,
		"downvotes":                     0,
		"author":                        userBasic(author, base),
		"assignees":                     []any{},
		"assignee":                      nil,
		"reviewers":                     []any{},
		"source_project_id":             repo.ID,
		"target_project_id":             repo.ID,
		"labels":                        labelsOrEmpty(i.Labels),
		"draft":                         false,
		"work_in_progress":              false,
		"milestone":                     nil,
		"merge_when_pipeline_succeeds":  false,
		"merge_status":                  mergeStatus,
		"detailed_merge_status":         detailed,
		"sha":                           sha,
		"merge_commit_sha":              nil,
		"squash_commit_sha":             nil,
		"discussion_locked":             nil,
		"should_remove_source_branch":   nil,
		"force_remove_source_branch":    false,
		"reference":                     ref,
		"references":                    obj{"short": ref, "relative": ref, "full": repo.FullName + ref},
		"web_url":                       web + "/-/merge_requests/" + strconv.Itoa(i.Number),
		"time_stats":                    obj{"time_estimate": 0, "total_time_spent": 0, "human_time_estimate": nil, "human_total_time_spent": nil},
		"squash":                        false,
		"squash_on_merge":               false,
		"task_completion_status":        obj{"count": 0, "completed_count": 0},
		"has_conflicts":                 false,
		"blocking_discussions_resolved": true,
		"subscribed":                    false,
		"changes_count":                 nil,
		"pipeline":                      nil,
		"head_pipeline":                 nil,
		"diff_refs":                     obj{"base_sha": diffBase, "head_sha": diffHead, "start_sha": diffStart},
		"merge_error":                   nil,
		"first_contribution":            false,
		"user":                          obj{"can_merge": false},
	}
}

// getIssue is GET /projects/:id/issues/:iid; GitLab's find_by! gives the
// bare "404 Not found" for a missing iid.
func (s *server) getIssue(c *call) {
	s.getIssuable(c, kindIssue)
}

func (s *server) getMergeRequest(c *call) {
	s.getIssuable(c, kindMR)
}

func (s *server) getIssuable(c *call, kind noteableKind) {
	iid, ok := c.intVar("iid")
	if !ok {
		return
	}
	info, ok := c.project()
	if !ok {
		return
	}
	var issue state.Issue
	var mr obj // rendered under the lock: it needs the branches
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		i, ok := findNoteable(r, kind, iid)
		if !ok {
			return errStatus(http.StatusNotFound, "404 Not found")
		}
		issue = *i.Snapshot()
		if kind == kindMR {
			mr = mrEntity(r, issue, info, state.User{}, c.base())
		}
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	// Users are looked up after the repository lock is released.
	author := c.lookupUser(issue.Author)
	if kind == kindMR {
		mr["author"] = userBasic(author, c.base())
		c.json(http.StatusOK, mr)
		return
	}
	c.json(http.StatusOK, issueEntity(issue, info, author, c.base()))
}
