package ghsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Issues, pull requests, issue and commit comments, and their reactions.
// Comments may be posted by any authenticated user (public repositories);
// a comment may be edited by its author or by someone with push access.

// people caches account lookups for one response, since a list of comments
// names the same authors again and again. Lookups take the forge lock, so
// they happen outside WithRepo callbacks.
type people struct {
	q     *request
	info  state.RepoInfo
	users map[string]userJSON
	assoc map[string]string
}

func (q *request) people(info state.RepoInfo) *people {
	return &people{q: q, info: info, users: map[string]userJSON{}, assoc: map[string]string{}}
}

func (p *people) user(login string) userJSON {
	u, ok := p.users[login]
	if !ok {
		u = p.q.s.account(p.q.l, login)
		p.users[login] = u
	}
	return u
}

func (p *people) association(login string) string {
	a, ok := p.assoc[login]
	if !ok {
		a = p.q.s.association(p.info, login)
		p.assoc[login] = a
	}
	return a
}

// render turns a comment copy into GitHub's issue- or commit-comment JSON.
func (p *people) render(c state.Comment, isPull bool) any {
	if c.CommitSHA != "" {
		return commitCommentObject(p.q.l, p.info, &c, p.user(c.Author), p.association(c.Author))
	}
	return issueCommentObject(p.q.l, p.info, &c, isPull, p.user(c.Author), p.association(c.Author))
}

func copyComment(c *state.Comment) state.Comment {
	out := *c
	out.Reactions = slices.Clone(c.Reactions)
	return out
}

// pathInt reads a numeric path parameter; a non-number is a 404 like GitHub's.
func (q *request) pathInt(name string) (int64, bool) {
	n, err := strconv.ParseInt(q.r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		q.fail(notFound())
		return 0, false
	}
	return n, true
}

// issueSnapshot copies issue n with what its JSON needs from the model.
func (s *server) issueSnapshot(info state.RepoInfo, n int) (issue *state.Issue, comments int, headSHA, baseSHA string, err error) {
	err = s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		i, found := r.Issue(n)
		if !found {
			return notFound()
		}
		issue = i.Snapshot()
		comments = len(r.Comments(n, ""))
		if i.IsPull {
			headSHA, _ = r.Branch(i.Head)
			baseSHA, _ = r.Branch(i.Base)
		}
		return nil
	})
	return
}

func (s *server) getIssue(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	n, ok := q.pathInt("number")
	if !ok {
		return
	}
	i, comments, _, _, err := s.issueSnapshot(info, int(n))
	if err != nil {
		q.fail(err)
		return
	}
	p := q.people(info)
	q.reply(http.StatusOK, issueObject(q.l, info, i, p.user(i.Author), p.association(i.Author), comments))
}

func (s *server) getPull(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	n, ok := q.pathInt("number")
	if !ok {
		return
	}
	i, comments, head, base, err := s.issueSnapshot(info, int(n))
	if err != nil {
		q.fail(err)
		return
	}
	if !i.IsPull {
		q.fail(notFound())
		return
	}
	p := q.people(info)
	q.reply(http.StatusOK, pullObject(q.l, info, i, pullFacts{
		author: p.user(i.Author), assoc: p.association(i.Author),
		repo:    repoObject(q.l, info, repoFacts{owner: s.owner(q.l, info.Owner)}),
		headSHA: head, baseSHA: base, comments: comments,
	}))
}

// issueSubresource dispatches issues/comments/{id} and issues/{n}/comments.
func (s *server) issueSubresource(q *request) {
	a, b := q.r.PathValue("a"), q.r.PathValue("b")
	switch {
	case a == "comments" && q.r.Method == http.MethodGet:
		s.getComment(q, "b", false)
	case a == "comments" && q.r.Method == http.MethodPatch:
		s.editComment(q, "b", false)
	case b == "comments" && q.r.Method == http.MethodGet:
		s.listIssueComments(q)
	case b == "comments" && q.r.Method == http.MethodPost:
		s.createIssueComment(q)
	default:
		q.fail(notFound())
	}
}

// sinceFilter applies the "since" query parameter (ISO 8601) to comments.
func sinceFilter(q *request, cs []state.Comment) ([]state.Comment, error) {
	v := q.r.URL.Query().Get("since")
	if v == "" {
		return cs, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, validationFailed("IssueComment", "since", "invalid")
	}
	return slices.DeleteFunc(cs, func(c state.Comment) bool { return c.UpdatedAt.Before(t) }), nil
}

