package ghsim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Git references, Git commits and blobs, and branches.

// refEntry is one ref with the commit it points at.
type refEntry struct{ ref, sha string }

func allRefs(r *state.Repo) []refEntry {
	var out []refEntry
	for _, b := range r.Branches() {
		sha, _ := r.Branch(b)
		out = append(out, refEntry{"refs/heads/" + b, sha})
	}
	for _, t := range r.Tags() {
		sha, _ := r.Tag(t)
		out = append(out, refEntry{"refs/tags/" + t, sha})
	}
	slices.SortFunc(out, func(a, b refEntry) int { return strings.Compare(a.ref, b.ref) })
	return out
}

// splitRef turns "refs/heads/x" (or "heads/x") into ("heads", "x").
func splitRef(ref string) (kind, name string, ok bool) {
	kind, name, ok = strings.Cut(strings.TrimPrefix(ref, "refs/"), "/")
	if !ok || name == "" || (kind != "heads" && kind != "tags") {
		return "", "", false
	}
	return kind, name, true
}

func lookupRef(r *state.Repo, kind, name string) (string, bool) {
	if kind == "heads" {
		return r.Branch(name)
	}
	return r.Tag(name)
}

// getRef is GET git/ref/{ref}: exactly one ref or 404.
func (s *server) getRef(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	kind, name, ok := splitRef(q.r.PathValue("ref"))
	if !ok {
		q.fail(notFound())
		return
	}
	var sha string
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		var found bool
		if sha, found = lookupRef(r, kind, name); !found {
			return notFound()
		}
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, refObject(q.l, info, "refs/"+kind+"/"+name, sha))
}

func (s *server) refsWithPrefix(q *request, info state.RepoInfo, prefix string) ([]refJSON, error) {
	out := []refJSON{}
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		for _, e := range allRefs(r) {
			if strings.HasPrefix(e.ref, prefix) {
				out = append(out, refObject(q.l, info, e.ref, e.sha))
			}
		}
		return nil
	})
	return out, err
}

// matchingRefs is GET git/matching-refs/{prefix}: always a list.
func (s *server) matchingRefs(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	out, err := s.refsWithPrefix(q, info, "refs/"+q.r.PathValue("ref"))
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, paginate(q, out))
}

// listRefs is the legacy GET git/refs[/{ref}]: the ref itself when the name
// is exact, else the refs below it, else 404.
func (s *server) listRefs(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	want := strings.TrimSuffix("refs/"+q.r.PathValue("ref"), "/")
	out, err := s.refsWithPrefix(q, info, want)
	if err != nil {
		q.fail(err)
		return
	}
	for _, o := range out {
		if o.Ref == want {
			q.reply(http.StatusOK, o)
			return
		}
	}
	var below []refJSON
	for _, o := range out {
		if want == "refs" || strings.HasPrefix(o.Ref, want+"/") {
			below = append(below, o)
		}
	}
	if len(below) == 0 {
		q.fail(notFound())
		return
	}
	q.reply(http.StatusOK, paginate(q, below))
}

type refRequest struct {
	Ref   *string `json:"ref"`
	SHA   *string `json:"sha"`
	Force bool    `json:"force"`
}

