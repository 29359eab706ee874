package glsim

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// gitlabVersion is the GitLab release the simulator imitates.
const gitlabVersion = "17.11.0"

// getVersion serves GET /version and GET /metadata (a superset); the
// provider gates some features on the version.
func (s *server) getVersion(c *call) {
	c.json(http.StatusOK, obj{"version": gitlabVersion + "-ee", "revision": "glsim", "kas": obj{"enabled": false, "externalUrl": nil, "version": nil}, "enterprise": true})
}

// getCurrentUser is GET /user: the token's user with its private fields,
// which the terraform provider calls to check its credentials.
func (s *server) getCurrentUser(c *call) {
	o := userPublic(c.user, c.base(), nil)
	maps.Copy(o, obj{
		"email": c.user.Email, "commit_email": c.user.Email, "last_sign_in_at": nil,
		"confirmed_at": nil, "last_activity_on": nil, "theme_id": 1, "color_scheme_id": 1,
		"projects_limit": 100000, "current_sign_in_at": nil, "identities": []any{},
		"can_create_group": !c.user.Bot, "can_create_project": !c.user.Bot,
		"two_factor_enabled": false, "external": false, "private_profile": false,
		"is_admin": false, "namespace_id": c.user.ID, "created_by": nil,
	})
	c.json(http.StatusOK, o)
}

func (s *server) getUser(c *call) {
	id, ok := c.intVar("user_id")
	if !ok {
		return
	}
	u, err := s.f.UserByID(id)
	if err != nil {
		c.fail(http.StatusNotFound, "404 User Not Found")
		return
	}
	c.json(http.StatusOK, userPublic(u, c.base(), nil))
}

// listUsers serves GET /users?username= (how a bot turns a webhook's
// username into an id). The model looks users up by login only, so username
// and search match whole logins, case-insensitively as GitLab's username
// filter does; without either the list is empty rather than every user.
func (s *server) listUsers(c *call) {
	q := c.params.get("username")
	if q == "" {
		q = c.params.get("search")
	}
	out := []obj{}
	if q != "" {
		for _, login := range []string{q, strings.ToLower(q)} {
			if u, err := s.f.UserByLogin(login); err == nil {
				out = append(out, userPublic(u, c.base(), nil))
				break
			}
		}
	}
	c.json(http.StatusOK, paginate(c, out))
}

func (s *server) getProject(c *call) {
	info, ok := c.project()
	if !ok {
		return
	}
	c.json(http.StatusOK, c.projectEntity(info))
}

// projectEntity is GitLab's ProjectWithAccess entity, trimmed to the fields
// clients read. Every project is "internal": any signed-in user may read it,
// which is what the simulator enforces.
func (c *call) projectEntity(info *state.RepoInfo) obj {
	web := projectURL(c.base(), info.FullName)
	ns := c.namespace(info)
	lvl := c.accessLevel(info)
	var projectAccess any
	if lvl > state.NoAccess {
		projectAccess = obj{"access_level": int(lvl), "notification_level": 3}
	}
	o := obj{
		"id":                     info.ID,
		"description":            "",
		"name":                   info.Name,
		"name_with_namespace":    fmt.Sprintf("%s / %s", ns["name"], info.Name),
		"path":                   info.Name,
		"path_with_namespace":    info.FullName,
		"created_at":             apiTime(info.CreatedAt),
		"updated_at":             apiTime(info.CreatedAt),
		"last_activity_at":       apiTime(info.CreatedAt),
		"default_branch":         info.DefaultBranch,
		"tag_list":               []string{},
		"topics":                 []string{},
		"ssh_url_to_repo":        "git@" + sshHost(c.base()) + ":" + info.FullName + ".git",
		"http_url_to_repo":       web + ".git",
		"web_url":                web,
		"readme_url":             nil,
		"forks_count":            0,
		"avatar_url":             nil,
		"star_count":             0,
		"namespace":              ns,
		"visibility":             "internal",
		"empty_repo":             false,
		"archived":               false,
		"issues_enabled":         true,
		"merge_requests_enabled": true,
		"wiki_enabled":           false,
		"jobs_enabled":           false,
		"snippets_enabled":       false,
		"creator_id":             ns["id"],
		"open_issues_count":      0,
		"merge_method":           "merge",
		"squash_option":          "default_off",
		"permissions":            obj{"project_access": projectAccess, "group_access": nil},
		"_links": obj{
			"self":           c.base() + apiPrefix + "/projects/" + strconv.FormatInt(info.ID, 10),
			"issues":         c.base() + apiPrefix + "/projects/" + strconv.FormatInt(info.ID, 10) + "/issues",
			"merge_requests": c.base() + apiPrefix + "/projects/" + strconv.FormatInt(info.ID, 10) + "/merge_requests",
			"repo_branches":  c.base() + apiPrefix + "/projects/" + strconv.FormatInt(info.ID, 10) + "/repository/branches",
			"members":        c.base() + apiPrefix + "/projects/" + strconv.FormatInt(info.ID, 10) + "/members",
		},
	}
	if ns["kind"] == "user" {
		if u, err := c.s.f.UserByLogin(ns["path"].(string)); err == nil {
			o["owner"] = userBasic(u, c.base())
		}
	}
	return o
}

