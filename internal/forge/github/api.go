package github

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
)

// maxTagDepth bounds peeling tags of tags, against a cycle or a very deep chain.
const maxTagDepth = 8

// ResolveRef turns a branch, tag, full or abbreviated SHA into a full commit
// SHA. A full SHA is only checked; otherwise branches win over tags, and
// tags over SHA prefixes, as git rev-parse orders them.
func (c *Client) ResolveRef(ctx context.Context, repo, ref string) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	if ref == "" {
		return "", fmt.Errorf("github: resolve ref in %s: empty ref", repo)
	}
	if isHex(ref) && len(ref) == 40 {
		sha, err := c.commitSHA(ctx, owner, name, strings.ToLower(ref))
		if err != nil {
			return "", c.fail(err, "resolve ref %q in %s", ref, repo)
		}
		return sha, nil
	}
	candidates := []string{"heads/" + ref, "tags/" + ref}
	if strings.HasPrefix(ref, "refs/") {
		candidates = []string{ref} // already qualified: look only there
	}
	for _, full := range candidates {
		sha, err := c.peelRef(ctx, owner, name, full)
		if err == nil {
			return sha, nil
		}
		if classify(err) != forge.NotFound {
			return "", c.fail(err, "resolve ref %q in %s", ref, repo)
		}
	}
	// Git accepts abbreviations from 4 hex digits; anything else cannot be one.
	if isHex(ref) && len(ref) >= 4 {
		sha, err := c.commitSHA(ctx, owner, name, ref)
		if err == nil {
			return sha, nil
		}
		if classify(err) != forge.NotFound {
			return "", c.fail(err, "resolve ref %q in %s", ref, repo)
		}
	}
	return "", fmt.Errorf("github: resolve ref %q in %s: no branch, tag or commit of that name: %w", ref, repo, forge.ErrNotFound)
}

// commitSHA asks GitHub for a commit; GitHub answers 404 or, for a SHA it
// cannot find, 422 "No commit found for SHA".
func (c *Client) commitSHA(ctx context.Context, owner, name, ref string) (string, error) {
	commit, _, err := c.api.Repositories.GetCommit(ctx, owner, name, ref, nil)
	if err != nil {
		if isStatus(err, http.StatusUnprocessableEntity) {
			return "", &notFoundError{err}
		}
		return "", err
	}
	if commit.GetSHA() == "" {
		return "", errors.New("commit without sha in response")
	}
	return commit.GetSHA(), nil
}

// peelRef reads one fully named ref ("heads/x", "tags/v1") and follows
// annotated tags down to the commit.
func (c *Client) peelRef(ctx context.Context, owner, name, ref string) (string, error) {
	r, _, err := c.api.Git.GetRef(ctx, owner, name, ref)
	if err != nil {
		return "", err
	}
	obj := r.GetObject()
	for range maxTagDepth {
		switch obj.GetType() {
		case "commit":
			return obj.GetSHA(), nil
		case "tag":
			tag, _, err := c.api.Git.GetTag(ctx, owner, name, obj.GetSHA())
			if err != nil {
				return "", err
			}
			obj = tag.GetObject()
		default:
			return "", fmt.Errorf("%s points to a %s, not a commit", ref, obj.GetType())
		}
	}
	return "", fmt.Errorf("%s: tags nested more than %d deep", ref, maxTagDepth)
}

// DefaultBranch reports the repository's default branch.
func (c *Client) DefaultBranch(ctx context.Context, repo string) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	r, _, err := c.api.Repositories.Get(ctx, owner, name)
	if err != nil {
		return "", c.fail(err, "default branch of %s", repo)
	}
	if r.GetDefaultBranch() == "" {
		return "", fmt.Errorf("github: default branch of %s: repository has none", repo)
	}
	return r.GetDefaultBranch(), nil
}

// ReadFile returns a file's content at ref (the default branch when empty).
func (c *Client) ReadFile(ctx context.Context, repo, ref, path string) ([]byte, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	var opts *gh.RepositoryContentGetOptions
	if ref != "" {
		opts = &gh.RepositoryContentGetOptions{Ref: ref}
	}
	file, dir, _, err := c.api.Repositories.GetContents(ctx, owner, name, path, opts)
	if err != nil {
		return nil, c.fail(err, "read %s at %q in %s", path, ref, repo)
	}
	if file == nil || dir != nil {
		return nil, fmt.Errorf("github: read %s at %q in %s: is a directory", path, ref, repo)
	}
	if file.GetType() != "" && file.GetType() != "file" {
		return nil, fmt.Errorf("github: read %s at %q in %s: is a %s, not a file", path, ref, repo, file.GetType())
	}
	if file.GetEncoding() == "none" {
		// Files over 1 MB come without content; the blobs API serves them.
		b, err := c.blob(ctx, owner, name, file.GetSHA())
		if err != nil {
			return nil, c.fail(err, "read %s at %q in %s", path, ref, repo)
		}
		return b, nil
	}
	s, err := file.GetContent()
	if err != nil {
		return nil, fmt.Errorf("github: read %s at %q in %s: %w", path, ref, repo, err)
	}
	return []byte(s), nil
}

