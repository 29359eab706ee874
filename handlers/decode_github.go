package handlers

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strings"

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
	UpdatedAt   string          `json:"updated_at"`
}

// ghIssueCommentPayload is an issue_comment delivery: a comment on an issue
// or, when issue.pull_request is set, on a pull request's conversation.
type ghIssueCommentPayload struct {
	Action     string     `json:"action"`
	Issue      *ghIssue   `json:"issue"`
	Comment    *ghComment `json:"comment"`
	Repository *ghRepo    `json:"repository"`
	Sender     *ghUser    `json:"sender"`
}

type ghComment struct {
	ID        int64   `json:"id"`
	Body      string  `json:"body"`
	HTMLURL   string  `json:"html_url"`
	User      *ghUser `json:"user"`
	CreatedAt string  `json:"created_at"`
}

// ghPullRequestPayload is a pull_request delivery.
type ghPullRequestPayload struct {
	Action      string  `json:"action"`
	Number      int     `json:"number"`
	PullRequest *ghPull `json:"pull_request"`
	Repository  *ghRepo `json:"repository"`
	Sender      *ghUser `json:"sender"`
}

type ghPull struct {
	Number    int     `json:"number"`
	State     string  `json:"state"` // open | closed (merged pull requests are closed)
	Merged    bool    `json:"merged"`
	MergedAt  *string `json:"merged_at"`
	UpdatedAt string  `json:"updated_at"`
}

// ghPushPayload is a push delivery: a branch or tag created, moved or
// deleted.
type ghPushPayload struct {
	Ref        *string `json:"ref"`
	Before     string  `json:"before"`
	After      string  `json:"after"`
	Created    bool    `json:"created"`
	Deleted    bool    `json:"deleted"`
	HeadCommit *struct {
		ID string `json:"id"`
	} `json:"head_commit"`
	Repository *ghRepo `json:"repository"`
	Sender     *ghUser `json:"sender"`
}

