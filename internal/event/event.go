// Package event holds the forge-neutral events that webhook decoding produces
// and the pipeline consumes. Decoders fill them from GitHub or GitLab
// payloads; nothing here knows either forge's wording.
package event

import (
	"slices"
	"strings"
	"time"
)

// Forge names a kind of forge.
type Forge string

const (
	GitHub Forge = "github"
	GitLab Forge = "gitlab"
)

// Repo identifies a repository (GitHub) or project (GitLab).
type Repo struct {
	Forge         Forge  `json:"forge"`
	Host          string `json:"host"` // e.g. "github.com", "gitlab.example.com"
	Path          string `json:"path"` // "owner/name" or "group/sub/project"
	ID            int64  `json:"id"`
	DefaultBranch string `json:"default_branch"`
	WebURL        string `json:"web_url"`
}

// Actor is who caused the event.
type Actor struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Bot   bool   `json:"bot"`
}

// ThreadKind says what a thread hangs on.
type ThreadKind string

const (
	IssueThread  ThreadKind = "issue"
	PullThread   ThreadKind = "pull" // pull request (GitHub) or merge request (GitLab)
	CommitThread ThreadKind = "commit"
)

// Thread is where the bot answers a request.
type Thread struct {
	Kind   ThreadKind `json:"kind"`
	Number int        `json:"number,omitempty"` // issue / pull request number or iid
	SHA    string     `json:"sha,omitempty"`    // for commit threads
}

// Event is one decoded webhook: *IssueChange, *CommentCreated, *PullChange,
// *TagPush, *Ping or *Ignored.
type Event interface{ isEvent() }

// Ping is a forge checking that the hook works.
type Ping struct{}

// Ignored is a well-formed event expbot does not act on; Reason says why,
// for logs and metrics.
type Ignored struct{ Reason string }

// IssueChange is an issue as it is after a change and as it was before, so
// that triggers are computed from states, not from forge-specific actions.
type IssueChange struct {
	Repo        Repo     `json:"repo"`
	Number      int      `json:"number"` // GitHub number, GitLab iid
	Title       string   `json:"title"`
	Body        string   `json:"body"`
	URL         string   `json:"url"`
	Open        bool     `json:"open"`
	WasOpen     bool     `json:"was_open"`
	Labels      []string `json:"labels"`
	PrevLabels  []string `json:"prev_labels"`
	BodyChanged bool     `json:"body_changed"`
	Actor       Actor    `json:"actor"`
	// Confidential (GitLab): only project members can see the issue.
	// ConfidentialChanged: this change turned it on or off, which decides
	// whether expbot may run the request.
	Confidential        bool `json:"confidential,omitempty"`
	ConfidentialChanged bool `json:"confidential_changed,omitempty"`
	// At is when the issue was last changed, by the forge's clock
	// (updated_at, whole seconds on both forges); zero when the payload
	// does not say. It orders deliveries (docs/ordering.md).
	At time.Time `json:"at,omitzero"`
}

// CommentCreated is a new comment in a pull/merge request's conversation
// (edits and deletions are not decoded: commands act once, when written).
type CommentCreated struct {
	Repo      Repo   `json:"repo"`
	Thread    Thread `json:"thread"` // PullThread with the request's number/iid
	CommentID int64  `json:"comment_id"`
	Body      string `json:"body"`
	URL       string `json:"url"`
	Actor     Actor  `json:"actor"`
	// The request's source branch and head commit when the payload says
	// (GitLab does; GitHub's issue_comment does not: resolve it through the
	// forge API).
	HeadBranch string `json:"head_branch,omitempty"`
	HeadSHA    string `json:"head_sha,omitempty"`
	// At is when the comment was written (created_at); zero when the
	// payload does not say. PullClosed: the payload shows the request
	// closed or merged, so the comment came after that.
	At         time.Time `json:"at,omitzero"`
	PullClosed bool      `json:"pull_closed,omitempty"`
}

// PullChange is a pull/merge request opened, closed, merged or reopened.
type PullChange struct {
	Repo    Repo  `json:"repo"`
	Number  int   `json:"number"`
	Open    bool  `json:"open"`
	WasOpen bool  `json:"was_open"`
	Merged  bool  `json:"merged"`
	Actor   Actor `json:"actor"`
	// At is when the request was last changed (updated_at); zero when the
	// payload does not say.
	At time.Time `json:"at,omitzero"`
}

// TagPush is a tag created, moved or deleted.
type TagPush struct {
	Repo   Repo   `json:"repo"`
	Tag    string `json:"tag"`    // name without refs/tags/
	Before string `json:"before"` // commit before; "" when the tag was created
	After  string `json:"after"`  // commit the tag points to now; "" when deleted
	Actor  Actor  `json:"actor"`
}

func (*Ping) isEvent()               {}
func (*Ignored) isEvent()            {}
func (*IssueChange) isEvent()        {}
func (*CommentCreated) isEvent()     {}
func (*PullChange) isEvent()         {}
func (*TagPush) isEvent()            {}
func (*InstallationChange) isEvent() {}

// InstallationChange is a GitHub App installation created, deleted,
// suspended or unsuspended, or repositories added to or removed from one.
// Added and Removed are full names ("owner/name"); a deleted or suspended
// installation lists its repositories as removed, a new or unsuspended one
// as added.
type InstallationChange struct {
	Action         string
	InstallationID int64
	Account        string
	Added          []string
	Removed        []string
	Deleted        bool // the installation is gone (or suspended): none of its tokens work
}

// Trigger is what an issue change asks of an experiment.
type Trigger int

const (
	NoTrigger Trigger = iota
	Apply             // create, bring back, or update the experiment
	Retire            // stop managing it (keep or delete the branch)
)

// TriggerFor reads an issue change against the trigger label: the issue is
// "active" while it is open and carries the label. Becoming active, or an
// edited description while active, applies; ceasing to be active retires.
func (c *IssueChange) TriggerFor(label string) Trigger {
	now := c.Open && hasLabel(c.Labels, label)
	before := c.WasOpen && hasLabel(c.PrevLabels, label)
	switch {
	case now && (!before || c.BodyChanged || c.ConfidentialChanged):
		return Apply
	case before && !now:
		return Retire
	default:
		return NoTrigger
	}
}

// hasLabel matches case-insensitively: both forges treat label names that
// differ only in case as the same label.
func hasLabel(labels []string, label string) bool {
	return slices.ContainsFunc(labels, func(l string) bool { return strings.EqualFold(l, label) })
}