func (c *Client) blob(ctx context.Context, owner, name, sha string) ([]byte, error) {
	b, _, err := c.api.Git.GetBlob(ctx, owner, name, sha)
	if err != nil {
		return nil, err
	}
	if b.GetEncoding() != "base64" {
		return []byte(b.GetContent()), nil
	}
	return base64.StdEncoding.DecodeString(b.GetContent())
}

// CreateComment posts in an issue or pull request (both take issue
// comments) or on a commit.
func (c *Client) CreateComment(ctx context.Context, repo string, th event.Thread, body string) (forge.Comment, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return forge.Comment{}, err
	}
	if err := checkThread(th); err != nil {
		return forge.Comment{}, fmt.Errorf("github: comment in %s: %w", repo, err)
	}
	if th.Kind == event.CommitThread {
		rc, _, err := c.api.Repositories.CreateComment(ctx, owner, name, th.SHA, &gh.RepositoryComment{Body: &body})
		if err != nil {
			return forge.Comment{}, c.fail(err, "comment on commit %s in %s", th.SHA, repo)
		}
		return forge.Comment{ID: rc.GetID(), URL: rc.GetHTMLURL()}, nil
	}
	ic, _, err := c.api.Issues.CreateComment(ctx, owner, name, th.Number, &gh.IssueComment{Body: &body})
	if err != nil {
		return forge.Comment{}, c.fail(err, "comment on %s #%d in %s", th.Kind, th.Number, repo)
	}
	return forge.Comment{ID: ic.GetID(), URL: ic.GetHTMLURL()}, nil
}

// EditComment replaces a comment's body.
func (c *Client) EditComment(ctx context.Context, repo string, th event.Thread, cm forge.Comment, body string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	if err := checkThread(th); err != nil {
		return fmt.Errorf("github: edit comment %d in %s: %w", cm.ID, repo, err)
	}
	if th.Kind == event.CommitThread {
		if _, _, err := c.api.Repositories.UpdateComment(ctx, owner, name, cm.ID, &gh.RepositoryComment{Body: &body}); err != nil {
			return c.fail(err, "edit commit comment %d in %s", cm.ID, repo)
		}
		return nil
	}
	if _, _, err := c.api.Issues.EditComment(ctx, owner, name, cm.ID, &gh.IssueComment{Body: &body}); err != nil {
		return c.fail(err, "edit comment %d on %s #%d in %s", cm.ID, th.Kind, th.Number, repo)
	}
	return nil
}

// permission is GitHub's answer; go-github v60 does not decode role_name,
// which alone tells maintain and triage apart from write and read.
type permission struct {
	Permission string `json:"permission"`
	RoleName   string `json:"role_name"`
}

// role maps GitHub's role and permission names (old and new spellings).
func role(name string) (forge.Access, bool) {
	switch name {
	case "none":
		return forge.NoAccess, true
	case "read", "pull":
		return forge.Read, true
	case "triage":
		return forge.Triage, true
	case "write", "push":
		return forge.Write, true
	case "maintain":
		return forge.Maintain, true
	case "admin":
		return forge.Admin, true
	}
	return forge.NoAccess, false
}

// Access reports the user's role on the repository; a user GitHub does not
// know there (404) has none.
func (c *Client) Access(ctx context.Context, repo string, user event.Actor) (forge.Access, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return forge.NoAccess, err
	}
	if user.Login == "" {
		return forge.NoAccess, fmt.Errorf("github: access of user %d to %s: no login", user.ID, repo)
	}
	u := fmt.Sprintf("repos/%s/%s/collaborators/%s/permission", url.PathEscape(owner), url.PathEscape(name), url.PathEscape(user.Login))
	req, err := c.api.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return forge.NoAccess, fmt.Errorf("github: access of %s to %s: %w", user.Login, repo, err)
	}
	var p permission
	if _, err := c.api.Do(ctx, req, &p); err != nil {
		if classify(err) == forge.NotFound {
			return forge.NoAccess, nil
		}
		return forge.NoAccess, c.fail(err, "access of %s to %s", user.Login, repo)
	}
	if a, ok := role(p.RoleName); ok {
		return a, nil
	}
	// A custom role's name says nothing; its base permission does.
	if a, ok := role(p.Permission); ok {
		return a, nil
	}
	return forge.NoAccess, fmt.Errorf("github: access of %s to %s: unknown permission %q (role %q)", user.Login, repo, p.Permission, p.RoleName)
}