// branchEntity is GitLab's Branch entity; it runs inside a repo callback.
func branchEntity(r *state.Repo, name string, lvl state.AccessLevel, base string) (obj, bool) {
	sha, ok := r.Branch(name)
	if !ok {
		return nil, false
	}
	cm, _ := r.Commit(sha)
	web := projectURL(base, r.FullName)
	return obj{
		"name":                 name,
		"commit":               commitEntity(cm, web),
		"merged":               mergedToDefault(r, sha),
		"protected":            name == r.DefaultBranch,
		"default":              name == r.DefaultBranch,
		"developers_can_push":  false,
		"developers_can_merge": false,
		"can_push":             canPush(lvl, name, r.DefaultBranch),
		"web_url":              web + "/-/tree/" + name,
	}, true
}

func (s *server) getBranch(c *call) {
	info, ok := c.project()
	if !ok {
		return
	}
	lvl := c.accessLevel(info)
	var out obj
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		b, ok := branchEntity(r, c.vars["branch"], lvl, c.base())
		if !ok {
			return errStatus(http.StatusNotFound, "404 Branch Not Found")
		}
		out = b
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusOK, out)
}

// listBranches supports GitLab's search (substring, "^prefix", "suffix$")
// and regex (RE2 here, re2 in GitLab too) filters; branches sort by name.
func (s *server) listBranches(c *call) {
	info, ok := c.project()
	if !ok {
		return
	}
	var re *regexp.Regexp
	if expr, ok := c.params.str("regex"); ok && expr != "" {
		var err error
		if re, err = regexp.Compile(expr); err != nil {
			c.badParam("regex is invalid")
			return
		}
	}
	search := c.params.get("search")
	lvl := c.accessLevel(info)
	var out []obj
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		for _, name := range r.Branches() {
			if !matchSearch(name, search) || (re != nil && !re.MatchString(name)) {
				continue
			}
			b, _ := branchEntity(r, name, lvl, c.base())
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusOK, paginate(c, out))
}

// matchSearch applies GitLab's ref search syntax, case-insensitively.
func matchSearch(name, search string) bool {
	if search == "" {
		return true
	}
	n, q := strings.ToLower(name), strings.ToLower(search)
	switch {
	case strings.HasPrefix(q, "^") && strings.HasSuffix(q, "$"):
		return n == q[1:len(q)-1]
	case strings.HasPrefix(q, "^"):
		return strings.HasPrefix(n, q[1:])
	case strings.HasSuffix(q, "$"):
		return strings.HasSuffix(n, q[:len(q)-1])
	}
	return strings.Contains(n, q)
}