func (s *server) listIssueComments(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	n, ok := q.pathInt("a")
	if !ok {
		return
	}
	var (
		cs     []state.Comment
		isPull bool
	)
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		i, found := r.Issue(int(n))
		if !found {
			return notFound()
		}
		isPull = i.IsPull
		for _, c := range r.Comments(int(n), "") {
			cs = append(cs, copyComment(c))
		}
		return nil
	})
	if err == nil {
		cs, err = sinceFilter(q, cs)
	}
	if err != nil {
		q.fail(err)
		return
	}
	p := q.people(info)
	out := []any{}
	for _, c := range paginate(q, cs) {
		out = append(out, p.render(c, isPull))
	}
	q.reply(http.StatusOK, out)
}

// listRepoIssueComments is GET issues/comments: every issue comment of the repository.
func (s *server) listRepoIssueComments(q *request) {
	s.listAllComments(q, false)
}

func (s *server) listRepoCommitComments(q *request) {
	s.listAllComments(q, true)
}

func (s *server) listAllComments(q *request, commit bool) {
	info, ok := q.repo()
	if !ok {
		return
	}
	var (
		cs    []state.Comment
		pulls = map[int]bool{}
	)
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		for _, c := range r.AllComments() {
			if (c.CommitSHA != "") != commit {
				continue
			}
			if i, found := r.Issue(c.Issue); found && i.IsPull {
				pulls[c.Issue] = true
			}
			cs = append(cs, copyComment(c))
		}
		return nil
	})
	if err == nil {
		cs, err = sinceFilter(q, cs)
	}
	if err != nil {
		q.fail(err)
		return
	}
	p := q.people(info)
	out := []any{}
	for _, c := range paginate(q, cs) {
		out = append(out, p.render(c, pulls[c.Issue]))
	}
	q.reply(http.StatusOK, out)
}

type commentRequest struct {
	Body *string `json:"body"`
}

func (q *request) commentBody(resource string) (string, bool) {
	var in commentRequest
	if err := q.decode(&in); err != nil {
		q.fail(err)
		return "", false
	}
	if in.Body == nil || strings.TrimSpace(*in.Body) == "" {
		q.fail(validationFailed(resource, "body", "missing_field"))
		return "", false
	}
	return *in.Body, true
}

func (s *server) createIssueComment(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	n, ok := q.pathInt("a")
	if !ok {
		return
	}
	body, ok := q.commentBody("IssueComment")
	if !ok {
		return
	}
	c, evs, err := s.f.Comment(info.FullName, int(n), "", q.user.Login, body)
	if err != nil {
		q.fail(err)
		return
	}
	isPull := len(evs) > 0 && evs[0].Issue != nil && evs[0].Issue.IsPull
	o := q.people(info).render(c, isPull).(commentJSON)
	q.w.Header().Set("Location", o.URL)
	q.reply(http.StatusCreated, o)
}

func (s *server) listCommitComments(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	ref := q.r.PathValue("sha")
	var cs []state.Comment
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		c, found := r.Resolve(ref)
		if !found {
			return noCommitForSHA(ref)
		}
		for _, cm := range r.Comments(0, c.SHA) {
			cs = append(cs, copyComment(cm))
		}
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	p := q.people(info)
	out := []any{}
	for _, c := range paginate(q, cs) {
		out = append(out, p.render(c, false))
	}
	q.reply(http.StatusOK, out)
}

func (s *server) createCommitComment(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	body, ok := q.commentBody("CommitComment")
	if !ok {
		return
	}
	c, _, err := s.f.Comment(info.FullName, 0, q.r.PathValue("sha"), q.user.Login, body)
	if err != nil {
		q.fail(err)
		return
	}
	o := q.people(info).render(c, false).(commitCommentJSON)
	q.w.Header().Set("Location", o.URL)
	q.reply(http.StatusCreated, o)
}

// findComment copies comment id if it is of the wanted kind (issue or commit).
func (s *server) findComment(info state.RepoInfo, id int64, commit bool) (state.Comment, bool, error) {
	var (
		out    state.Comment
		isPull bool
	)
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		c, found := r.Comment(id)
		if !found || (c.CommitSHA != "") != commit {
			return notFound()
		}
		out = copyComment(c)
		if i, found := r.Issue(c.Issue); found && !commit {
			isPull = i.IsPull
		}
		return nil
	})
	return out, isPull, err
}

func (s *server) getComment(q *request, param string, commit bool) {
	info, ok := q.repo()
	if !ok {
		return
	}
	id, ok := q.pathInt(param)
	if !ok {
		return
	}
	c, isPull, err := s.findComment(info, id, commit)
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, q.people(info).render(c, isPull))
}

