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
		Description *json.RawMessage `json:"description"` // {"previous","current"} when edited
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
// into an *event.IssueChange or *event.Ignored. An error means the body is
// malformed, or a handled event lacks a field expbot needs.
func DecodeGitLab(eventHeader string, body []byte) (event.Event, error) {
	switch eventHeader {
	case "Issue Hook", "Confidential Issue Hook":
		return decodeGitLabIssue(body)
	default:
		return &event.Ignored{Reason: fmt.Sprintf("gitlab event %q not handled", clip(eventHeader, maxReason))}, nil
	}
}

func decodeGitLabIssue(body []byte) (event.Event, error) {
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
		return &event.Ignored{Reason: fmt.Sprintf("gitlab %s of type %q not handled", clip(p.ObjectKind, maxReason), clip(a.Type, maxReason))}, nil
	}
	if !gitlabIssueAction(a.Action) {
		return &event.Ignored{Reason: fmt.Sprintf("gitlab issue action %q not handled", clip(a.Action, maxReason))}, nil
	}
	if a.IID <= 0 {
		return nil, malformed("gitlab issue: object_attributes.iid missing")
	}
	if p.Project == nil || p.Project.PathWithNamespace == "" {
		return nil, malformed("gitlab issue: project.path_with_namespace missing")
	}
	host, err := hostOf("project.web_url", p.Project.WebURL)
	if err != nil {
		return nil, fmt.Errorf("gitlab issue: %w", err)
	}

	src := p.Labels
	if src == nil {
		src = a.Labels
	}
	labels := labelTitles(src)
	open := a.State == "opened"
	c := &event.IssueChange{
		Repo: event.Repo{
			Forge: event.GitLab, Host: host, Path: p.Project.PathWithNamespace, ID: p.Project.ID,
			DefaultBranch: p.Project.DefaultBranch, WebURL: p.Project.WebURL,
		},
		Number:      a.IID,
		Title:       a.Title,
		Body:        a.Description,
		URL:         a.URL,
		Open:        open,
		WasOpen:     open,
		Labels:      labels,
		PrevLabels:  slices.Clone(labels),
		BodyChanged: p.Changes != nil && p.Changes.Description != nil,
	}
	if p.Changes != nil && p.Changes.Labels != nil {
		c.PrevLabels = labelTitles(p.Changes.Labels.Previous)
	}
	if u := p.User; u != nil {
		c.Actor = event.Actor{ID: u.ID, Login: u.Username, Bot: (u.Bot != nil && *u.Bot) || gitlabBotName.MatchString(u.Username)}
	}
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
