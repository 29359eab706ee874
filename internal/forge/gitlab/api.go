package gitlab

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	gl "github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
)

// ResolveRef turns a branch, tag or (abbreviated) SHA into a full commit SHA:
// GitLab's commits endpoint takes all three.
func (c *Client) ResolveRef(ctx context.Context, repo, ref string) (string, error) {
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	if ref == "" {
		return "", fmt.Errorf("gitlab: resolve ref in %s: empty ref", repo)
	}
	query := ref
	if len(ref) == 40 && isHex(ref) {
		query = strings.ToLower(ref) // object ids are lower case; branches never look like one
	}
	commit, _, err := c.api.Commits.GetCommit(repo, query, nil, gl.WithContext(ctx))
	if err != nil {
		return "", c.fail(err, "resolve ref %q in %s", ref, repo)
	}
	if commit.ID == "" {
		return "", fmt.Errorf("gitlab: resolve ref %q in %s: commit without id in response", ref, repo)
	}
	return commit.ID, nil
}

// DefaultBranch reports the project's default branch.
func (c *Client) DefaultBranch(ctx context.Context, repo string) (string, error) {
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	p, _, err := c.api.Projects.GetProject(repo, nil, gl.WithContext(ctx))
	if err != nil {
		return "", c.fail(err, "default branch of %s", repo)
	}
	if p.DefaultBranch == "" {
		return "", fmt.Errorf("gitlab: default branch of %s: project has none (empty repository?)", repo)
	}
	return p.DefaultBranch, nil
}

// ReadFile returns a file's content at ref (HEAD when empty).
func (c *Client) ReadFile(ctx context.Context, repo, ref, path string) ([]byte, error) {
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	opt := &gl.GetRawFileOptions{}
	if ref != "" {
		opt.Ref = &ref
	}
	b, _, err := c.api.RepositoryFiles.GetRawFile(repo, path, opt, gl.WithContext(ctx))
	if err != nil {
		return nil, c.fail(err, "read %s at %q in %s", path, ref, repo)
	}
	return b, nil
}

// CreateComment posts a note on an issue or merge request, or starts a
// discussion on a commit: plain commit comments cannot be edited on GitLab,
// discussion notes can. The returned Comment then carries the discussion id
// in Note, which EditComment needs.
func (c *Client) CreateComment(ctx context.Context, repo string, th event.Thread, body string) (forge.Comment, error) {
	if err := checkRepo(repo); err != nil {
		return forge.Comment{}, err
	}
	if err := checkThread(th); err != nil {
		return forge.Comment{}, fmt.Errorf("gitlab: comment in %s: %w", repo, err)
	}
	switch th.Kind {
	case event.IssueThread:
		n, _, err := c.api.Notes.CreateIssueNote(repo, th.Number, &gl.CreateIssueNoteOptions{Body: &body}, gl.WithContext(ctx))
		if err != nil {
			return forge.Comment{}, c.fail(err, "comment on issue #%d in %s", th.Number, repo)
		}
		return forge.Comment{ID: int64(n.ID), URL: c.noteURL(repo, th, n.ID)}, nil
	case event.PullThread:
		n, _, err := c.api.Notes.CreateMergeRequestNote(repo, th.Number, &gl.CreateMergeRequestNoteOptions{Body: &body}, gl.WithContext(ctx))
		if err != nil {
			return forge.Comment{}, c.fail(err, "comment on merge request !%d in %s", th.Number, repo)
		}
		return forge.Comment{ID: int64(n.ID), URL: c.noteURL(repo, th, n.ID)}, nil
	default: // commit, as checkThread allows nothing else
		d, _, err := c.api.Discussions.CreateCommitDiscussion(repo, th.SHA, &gl.CreateCommitDiscussionOptions{Body: &body}, gl.WithContext(ctx))
		if err != nil {
			return forge.Comment{}, c.fail(err, "comment on commit %s in %s", th.SHA, repo)
		}
		if d.ID == "" || len(d.Notes) == 0 || d.Notes[0] == nil {
			return forge.Comment{}, fmt.Errorf("gitlab: comment on commit %s in %s: discussion without id or note in response", th.SHA, repo)
		}
		id := d.Notes[0].ID
		return forge.Comment{ID: int64(id), Note: d.ID, URL: c.noteURL(repo, th, id)}, nil
	}
}

// noteURL links to a note as GitLab's web UI does.
func (c *Client) noteURL(repo string, th event.Thread, id int) string {
	var page string
	switch th.Kind {
	case event.IssueThread:
		page = "/-/issues/" + strconv.Itoa(th.Number)
	case event.PullThread:
		page = "/-/merge_requests/" + strconv.Itoa(th.Number)
	default:
		page = "/-/commit/" + th.SHA
	}
	return c.web + repo + page + notePrefix + strconv.Itoa(id)
}

