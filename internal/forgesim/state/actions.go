package state

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// EventKind names what happened, independent of how a forge words it.
type EventKind string

const (
	IssueOpened    EventKind = "issue_opened"
	IssueEdited    EventKind = "issue_edited"
	IssueLabeled   EventKind = "issue_labeled"
	IssueUnlabeled EventKind = "issue_unlabeled"
	IssueClosed    EventKind = "issue_closed"
	IssueReopened  EventKind = "issue_reopened"
	// IssueConfidentiality: a GitLab issue made confidential or public
	// again (GitHub has no such thing and sends nothing for it).
	IssueConfidentiality EventKind = "issue_confidentiality"
	PullOpened           EventKind = "pull_opened"
	PullClosed           EventKind = "pull_closed"
	PullMerged           EventKind = "pull_merged"
	PullReopened         EventKind = "pull_reopened"
	CommentCreated       EventKind = "comment_created"
	CommentEdited        EventKind = "comment_edited"
	BranchPushed         EventKind = "branch_pushed"
	TagPushed            EventKind = "tag_pushed"  // created or moved; Before is zero when created
	TagDeleted           EventKind = "tag_deleted" // After is zero
)

// ZeroSHA is what forges put in before/after for a ref that did not exist.
const ZeroSHA = "0000000000000000000000000000000000000000"

// Event is one thing a person did, with snapshots of what the webhook payloads
// need. Snapshots are copies: later changes to the forge do not alter them.
type Event struct {
	Kind       EventKind
	At         time.Time
	Repo       RepoInfo
	Actor      User
	Issue      *Issue            // issue or pull request concerned, after the change
	Comment    *Comment          // for comment events
	Label      string            // for label events
	PrevLabels []string          // labels before the change (label events)
	Changes    map[string]string // previous values of edited fields ("title", "body")
	Ref        string            // "refs/heads/x" or "refs/tags/x" for push events
	Before     string            // ref's SHA before a push (ZeroSHA if new)
	After      string            // ref's SHA after a push (ZeroSHA if deleted)
	Commits    []Commit          // commits a push added, oldest first
}

// NewEvent starts an event of kind on r by actor, for use inside Act.
func (f *Forge) NewEvent(kind EventKind, r *Repo, actor *User) Event {
	return Event{Kind: kind, At: f.now(), Repo: *r.info(), Actor: *actor}
}

// Snapshot copies an issue for an event.
func (i *Issue) Snapshot() *Issue {
	c := *i
	c.Labels = slices.Clone(i.Labels)
	return &c
}

// Act runs fn on a repository as a known user, under the lock, then hands
// the events to the sink once the lock is released (the sink may call back).
func (f *Forge) Act(repo, login string, fn func(r *Repo, u *User) ([]Event, error)) ([]Event, error) {
	evs, err := func() ([]Event, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		r, err := f.repo(repo)
		if err != nil {
			return nil, err
		}
		u, ok := f.users[login]
		if !ok {
			return nil, fmt.Errorf("user %q: %w", login, ErrNotFound)
		}
		return fn(r, u)
	}()
	if err != nil {
		return nil, err
	}
	if f.sink != nil && len(evs) > 0 {
		f.sink(evs)
	}
	return evs, nil
}

// OpenIssue opens an issue with optional labels as login.
func (f *Forge) OpenIssue(repo, login, title, body string, labels []string) (Issue, []Event, error) {
	var out Issue
	evs, err := f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		i := r.NewIssue(f.now(), title, body, login, labels, "", "")
		out = *i.Snapshot()
		ev := f.NewEvent(IssueOpened, r, u)
		ev.Issue = i.Snapshot()
		return []Event{ev}, nil
	})
	return out, evs, err
}

// OpenPull opens a pull/merge request from head into base (default branch
// when empty). Both branches must exist.
func (f *Forge) OpenPull(repo, login, title, body, head, base string) (Issue, []Event, error) {
	var out Issue
	evs, err := f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		if base == "" {
			base = r.DefaultBranch
		}
		for _, b := range []string{head, base} {
			if _, ok := r.branches[b]; !ok {
				return nil, fmt.Errorf("branch %s: %w", b, ErrNotFound)
			}
		}
		i := r.NewIssue(f.now(), title, body, login, nil, head, base)
		out = *i.Snapshot()
		ev := f.NewEvent(PullOpened, r, u)
		ev.Issue = i.Snapshot()
		return []Event{ev}, nil
	})
	return out, evs, err
}

