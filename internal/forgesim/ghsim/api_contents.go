package ghsim

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// The contents API: read a file or directory at a ref, and create, update
// or delete a file with one commit on a branch.

func noCommitForRef(ref string) *apiError {
	e := newAPIError(http.StatusNotFound, "No commit found for the ref "+ref)
	e.body.DocumentationURL = "https://docs.github.com/rest/repos/contents#get-repository-content"
	return e
}

// wantsRaw reports whether the caller asked for the raw media type.
func wantsRaw(r *http.Request) bool {
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(a))
		if err == nil && (mt == "application/vnd.github.raw" || mt == "application/vnd.github.v3.raw" ||
			mt == "application/vnd.github.raw+json") {
			return true
		}
	}
	return false
}

func (s *server) getContents(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	ref := q.r.URL.Query().Get("ref")
	if ref == "" {
		ref = info.DefaultBranch
	}
	path := strings.Trim(q.r.PathValue("path"), "/")
	var (
		file    *contentJSON
		raw     []byte
		entries []contentJSON
	)
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		c, found := r.Resolve(ref)
		if !found {
			return noCommitForRef(ref)
		}
		if path != "" {
			if b, sha, isFile := r.File(c, path); isFile {
				o := contentObject(q.l, info.FullName, ref, path, "file", sha, len(b))
				o.Encoding = "base64"
				content := wrap64(b)
				o.Content = &content
				file, raw = &o, b
				return nil
			}
		}
		list, isDir := listDir(r, c.Tree, path)
		if !isDir {
			return notFound()
		}
		entries = []contentJSON{}
		for _, e := range list {
			p := e.name
			if path != "" {
				p = path + "/" + e.name
			}
			entries = append(entries, contentObject(q.l, info.FullName, ref, p, e.typ, e.sha, e.size))
		}
		return nil
	})
	switch {
	case err != nil:
		q.fail(err)
	case file != nil && wantsRaw(q.r):
		q.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		q.w.WriteHeader(http.StatusOK)
		_, _ = q.w.Write(raw)
	case file != nil:
		q.reply(http.StatusOK, file)
	default:
		q.reply(http.StatusOK, entries)
	}
}

type sigRequest struct {
	Name  *string `json:"name"`
	Email *string `json:"email"`
	Date  *string `json:"date"`
}

type contentRequest struct {
	Message   *string     `json:"message"`
	Content   *string     `json:"content"`
	SHA       *string     `json:"sha"`
	Branch    *string     `json:"branch"`
	Committer *sigRequest `json:"committer"`
	Author    *sigRequest `json:"author"`
}

// contentResponse is the answer to PUT and DELETE; content is null after a delete.
type contentResponse struct {
	Content *contentJSON  `json:"content"`
	Commit  gitCommitJSON `json:"commit"`
}

// signature resolves a committer/author parameter: GitHub requires name and
// email together and defaults the date to now.
func signature(in *sigRequest, fallback state.Signature) (state.Signature, error) {
	if in == nil {
		return fallback, nil
	}
	if in.Name == nil || *in.Name == "" {
		return state.Signature{}, invalidRequest(`"name" wasn't supplied.`)
	}
	if in.Email == nil || *in.Email == "" {
		return state.Signature{}, invalidRequest(`"email" wasn't supplied.`)
	}
	sig := state.Signature{Name: *in.Name, Email: *in.Email, When: fallback.When}
	if in.Date != nil && *in.Date != "" {
		t, err := time.Parse(time.RFC3339, *in.Date)
		if err != nil {
			return state.Signature{}, invalidRequest(fmt.Sprintf("%q is not a valid date-time.", *in.Date))
		}
		sig.When = t
	}
	return sig, nil
}

// commitSignatures applies GitHub's defaults: the committer is the
// authenticated user, the author is the committer.
func (s *server) commitSignatures(in contentRequest, u *state.User) (author, committer state.Signature, err error) {
	name, email := u.Name, u.Email
	if name == "" {
		name = u.Login
	}
	if email == "" {
		email = fmt.Sprintf("%d+%s@users.noreply.github.com", u.ID, u.Login)
	}
	if committer, err = signature(in.Committer, state.Signature{Name: name, Email: email, When: s.f.Now()}); err != nil {
		return
	}
	author, err = signature(in.Author, committer)
	return
}

