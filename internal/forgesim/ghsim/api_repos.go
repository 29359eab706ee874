package ghsim

import (
	"errors"
	"net/http"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Accounts, the repository object, collaborators and tags.

// account returns the JSON of a login, or a bare stand-in when the forge
// has no such user (a comment author removed later, say).
func (s *server) account(l links, login string) userJSON {
	if u, err := s.f.UserByLogin(login); err == nil {
		return userObject(l, u)
	}
	return unknownUser(l, login)
}

// owner is the repository owner: an organisation when the forge knows one.
func (s *server) owner(l links, login string) userJSON {
	if id, ok := s.f.OrgID(login); ok {
		return accountObject(l, login, id, "Organization")
	}
	return s.account(l, login)
}

// association is GitHub's author_association of login on a repository.
func (s *server) association(info state.RepoInfo, login string) string {
	lvl, err := s.f.Access(info.FullName, login)
	switch {
	case err != nil:
		return "NONE"
	case login == info.Owner:
		return "OWNER"
	case lvl > state.NoAccess:
		return "COLLABORATOR"
	}
	return "NONE"
}

// canWrite reports push access: Developer or more.
func (s *server) canWrite(info state.RepoInfo, login string) bool {
	lvl, err := s.f.Access(info.FullName, login)
	return err == nil && lvl >= state.Developer
}

// repo resolves {owner}/{repo}; a missing repository is GitHub's plain 404.
func (q *request) repo() (state.RepoInfo, bool) {
	info, err := q.s.f.Repo(q.r.PathValue("owner") + "/" + q.r.PathValue("repo"))
	if err != nil {
		q.fail(notFound())
		return state.RepoInfo{}, false
	}
	return *info, true
}

// writableRepo is repo plus the push-access check. GitHub hides what a
// caller may not change behind 404, not 403.
func (q *request) writableRepo() (state.RepoInfo, bool) {
	info, ok := q.repo()
	if !ok {
		return info, false
	}
	if !q.s.canWrite(info, q.user.Login) {
		q.fail(notFound())
		return info, false
	}
	return info, true
}

func (s *server) profile(l links, u state.User) profileJSON {
	name := u.Name
	if name == "" {
		name = u.Login
	}
	return profileJSON{
		userJSON: userObject(l, u), Name: &name, Email: strPtr(u.Email),
		CreatedAt: ts(s.f.Now()), UpdatedAt: ts(s.f.Now()),
	}
}

func (s *server) getAuthenticatedUser(q *request) {
	q.reply(http.StatusOK, s.profile(q.l, q.user))
}

func (s *server) getUser(q *request) {
	u, err := s.f.UserByLogin(q.r.PathValue("user"))
	if err != nil {
		q.fail(notFound())
		return
	}
	q.reply(http.StatusOK, s.profile(q.l, u))
}

// getOrg answers 404 for user accounts: the provider relies on that to tell
// an organisation owner from a personal one.
func (s *server) getOrg(q *request) {
	login := q.r.PathValue("org")
	id, ok := s.f.OrgID(login)
	if !ok {
		q.fail(notFound())
		return
	}
	now := ts(s.f.Now())
	q.reply(http.StatusOK, orgJSON{
		orgSimpleJSON: orgSimpleObject(q.l, login, id),
		Name:          login, HTMLURL: q.l.html("/" + login), CreatedAt: now, UpdatedAt: now, Type: "Organization",
	})
}

func (s *server) getRepo(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	facts := repoFacts{owner: s.owner(q.l, info.Owner)}
	if lvl, err := s.f.Access(info.FullName, q.user.Login); err == nil {
		facts.perms = permissionsFor(lvl)
	}
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		for _, b := range r.Branches() {
			sha, _ := r.Branch(b)
			if c, ok := r.Commit(sha); ok && c.Committer.When.After(facts.pushedAt) {
				facts.pushedAt = c.Committer.When
			}
		}
		for _, i := range r.Issues() {
			if i.State == "open" {
				facts.openIssues++
			}
		}
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, repoObject(q.l, info, facts))
}

// getPermission needs push access from the caller, as on GitHub.
func (s *server) getPermission(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	if !s.canWrite(info, q.user.Login) {
		q.fail(newAPIError(http.StatusForbidden, "Must have push access to view repository collaborators."))
		return
	}
	login := q.r.PathValue("user")
	lvl, err := s.f.Access(info.FullName, login)
	if errors.Is(err, state.ErrNotFound) {
		q.fail(notFound())
		return
	} else if err != nil {
		q.fail(err)
		return
	}
	u, err := s.f.UserByLogin(login)
	if err != nil {
		q.fail(notFound())
		return
	}
	perm, role := permissionNames(lvl)
	q.reply(http.StatusOK, permissionJSON{Permission: perm, RoleName: role, User: userObject(q.l, u)})
}

// checkCollaborator is 204 for collaborators and 404 otherwise.
func (s *server) checkCollaborator(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	if !s.canWrite(info, q.user.Login) {
		q.fail(newAPIError(http.StatusForbidden, "Must have push access to view repository collaborators."))
		return
	}
	lvl, err := s.f.Access(info.FullName, q.r.PathValue("user"))
	if err != nil || lvl == state.NoAccess {
		q.fail(notFound())
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

func (s *server) listTags(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	var out []shortBranchJSON
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		for _, t := range r.Tags() {
			sha, _ := r.Tag(t)
			out = append(out, shortBranchJSON{
				Name: t, Commit: shaURL{SHA: sha, URL: q.l.repoAPI(info.FullName, "/commits/"+sha)},
				ZipballURL: q.l.repoAPI(info.FullName, "/zipball/refs/tags/"+escapeSegments(t)),
				TarballURL: q.l.repoAPI(info.FullName, "/tarball/refs/tags/"+escapeSegments(t)),
				NodeID:     nodeID("Ref", info.FullName+":refs/tags/"+t),
			})
		}
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, paginate(q, nonNil(out)))
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