func (s *server) createRef(q *request) {
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	var in refRequest
	if err := q.decode(&in); err != nil {
		q.fail(err)
		return
	}
	switch {
	case in.Ref == nil:
		q.fail(invalidRequest(`"ref" wasn't supplied.`))
		return
	case in.SHA == nil:
		q.fail(invalidRequest(`"sha" wasn't supplied.`))
		return
	case !strings.HasPrefix(*in.Ref, "refs/") || strings.Count(*in.Ref, "/") < 2:
		q.fail(newAPIError(http.StatusUnprocessableEntity, "Reference name must start with 'refs/' and have at least two slashes."))
		return
	}
	kind, name, ok := splitRef(*in.Ref)
	if !ok {
		q.fail(newAPIError(http.StatusUnprocessableEntity, "Reference update failed"))
		return
	}
	sha := *in.SHA
	_, err := s.f.Act(info.FullName, q.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		if _, exists := lookupRef(r, kind, name); exists {
			return nil, newAPIError(http.StatusUnprocessableEntity, "Reference already exists")
		}
		if _, found := r.Commit(sha); !found {
			return nil, newAPIError(http.StatusUnprocessableEntity, "Object does not exist")
		}
		evKind := state.BranchPushed
		var err error
		if kind == "heads" {
			err = r.CreateBranch(name, sha)
		} else {
			evKind = state.TagPushed
			err = r.SetTag(name, sha)
		}
		if err != nil {
			return nil, refUpdateFailed(err)
		}
		ev := s.f.NewEvent(evKind, r, u)
		ev.Ref, ev.Before, ev.After = *in.Ref, state.ZeroSHA, sha
		return []state.Event{ev}, nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	o := refObject(q.l, info, *in.Ref, sha)
	q.w.Header().Set("Location", o.URL)
	q.reply(http.StatusCreated, o)
}

// refUpdateFailed maps model refusals (bad names) to GitHub's wording.
func refUpdateFailed(err error) error {
	if errors.Is(err, state.ErrInvalid) {
		return newAPIError(http.StatusUnprocessableEntity, "Reference update failed")
	}
	return err
}

// updateRef is PATCH git/refs/{ref}: moves a branch or tag, refusing a
// non-fast-forward unless force is set.
func (s *server) updateRef(q *request) {
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	kind, name, ok := splitRef(q.r.PathValue("ref"))
	if !ok {
		q.fail(newAPIError(http.StatusUnprocessableEntity, "Reference does not exist"))
		return
	}
	var in refRequest
	if err := q.decode(&in); err != nil {
		q.fail(err)
		return
	}
	if in.SHA == nil {
		q.fail(invalidRequest(`"sha" wasn't supplied.`))
		return
	}
	sha, ref := *in.SHA, "refs/"+kind+"/"+name
	_, err := s.f.Act(info.FullName, q.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		before, exists := lookupRef(r, kind, name)
		if !exists {
			return nil, newAPIError(http.StatusUnprocessableEntity, "Reference does not exist")
		}
		if _, found := r.Commit(sha); !found {
			return nil, newAPIError(http.StatusUnprocessableEntity, "Object does not exist")
		}
		if before == sha {
			return nil, nil
		}
		if kind == "heads" && !in.Force && !isAncestorOf(r, before, sha) {
			return nil, newAPIError(http.StatusUnprocessableEntity, "Update is not a fast forward")
		}
		ev := s.f.NewEvent(state.BranchPushed, r, u)
		var err error
		if kind == "heads" {
			ev.Commits = newCommits(r, before, sha)
			err = r.SetBranch(name, sha)
		} else {
			ev.Kind = state.TagPushed
			err = r.SetTag(name, sha)
		}
		if err != nil {
			return nil, refUpdateFailed(err)
		}
		ev.Ref, ev.Before, ev.After = ref, before, sha
		return []state.Event{ev}, nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, refObject(q.l, info, ref, sha))
}

// deleteRef is DELETE git/refs/{ref}. A branch deletion is reported as a
// BranchPushed event whose After is ZeroSHA, the way the push webhook
// describes it.
func (s *server) deleteRef(q *request) {
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	kind, name, ok := splitRef(q.r.PathValue("ref"))
	if !ok {
		q.fail(newAPIError(http.StatusUnprocessableEntity, "Reference does not exist"))
		return
	}
	_, err := s.f.Act(info.FullName, q.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		before, exists := lookupRef(r, kind, name)
		if !exists {
			return nil, newAPIError(http.StatusUnprocessableEntity, "Reference does not exist")
		}
		ev := s.f.NewEvent(state.BranchPushed, r, u)
		if kind == "heads" {
			if err := r.DeleteBranch(name); errors.Is(err, state.ErrInvalid) {
				return nil, newAPIError(http.StatusUnprocessableEntity, "Cannot delete the default branch")
			} else if err != nil {
				return nil, err
			}
		} else {
			ev.Kind = state.TagDeleted
			if err := r.DeleteTag(name); err != nil {
				return nil, err
			}
		}
		ev.Ref, ev.Before, ev.After = "refs/"+kind+"/"+name, before, state.ZeroSHA
		return []state.Event{ev}, nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (s *server) getGitCommit(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	var out gitCommitJSON
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		c, found := r.Commit(q.r.PathValue("sha"))
		if !found {
			return notFound()
		}
		out = gitCommitObject(q.l, info, c)
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, out)
}

type blobJSON struct {
	SHA      string `json:"sha"`
	NodeID   string `json:"node_id"`
	Size     int    `json:"size"`
	URL      string `json:"url"`
	Content  string `json:"content"`
	Encoding string `json:"encoding"`
}

func (s *server) getBlob(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	sha := q.r.PathValue("sha")
	var b []byte
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		var found bool
		if b, found = r.Blob(sha); !found {
			return notFound()
		}
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	if wantsRaw(q.r) {
		q.w.Header().Set("Content-Type", "application/octet-stream")
		q.w.WriteHeader(http.StatusOK)
		_, _ = q.w.Write(b)
		return
	}
	q.reply(http.StatusOK, blobJSON{
		SHA: sha, NodeID: nodeID("Blob", fmt.Sprintf("%d:%s", info.ID, sha)), Size: len(b),
		URL: q.l.repoAPI(info.FullName, "/git/blobs/"+sha), Content: wrap64(b), Encoding: "base64",
	})
}

// branchNotFound is GitHub's body for a missing branch.
func branchNotFound() *apiError {
	e := newAPIError(http.StatusNotFound, "Branch not found")
	e.body.DocumentationURL = "https://docs.github.com/rest/branches/branches#get-a-branch"
	return e
}

func (s *server) branch(q *request, info state.RepoInfo, name string) (branchJSON, error) {
	var out branchJSON
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		sha, found := r.Branch(name)
		if !found {
			return branchNotFound()
		}
		c, _ := r.Commit(sha)
		out = branchObject(q.l, info, name, c)
		return nil
	})
	return out, err
}