// createBranch is POST /projects/:id/repository/branches. Creating a branch
// runs the repository's hooks in GitLab, so it is announced as a push.
func (s *server) createBranch(c *call) {
	if !c.require(spec{"branch", true}, spec{"ref", true}) {
		return
	}
	info, ok := c.project()
	if !ok || !c.requireAccess(info, state.Developer) {
		return
	}
	name, ref := c.params.get("branch"), c.params.get("ref")
	lvl := c.accessLevel(info)
	var out obj
	_, err := s.f.Act(info.FullName, c.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		if !validRefName(name) {
			return nil, errStatus(http.StatusBadRequest, "Branch name is invalid")
		}
		if _, exists := r.Branch(name); exists {
			return nil, errStatus(http.StatusBadRequest, "Branch already exists")
		}
		cm, ok := resolveRef(r, ref)
		if !ok {
			return nil, errStatus(http.StatusBadRequest, fmt.Sprintf("Failed to create branch '%s': invalid reference name '%s'", name, ref))
		}
		if branchConflict(r, name) {
			return nil, errStatus(http.StatusBadRequest, fmt.Sprintf("Failed to create branch '%s': Branch name conflicts with existing branch hierarchy.", name))
		}
		if err := r.CreateBranch(name, cm.SHA); err != nil {
			return nil, fmt.Errorf("creating branch %s: %w", name, err)
		}
		out, _ = branchEntity(r, name, lvl, c.base())
		ev := s.f.NewEvent(state.BranchPushed, r, u)
		ev.Ref, ev.Before, ev.After = "refs/heads/"+name, state.ZeroSHA, cm.SHA
		return []state.Event{ev}, nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.json(http.StatusCreated, out)
}

// deleteBranch is DELETE /projects/:id/repository/branches/:branch; like
// creation, GitLab announces it as a push (after = zeros).
func (s *server) deleteBranch(c *call) {
	info, ok := c.project()
	if !ok || !c.requireAccess(info, state.Developer) {
		return
	}
	name := c.vars["branch"]
	_, err := s.f.Act(info.FullName, c.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		before, ok := r.Branch(name)
		if !ok {
			return nil, errStatus(http.StatusNotFound, "404 Branch Not Found")
		}
		if name == r.DefaultBranch {
			return nil, errStatus(http.StatusMethodNotAllowed, "Cannot remove HEAD branch")
		}
		if err := r.DeleteBranch(name); err != nil {
			return nil, fmt.Errorf("deleting branch %s: %w", name, err)
		}
		ev := s.f.NewEvent(state.BranchPushed, r, u)
		ev.Ref, ev.Before, ev.After = "refs/heads/"+name, before, state.ZeroSHA
		return []state.Event{ev}, nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return
	}
	c.noContent()
}

// resolveRef resolves what GitLab accepts as a ref: "HEAD" (the default
// branch), branch and tag names, full refs and (abbreviated) SHAs.
func resolveRef(r *state.Repo, ref string) (*state.Commit, bool) {
	if ref == "HEAD" {
		ref = r.DefaultBranch
	}
	return r.Resolve(ref)
}

// validRefName applies git check-ref-format and GitLab's GitRefValidator
// (no "HEAD", no "refs/" prefixes, no leading "-").
func validRefName(name string) bool {
	if name == "" || name == "HEAD" || name == "@" || strings.HasPrefix(name, "refs/heads/") ||
		strings.HasPrefix(name, "refs/remotes/") || strings.HasPrefix(name, "refs/tags/") ||
		strings.HasPrefix(name, "-") || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") ||
		strings.HasSuffix(name, ".") || strings.HasSuffix(name, ".lock") ||
		strings.Contains(name, "..") || strings.Contains(name, "//") || strings.Contains(name, "@{") ||
		strings.ContainsAny(name, " ~^:?*[\\\x7f") {
		return false
	}
	for _, ch := range name {
		if ch < 0x20 {
			return false
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".lock") {
			return false
		}
	}
	return true
}
