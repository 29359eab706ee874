// Package forge is the one interface through which the pipeline talks to a
// forge: comment and edit comments, resolve refs, read files, check a user's
// access. GitHub (go-github) and GitLab (go-gitlab) implement it in the
// subpackages; nothing else imports the forge SDKs.
package forge

import (
	"context"
	"errors"
	"time"

	"github.com/expbot/expbot/internal/event"
)

// ErrNotFound is wrapped by errors for refs, files, users or threads that do
// not exist.
var ErrNotFound = errors.New("not found")

// Access is a user's level on a repository, ordered so that >= compares.
type Access int

const (
	NoAccess Access = iota
	Read            // GitHub read / GitLab Guest
	Triage          // GitHub triage / GitLab Reporter
	Write           // GitHub write / GitLab Developer
	Maintain        // GitHub maintain / GitLab Maintainer
	Admin           // GitHub admin / GitLab Owner
)

// Comment identifies a posted comment. Note is a forge-specific handle the
// edit needs besides the id (GitLab: the discussion of a commit note).
type Comment struct {
	ID   int64
	Note string
	URL  string
}

// Client is one forge instance, authenticated as the bot.
type Client interface {
	Forge() event.Forge
	// ResolveRef turns a branch, tag or (abbreviated) SHA into a full commit SHA.
	ResolveRef(ctx context.Context, repo, ref string) (string, error)
	// DefaultBranch reports the repository's default branch.
	DefaultBranch(ctx context.Context, repo string) (string, error)
	// Issue reads an issue as it is now; ErrNotFound when it is gone from
	// the repository (deleted, or moved to another one).
	Issue(ctx context.Context, repo string, number int) (Issue, error)
	// TagTarget reports the commit a tag points to now (annotated tags
	// peeled); ErrNotFound when there is no such tag.
	TagTarget(ctx context.Context, repo, tag string) (string, error)
	// PullHead reports a pull/merge request's source branch and head commit.
	PullHead(ctx context.Context, repo string, number int) (branch, sha string, err error)
	// ReadFile returns a file's content at a ref.
	ReadFile(ctx context.Context, repo, ref, path string) ([]byte, error)
	// CreateComment posts a comment in a thread.
	CreateComment(ctx context.Context, repo string, th event.Thread, body string) (Comment, error)
	// FindComment finds the bot's own comment in a thread whose body
	// contains marker (the oldest, if several), reading every page of the
	// thread: after a crash between posting a comment and recording its id,
	// the comment is adopted rather than posted twice.
	FindComment(ctx context.Context, repo string, th event.Thread, marker string) (Comment, bool, error)
	// EditComment replaces a comment's body.
	EditComment(ctx context.Context, repo string, th event.Thread, c Comment, body string) error
	// Access reports a user's access level on the repository (GitLab counts
	// inherited membership).
	Access(ctx context.Context, repo string, user event.Actor) (Access, error)
	// React adds a reaction ("eyes", "+1", ...) to a comment in a thread.
	React(ctx context.Context, repo string, th event.Thread, commentID int64, reaction string) error
	// BranchURL and CommitURL are web links for people.
	BranchURL(repo, branch string) string
	CommitURL(repo, sha string) string
}

// Issue is an issue as the forge's API shows it; expbot reads one when
// deliveries alone cannot tell which of two changes came last.
type Issue struct {
	Number       int
	Title        string
	Body         string
	URL          string
	Open         bool
	Labels       []string
	Confidential bool      // GitLab
	UpdatedAt    time.Time // the forge's time of its last change
}

// TransientError marks a failure worth retrying: 5xx, 429, timeouts,
// connection errors.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// IsTransient reports whether err is worth retrying.
func IsTransient(err error) bool {
	var t *TransientError
	return errors.As(err, &t)
}