// ghRefPayload is a create or delete delivery (ref is the short name).
type ghRefPayload struct {
	Ref     string `json:"ref"`
	RefType string `json:"ref_type"` // branch | tag
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
// issue is open, its labels or its body. A deleted or transferred issue is
// gone from this repository: for expbot it closed.
func githubIssueAction(action string) bool {
	return slices.Contains([]string{"opened", "edited", "labeled", "unlabeled", "closed", "reopened", "deleted", "transferred"}, action)
}

// DecodeGitHub turns a GitHub webhook (X-GitHub-Event name and JSON body)
// into an *event.Ping, *event.IssueChange, *event.CommentCreated,
// *event.PullChange, *event.TagPush or *event.Ignored. An error means the body is
// malformed, or a handled event lacks a field expbot needs.
func DecodeGitHub(eventName string, body []byte) (event.Event, error) {
	switch eventName {
	case "ping":
		if !json.Valid(body) {
			return nil, malformed("github ping: body is not JSON")
		}
		return &event.Ping{}, nil
	case "issues":
		return decodeGitHubIssues(body)
	case "issue_comment":
		return decodeGitHubIssueComment(body)
	case "pull_request":
		return decodeGitHubPullRequest(body)
	case "push":
		return decodeGitHubPush(body)
	case "create", "delete":
		return decodeGitHubRef(eventName, body)
	case "installation", "installation_repositories":
		return decodeGitHubInstallation(eventName, body)
	default:
		return &event.Ignored{Reason: fmt.Sprintf("github event %s not handled", quote(eventName))}, nil
	}
}

func decodeGitHubIssues(body []byte) (event.Event, error) {
	var p ghIssuesPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: github issues: %w", ErrMalformed, err)
	}
	if !githubIssueAction(p.Action) {
		return &event.Ignored{Reason: fmt.Sprintf("github issues action %s not handled", quote(p.Action))}, nil
	}
	if p.Issue == nil {
		return nil, malformed("github issues: issue missing")
	}
	if p.Issue.isPull() {
		return &event.Ignored{Reason: "github issues event for a pull request"}, nil
	}
	if p.Issue.Number <= 0 {
		return nil, malformed("github issues: issue.number missing")
	}
	repo, err := githubRepo("issues", p.Repository)
	if err != nil {
		return nil, err
	}

	labels := make([]string, 0, len(p.Issue.Labels))
	for _, l := range p.Issue.Labels {
		labels = append(labels, l.Name)
	}
	open := p.Issue.State == "open"
	c := &event.IssueChange{
		Repo:       repo,
		Number:     p.Issue.Number,
		Title:      p.Issue.Title,
		Body:       p.Issue.Body,
		URL:        p.Issue.HTMLURL,
		Open:       open,
		WasOpen:    open,
		Labels:     labels,
		PrevLabels: slices.Clone(labels),
		At:         forgeTime(p.Issue.UpdatedAt),
	}
	c.Actor = githubActor(p.Sender)
	// The payload shows the issue after the change; the action says what it was before.
	switch p.Action {
	case "opened":
		c.WasOpen, c.PrevLabels = false, []string{} // it did not exist
	case "closed":
		c.WasOpen = true
	case "reopened":
		c.WasOpen = false
	case "deleted", "transferred": // the payload shows the issue as it was
		c.Open = false
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

// isPull tells an issue that is a pull request: GitHub then sets
// issue.pull_request to an object of links.
func (i *ghIssue) isPull() bool {
	return len(i.PullRequest) > 0 && string(i.PullRequest) != "null"
}

// githubRepo is the repository of an event; without its full name and web
// URL the event names no repository and is malformed.
func githubRepo(kind string, r *ghRepo) (event.Repo, error) {
	if r == nil || r.FullName == "" {
		return event.Repo{}, malformed("github %s: repository.full_name missing", kind)
	}
	host, err := hostOf("repository.html_url", r.HTMLURL)
	if err != nil {
		return event.Repo{}, fmt.Errorf("github %s: %w", kind, err)
	}
	return event.Repo{
		Forge: event.GitHub, Host: host, Path: r.FullName, ID: r.ID,
		DefaultBranch: r.DefaultBranch, WebURL: r.HTMLURL,
	}, nil
}

// ghInstallationPayload is an installation or installation_repositories
// delivery, sent to a GitHub App's webhook.
type ghInstallationPayload struct {
	Action       string `json:"action"`
	Installation *struct {
		ID      int64   `json:"id"`
		Account *ghUser `json:"account"`
	} `json:"installation"`
	Repositories        []ghRepo `json:"repositories"` // installation events
	RepositoriesAdded   []ghRepo `json:"repositories_added"`
	RepositoriesRemoved []ghRepo `json:"repositories_removed"`
}

func decodeGitHubInstallation(eventName string, body []byte) (event.Event, error) {
	var p ghInstallationPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: github %s: %w", ErrMalformed, eventName, err)
	}
	if p.Installation == nil || p.Installation.ID <= 0 {
		return nil, malformed("github %s: installation.id missing", eventName)
	}
	names := func(rs []ghRepo) []string {
		out := make([]string, 0, len(rs))
		for _, r := range rs {
			if r.FullName != "" {
				out = append(out, r.FullName)
			}
		}
		return out
	}
	ch := &event.InstallationChange{Action: p.Action, InstallationID: p.Installation.ID}
	if p.Installation.Account != nil {
		ch.Account = p.Installation.Account.Login
	}
	switch {
	case eventName == "installation_repositories":
		ch.Added, ch.Removed = names(p.RepositoriesAdded), names(p.RepositoriesRemoved)
	case p.Action == "created" || p.Action == "unsuspend":
		ch.Added = names(p.Repositories)
	case p.Action == "deleted" || p.Action == "suspend":
		ch.Removed, ch.Deleted = names(p.Repositories), true
	}
	return ch, nil
}

// githubActor is the account u; GitHub marks apps' accounts with type Bot.
func githubActor(u *ghUser) event.Actor {
	if u == nil {
		return event.Actor{}
	}
	return event.Actor{ID: u.ID, Login: u.Login, Bot: u.Type == "Bot"}
}

// decodeGitHubIssueComment decodes a new comment on a pull request. Edits
// and deletions are ignored (commands act once, when written), and so are
// comments on plain issues.
func decodeGitHubIssueComment(body []byte) (event.Event, error) {
	var p ghIssueCommentPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: github issue_comment: %w", ErrMalformed, err)
	}
	if p.Action != "created" {
		return &event.Ignored{Reason: fmt.Sprintf("github issue_comment action %s not handled", quote(p.Action))}, nil
	}
	if p.Issue == nil {
		return nil, malformed("github issue_comment: issue missing")
	}
	if !p.Issue.isPull() {
		return &event.Ignored{Reason: "github issue_comment on an issue, not a pull request"}, nil
	}
	if p.Issue.Number <= 0 {
		return nil, malformed("github issue_comment: issue.number missing")
	}
	if p.Comment == nil || p.Comment.ID <= 0 {
		return nil, malformed("github issue_comment: comment.id missing")
	}
	repo, err := githubRepo("issue_comment", p.Repository)
	if err != nil {
		return nil, err
	}
	// The comment's author; the sender is the same account on creation.
	author := p.Comment.User
	if author == nil || author.Login == "" {
		author = p.Sender
	}
	return &event.CommentCreated{
		Repo:      repo,
		Thread:    event.Thread{Kind: event.PullThread, Number: p.Issue.Number},
		CommentID: p.Comment.ID,
		Body:      p.Comment.Body,
		URL:       p.Comment.HTMLURL,
		Actor:     githubActor(author),
		At:        forgeTime(p.Comment.CreatedAt),
		// issue.state is the pull request's, as it was when the comment was made.
		PullClosed: p.Issue.State == "closed",
	}, nil
}

