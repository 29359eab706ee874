package ghsim

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Webhook deliveries as github.com sends them for a repository hook.
//
// The payloads are built from the event alone, without the forge, so what
// the event does not carry is approximated: accounts other than the actor
// have id 0, pull request head/base SHAs are absent, and push commits list
// no added/removed/modified files.

// hookshotAgent is the User-Agent of GitHub's webhook sender.
const hookshotAgent = "GitHub-Hookshot/a1b2c3d"

// payload is one delivery: the X-GitHub-Event name and the body.
type payload struct {
	event string
	body  any
}

func newDelivery(ctx context.Context, ev state.Event, hook state.Hook, deliveryID, baseURL string) ([]*http.Request, error) {
	if hook.Flavor != "github" {
		return nil, fmt.Errorf("hook %d is a %q hook, not a GitHub one: %w", hook.ID, hook.Flavor, state.ErrInvalid)
	}
	w := webhook{ev: ev, l: links{root: strings.TrimSuffix(baseURL, "/")}}
	payloads, err := w.payloads()
	if err != nil {
		return nil, fmt.Errorf("webhook for %s event: %w", ev.Kind, err)
	}
	reqs := make([]*http.Request, 0, len(payloads))
	for i, p := range payloads {
		body, err := marshal(p.body)
		if err != nil {
			return nil, fmt.Errorf("%s payload: %w", p.event, err)
		}
		id := deliveryID
		if i > 0 {
			id = fmt.Sprintf("%s-%d", deliveryID, i)
		}
		req, err := newHookRequest(ctx, hook, ev.Repo.ID, p.event, id, body)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, req)
	}
	return reqs, nil
}

// newHookRequest is one delivery of body to hook with GitHub's headers, which
// name the hook and what it is installed on: the repository (repoID) or,
// for an organisation's hook, the organisation.
func newHookRequest(ctx context.Context, hook state.Hook, repoID int64, event, deliveryID string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook request to hook %d: %w", hook.ID, err)
	}
	targetType, targetID := "repository", repoID
	if hook.Namespace != "" {
		targetType, targetID = "organization", hook.NamespaceID
	}
	h := req.Header
	h.Set("Accept", "*/*")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", hookshotAgent)
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", deliveryID)
	h.Set("X-GitHub-Hook-ID", strconv.FormatInt(hook.ID, 10))
	h.Set("X-GitHub-Hook-Installation-Target-Type", targetType)
	h.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(targetID, 10))
	if hook.Secret != "" {
		h.Set("X-Hub-Signature", "sha1="+sign(sha1.New, hook.Secret, body))
		h.Set("X-Hub-Signature-256", "sha256="+sign(sha256.New, hook.Secret, body))
	}
	return req, nil
}

