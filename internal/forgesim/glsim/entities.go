package glsim

import (
	"crypto/sha256"
	"encoding/hex"
	"hash/fnv"
	"maps"
	"net"
	"net/http"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// project resolves the :id path parameter (numeric id or full path),
// answering 404 as GitLab does when it cannot.
func (c *call) project() (*state.RepoInfo, bool) {
	info, err := c.s.f.Repo(c.vars["id"])
	if err != nil {
		c.fail(http.StatusNotFound, "404 Project Not Found")
		return nil, false
	}
	return info, true
}

// accessLevel is the caller's access to a project (the namespace owner is
// an Owner, as in a personal namespace).
func (c *call) accessLevel(info *state.RepoInfo) state.AccessLevel {
	lvl, err := c.s.f.Access(info.FullName, c.user.Login)
	if err != nil {
		return state.NoAccess
	}
	return lvl
}

// requireAccess answers 403 unless the caller has at least min on the
// project; GitLab's authorize! gives that bare 403.
func (c *call) requireAccess(info *state.RepoInfo, min state.AccessLevel) bool {
	if c.accessLevel(info) < min {
		c.fail(http.StatusForbidden, "403 Forbidden")
		return false
	}
	return true
}

// canPush mirrors GitLab's default branch protection: the default branch
// is protected (Maintainers push), other branches take Developers.
func canPush(lvl state.AccessLevel, branch, defaultBranch string) bool {
	if branch == defaultBranch {
		return lvl >= state.Maintainer
	}
	return lvl >= state.Developer
}

// projectURL is the project's web address.
func projectURL(base, fullName string) string { return base + "/" + fullName }

// sshHost is the host part of a base URL, for git@host:path.git addresses.
func sshHost(base string) string {
	h := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
	h, _, _ = strings.Cut(h, "/")
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return h
}

// avatarURL is a Gravatar address, as GitLab shows for users without an
// uploaded avatar.
func avatarURL(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "https://www.gravatar.com/avatar/" + hex.EncodeToString(sum[:]) + "?s=80&d=identicon"
}

// lookupUser resolves a login to a user; unknown logins (a user removed
// from the forge) still render, with what is known.
func (c *call) lookupUser(login string) state.User {
	if u, err := c.s.f.UserByLogin(login); err == nil {
		return u
	}
	return state.User{Login: login, Name: login}
}

// userBasic is GitLab's UserBasic entity (authors, members, award users).
func userBasic(u state.User, base string) obj {
	return obj{
		"id":         u.ID,
		"username":   u.Login,
		"name":       u.Name,
		"state":      "active",
		"locked":     false,
		"avatar_url": avatarURL(u.Email),
		"web_url":    base + "/" + u.Login,
	}
}

// userPublic is GitLab's User entity as other users see it (no email).
func userPublic(u state.User, base string, createdAt any) obj {
	o := userBasic(u, base)
	maps.Copy(o, obj{
		"created_at": createdAt, "bio": "", "location": "", "public_email": "",
		"skype": "", "linkedin": "", "twitter": "", "discord": "", "website_url": "",
		"organization": "", "job_title": "", "pronouns": nil, "bot": u.Bot,
		"work_information": nil, "followers": 0, "following": 0, "is_followed": false,
		"local_time": nil,
	})
	return o
}

// namespace describes a project's namespace: a group when the owner is an
// organisation (or unknown), else the owning user's personal namespace.
func (c *call) namespace(info *state.RepoInfo) obj {
	full := info.FullName[:strings.LastIndex(info.FullName, "/")]
	path := full[strings.LastIndex(full, "/")+1:]
	kind, id, name := "group", int64(0), path
	if oid, ok := c.s.f.OrgID(info.Owner); ok {
		id = oid
	} else if u, err := c.s.f.UserByLogin(full); err == nil {
		kind, id, name = "user", u.ID, u.Name
	} else {
		id = stableID(full)
	}
	return obj{
		"id": id, "name": name, "path": path, "kind": kind, "full_path": full,
		"parent_id": nil, "avatar_url": nil, "web_url": c.base() + "/" + full,
	}
}

// stableID derives a positive id from a name, for objects the model does not
// number (groups it does not know, labels).
func stableID(name string) int64 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return int64(h.Sum32()&0x7fffffff) + 1
}

// issueID is the instance-wide id of an issue or merge request; the model
// numbers them only per repository, so the id is derived from both.
func issueID(repoID int64, number int) int64 { return repoID*1_000_000 + int64(number) }

// commitEntity is GitLab's Commit entity (as nested in branches and tags).
func commitEntity(cm *state.Commit, web string) obj {
	parents := append([]string{}, cm.Parents...)
	return obj{
		"id":                cm.SHA,
		"short_id":          cm.SHA[:8],
		"created_at":        apiTime(cm.Committer.When),
		"parent_ids":        parents,
		"title":             commitTitle(cm.Message),
		"message":           cm.Message,
		"author_name":       cm.Author.Name,
		"author_email":      cm.Author.Email,
		"authored_date":     apiTime(cm.Author.When),
		"committer_name":    cm.Committer.Name,
		"committer_email":   cm.Committer.Email,
		"committed_date":    apiTime(cm.Committer.When),
		"trailers":          obj{},
		"extended_trailers": obj{},
		"web_url":           web + "/-/commit/" + cm.SHA,
	}
}

// commitTitle is the first line of a commit message.
func commitTitle(msg string) string {
	t, _, _ := strings.Cut(msg, "\n")
	return strings.TrimRight(t, "\r")
}