// reactionContent maps GitLab's emoji names onto GitHub's reaction
// contents, so callers can use either vocabulary, with or without colons.
func reactionContent(name string) string {
	name = strings.Trim(name, ":")
	switch name {
	case "thumbsup":
		return "+1"
	case "thumbsdown":
		return "-1"
	case "laughing":
		return "laugh"
	case "tada":
		return "hooray"
	}
	return name
}

// React adds a reaction to an issue/pull request comment or a commit
// comment. Reacting twice is harmless: GitHub answers with the existing one.
func (c *Client) React(ctx context.Context, repo string, th event.Thread, commentID int64, reaction string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	if err := checkThread(th); err != nil {
		return fmt.Errorf("github: react to comment %d in %s: %w", commentID, repo, err)
	}
	content := reactionContent(reaction)
	if th.Kind == event.CommitThread {
		_, _, err = c.api.Reactions.CreateCommentReaction(ctx, owner, name, commentID, content)
	} else {
		_, _, err = c.api.Reactions.CreateIssueCommentReaction(ctx, owner, name, commentID, content)
	}
	if err != nil {
		return c.fail(err, "react %q to comment %d in %s", content, commentID, repo)
	}
	return nil
}

func checkThread(th event.Thread) error {
	switch th.Kind {
	case event.IssueThread, event.PullThread:
		if th.Number <= 0 {
			return fmt.Errorf("%s thread without a number", th.Kind)
		}
	case event.CommitThread:
		if th.SHA == "" || !isHex(th.SHA) {
			return fmt.Errorf("commit thread with SHA %q", th.SHA)
		}
	default:
		return fmt.Errorf("unknown thread kind %q", th.Kind)
	}
	return nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return s != ""
}

func isStatus(err error, code int) bool {
	var resp *gh.ErrorResponse
	return errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == code
}

// notFoundError marks an answer that means "no such object" although its
// status is not 404.
type notFoundError struct{ err error }

func (e *notFoundError) Error() string { return e.err.Error() }
func (e *notFoundError) Unwrap() error { return e.err }

// PullHead reports a pull request's source branch and head commit.
func (c *Client) PullHead(ctx context.Context, repo string, number int) (string, string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", "", err
	}
	pr, _, err := c.api.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return "", "", c.fail(err, "pull request #%d of %s", number, repo)
	}
	if pr.GetHead().GetSHA() == "" {
		return "", "", fmt.Errorf("github: pull request #%d of %s has no head commit", number, repo)
	}
	return pr.GetHead().GetRef(), pr.GetHead().GetSHA(), nil
}

// Issue reads an issue. GitHub answers 410 for a deleted issue, and
// redirects to the new repository for a transferred one: both are gone.
func (c *Client) Issue(ctx context.Context, repo string, number int) (forge.Issue, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return forge.Issue{}, err
	}
	i, _, err := c.api.Issues.Get(ctx, owner, name, number)
	if isStatus(err, http.StatusGone) {
		return forge.Issue{}, fmt.Errorf("github: issue #%d of %s was deleted: %w", number, repo, forge.ErrNotFound)
	}
	if err != nil {
		return forge.Issue{}, c.fail(err, "issue #%d of %s", number, repo)
	}
	if u := i.GetRepositoryURL(); u != "" && !strings.HasSuffix(strings.ToLower(u), "/repos/"+strings.ToLower(repo)) {
		return forge.Issue{}, fmt.Errorf("github: issue #%d of %s moved to another repository: %w", number, repo, forge.ErrNotFound)
	}
	out := forge.Issue{
		Number: i.GetNumber(), Title: i.GetTitle(), Body: i.GetBody(), URL: i.GetHTMLURL(),
		Open: i.GetState() == "open", UpdatedAt: i.GetUpdatedAt().UTC(),
	}
	for _, l := range i.Labels {
		out.Labels = append(out.Labels, l.GetName())
	}
	return out, nil
}

// TagTarget reads refs/tags/{tag} and peels it to its commit.
func (c *Client) TagTarget(ctx context.Context, repo, tag string) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	sha, err := c.peelRef(ctx, owner, name, "tags/"+tag)
	if err != nil {
		return "", c.fail(err, "tag %q of %s", tag, repo)
	}
	return sha, nil
}