// sign is the hex HMAC of the exact body bytes, keyed by the hook secret.
func sign(newHash func() hash.Hash, secret string, body []byte) string {
	mac := hmac.New(newHash, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// webhook builds the payloads of one event.
type webhook struct {
	ev state.Event
	l  links
}

// person is the account of login: the actor is known in full, others only
// by login.
func (w webhook) person(login string) userJSON {
	if login == w.ev.Actor.Login {
		return userObject(w.l, w.ev.Actor)
	}
	return unknownUser(w.l, login)
}

// association can only tell the owner apart without the forge.
func (w webhook) association(login string) string {
	if login == w.ev.Repo.Owner {
		return "OWNER"
	}
	return "NONE"
}

func (w webhook) repository() repoJSON {
	return repoObject(w.l, w.ev.Repo, repoFacts{owner: w.person(w.ev.Repo.Owner), pushedAt: w.ev.At})
}

func (w webhook) sender() userJSON { return userObject(w.l, w.ev.Actor) }

type fromJSON struct {
	From string `json:"from"`
}

type changesJSON struct {
	Title *fromJSON `json:"title,omitempty"`
	Body  *fromJSON `json:"body,omitempty"`
}

func (w webhook) changes() *changesJSON {
	if len(w.ev.Changes) == 0 {
		return nil
	}
	c := &changesJSON{}
	if v, ok := w.ev.Changes["title"]; ok {
		c.Title = &fromJSON{v}
	}
	if v, ok := w.ev.Changes["body"]; ok {
		c.Body = &fromJSON{v}
	}
	return c
}

type issuesPayload struct {
	Action     string       `json:"action"`
	Issue      issueJSON    `json:"issue"`
	Changes    *changesJSON `json:"changes,omitempty"`
	Label      *labelJSON   `json:"label,omitempty"`
	Repository repoJSON     `json:"repository"`
	Sender     userJSON     `json:"sender"`
}

type pullPayload struct {
	Action      string       `json:"action"`
	Number      int          `json:"number"`
	PullRequest pullJSON     `json:"pull_request"`
	Changes     *changesJSON `json:"changes,omitempty"`
	Label       *labelJSON   `json:"label,omitempty"`
	Repository  repoJSON     `json:"repository"`
	Sender      userJSON     `json:"sender"`
}

type issueCommentPayload struct {
	Action     string       `json:"action"`
	Changes    *changesJSON `json:"changes,omitempty"`
	Issue      issueJSON    `json:"issue"`
	Comment    commentJSON  `json:"comment"`
	Repository repoJSON     `json:"repository"`
	Sender     userJSON     `json:"sender"`
}

type commitCommentPayload struct {
	Action     string            `json:"action"`
	Comment    commitCommentJSON `json:"comment"`
	Repository repoJSON          `json:"repository"`
	Sender     userJSON          `json:"sender"`
}

type pushSigJSON struct {
	Name     string `json:"name"`
	Email    string `json:"email"`
	Username string `json:"username,omitempty"`
}

type pushCommitJSON struct {
	ID        string      `json:"id"`
	TreeID    string      `json:"tree_id"`
	Distinct  bool        `json:"distinct"`
	Message   string      `json:"message"`
	Timestamp string      `json:"timestamp"`
	URL       string      `json:"url"`
	Author    pushSigJSON `json:"author"`
	Committer pushSigJSON `json:"committer"`
	Added     []string    `json:"added"`
	Removed   []string    `json:"removed"`
	Modified  []string    `json:"modified"`
}

type pusherJSON struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

type pushPayload struct {
	Ref        string           `json:"ref"`
	Before     string           `json:"before"`
	After      string           `json:"after"`
	Repository repoJSON         `json:"repository"`
	Pusher     pusherJSON       `json:"pusher"`
	Sender     userJSON         `json:"sender"`
	Created    bool             `json:"created"`
	Deleted    bool             `json:"deleted"`
	Forced     bool             `json:"forced"`
	BaseRef    *string          `json:"base_ref"`
	Compare    string           `json:"compare"`
	Commits    []pushCommitJSON `json:"commits"`
	HeadCommit *pushCommitJSON  `json:"head_commit"`
}

type createPayload struct {
	Ref          string   `json:"ref"`
	RefType      string   `json:"ref_type"`
	MasterBranch string   `json:"master_branch"`
	Description  *string  `json:"description"`
	PusherType   string   `json:"pusher_type"`
	Repository   repoJSON `json:"repository"`
	Sender       userJSON `json:"sender"`
}

type deletePayload struct {
	Ref        string   `json:"ref"`
	RefType    string   `json:"ref_type"`
	PusherType string   `json:"pusher_type"`
	Repository repoJSON `json:"repository"`
	Sender     userJSON `json:"sender"`
}

var issueActions = map[state.EventKind]string{
	state.IssueOpened: "opened", state.IssueEdited: "edited", state.IssueLabeled: "labeled",
	state.IssueUnlabeled: "unlabeled", state.IssueClosed: "closed", state.IssueReopened: "reopened",
	state.PullOpened: "opened", state.PullClosed: "closed", state.PullMerged: "closed", state.PullReopened: "reopened",
}

func (w webhook) payloads() ([]payload, error) {
	ev := w.ev
	switch ev.Kind {
	case state.IssueOpened, state.IssueEdited, state.IssueLabeled, state.IssueUnlabeled,
		state.IssueClosed, state.IssueReopened, state.PullOpened, state.PullClosed, state.PullMerged, state.PullReopened:
		if ev.Issue == nil {
			return nil, fmt.Errorf("event has no issue: %w", state.ErrInvalid)
		}
		// Label, edit and state changes of a pull request come as
		// pull_request events on GitHub, not issues events.
		if ev.Issue.IsPull {
			return []payload{{"pull_request", w.pullPayload(issueActions[ev.Kind])}}, nil
		}
		return []payload{{"issues", w.issuesPayload(issueActions[ev.Kind])}}, nil
	case state.CommentCreated, state.CommentEdited:
		return w.commentPayloads()
	case state.BranchPushed, state.TagPushed, state.TagDeleted:
		return w.pushPayloads()
	}
	return nil, nil
}

func (w webhook) label() *labelJSON {
	if w.ev.Label == "" {
		return nil
	}
	l := labelObject(w.l, w.ev.Repo, w.ev.Label)
	return &l
}

func (w webhook) issue() issueJSON {
	i := w.ev.Issue
	return issueObject(w.l, w.ev.Repo, i, w.person(i.Author), w.association(i.Author), 0)
}

func (w webhook) issuesPayload(action string) issuesPayload {
	return issuesPayload{
		Action: action, Issue: w.issue(), Changes: w.changes(), Label: w.label(),
		Repository: w.repository(), Sender: w.sender(),
	}
}

func (w webhook) pullPayload(action string) pullPayload {
	i := w.ev.Issue
	pr := pullObject(w.l, w.ev.Repo, i, pullFacts{
		author: w.person(i.Author), assoc: w.association(i.Author), repo: w.repository(),
	})
	if i.State == "merged" {
		by := w.sender()
		pr.MergedBy = &by
	}
	return pullPayload{
		Action: action, Number: i.Number, PullRequest: pr, Changes: w.changes(), Label: w.label(),
		Repository: w.repository(), Sender: w.sender(),
	}
}

// commentPayloads: issue and pull request comments are issue_comment
// events; commit comments are commit_comment events, which GitHub sends
// only on creation.
func (w webhook) commentPayloads() ([]payload, error) {
	ev := w.ev
	if ev.Comment == nil {
		return nil, fmt.Errorf("event has no comment: %w", state.ErrInvalid)
	}
	c := ev.Comment
	author := w.person(c.Author)
	if c.CommitSHA != "" {
		if ev.Kind != state.CommentCreated {
			return nil, nil
		}
		return []payload{{"commit_comment", commitCommentPayload{
			Action:     "created",
			Comment:    commitCommentObject(w.l, ev.Repo, c, author, w.association(c.Author)),
			Repository: w.repository(), Sender: w.sender(),
		}}}, nil
	}
	if ev.Issue == nil {
		return nil, fmt.Errorf("issue comment event has no issue: %w", state.ErrInvalid)
	}
	action := "created"
	var changes *changesJSON
	if ev.Kind == state.CommentEdited {
		action = "edited"
		// GitHub always sends changes on an edit; the model records the
		// previous body only for edits made through the API.
		changes = w.changes()
		if changes == nil {
			changes = &changesJSON{}
		}
	}
	return []payload{{"issue_comment", issueCommentPayload{
		Action: action, Changes: changes, Issue: w.issue(),
		Comment:    issueCommentObject(w.l, ev.Repo, c, ev.Issue.IsPull, author, w.association(c.Author)),
		Repository: w.repository(), Sender: w.sender(),
	}}}, nil
}

func (w webhook) pushSig(s state.Signature) pushSigJSON {
	out := pushSigJSON{Name: s.Name, Email: s.Email}
	if s.Email != "" && s.Email == w.ev.Actor.Email {
		out.Username = w.ev.Actor.Login
	}
	return out
}

func (w webhook) pushCommit(c state.Commit) pushCommitJSON {
	return pushCommitJSON{
		ID: c.SHA, TreeID: treeSHA(c.Tree), Distinct: true, Message: c.Message,
		Timestamp: c.Committer.When.Format("2006-01-02T15:04:05Z07:00"),
		URL:       w.l.repoHTML(w.ev.Repo.FullName, "/commit/"+c.SHA),
		Author:    w.pushSig(c.Author), Committer: w.pushSig(c.Committer),
		Added: []string{}, Removed: []string{}, Modified: []string{},
	}
}

// pushRepository is the repository as push payloads show it: dates as unix
// seconds, owner with name and email, master_branch and stargazers.
func (w webhook) pushRepository() repoJSON {
	r := w.repository()
	r.CreatedAt = w.ev.Repo.CreatedAt.Unix()
	r.PushedAt = w.ev.At.Unix()
	zero := 0
	r.Stargazers = &zero
	r.MasterBranch = w.ev.Repo.DefaultBranch
	name := r.Owner.Login
	r.Owner.Name = &name
	if w.ev.Repo.Owner == w.ev.Actor.Login {
		email := w.ev.Actor.Email
		r.Owner.Email = &email
	}
	return r
}

func short(sha string) string { return sha[:min(12, len(sha))] }

func (w webhook) pushPayloads() ([]payload, error) {
	ev := w.ev
	kind, name, ok := splitRef(ev.Ref)
	if !ok {
		return nil, fmt.Errorf("push of ref %q: %w", ev.Ref, state.ErrInvalid)
	}
	created, deleted := ev.Before == state.ZeroSHA, ev.After == state.ZeroSHA
	full := ev.Repo.FullName
	p := pushPayload{
		Ref: ev.Ref, Before: ev.Before, After: ev.After, Repository: w.pushRepository(),
		Pusher: pusherJSON{Name: ev.Actor.Login, Email: ev.Actor.Email}, Sender: w.sender(),
		Created: created, Deleted: deleted, Commits: []pushCommitJSON{},
	}
	switch {
	case created:
		p.Compare = w.l.repoHTML(full, "/compare/"+escapeSegments(name))
	default:
		p.Compare = w.l.repoHTML(full, "/compare/"+short(ev.Before)+"..."+short(ev.After))
	}
	for _, c := range ev.Commits {
		p.Commits = append(p.Commits, w.pushCommit(c))
	}
	if !deleted {
		// The head commit's details are known when the push added it;
		// otherwise (a new tag or branch on an existing commit) only its id.
		if n := len(ev.Commits); n > 0 && ev.Commits[n-1].SHA == ev.After {
			hc := p.Commits[n-1]
			p.HeadCommit = &hc
		} else {
			p.HeadCommit = &pushCommitJSON{
				ID: ev.After, Distinct: true, Timestamp: ev.At.Format("2006-01-02T15:04:05Z07:00"),
				URL:   w.l.repoHTML(full, "/commit/"+ev.After),
				Added: []string{}, Removed: []string{}, Modified: []string{},
			}
		}
	}
	out := []payload{{"push", p}}
	refType := "branch"
	if kind == "tags" {
		refType = "tag"
	}
	switch {
	case created:
		out = append(out, payload{"create", createPayload{
			Ref: name, RefType: refType, MasterBranch: ev.Repo.DefaultBranch, PusherType: "user",
			Repository: w.repository(), Sender: w.sender(),
		}})
	case deleted:
		out = append(out, payload{"delete", deletePayload{
			Ref: name, RefType: refType, PusherType: "user", Repository: w.repository(), Sender: w.sender(),
		}})
	}
	return out, nil
}