// EditComment replaces a note's body; a commit note needs the discussion id
// that CreateComment put in Comment.Note.
func (c *Client) EditComment(ctx context.Context, repo string, th event.Thread, cm forge.Comment, body string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := checkThread(th); err != nil {
		return fmt.Errorf("gitlab: edit note %d in %s: %w", cm.ID, repo, err)
	}
	id, err := noteID(cm.ID)
	if err != nil {
		return fmt.Errorf("gitlab: edit note in %s: %w", repo, err)
	}
	switch th.Kind {
	case event.IssueThread:
		_, _, err = c.api.Notes.UpdateIssueNote(repo, th.Number, id, &gl.UpdateIssueNoteOptions{Body: &body}, gl.WithContext(ctx))
	case event.PullThread:
		_, _, err = c.api.Notes.UpdateMergeRequestNote(repo, th.Number, id, &gl.UpdateMergeRequestNoteOptions{Body: &body}, gl.WithContext(ctx))
	default:
		if cm.Note == "" {
			return fmt.Errorf("gitlab: edit note %d on commit %s in %s: no discussion id in the comment", cm.ID, th.SHA, repo)
		}
		_, _, err = c.api.Discussions.UpdateCommitDiscussionNote(repo, th.SHA, cm.Note, id, &gl.UpdateCommitDiscussionNoteOptions{Body: &body}, gl.WithContext(ctx))
	}
	if err != nil {
		return c.fail(err, "edit note %d on %s in %s", cm.ID, describe(th), repo)
	}
	return nil
}

// Access reports the user's effective access level on the project,
// inherited group membership included; a non-member (404) has none. Without
// Actor.ID the user is looked up by username.
func (c *Client) Access(ctx context.Context, repo string, user event.Actor) (forge.Access, error) {
	if err := checkRepo(repo); err != nil {
		return forge.NoAccess, err
	}
	id := user.ID
	if id == 0 {
		if user.Login == "" {
			return forge.NoAccess, fmt.Errorf("gitlab: access to %s: actor has neither id nor username", repo)
		}
		users, _, err := c.api.Users.ListUsers(&gl.ListUsersOptions{Username: &user.Login}, gl.WithContext(ctx))
		if err != nil {
			return forge.NoAccess, c.fail(err, "look up user %q", user.Login)
		}
		for _, u := range users {
			if u != nil && strings.EqualFold(u.Username, user.Login) {
				id = int64(u.ID)
				break
			}
		}
		if id == 0 {
			return forge.NoAccess, nil // no such user, so no access
		}
	}
	m, _, err := c.api.ProjectMembers.GetInheritedProjectMember(repo, int(id), gl.WithContext(ctx))
	if err != nil {
		if classify(err) == forge.NotFound {
			return forge.NoAccess, nil
		}
		return forge.NoAccess, c.fail(err, "access of user %d (%q) to %s", id, user.Login, repo)
	}
	return accessFor(m.AccessLevel), nil
}

// accessFor maps GitLab's levels; levels between the named ones (such as
// 5, minimal access) count as the named level below them.
func accessFor(l gl.AccessLevelValue) forge.Access {
	switch {
	case l >= gl.OwnerPermissions:
		return forge.Admin
	case l >= gl.MaintainerPermissions:
		return forge.Maintain
	case l >= gl.DeveloperPermissions:
		return forge.Write
	case l >= gl.ReporterPermissions:
		return forge.Triage
	case l >= gl.GuestPermissions:
		return forge.Read
	}
	return forge.NoAccess
}

// emojiName maps GitHub's reaction names onto GitLab's emoji names, so
// callers can use either vocabulary, with or without colons.
func emojiName(reaction string) string {
	name := strings.Trim(reaction, ":")
	switch name {
	case "+1":
		return "thumbsup"
	case "-1":
		return "thumbsdown"
	case "laugh":
		return "laughing"
	case "hooray":
		return "tada"
	}
	return name
}

// React awards an emoji to an issue or merge request note. GitLab's REST
// API has no award emoji on commit notes, so commit threads get
// errors.ErrUnsupported.
func (c *Client) React(ctx context.Context, repo string, th event.Thread, commentID int64, reaction string) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := checkThread(th); err != nil {
		return fmt.Errorf("gitlab: react to note %d in %s: %w", commentID, repo, err)
	}
	if th.Kind == event.CommitThread {
		return fmt.Errorf("gitlab: react to note %d on commit %s in %s: award emoji on commit notes: %w", commentID, th.SHA, repo, errors.ErrUnsupported)
	}
	id, err := noteID(commentID)
	if err != nil {
		return fmt.Errorf("gitlab: react in %s: %w", repo, err)
	}
	name := emojiName(reaction)
	opt := &gl.CreateAwardEmojiOptions{Name: name}
	if th.Kind == event.IssueThread {
		_, _, err = c.api.AwardEmoji.CreateIssuesAwardEmojiOnNote(repo, th.Number, id, opt, gl.WithContext(ctx))
	} else {
		_, _, err = c.api.AwardEmoji.CreateMergeRequestAwardEmojiOnNote(repo, th.Number, id, opt, gl.WithContext(ctx))
	}
	if err == nil {
		return nil
	}
	if classify(err) == forge.NotFound {
		// GitLab answers a repeated award with 404 ("has already been
		// taken"); a retried job must not fail on its own earlier reaction.
		if ok, lerr := c.awarded(ctx, repo, th, id, name); lerr == nil && ok {
			return nil
		}
	}
	return c.fail(err, "award %q to note %d on %s in %s", name, commentID, describe(th), repo)
}

