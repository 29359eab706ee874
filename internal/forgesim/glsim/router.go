package glsim

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// apiPrefix is where GitLab serves REST v4; the handler is mounted with it
// stripped, but links in Link headers must carry it.
const apiPrefix = "/api/v4"

// server is the GitLab REST face over one forge.
type server struct {
	f      *state.Forge
	modes  *modeStore
	routes []route
}

// route is one endpoint. Pattern segments starting with ":" capture one
// escaped path segment each, as GitLab's NO_SLASH_URL_PART requirements do:
// a branch "exp/1" must arrive as "exp%2F1", never as two segments.
type route struct {
	method  string
	pattern []string
	handle  func(c *call)
}

func (s *server) routeTable() []route {
	r := func(method, pattern string, h func(c *call)) route {
		return route{method: method, pattern: strings.Split(pattern, "/"), handle: h}
	}
	const (
		proj   = "projects/:id"
		repo   = proj + "/repository"
		issue  = proj + "/issues/:iid"
		mr     = proj + "/merge_requests/:iid"
		commit = repo + "/commits/:sha"
	)
	return []route{
		r(http.MethodGet, "version", s.getVersion),
		r(http.MethodGet, "metadata", s.getVersion),
		r(http.MethodGet, "user", s.getCurrentUser),
		r(http.MethodGet, "users", s.listUsers),
		r(http.MethodGet, "users/:user_id", s.getUser),
		r(http.MethodGet, proj, s.getProject),

		r(http.MethodGet, repo+"/branches", s.listBranches),
		r(http.MethodPost, repo+"/branches", s.createBranch),
		r(http.MethodGet, repo+"/branches/:branch", s.getBranch),
		r(http.MethodDelete, repo+"/branches/:branch", s.deleteBranch),

		r(http.MethodGet, repo+"/files/:file_path", s.getFile),
		r(http.MethodHead, repo+"/files/:file_path", s.headFile),
		r(http.MethodPost, repo+"/files/:file_path", s.createFile),
		r(http.MethodPut, repo+"/files/:file_path", s.updateFile),
		r(http.MethodDelete, repo+"/files/:file_path", s.deleteFile),
		r(http.MethodGet, repo+"/files/:file_path/raw", s.getRawFile),

		r(http.MethodGet, repo+"/commits", s.listCommits),
		r(http.MethodPost, repo+"/commits", s.createCommit),
		r(http.MethodGet, commit, s.getCommit),
		r(http.MethodGet, commit+"/refs", s.getCommitRefs),
		r(http.MethodGet, commit+"/comments", s.listCommitComments),
		r(http.MethodPost, commit+"/comments", s.createCommitComment),
		r(http.MethodGet, commit+"/discussions", s.listCommitDiscussions),
		r(http.MethodPost, commit+"/discussions", s.createCommitDiscussion),
		r(http.MethodGet, commit+"/discussions/:discussion_id", s.getCommitDiscussion),
		r(http.MethodPut, commit+"/discussions/:discussion_id/notes/:note_id", s.updateCommitDiscussionNote),

		r(http.MethodGet, repo+"/tags", s.listTags),
		r(http.MethodPost, repo+"/tags", s.createTag),
		r(http.MethodGet, repo+"/tags/:tag_name", s.getTag),
		r(http.MethodDelete, repo+"/tags/:tag_name", s.deleteTag),

		r(http.MethodGet, issue, s.getIssue),
		r(http.MethodGet, issue+"/notes", s.listNotes(kindIssue)),
		r(http.MethodPost, issue+"/notes", s.createNote(kindIssue)),
		r(http.MethodGet, issue+"/notes/:note_id", s.getNote(kindIssue)),
		r(http.MethodPut, issue+"/notes/:note_id", s.updateNote(kindIssue)),
		r(http.MethodGet, issue+"/notes/:note_id/award_emoji", s.listNoteAwards(kindIssue)),
		r(http.MethodPost, issue+"/notes/:note_id/award_emoji", s.createNoteAward(kindIssue)),

		r(http.MethodGet, mr, s.getMergeRequest),
		r(http.MethodGet, mr+"/notes", s.listNotes(kindMR)),
		r(http.MethodPost, mr+"/notes", s.createNote(kindMR)),
		r(http.MethodGet, mr+"/notes/:note_id", s.getNote(kindMR)),
		r(http.MethodPut, mr+"/notes/:note_id", s.updateNote(kindMR)),
		r(http.MethodGet, mr+"/notes/:note_id/award_emoji", s.listNoteAwards(kindMR)),
		r(http.MethodPost, mr+"/notes/:note_id/award_emoji", s.createNoteAward(kindMR)),

		r(http.MethodGet, proj+"/members/:user_id", s.getMember()),
		r(http.MethodGet, proj+"/members/all/:user_id", s.getMember()),
	}
}