// EditIssue changes the title and/or body (nil leaves a field alone).
func (f *Forge) EditIssue(repo string, number int, login string, title, body *string) ([]Event, error) {
	return f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		i, ok := r.issues[number]
		if !ok {
			return nil, fmt.Errorf("issue %d: %w", number, ErrNotFound)
		}
		changes := map[string]string{}
		if title != nil && *title != i.Title {
			changes["title"], i.Title = i.Title, *title
		}
		if body != nil && *body != i.Body {
			changes["body"], i.Body = i.Body, *body
		}
		if len(changes) == 0 {
			return nil, nil
		}
		i.UpdatedAt = f.now()
		ev := f.NewEvent(IssueEdited, r, u)
		ev.Issue, ev.Changes = i.Snapshot(), changes
		return []Event{ev}, nil
	})
}

// SetConfidential makes an issue confidential (GitLab: only project members
// see it), or public again.
func (f *Forge) SetConfidential(repo string, number int, login string, confidential bool) ([]Event, error) {
	return f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		i, ok := r.issues[number]
		if !ok || i.IsPull {
			return nil, fmt.Errorf("issue %d: %w", number, ErrNotFound)
		}
		if i.Confidential == confidential {
			return nil, nil
		}
		i.Confidential = confidential
		i.UpdatedAt = f.now()
		ev := f.NewEvent(IssueConfidentiality, r, u)
		ev.Issue = i.Snapshot()
		return []Event{ev}, nil
	})
}

// LabelIssue adds and removes labels, one event per label actually changed,
// in the order given (adds first), as the forges do for single label edits.
func (f *Forge) LabelIssue(repo string, number int, login string, add, remove []string) ([]Event, error) {
	return f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		i, ok := r.issues[number]
		if !ok {
			return nil, fmt.Errorf("issue %d: %w", number, ErrNotFound)
		}
		var evs []Event
		for _, l := range add {
			if strings.TrimSpace(l) == "" {
				return nil, fmt.Errorf("empty label: %w", ErrInvalid)
			}
			if slices.Contains(i.Labels, l) {
				continue
			}
			prev := slices.Clone(i.Labels)
			i.Labels = append(i.Labels, l)
			i.UpdatedAt = f.now()
			ev := f.NewEvent(IssueLabeled, r, u)
			ev.Issue, ev.Label, ev.PrevLabels = i.Snapshot(), l, prev
			evs = append(evs, ev)
		}
		for _, l := range remove {
			idx := slices.Index(i.Labels, l)
			if idx < 0 {
				continue
			}
			prev := slices.Clone(i.Labels)
			i.Labels = slices.Delete(i.Labels, idx, idx+1)
			i.UpdatedAt = f.now()
			ev := f.NewEvent(IssueUnlabeled, r, u)
			ev.Issue, ev.Label, ev.PrevLabels = i.Snapshot(), l, prev
			evs = append(evs, ev)
		}
		return evs, nil
	})
}

// SetIssueState closes, reopens or (pull requests only) merges. Merging
// moves the base branch to the head branch's commit (a fast-forward).
func (f *Forge) SetIssueState(repo string, number int, login, newState string) ([]Event, error) {
	return f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		i, ok := r.issues[number]
		if !ok {
			return nil, fmt.Errorf("issue %d: %w", number, ErrNotFound)
		}
		if i.State == newState {
			return nil, nil
		}
		if i.State == "merged" {
			return nil, fmt.Errorf("pull request %d is merged: %w", number, ErrConflict)
		}
		var kind EventKind
		switch {
		case newState == "closed" && i.IsPull:
			kind = PullClosed
		case newState == "closed":
			kind = IssueClosed
		case newState == "open" && i.IsPull:
			kind = PullReopened
		case newState == "open":
			kind = IssueReopened
		case newState == "merged" && i.IsPull:
			head, ok := r.branches[i.Head]
			if !ok {
				return nil, fmt.Errorf("head branch %s: %w", i.Head, ErrNotFound)
			}
			r.branches[i.Base] = head
			kind = PullMerged
		default:
			return nil, fmt.Errorf("state %q: %w", newState, ErrInvalid)
		}
		i.State, i.UpdatedAt = newState, f.now()
		ev := f.NewEvent(kind, r, u)
		ev.Issue = i.Snapshot()
		return []Event{ev}, nil
	})
}

