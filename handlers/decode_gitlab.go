package handlers

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/expbot/expbot/internal/event"
)

// Minimal views of GitLab's payloads, with GitLab's field names.
type glIssuePayload struct {
	ObjectKind       string        `json:"object_kind"` // issue | work_item
	User             *glUser       `json:"user"`
	Project          *glProject    `json:"project"`
	ObjectAttributes *glIssueAttrs `json:"object_attributes"`
	Labels           []glLabel     `json:"labels"`
	Changes          *struct {
		Labels *struct {
			Previous []glLabel `json:"previous"`
			Current  []glLabel `json:"current"`
		} `json:"labels"`
		Description  *json.RawMessage `json:"description"`  // {"previous","current"} when edited
		Confidential *json.RawMessage `json:"confidential"` // {"previous","current"} when turned on or off
	} `json:"changes"`
}

type glIssueAttrs struct {
	IID         int       `json:"iid"`
	Title       string    `json:"title"`
	Description string    `json:"description"`
	URL         string    `json:"url"`
	State       string    `json:"state"`  // opened | closed
	Action      string    `json:"action"` // open | close | reopen | update
	Type        string    `json:"type"`   // work item type, since 17.2: Issue, Task, Incident, ...
	Labels      []glLabel `json:"labels"`
	// Only project members can see a confidential issue; its hooks are
	// Confidential Issue Hooks.
	Confidential bool   `json:"confidential"`
	UpdatedAt    string `json:"updated_at"`
}

// glNotePayload is a Note Hook: a comment on a merge request, issue, commit
// or snippet.
type glNotePayload struct {
	ObjectKind       string       `json:"object_kind"` // note
	User             *glUser      `json:"user"`
	Project          *glProject   `json:"project"`
	ObjectAttributes *glNoteAttrs `json:"object_attributes"`
	MergeRequest     *glMRAttrs   `json:"merge_request"` // when noteable_type is MergeRequest
}

type glNoteAttrs struct {
	ID           int64  `json:"id"`
	Note         string `json:"note"`
	URL          string `json:"url"`
	NoteableType string `json:"noteable_type"` // MergeRequest | Issue | Commit | Snippet
	Action       string `json:"action"`        // create | update (16.11+; absent before)
	System       bool   `json:"system"`        // GitLab's own notes ("added 1 commit", ...)
	// An internal note is for project members only; "confidential" is its
	// name before GitLab 15.
	Internal     bool   `json:"internal"`
	Confidential bool   `json:"confidential"`
	CreatedAt    string `json:"created_at"`
}

// glMRPayload is a Merge Request Hook.
type glMRPayload struct {
	ObjectKind       string     `json:"object_kind"` // merge_request
	User             *glUser    `json:"user"`
	Project          *glProject `json:"project"`
	ObjectAttributes *glMRAttrs `json:"object_attributes"`
}

// glMRAttrs is a merge request as hooks show it (object_attributes of a
// Merge Request Hook, merge_request of a Note Hook).
type glMRAttrs struct {
	IID          int    `json:"iid"`
	State        string `json:"state"`  // opened | closed | merged | locked
	Action       string `json:"action"` // open | close | reopen | merge | update | approved | ...
	SourceBranch string `json:"source_branch"`
	UpdatedAt    string `json:"updated_at"`
	LastCommit   *struct {
		ID string `json:"id"`
	} `json:"last_commit"`
}

// glTagPushPayload is a Tag Push Hook: a tag created (before all zeros),
// moved, or deleted (after all zeros). The pusher is given by top-level
// user_* fields.
type glTagPushPayload struct {
	ObjectKind   string     `json:"object_kind"` // tag_push
	Ref          *string    `json:"ref"`
	Before       string     `json:"before"`
	After        string     `json:"after"`
	CheckoutSHA  *string    `json:"checkout_sha"` // the commit; null on deletion
	UserID       int64      `json:"user_id"`
	UserUsername string     `json:"user_username"`
	Project      *glProject `json:"project"`
}

type glLabel struct {
	Title string `json:"title"`
}

type glProject struct {
	ID                int64  `json:"id"`
	PathWithNamespace string `json:"path_with_namespace"`
	DefaultBranch     string `json:"default_branch"`
	WebURL            string `json:"web_url"`
}

type glUser struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Bot      *bool  `json:"bot"` // in the REST API's user; webhooks may not send it
}

// gitlabBotName matches the usernames GitLab reserves for project and group
// access-token bots and for service accounts; webhook payloads carry no bot
// flag, so the name is what there is.
var gitlabBotName = regexp.MustCompile(`^((project|group)_\d+_bot|service_account_)`)

func gitlabIssueAction(action string) bool {
	return slices.Contains([]string{"open", "close", "reopen", "update"}, action)
}