// writeFile runs one contents write (del false: create or update) as a
// commit on the branch, with GitHub's blob-sha checks, and reports the push.
func (s *server) writeFile(q *request, info state.RepoInfo, path string, in contentRequest, del bool) (contentResponse, bool, error) {
	var (
		out     contentResponse
		created bool
	)
	var content []byte
	if !del {
		var err error
		if content, err = decodeBase64(*in.Content); err != nil {
			return out, false, invalidRequest("content is not valid Base64")
		}
	}
	_, err := s.f.Act(info.FullName, q.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		branch := info.DefaultBranch
		if in.Branch != nil && *in.Branch != "" {
			branch = *in.Branch
		}
		head, found := r.Branch(branch)
		if !found {
			return nil, newAPIError(http.StatusNotFound, "Branch "+branch+" not found")
		}
		hc, _ := r.Commit(head)
		_, cur, exists := r.File(hc, path)
		switch {
		case del && !exists:
			return nil, notFound()
		case exists && (in.SHA == nil || *in.SHA == ""):
			return nil, invalidRequest(`"sha" wasn't supplied.`)
		case exists && *in.SHA != cur:
			return nil, newAPIError(http.StatusConflict, path+" does not match "+*in.SHA)
		case !exists && pathConflict(hc.Tree, path):
			return nil, invalidRequest(`"path" conflicts with an existing file or directory.`)
		}
		author, committer, err := s.commitSignatures(in, u)
		if err != nil {
			return nil, err
		}
		change := state.FileChange{Path: path, Content: content, Delete: del}
		c, err := r.CommitFiles(branch, head, *in.Message, author, committer, []state.FileChange{change})
		if errors.Is(err, state.ErrInvalid) {
			return nil, invalidRequest(`"path" is invalid.`)
		} else if err != nil {
			return nil, fmt.Errorf("commit %s on %s: %w", path, branch, err)
		}
		created = !exists
		out.Commit = gitCommitObject(q.l, info, c)
		if !del {
			o := contentObject(q.l, info.FullName, branch, path, "file", c.Tree[path], len(content))
			out.Content = &o
		}
		ev := s.f.NewEvent(state.BranchPushed, r, u)
		ev.Ref, ev.Before, ev.After, ev.Commits = "refs/heads/"+branch, head, c.SHA, []state.Commit{*c}
		return []state.Event{ev}, nil
	})
	return out, created, err
}

func (s *server) contentPath(q *request) (string, bool) {
	path := strings.Trim(q.r.PathValue("path"), "/")
	if path == "" {
		q.fail(notFound())
		return "", false
	}
	return path, true
}

func (s *server) putContents(q *request) {
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	path, ok := s.contentPath(q)
	if !ok {
		return
	}
	var in contentRequest
	if err := q.decode(&in); err != nil {
		q.fail(err)
		return
	}
	switch {
	case in.Message == nil:
		q.fail(invalidRequest(`"message" wasn't supplied.`))
		return
	case in.Content == nil:
		q.fail(invalidRequest(`"content" wasn't supplied.`))
		return
	}
	out, created, err := s.writeFile(q, info, path, in, false)
	if err != nil {
		q.fail(err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	q.reply(status, out)
}

func (s *server) deleteContents(q *request) {
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	path, ok := s.contentPath(q)
	if !ok {
		return
	}
	var in contentRequest
	if err := q.decode(&in); err != nil {
		q.fail(err)
		return
	}
	switch {
	case in.Message == nil:
		q.fail(invalidRequest(`"message" wasn't supplied.`))
		return
	case in.SHA == nil || *in.SHA == "":
		q.fail(invalidRequest(`"sha" wasn't supplied.`))
		return
	}
	out, _, err := s.writeFile(q, info, path, in, true)
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, out)
}