// decodeGitHubPullRequest decodes a pull request opened, closed (merged or
// not) or reopened; other actions (edits, labels, reviews, pushes) are
// ignored.
func decodeGitHubPullRequest(body []byte) (event.Event, error) {
	var p ghPullRequestPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: github pull_request: %w", ErrMalformed, err)
	}
	if !slices.Contains([]string{"opened", "closed", "reopened"}, p.Action) {
		return &event.Ignored{Reason: fmt.Sprintf("github pull_request action %s not handled", quote(p.Action))}, nil
	}
	pr := p.PullRequest
	if pr == nil {
		return nil, malformed("github pull_request: pull_request missing")
	}
	number := pr.Number
	if number <= 0 {
		number = p.Number
	}
	if number <= 0 {
		return nil, malformed("github pull_request: pull_request.number missing")
	}
	repo, err := githubRepo("pull_request", p.Repository)
	if err != nil {
		return nil, err
	}
	c := &event.PullChange{
		Repo:   repo,
		Number: number,
		Open:   pr.State == "open",
		Merged: pr.Merged || (pr.MergedAt != nil && *pr.MergedAt != ""),
		Actor:  githubActor(p.Sender),
		At:     forgeTime(pr.UpdatedAt),
	}
	// The payload shows the pull request after the change; the action says
	// what it was before.
	c.WasOpen = p.Action == "closed"
	return c, nil
}

// decodeGitHubPush decodes a tag created, moved or deleted; branch pushes
// are ignored.
func decodeGitHubPush(body []byte) (event.Event, error) {
	var p ghPushPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: github push: %w", ErrMalformed, err)
	}
	if p.Ref == nil || *p.Ref == "" {
		return nil, malformed("github push: ref missing")
	}
	ref := *p.Ref
	if strings.HasPrefix(ref, "refs/heads/") {
		return &event.Ignored{Reason: "github branch push not handled"}, nil
	}
	tag, ok := strings.CutPrefix(ref, tagsPrefix)
	if !ok {
		return &event.Ignored{Reason: fmt.Sprintf("github push of ref %s not handled", quote(ref))}, nil
	}
	if tag == "" {
		return nil, malformed("github push: ref names no tag")
	}
	repo, err := githubRepo("push", p.Repository)
	if err != nil {
		return nil, err
	}
	tp := &event.TagPush{Repo: repo, Tag: tag, Actor: githubActor(p.Sender)}
	if !p.Created {
		tp.Before = sha(p.Before)
	}
	if !p.Deleted {
		// For an annotated tag, after is the tag object; head_commit is
		// the commit it points to.
		tp.After = sha(p.After)
		if tp.After != "" && p.HeadCommit != nil && p.HeadCommit.ID != "" {
			tp.After = sha(p.HeadCommit.ID)
		}
	}
	if err := checkTagPush("github push", tp); err != nil {
		return nil, err
	}
	return tp, nil
}

// decodeGitHubRef reads a create or delete event. GitHub sends one with
// every push that creates or deletes a tag, and the push is what expbot
// acts on, so both are ignored; reading ref_type only sharpens the reason.
func decodeGitHubRef(eventName string, body []byte) (event.Event, error) {
	var p ghRefPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("%w: github %s: %w", ErrMalformed, eventName, err)
	}
	if p.RefType == "tag" {
		return &event.Ignored{Reason: "tag handled through push"}, nil
	}
	return &event.Ignored{Reason: fmt.Sprintf("github %s of ref type %s not handled", eventName, quote(p.RefType))}, nil
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
	switch p := form["payload"]; {
	case len(p) == 0 || p[0] == "":
		return nil, malformed("github form body: payload field missing")
	case len(p) > 1:
		return nil, malformed("github form body: payload field given more than once")
	default:
		return []byte(p[0]), nil
	}
}