// awarded reports whether the bot already gave emoji name to the note.
func (c *Client) awarded(ctx context.Context, repo string, th event.Thread, note int, name string) (bool, error) {
	me, _, err := c.api.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil {
		return false, err
	}
	opt := &gl.ListAwardEmojiOptions{PerPage: 100}
	var awards []*gl.AwardEmoji
	if th.Kind == event.IssueThread {
		awards, _, err = c.api.AwardEmoji.ListIssuesAwardEmojiOnNote(repo, th.Number, note, opt, gl.WithContext(ctx))
	} else {
		awards, _, err = c.api.AwardEmoji.ListMergeRequestAwardEmojiOnNote(repo, th.Number, note, opt, gl.WithContext(ctx))
	}
	if err != nil {
		return false, err
	}
	for _, a := range awards {
		if a != nil && a.Name == name && a.User.ID == me.ID {
			return true, nil
		}
	}
	return false, nil
}

func checkThread(th event.Thread) error {
	switch th.Kind {
	case event.IssueThread, event.PullThread:
		if th.Number <= 0 {
			return fmt.Errorf("%s thread without a number", th.Kind)
		}
	case event.CommitThread:
		if !isHex(th.SHA) {
			return fmt.Errorf("commit thread with SHA %q", th.SHA)
		}
	default:
		return fmt.Errorf("unknown thread kind %q", th.Kind)
	}
	return nil
}

// describe names a thread in GitLab's words, for error messages.
func describe(th event.Thread) string {
	switch th.Kind {
	case event.IssueThread:
		return "issue #" + strconv.Itoa(th.Number)
	case event.PullThread:
		return "merge request !" + strconv.Itoa(th.Number)
	}
	return "commit " + th.SHA
}

// noteID converts a comment id to go-gitlab's int, refusing what would wrap.
func noteID(id int64) (int, error) {
	if id <= 0 || int64(int(id)) != id {
		return 0, fmt.Errorf("invalid note id %d", id)
	}
	return int(id), nil
}

func isHex(s string) bool {
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return s != ""
}

// PullHead reports a merge request's source branch and head commit.
func (c *Client) PullHead(ctx context.Context, repo string, iid int) (string, string, error) {
	if err := checkRepo(repo); err != nil {
		return "", "", err
	}
	mr, _, err := c.api.MergeRequests.GetMergeRequest(repo, iid, nil, gl.WithContext(ctx))
	if err != nil {
		return "", "", c.fail(err, "merge request !%d of %s", iid, repo)
	}
	if mr.SHA == "" {
		return "", "", fmt.Errorf("gitlab: merge request !%d of %s has no head commit", iid, repo)
	}
	return mr.SourceBranch, mr.SHA, nil
}

// Issue reads an issue by its iid. A moved issue stays behind, closed,
// with moved_to_id set: it is gone from this project.
func (c *Client) Issue(ctx context.Context, repo string, iid int) (forge.Issue, error) {
	if err := checkRepo(repo); err != nil {
		return forge.Issue{}, err
	}
	i, _, err := c.api.Issues.GetIssue(repo, iid, gl.WithContext(ctx))
	if err != nil {
		return forge.Issue{}, c.fail(err, "issue #%d of %s", iid, repo)
	}
	if i.MovedToID != 0 {
		return forge.Issue{}, fmt.Errorf("gitlab: issue #%d of %s moved to another project: %w", iid, repo, forge.ErrNotFound)
	}
	out := forge.Issue{
		Number: i.IID, Title: i.Title, Body: i.Description, URL: i.WebURL,
		Open: i.State == "opened", Labels: []string(i.Labels), Confidential: i.Confidential,
	}
	if i.UpdatedAt != nil {
		out.UpdatedAt = i.UpdatedAt.UTC()
	}
	return out, nil
}

// TagTarget reads a tag; its commit is the one an annotated tag points to.
func (c *Client) TagTarget(ctx context.Context, repo, tag string) (string, error) {
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	t, _, err := c.api.Tags.GetTag(repo, tag, gl.WithContext(ctx))
	if err != nil {
		return "", c.fail(err, "tag %q of %s", tag, repo)
	}
	if t.Commit == nil || t.Commit.ID == "" {
		return "", fmt.Errorf("gitlab: tag %q of %s: no commit in response", tag, repo)
	}
	return t.Commit.ID, nil
}