// DecodeGitLab turns a GitLab webhook (X-Gitlab-Event value and JSON body)
// into an *event.IssueChange, *event.CommentCreated, *event.PullChange,
// *event.TagPush or *event.Ignored. An error means the body is malformed, or a handled event
// lacks a field expbot needs.
func DecodeGitLab(eventHeader string, body []byte) (event.Event, error) {
	switch eventHeader {
	case "Issue Hook", "Confidential Issue Hook":
		return decodeGitLabIssue(body, eventHeader == "Confidential Issue Hook")
	case "Note Hook", "Confidential Note Hook":
		return decodeGitLabNote(body)
	case "Merge Request Hook":
		return decodeGitLabMergeRequest(body)
	case "Tag Push Hook":
		return decodeGitLabTagPush(body)
	case "Push Hook":
		// Branches: nothing to do, so the body is not even read.
		return &event.Ignored{Reason: "gitlab branch push not handled"}, nil
	default:
		return &event.Ignored{Reason: fmt.Sprintf("gitlab event %s not handled", quote(eventHeader))}, nil
	}
}

func decodeGitLabIssue(body []byte, confidentialHook bool) (event.Event, error) {
	var p glIssuePayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: gitlab issue: %w", ErrMalformed, err)
	}
	a := p.ObjectAttributes
	if a == nil {
		return nil, malformed("gitlab issue: object_attributes missing")
	}
	// Issues arrive as object_kind issue (type Issue, or no type before 17.2)
	// or as work items of type Issue; tasks, epics, incidents are not requests.
	isIssue := strings.EqualFold(a.Type, "Issue") || (p.ObjectKind == "issue" && a.Type == "")
	if (p.ObjectKind != "issue" && p.ObjectKind != "work_item") || !isIssue {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab %s of type %s not handled", clip(p.ObjectKind, maxReason/2), quote(a.Type))}, nil
	}
	if !gitlabIssueAction(a.Action) {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab issue action %s not handled", quote(a.Action))}, nil
	}
	if a.IID <= 0 {
		return nil, malformed("gitlab issue: object_attributes.iid missing")
	}
	repo, err := gitlabRepo("issue", p.Project)
	if err != nil {
		return nil, err
	}

	src := p.Labels
	if src == nil {
		src = a.Labels
	}
	labels := labelTitles(src)
	open := a.State == "opened"
	c := &event.IssueChange{
		Repo:        repo,
		Number:      a.IID,
		Title:       a.Title,
		Body:        a.Description,
		URL:         a.URL,
		Open:        open,
		WasOpen:     open,
		Labels:      labels,
		PrevLabels:  slices.Clone(labels),
		BodyChanged: p.Changes != nil && p.Changes.Description != nil,
		// Either says so: the attribute is the issue's, the hook name what
		// GitLab decided to send.
		Confidential:        a.Confidential || confidentialHook,
		ConfidentialChanged: p.Changes != nil && p.Changes.Confidential != nil,
		At:                  forgeTime(a.UpdatedAt),
	}
	if p.Changes != nil && p.Changes.Labels != nil {
		c.PrevLabels = labelTitles(p.Changes.Labels.Previous)
	}
	c.Actor = gitlabActor(p.User)
	switch a.Action {
	case "open":
		c.WasOpen = false // it did not exist
		if p.Changes == nil || p.Changes.Labels == nil {
			c.PrevLabels = []string{}
		}
	case "close":
		c.WasOpen = true
	case "reopen":
		c.WasOpen = false
	}
	return c, nil
}

func labelTitles(ls []glLabel) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, l.Title)
	}
	return out
}

// gitlabRepo is the project of an event; without its path and web URL the
// event names no project and is malformed.
func gitlabRepo(kind string, p *glProject) (event.Repo, error) {
	if p == nil || p.PathWithNamespace == "" {
		return event.Repo{}, malformed("gitlab %s: project.path_with_namespace missing", kind)
	}
	host, err := hostOf("project.web_url", p.WebURL)
	if err != nil {
		return event.Repo{}, fmt.Errorf("gitlab %s: %w", kind, err)
	}
	return event.Repo{
		Forge: event.GitLab, Host: host, Path: p.PathWithNamespace, ID: p.ID,
		DefaultBranch: p.DefaultBranch, WebURL: p.WebURL,
	}, nil
}

// gitlabActor is the user u; bots are told by flag when sent, else by name.
func gitlabActor(u *glUser) event.Actor {
	if u == nil {
		return event.Actor{}
	}
	return event.Actor{ID: u.ID, Login: u.Username, Bot: (u.Bot != nil && *u.Bot) || gitlabBotName.MatchString(u.Username)}
}