// Comment posts a comment as login on an issue/pull request, or on a commit
// when sha is set.
func (f *Forge) Comment(repo string, number int, sha, login, body string) (Comment, []Event, error) {
	var out Comment
	evs, err := f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		ev := f.NewEvent(CommentCreated, r, u)
		if sha != "" {
			c, ok := r.Resolve(sha)
			if !ok {
				return nil, fmt.Errorf("commit %s: %w", sha, ErrNotFound)
			}
			sha = c.SHA
		} else {
			i, ok := r.issues[number]
			if !ok {
				return nil, fmt.Errorf("issue %d: %w", number, ErrNotFound)
			}
			ev.Issue = i.Snapshot()
		}
		c := f.AddComment(r, number, sha, body, login)
		out = *c
		cc := *c
		ev.Comment = &cc
		return []Event{ev}, nil
	})
	return out, evs, err
}

// PushFiles commits changes to a branch as login (creating the branch from
// the default branch if it does not exist) and reports the push.
func (f *Forge) PushFiles(repo, branch, login, message string, changes []FileChange) (Commit, []Event, error) {
	var out Commit
	evs, err := f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		before, ok := r.branches[branch]
		if !ok {
			if err := r.CreateBranch(branch, r.branches[r.DefaultBranch]); err != nil {
				return nil, err
			}
		}
		sig := Signature{Name: u.Name, Email: u.Email, When: f.now()}
		c, err := r.CommitFiles(branch, "", message, sig, sig, changes)
		if err != nil {
			if !ok {
				delete(r.branches, branch)
			}
			return nil, err
		}
		out = *c
		ev := f.NewEvent(BranchPushed, r, u)
		ev.Ref, ev.Before, ev.After, ev.Commits = "refs/heads/"+branch, before, c.SHA, []Commit{*c}
		if !ok {
			ev.Before = ZeroSHA
		}
		return []Event{ev}, nil
	})
	return out, evs, err
}

// RemoveBranch deletes a branch as login, as a person would in the web UI
// or with `git push --delete`: the push webhook reports it with After =
// ZeroSHA.
func (f *Forge) RemoveBranch(repo, login, branch string) ([]Event, error) {
	return f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		before, ok := r.branches[branch]
		if !ok {
			return nil, fmt.Errorf("branch %s: %w", branch, ErrNotFound)
		}
		if err := r.DeleteBranch(branch); err != nil {
			return nil, err
		}
		ev := f.NewEvent(BranchPushed, r, u)
		ev.Ref, ev.Before, ev.After = "refs/heads/"+branch, before, ZeroSHA
		return []Event{ev}, nil
	})
}

// PushTag creates or moves a lightweight tag to the commit ref resolves to.
func (f *Forge) PushTag(repo, login, tag, ref string) ([]Event, error) {
	return f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		c, ok := r.Resolve(ref)
		if !ok {
			return nil, fmt.Errorf("ref %s: %w", ref, ErrNotFound)
		}
		before, existed := r.tags[tag]
		if existed && before == c.SHA {
			return nil, nil
		}
		if err := r.SetTag(tag, c.SHA); err != nil {
			return nil, err
		}
		ev := f.NewEvent(TagPushed, r, u)
		ev.Ref, ev.Before, ev.After = "refs/tags/"+tag, ZeroSHA, c.SHA
		if existed {
			ev.Before = before
		}
		return []Event{ev}, nil
	})
}

// RemoveTag deletes a tag and reports the push that deleted it.
func (f *Forge) RemoveTag(repo, login, tag string) ([]Event, error) {
	return f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		before, ok := r.tags[tag]
		if !ok {
			return nil, fmt.Errorf("tag %s: %w", tag, ErrNotFound)
		}
		if err := r.DeleteTag(tag); err != nil {
			return nil, err
		}
		ev := f.NewEvent(TagDeleted, r, u)
		ev.Ref, ev.Before, ev.After = "refs/tags/"+tag, before, ZeroSHA
		return []Event{ev}, nil
	})
}