// ServeHTTP authenticates, matches the escaped path against the route table
// and validates nothing else: handlers validate their own parameters, in
// GitLab's order (401, then 400 for parameters, then 404, then 403).
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs, ok := splitPath(r.URL.EscapedPath())
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
		return
	}
	rt, vars, found, methodOK := s.match(r.Method, segs)
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "404 Not Found"})
		return
	}
	if !methodOK {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "405 Not Allowed"})
		return
	}
	c := &call{s: s, w: w, r: r, vars: vars}
	u, err := s.f.UserByToken(requestToken(r))
	if err != nil {
		c.fail(http.StatusUnauthorized, "401 Unauthorized")
		return
	}
	c.user = u
	p, err := readParams(r)
	if err != nil {
		c.badParam("The request body is not valid: " + err.Error())
		return
	}
	c.params = p
	rt.handle(c)
}

// match finds the route for method and path. A GET route also answers HEAD
// (Grape routes HEAD to GET unless an explicit HEAD route exists).
func (s *server) match(method string, segs []string) (rt route, vars map[string]string, found, methodOK bool) {
	var headFallback *route
	var fallbackVars map[string]string
	for i := range s.routes {
		cand := &s.routes[i]
		v, ok := matchPattern(cand.pattern, segs)
		if !ok {
			continue
		}
		found = true
		if cand.method == method {
			return *cand, v, true, true
		}
		if method == http.MethodHead && cand.method == http.MethodGet && headFallback == nil {
			headFallback, fallbackVars = cand, v
		}
	}
	if headFallback != nil {
		return *headFallback, fallbackVars, true, true
	}
	return route{}, nil, found, false
}

// matchPattern compares unescaped literal segments and captures escaped
// parameter segments, unescaping each on its own so that %2F stays inside
// the parameter.
func matchPattern(pattern, segs []string) (map[string]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	vars := map[string]string{}
	for i, p := range pattern {
		seg, err := url.PathUnescape(segs[i])
		if err != nil {
			return nil, false
		}
		if strings.HasPrefix(p, ":") {
			if seg == "" {
				return nil, false
			}
			vars[p[1:]] = seg
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return vars, true
}

// splitPath turns an escaped path ("/projects/grp%2Fproj") into its escaped
// segments. Empty segments (a double or trailing slash) do not match any
// GitLab route.
func splitPath(escaped string) ([]string, bool) {
	escaped = strings.TrimPrefix(escaped, "/")
	if escaped == "" {
		return nil, false
	}
	segs := strings.Split(escaped, "/")
	for _, s := range segs {
		if s == "" {
			return nil, false
		}
	}
	return segs, true
}

// requestToken reads the credentials GitLab accepts for API calls: a
// personal/project access token in PRIVATE-TOKEN or as an OAuth-style
// bearer token (what the terraform provider sends), or the private_token /
// access_token query parameters.
func requestToken(r *http.Request) string {
	if t := r.Header.Get("PRIVATE-TOKEN"); t != "" {
		return t
	}
	if a := r.Header.Get("Authorization"); a != "" {
		if scheme, tok, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	q := r.URL.Query()
	if t := q.Get("private_token"); t != "" {
		return t
	}
	return q.Get("access_token")
}

// call is one request being served.
type call struct {
	s      *server
	w      http.ResponseWriter
	r      *http.Request
	vars   map[string]string
	params params
	user   state.User
}

// base is the forge's external URL as this client reaches it; links are
// built from it so they work through whatever address the test uses.
func (c *call) base() string { return "http://" + c.r.Host }