// decodeGitLabNote decodes a new note on a merge request. Notes on issues,
// commits and snippets, edits (action update), GitLab's system notes and
// internal notes are ignored: expbot's answers and branches are visible to
// everyone who sees the request, and would repeat what an internal note says.
func decodeGitLabNote(body []byte) (event.Event, error) {
	var p glNotePayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: gitlab note: %w", ErrMalformed, err)
	}
	a := p.ObjectAttributes
	if a == nil {
		return nil, malformed("gitlab note: object_attributes missing")
	}
	if p.ObjectKind != "note" {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab note hook of kind %s not handled", quote(p.ObjectKind))}, nil
	}
	if a.NoteableType != "MergeRequest" {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab note on %s not handled", quote(a.NoteableType))}, nil
	}
	// GitLab before 16.11 sends notes on creation only, without an action.
	if a.Action != "create" && a.Action != "" {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab note action %s not handled", quote(a.Action))}, nil
	}
	if a.System {
		return &event.Ignored{Reason: "gitlab system note"}, nil
	}
	if a.Internal || a.Confidential {
		return &event.Ignored{Reason: "gitlab internal note: expbot answers in public, so it acts on public comments only"}, nil
	}
	if p.MergeRequest == nil || p.MergeRequest.IID <= 0 {
		return nil, malformed("gitlab note: merge_request.iid missing")
	}
	if a.ID <= 0 {
		return nil, malformed("gitlab note: object_attributes.id missing")
	}
	repo, err := gitlabRepo("note", p.Project)
	if err != nil {
		return nil, err
	}
	mr := p.MergeRequest
	c := &event.CommentCreated{
		Repo:       repo,
		Thread:     event.Thread{Kind: event.PullThread, Number: mr.IID},
		CommentID:  a.ID,
		Body:       a.Note,
		URL:        a.URL,
		Actor:      gitlabActor(p.User),
		HeadBranch: mr.SourceBranch,
		At:         forgeTime(a.CreatedAt),
		PullClosed: mr.State == "closed" || mr.State == "merged",
	}
	if mr.LastCommit != nil {
		c.HeadSHA = mr.LastCommit.ID
	}
	return c, nil
}

// decodeGitLabMergeRequest decodes a merge request opened, closed, merged
// or reopened; other actions (update, approved, ...) are ignored.
func decodeGitLabMergeRequest(body []byte) (event.Event, error) {
	var p glMRPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: gitlab merge request: %w", ErrMalformed, err)
	}
	a := p.ObjectAttributes
	if a == nil {
		return nil, malformed("gitlab merge request: object_attributes missing")
	}
	if p.ObjectKind != "merge_request" {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab merge request hook of kind %s not handled", quote(p.ObjectKind))}, nil
	}
	if !slices.Contains([]string{"open", "close", "reopen", "merge"}, a.Action) {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab merge request action %s not handled", quote(a.Action))}, nil
	}
	if a.IID <= 0 {
		return nil, malformed("gitlab merge request: object_attributes.iid missing")
	}
	repo, err := gitlabRepo("merge request", p.Project)
	if err != nil {
		return nil, err
	}
	// The payload shows the merge request after the change; the action says
	// what it was before.
	return &event.PullChange{
		Repo:    repo,
		Number:  a.IID,
		Open:    a.State == "opened",
		WasOpen: a.Action == "close" || a.Action == "merge",
		Merged:  a.Action == "merge",
		Actor:   gitlabActor(p.User),
		At:      forgeTime(a.UpdatedAt),
	}, nil
}

// decodeGitLabTagPush decodes a tag created, moved or deleted.
func decodeGitLabTagPush(body []byte) (event.Event, error) {
	var p glTagPushPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: gitlab tag push: %w", ErrMalformed, err)
	}
	if p.ObjectKind != "" && p.ObjectKind != "tag_push" {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab tag push hook of kind %s not handled", quote(p.ObjectKind))}, nil
	}
	if p.Ref == nil || *p.Ref == "" {
		return nil, malformed("gitlab tag push: ref missing")
	}
	tag, ok := strings.CutPrefix(*p.Ref, tagsPrefix)
	if !ok {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab tag push of ref %s not handled", quote(*p.Ref))}, nil
	}
	if tag == "" {
		return nil, malformed("gitlab tag push: ref names no tag")
	}
	repo, err := gitlabRepo("tag push", p.Project)
	if err != nil {
		return nil, err
	}
	tp := &event.TagPush{
		Repo: repo, Tag: tag, Before: sha(p.Before), After: sha(p.After),
		Actor: gitlabActor(&glUser{ID: p.UserID, Username: p.UserUsername}),
	}
	// For an annotated tag, after is the tag object; checkout_sha is the
	// commit it points to.
	if tp.After != "" && p.CheckoutSHA != nil && *p.CheckoutSHA != "" {
		tp.After = sha(*p.CheckoutSHA)
	}
	if err := checkTagPush("gitlab tag push", tp); err != nil {
		return nil, err
	}
	return tp, nil
}
