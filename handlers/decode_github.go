package handlers

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"slices"

	"github.com/expbot/expbot/internal/event"
)

// Minimal views of GitHub's payloads: only the fields expbot reads, with the
// names GitHub uses. Forge SDKs stay in the forge clients (design decision 5).
type ghIssuesPayload struct {
	Action  string   `json:"action"`
	Issue   *ghIssue `json:"issue"`
	Label   *ghLabel `json:"label"`
	Changes *struct {
		Body *json.RawMessage `json:"body"` // {"from": "..."} when the body was edited
	} `json:"changes"`
	Repository *ghRepo `json:"repository"`
	Sender     *ghUser `json:"sender"`
}

type ghIssue struct {
	Number      int             `json:"number"`
	Title       string          `json:"title"`
	Body        string          `json:"body"` // null when empty
	HTMLURL     string          `json:"html_url"`
	State       string          `json:"state"` // open | closed
	Labels      []ghLabel       `json:"labels"`
	PullRequest json.RawMessage `json:"pull_request"` // set when the issue is a pull request
}

type ghLabel struct {
	Name string `json:"name"`
}

type ghRepo struct {
	ID            int64  `json:"id"`
	FullName      string `json:"full_name"`
	HTMLURL       string `json:"html_url"`
	DefaultBranch string `json:"default_branch"`
}

type ghUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Type  string `json:"type"` // User | Bot | Organization
}

// githubIssueAction tells the issues actions that can change whether an
// issue is open, its labels or its body.
func githubIssueAction(action string) bool {
	return slices.Contains([]string{"opened", "edited", "labeled", "unlabeled", "closed", "reopened"}, action)
}

// DecodeGitHub turns a GitHub webhook (X-GitHub-Event name and JSON body)
// into an *event.Ping, *event.IssueChange or *event.Ignored. An error means
// the body is malformed, or a handled event lacks a field expbot needs.
func DecodeGitHub(eventName string, body []byte) (event.Event, error) {
	switch eventName {
	case "ping":
		if !json.Valid(body) {
			return nil, malformed("github ping: body is not JSON")
		}
		return &event.Ping{}, nil
	case "issues":
		return decodeGitHubIssues(body)
	default:
		return &event.Ignored{Reason: fmt.Sprintf("github event %q not handled", clip(eventName, maxReason))}, nil
	}
}

func decodeGitHubIssues(body []byte) (event.Event, error) {
	var p ghIssuesPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: github issues: %w", ErrMalformed, err)
	}
	if !githubIssueAction(p.Action) {
		return &event.Ignored{Reason: fmt.Sprintf("github issues action %q not handled", clip(p.Action, maxReason))}, nil
	}
	if p.Issue == nil {
		return nil, malformed("github issues: issue missing")
	}
	if len(p.Issue.PullRequest) > 0 && string(p.Issue.PullRequest) != "null" {
		return &event.Ignored{Reason: "github issues event for a pull request"}, nil
	}
	if p.Issue.Number <= 0 {
		return nil, malformed("github issues: issue.number missing")
	}
	if p.Repository == nil || p.Repository.FullName == "" {
		return nil, malformed("github issues: repository.full_name missing")
	}
	host, err := hostOf("repository.html_url", p.Repository.HTMLURL)
	if err != nil {
		return nil, fmt.Errorf("github issues: %w", err)
	}

	labels := make([]string, 0, len(p.Issue.Labels))
	for _, l := range p.Issue.Labels {
		labels = append(labels, l.Name)
	}
	open := p.Issue.State == "open"
	c := &event.IssueChange{
		Repo: event.Repo{
			Forge: event.GitHub, Host: host, Path: p.Repository.FullName, ID: p.Repository.ID,
			DefaultBranch: p.Repository.DefaultBranch, WebURL: p.Repository.HTMLURL,
		},
		Number:     p.Issue.Number,
		Title:      p.Issue.Title,
		Body:       p.Issue.Body,
		URL:        p.Issue.HTMLURL,
		Open:       open,
		WasOpen:    open,
		Labels:     labels,
		PrevLabels: slices.Clone(labels),
	}
	if p.Sender != nil {
		c.Actor = event.Actor{ID: p.Sender.ID, Login: p.Sender.Login, Bot: p.Sender.Type == "Bot"}
	}
	// The payload shows the issue after the change; the action says what it was before.
	switch p.Action {
	case "opened":
		c.WasOpen, c.PrevLabels = false, []string{} // it did not exist
	case "closed":
		c.WasOpen = true
	case "reopened":
		c.WasOpen = false
	case "labeled", "unlabeled":
		if p.Label == nil || p.Label.Name == "" {
			return nil, malformed("github issues %s: label.name missing", p.Action)
		}
		if p.Action == "labeled" {
			c.PrevLabels = withoutLabel(labels, p.Label.Name)
		} else {
			c.PrevLabels = withLabel(labels, p.Label.Name)
		}
	case "edited":
		c.BodyChanged = p.Changes != nil && p.Changes.Body != nil
	}
	return c, nil
}

// githubJSON returns the JSON of a GitHub delivery: the body itself, or its
// "payload" field when the hook was set up with the form content type.
func githubJSON(contentType string, body []byte) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("%w: github form body: %w", ErrMalformed, err)
	}
	p := form.Get("payload")
	if p == "" {
		return nil, malformed("github form body: payload field missing")
	}
	return []byte(p), nil
}