func (s *server) getBranch(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	b, err := s.branch(q, info, q.r.PathValue("branch"))
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, b)
}

func (s *server) listBranches(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	out := []shortBranchJSON{}
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		for _, b := range r.Branches() {
			sha, _ := r.Branch(b)
			protected := false
			out = append(out, shortBranchJSON{
				Name: b, Commit: shaURL{SHA: sha, URL: q.l.repoAPI(info.FullName, "/commits/"+sha)}, Protected: &protected,
			})
		}
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, paginate(q, out))
}

// renameBranch is POST branches/{branch}/rename; the route takes the whole
// rest so that branch names with a raw "/" work too.
func (s *server) renameBranch(q *request) {
	old, ok := strings.CutSuffix(q.r.PathValue("rest"), "/rename")
	if !ok || old == "" {
		q.fail(notFound())
		return
	}
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	var in struct {
		NewName *string `json:"new_name"`
	}
	if err := q.decode(&in); err != nil {
		q.fail(err)
		return
	}
	if in.NewName == nil || *in.NewName == "" {
		q.fail(invalidRequest(`"new_name" wasn't supplied.`))
		return
	}
	_, err := s.f.Act(info.FullName, q.user.Login, func(r *state.Repo, _ *state.User) ([]state.Event, error) {
		err := r.RenameBranch(old, *in.NewName)
		switch {
		case errors.Is(err, state.ErrNotFound):
			return nil, branchNotFound()
		case errors.Is(err, state.ErrExists):
			return nil, validationFailed("Branch", "new_name", "already_exists")
		case errors.Is(err, state.ErrInvalid):
			return nil, validationFailed("Branch", "new_name", "invalid")
		}
		return nil, err
	})
	if err != nil {
		q.fail(err)
		return
	}
	b, err := s.branch(q, info, *in.NewName)
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusCreated, b)
}

// decodeBase64 accepts GitHub's inputs: standard base64, possibly wrapped.
func decodeBase64(s string) ([]byte, error) {
	s = strings.NewReplacer("\n", "", "\r", "").Replace(s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decode base64 content: %w", err)
	}
	return b, nil
}