// editComment replaces a body through Act so that the edit is announced,
// with the previous body in the event's Changes (issue_comment "edited"
// webhooks carry changes.body.from).
func (s *server) editComment(q *request, param string, commit bool) {
	info, ok := q.repo()
	if !ok {
		return
	}
	id, ok := q.pathInt(param)
	if !ok {
		return
	}
	resource := "IssueComment"
	if commit {
		resource = "CommitComment"
	}
	body, ok := q.commentBody(resource)
	if !ok {
		return
	}
	cur, isPull, err := s.findComment(info, id, commit)
	if err != nil {
		q.fail(err)
		return
	}
	if cur.Author != q.user.Login && !s.canWrite(info, q.user.Login) {
		q.fail(newAPIError(http.StatusForbidden, "Must have admin rights to Repository."))
		return
	}
	var out state.Comment
	_, err = s.f.Act(info.FullName, q.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		c, found := r.Comment(id)
		if !found {
			return nil, notFound()
		}
		prev := c.Body
		if prev == body {
			out = copyComment(c)
			return nil, nil
		}
		c.Body, c.UpdatedAt = body, s.f.Now()
		out = copyComment(c)
		ev := s.f.NewEvent(state.CommentEdited, r, u)
		snap := copyComment(c)
		ev.Comment = &snap
		ev.Changes = map[string]string{"body": prev}
		if i, found := r.Issue(c.Issue); found && c.CommitSHA == "" {
			ev.Issue = i.Snapshot()
		}
		return []state.Event{ev}, nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, q.people(info).render(out, isPull))
}

func (s *server) getCommitComment(q *request)  { s.getComment(q, "id", true) }
func (s *server) editCommitComment(q *request) { s.editComment(q, "id", true) }

func (s *server) listIssueCommentReactions(q *request)  { s.listReactions(q, false) }
func (s *server) listCommitCommentReactions(q *request) { s.listReactions(q, true) }
func (s *server) reactIssueComment(q *request)          { s.react(q, false) }
func (s *server) reactCommitComment(q *request)         { s.react(q, true) }

// reactionObject renders a stored "content:login" entry. The model keeps no
// id or time for reactions: the id is derived, the time is the comment's.
func reactionObject(u userJSON, commentID int64, content string, at time.Time) reactionJSON {
	id := stableID(strconv.FormatInt(commentID, 10), content, u.Login)
	return reactionJSON{ID: id, NodeID: nodeID("Reaction", id), User: u, Content: content, CreatedAt: ts(at)}
}

func (s *server) listReactions(q *request, commit bool) {
	info, ok := q.repo()
	if !ok {
		return
	}
	id, ok := q.pathInt("id")
	if !ok {
		return
	}
	c, _, err := s.findComment(info, id, commit)
	if err != nil {
		q.fail(err)
		return
	}
	filter := q.r.URL.Query().Get("content")
	p := q.people(info)
	out := []reactionJSON{}
	for _, e := range c.Reactions {
		content, login, _ := strings.Cut(e, ":")
		if filter != "" && content != filter {
			continue
		}
		out = append(out, reactionObject(p.user(login), c.ID, content, c.CreatedAt))
	}
	q.reply(http.StatusOK, paginate(q, out))
}

// react adds the caller's reaction: 201 when new, 200 when it was there.
func (s *server) react(q *request, commit bool) {
	info, ok := q.repo()
	if !ok {
		return
	}
	id, ok := q.pathInt("id")
	if !ok {
		return
	}
	var in struct {
		Content *string `json:"content"`
	}
	if err := q.decode(&in); err != nil {
		q.fail(err)
		return
	}
	if in.Content == nil || !slices.Contains(reactionContents, *in.Content) {
		q.fail(validationFailed("Reaction", "content", "invalid"))
		return
	}
	entry := *in.Content + ":" + q.user.Login
	var (
		existed bool
		at      time.Time
	)
	_, err := s.f.Act(info.FullName, q.user.Login, func(r *state.Repo, _ *state.User) ([]state.Event, error) {
		c, found := r.Comment(id)
		if !found || (c.CommitSHA != "") != commit {
			return nil, notFound()
		}
		at = c.CreatedAt
		if existed = slices.Contains(c.Reactions, entry); !existed {
			c.Reactions = append(c.Reactions, entry)
		}
		return nil, nil // GitHub has no webhook for reactions
	})
	if err != nil {
		q.fail(err)
		return
	}
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	q.reply(status, reactionObject(userObject(q.l, q.user), id, *in.Content, at))
}
