package forgesim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Bodies of the admin API, shared by the handlers, the Client and the seed
// file. Field names are the JSON keys a curl user types.

// UserRequest creates or replaces a user; Token is what the user sends to
// the REST APIs (never returned or logged).
type UserRequest struct {
	Login string `json:"login" yaml:"login"`
	Name  string `json:"name,omitempty" yaml:"name"`
	Email string `json:"email,omitempty" yaml:"email"`
	Token string `json:"token,omitempty" yaml:"token"`
	Bot   bool   `json:"bot,omitempty" yaml:"bot"`
}

// OrgRequest marks a login as an organisation.
type OrgRequest struct {
	Login string `json:"login"`
}

// RepoRequest creates a repository whose default branch holds Files in one
// commit. Org marks the owner namespace as an organisation.
type RepoRequest struct {
	FullName      string            `json:"full_name"`
	DefaultBranch string            `json:"default_branch,omitempty"`
	Files         map[string]string `json:"files,omitempty"`
	Org           bool              `json:"org,omitempty"`
}

// MemberRequest grants Login an access level on a repository.
type MemberRequest struct {
	Login       string      `json:"login"`
	AccessLevel AccessLevel `json:"access_level"`
}

// HookRequest registers a webhook. Secret is the HMAC key (github) or the
// X-Gitlab-Token value (gitlab); it is never returned.
type HookRequest struct {
	Flavor string `json:"flavor" yaml:"flavor"`
	URL    string `json:"url" yaml:"url"`
	Secret string `json:"secret,omitempty" yaml:"secret"`
}

// IssueRequest opens an issue as Actor.
type IssueRequest struct {
	Actor  string   `json:"actor"`
	Title  string   `json:"title"`
	Body   string   `json:"body,omitempty"`
	Labels []string `json:"labels,omitempty"`
}

// IssueEdit changes an issue or pull request as Actor; nil and empty fields
// are left alone. State is open, closed or merged (pull requests).
type IssueEdit struct {
	Actor string  `json:"actor"`
	Title *string `json:"title,omitempty"`
	Body  *string `json:"body,omitempty"`
	State string  `json:"state,omitempty"`
}

// LabelEdit adds, then removes, labels as Actor.
type LabelEdit struct {
	Actor  string   `json:"actor"`
	Add    []string `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// CommentRequest posts a comment as Actor.
type CommentRequest struct {
	Actor string `json:"actor"`
	Body  string `json:"body"`
}

// PullRequestRequest opens a pull/merge request from Head into Base
// (default branch when empty) as Actor.
type PullRequestRequest struct {
	Actor string `json:"actor"`
	Title string `json:"title"`
	Body  string `json:"body,omitempty"`
	Head  string `json:"head"`
	Base  string `json:"base,omitempty"`
}

// PushRequest commits Files to Branch as Actor (creating the branch from the
// default branch if needed); a nil content deletes the file.
type PushRequest struct {
	Actor   string             `json:"actor"`
	Branch  string             `json:"branch"`
	Message string             `json:"message"`
	Files   map[string]*string `json:"files"`
}

// TagRequest creates or moves a tag to Ref (branch, tag or SHA) as Actor.
type TagRequest struct {
	Actor string `json:"actor"`
	Ref   string `json:"ref"`
}

// ActorRequest is the body of actions that need only an actor.
type ActorRequest struct {
	Actor string `json:"actor"`
}

// IssueResult is the issue or pull request after an action, with the
// webhook deliveries the action caused.
type IssueResult struct {
	Issue      state.Issue `json:"issue"`
	Deliveries []Delivery  `json:"deliveries"`
}

// CommentResult is a new comment and the deliveries it caused.
type CommentResult struct {
	Comment    state.Comment `json:"comment"`
	Deliveries []Delivery    `json:"deliveries"`
}

// CommitResult is a pushed commit and the deliveries it caused.
type CommitResult struct {
	Commit     CommitInfo `json:"commit"`
	Deliveries []Delivery `json:"deliveries"`
}

// TagResult is where a tag points after a push and the deliveries it caused.
type TagResult struct {
	Tag        string     `json:"tag"`
	SHA        string     `json:"sha"`
	Deliveries []Delivery `json:"deliveries"`
}

// DeliveriesResult lists deliveries.
type DeliveriesResult struct {
	Deliveries []Delivery `json:"deliveries"`
}

// DeliveryResult is one delivery.
type DeliveryResult struct {
	Delivery Delivery `json:"delivery"`
}

// MemberResult is an access grant.
type MemberResult struct {
	Repo        string            `json:"repo"`
	Login       string            `json:"login"`
	AccessLevel state.AccessLevel `json:"access_level"`
}

// OrgResult is an organisation.
type OrgResult struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
}

// CommitInfo describes a commit without its tree.
type CommitInfo struct {
	SHA       string          `json:"sha"`
	Parents   []string        `json:"parents"`
	Message   string          `json:"message"`
	Author    state.Signature `json:"author"`
	Committer state.Signature `json:"committer"`
}

// RepoState is everything a test may want to assert on in a repository.
// Commits are those reachable from a branch or tag, children before parents.
type RepoState struct {
	ID            int64                        `json:"id"`
	FullName      string                       `json:"full_name"`
	DefaultBranch string                       `json:"default_branch"`
	Branches      map[string]string            `json:"branches"`
	Tags          map[string]string            `json:"tags"`
	Files         map[string]map[string]string `json:"files"` // branch -> path -> content
	Commits       []CommitInfo                 `json:"commits"`
	Issues        []state.Issue                `json:"issues"`
	Comments      []state.Comment              `json:"comments"`
	Hooks         []state.Hook                 `json:"hooks"` // secrets never included
}

// AccessLevel is a repository access level. In JSON and YAML it is a GitLab
// number (30) or a name: guest, reporter, developer, maintainer, owner, or
// GitHub's read, triage, write, maintain, admin.
type AccessLevel state.AccessLevel

var accessNames = map[string]state.AccessLevel{
	"none": state.NoAccess, "no_access": state.NoAccess,
	"guest": state.Guest, "reporter": state.Reporter, "developer": state.Developer,
	"maintainer": state.Maintainer, "owner": state.Owner,
	"read": state.Guest, "pull": state.Guest, "triage": state.Reporter, "write": state.Developer,
	"push": state.Developer, "maintain": state.Maintainer, "admin": state.Owner,
}

// ParseAccessLevel reads a level name or number.
func ParseAccessLevel(s string) (AccessLevel, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if l, ok := accessNames[s]; ok {
		return AccessLevel(l), nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		switch l := state.AccessLevel(n); l {
		case state.NoAccess, state.Guest, state.Reporter, state.Developer, state.Maintainer, state.Owner:
			return AccessLevel(l), nil
		}
	}
	return 0, fmt.Errorf("access level %q: want 0/10/20/30/40/50 or guest/reporter/developer/maintainer/owner or read/triage/write/maintain/admin: %w", s, state.ErrInvalid)
}

// UnmarshalJSON accepts a number or a name.
func (a *AccessLevel) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("access level: %w", err)
	}
	l, err := ParseAccessLevel(fmt.Sprint(v))
	if err != nil {
		return err
	}
	*a = l
	return nil
}

// UnmarshalYAML accepts a number or a name.
func (a *AccessLevel) UnmarshalYAML(n *yaml.Node) error {
	l, err := ParseAccessLevel(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*a = l
	return nil
}
