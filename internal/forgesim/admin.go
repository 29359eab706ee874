package forgesim

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// maxAdminBody is above GitHub's 25 MB payload cap, so raw emits of
// oversized payloads can still be tested.
const maxAdminBody = 32 << 20

// adminRoutes is shown on the index page; keep it in step with routeAdmin.
const adminRoutes = `Admin routes (JSON in and out; {o}/{r} is the repository, an owner with
subgroups is escaped as grp%2Fsub):
  POST   /_sim/users                          {login, name, email, token, bot}
  POST   /_sim/orgs                           {login}
  POST   /_sim/orgs/{org}/members             {login, access_level}  (50: may manage its hooks)
  POST   /_sim/repos                          {full_name, default_branch, files:{path:content}, org}
  GET    /_sim/repos/{o}/{r}                  branches, tags, files, commits, issues, comments, hooks
  POST   /_sim/repos/{o}/{r}/members          {login, access_level}
  POST   /_sim/repos/{o}/{r}/hooks            {flavor: github|gitlab, url, secret}
  POST   /_sim/repos/{o}/{r}/issues           {actor, title, body, labels}
  PATCH  /_sim/repos/{o}/{r}/issues/{n}       {actor, title, body, state: open|closed|merged}
  POST   /_sim/repos/{o}/{r}/issues/{n}/labels    {actor, add, remove}
  POST   /_sim/repos/{o}/{r}/issues/{n}/comments  {actor, body}
  POST   /_sim/repos/{o}/{r}/pulls            {actor, title, body, head, base}
  POST   /_sim/repos/{o}/{r}/commits          {actor, branch, message, files:{path: content|null}}
  DELETE /_sim/repos/{o}/{r}/branches/{branch}  {actor}
  POST   /_sim/repos/{o}/{r}/commits/{sha}/comments  {actor, body}
  PUT    /_sim/repos/{o}/{r}/tags/{tag}       {actor, ref}
  DELETE /_sim/repos/{o}/{r}/tags/{tag}       {actor}
  POST   /_sim/apps                           {slug, public_key (PEM), webhook_url, webhook_secret}
  POST   /_sim/apps/{id}/installations        {account, repositories: [o/r]}
  POST   /_sim/installations/{id}/repositories  {add: [o/r], remove: [o/r]}
  DELETE /_sim/installations/{id}
  PUT    /_sim/apps/clock                     {token_ttl: "70s", clock_skew: "-30s"}
  GET    /_sim/deliveries[?repo=o/r]
  GET    /_sim/deliveries/{id}
  POST   /_sim/deliveries/{id}/redeliver
  POST   /_sim/webhooks                       {flavor, url, secret, event, payload, delivery_id}
  POST   /_sim/faults                         {method, path_suffix, status, echo_auth, times}: API requests fail
  DELETE /_sim/faults                         clear them
Actions return the webhook deliveries they caused, sent before the answer.
`

// adminFunc handles one admin route: it returns the status and the value to
// encode, or an error that errorStatus maps.
type adminFunc func(r *http.Request) (int, any, error)

func (s *Server) routeAdmin(mux *http.ServeMux) {
	const repo = "/_sim/repos/{owner}/{name}"
	routes := map[string]adminFunc{
		"POST /_sim/users":                         s.postUser,
		"POST /_sim/orgs":                          s.postOrg,
		"POST /_sim/orgs/{org}/members":            s.postOrgMember,
		"POST /_sim/repos":                         s.postRepo,
		"GET " + repo:                              s.getRepo,
		"POST " + repo + "/members":                s.postMember,
		"POST " + repo + "/hooks":                  s.postHook,
		"POST " + repo + "/issues":                 s.postIssue,
		"PATCH " + repo + "/issues/{n}":            s.patchIssue,
		"POST " + repo + "/issues/{n}/labels":      s.postLabels,
		"POST " + repo + "/issues/{n}/comments":    s.postIssueComment,
		"POST " + repo + "/pulls":                  s.postPull,
		"POST " + repo + "/commits":                s.postCommit,
		"DELETE " + repo + "/branches/{branch...}": s.deleteBranch,
		"POST " + repo + "/commits/{sha}/comments": s.postCommitComment,
		"PUT " + repo + "/tags/{tag...}":           s.putTag,
		"DELETE " + repo + "/tags/{tag...}":        s.deleteTag,
		"GET /_sim/deliveries":                     s.getDeliveries,
		"GET /_sim/deliveries/{id}":                s.getDelivery,
		"POST /_sim/deliveries/{id}/redeliver":     s.postRedeliver,
		"POST /_sim/webhooks":                      s.postWebhook,
		"POST /_sim/faults":                        s.postFault,
		"DELETE /_sim/faults":                      s.deleteFaults,
	}
	s.appRoutes(routes)
	for pattern, fn := range routes {
		mux.Handle(pattern, serveJSON(fn))
	}
	mux.Handle("/_sim/", serveJSON(func(r *http.Request) (int, any, error) {
		return 0, nil, fmt.Errorf("no admin route %s %s (see GET /): %w", r.Method, r.URL.Path, state.ErrNotFound)
	}))
}

func serveJSON(fn adminFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, v, err := fn(r)
		if err != nil {
			status, v = errorStatus(err), errorBody{Error: err.Error(), Kind: errorKind(err)}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v) // the client went away; nothing to do
	})
}

// errorBody is every admin error; Kind lets the Client restore the state
// error for errors.Is.
type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

var errorKinds = []struct {
	err    error
	kind   string
	status int
}{
	{state.ErrNotFound, "not_found", http.StatusNotFound},
	{state.ErrExists, "exists", http.StatusConflict},
	{state.ErrConflict, "conflict", http.StatusConflict},
	{state.ErrInvalid, "invalid", http.StatusBadRequest},
	{state.ErrUnauthorized, "unauthorized", http.StatusUnauthorized},
}

func errorStatus(err error) int {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.status
		}
	}
	return http.StatusInternalServerError
}

func errorKind(err error) string {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.kind
		}
	}
	return "internal"
}

// decode reads one JSON object, rejecting unknown fields so that a typo in a
// curl command is reported rather than ignored.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("missing JSON body: %w", state.ErrInvalid)
		}
		return fmt.Errorf("bad JSON body: %v: %w", err, state.ErrInvalid)
	}
	if dec.More() {
		return fmt.Errorf("bad JSON body: more than one value: %w", state.ErrInvalid)
	}
	return nil
}

// required reports the names of empty fields, given as name, value pairs.
func required(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %s: %w", strings.Join(missing, ", "), state.ErrInvalid)
	}
	return nil
}

func repoOf(r *http.Request) string { return r.PathValue("owner") + "/" + r.PathValue("name") }

func issueNumber(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("issue number %q: %w", r.PathValue("n"), state.ErrInvalid)
	}
	return n, nil
}

func (s *Server) postUser(r *http.Request) (int, any, error) {
	var req UserRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("login", req.Login); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, s.forge.AddUser(req.Login, req.Name, req.Email, req.Token, req.Bot), nil
}

func (s *Server) postOrg(r *http.Request) (int, any, error) {
	var req OrgRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("login", req.Login); err != nil {
		return 0, nil, err
	}
	s.forge.AddOrg(req.Login)
	id, _ := s.forge.OrgID(req.Login)
	return http.StatusCreated, OrgResult{Login: req.Login, ID: id}, nil
}

func (s *Server) postRepo(r *http.Request) (int, any, error) {
	var req RepoRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	info, err := s.createRepo(req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, info, nil
}

// createRepo is shared with the seed loader. The first commit is authored by
// the owner when that is a known user.
func (s *Server) createRepo(req RepoRequest) (*state.RepoInfo, error) {
	if err := required("full_name", req.FullName); err != nil {
		return nil, err
	}
	owner, _, _ := strings.Cut(req.FullName, "/")
	if req.Org {
		s.forge.AddOrg(owner)
	}
	author := state.Signature{Name: "forgesim", Email: "forgesim@localhost"}
	if u, err := s.forge.UserByLogin(owner); err == nil {
		author = state.Signature{Name: cmp.Or(u.Name, u.Login), Email: u.Email}
	}
	info, err := s.forge.CreateRepo(req.FullName, req.DefaultBranch, req.Files, author)
	if err != nil {
		return nil, fmt.Errorf("creating repository: %w", err)
	}
	return info, nil
}

func (s *Server) getRepo(r *http.Request) (int, any, error) {
	st, err := s.RepoState(repoOf(r))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, st, nil
}

func (s *Server) postMember(r *http.Request) (int, any, error) {
	var req struct {
		Login       string       `json:"login"`
		AccessLevel *AccessLevel `json:"access_level"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("login", req.Login); err != nil {
		return 0, nil, err
	}
	if req.AccessLevel == nil {
		return 0, nil, fmt.Errorf("missing access_level: %w", state.ErrInvalid)
	}
	repo := repoOf(r)
	if err := s.forge.SetAccess(repo, req.Login, state.AccessLevel(*req.AccessLevel)); err != nil {
		return 0, nil, fmt.Errorf("granting access: %w", err)
	}
	return http.StatusOK, MemberResult{Repo: repo, Login: req.Login, AccessLevel: state.AccessLevel(*req.AccessLevel)}, nil
}

// postOrgMember grants a role in an organisation or group (escape a
// subgroup's "/" as %2F).
func (s *Server) postOrgMember(r *http.Request) (int, any, error) {
	var req struct {
		Login       string       `json:"login"`
		AccessLevel *AccessLevel `json:"access_level"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("login", req.Login); err != nil {
		return 0, nil, err
	}
	if req.AccessLevel == nil {
		return 0, nil, fmt.Errorf("missing access_level: %w", state.ErrInvalid)
	}
	org := r.PathValue("org")
	if err := s.forge.SetNamespaceAccess(org, req.Login, state.AccessLevel(*req.AccessLevel)); err != nil {
		return 0, nil, fmt.Errorf("granting access to %s: %w", org, err)
	}
	return http.StatusOK, MemberResult{Repo: org, Login: req.Login, AccessLevel: state.AccessLevel(*req.AccessLevel)}, nil
}

func (s *Server) postHook(r *http.Request) (int, any, error) {
	var req HookRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	h, err := s.addHook(repoOf(r), req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, h, nil
}

func (s *Server) addHook(repo string, req HookRequest) (state.Hook, error) {
	if err := required("flavor", req.Flavor, "url", req.URL); err != nil {
		return state.Hook{}, err
	}
	h, err := s.forge.AddHook(repo, req.Flavor, req.URL, req.Secret)
	if err != nil {
		return state.Hook{}, fmt.Errorf("adding hook to %s: %w", repo, err)
	}
	return h, nil
}

func (s *Server) postIssue(r *http.Request) (int, any, error) {
	var req IssueRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("actor", req.Actor, "title", req.Title); err != nil {
		return 0, nil, err
	}
	i, evs, err := s.forge.OpenIssue(repoOf(r), req.Actor, req.Title, req.Body, req.Labels)
	if err != nil {
		return 0, nil, fmt.Errorf("opening issue: %w", err)
	}
	return http.StatusCreated, IssueResult{Issue: issueOut(i), Deliveries: s.deliveriesOf(evs)}, nil
}

func (s *Server) patchIssue(r *http.Request) (int, any, error) {
	var req IssueEdit
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	n, err := issueNumber(r)
	if err != nil {
		return 0, nil, err
	}
	if err := required("actor", req.Actor); err != nil {
		return 0, nil, err
	}
	if req.Title == nil && req.Body == nil && req.State == "" {
		return 0, nil, fmt.Errorf("nothing to change: give title, body or state: %w", state.ErrInvalid)
	}
	repo := repoOf(r)
	ds := []Delivery{}
	if req.Title != nil || req.Body != nil {
		evs, err := s.forge.EditIssue(repo, n, req.Actor, req.Title, req.Body)
		if err != nil {
			return 0, nil, fmt.Errorf("editing issue %d: %w", n, err)
		}
		ds = append(ds, s.deliveriesOf(evs)...)
	}
	if req.State != "" {
		evs, err := s.forge.SetIssueState(repo, n, req.Actor, req.State)
		if err != nil {
			return 0, nil, fmt.Errorf("setting state of issue %d: %w", n, err)
		}
		ds = append(ds, s.deliveriesOf(evs)...)
	}
	i, err := s.issue(repo, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, IssueResult{Issue: i, Deliveries: ds}, nil
}

func (s *Server) postLabels(r *http.Request) (int, any, error) {
	var req LabelEdit
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	n, err := issueNumber(r)
	if err != nil {
		return 0, nil, err
	}
	if err := required("actor", req.Actor); err != nil {
		return 0, nil, err
	}
	if len(req.Add) == 0 && len(req.Remove) == 0 {
		return 0, nil, fmt.Errorf("nothing to change: give add or remove: %w", state.ErrInvalid)
	}
	repo := repoOf(r)
	evs, err := s.forge.LabelIssue(repo, n, req.Actor, req.Add, req.Remove)
	if err != nil {
		return 0, nil, fmt.Errorf("labelling issue %d: %w", n, err)
	}
	i, err := s.issue(repo, n)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, IssueResult{Issue: i, Deliveries: s.deliveriesOf(evs)}, nil
}

func (s *Server) postIssueComment(r *http.Request) (int, any, error) {
	var req CommentRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	n, err := issueNumber(r)
	if err != nil {
		return 0, nil, err
	}
	if err := required("actor", req.Actor, "body", req.Body); err != nil {
		return 0, nil, err
	}
	c, evs, err := s.forge.Comment(repoOf(r), n, "", req.Actor, req.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("commenting on issue %d: %w", n, err)
	}
	return http.StatusCreated, CommentResult{Comment: c, Deliveries: s.deliveriesOf(evs)}, nil
}

func (s *Server) postPull(r *http.Request) (int, any, error) {
	var req PullRequestRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("actor", req.Actor, "title", req.Title, "head", req.Head); err != nil {
		return 0, nil, err
	}
	i, evs, err := s.forge.OpenPull(repoOf(r), req.Actor, req.Title, req.Body, req.Head, req.Base)
	if err != nil {
		return 0, nil, fmt.Errorf("opening pull request: %w", err)
	}
	return http.StatusCreated, IssueResult{Issue: issueOut(i), Deliveries: s.deliveriesOf(evs)}, nil
}

func (s *Server) postCommit(r *http.Request) (int, any, error) {
	var req PushRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("actor", req.Actor, "branch", req.Branch, "message", req.Message); err != nil {
		return 0, nil, err
	}
	if len(req.Files) == 0 {
		return 0, nil, fmt.Errorf("missing files: %w", state.ErrInvalid)
	}
	changes := make([]state.FileChange, 0, len(req.Files))
	for _, p := range slices.Sorted(maps.Keys(req.Files)) {
		if c := req.Files[p]; c != nil {
			changes = append(changes, state.FileChange{Path: p, Content: []byte(*c)})
		} else {
			changes = append(changes, state.FileChange{Path: p, Delete: true})
		}
	}
	c, evs, err := s.forge.PushFiles(repoOf(r), req.Branch, req.Actor, req.Message, changes)
	if err != nil {
		return 0, nil, fmt.Errorf("pushing to %s: %w", req.Branch, err)
	}
	return http.StatusCreated, CommitResult{Commit: commitInfo(&c), Deliveries: s.deliveriesOf(evs)}, nil
}

func (s *Server) postCommitComment(r *http.Request) (int, any, error) {
	var req CommentRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("actor", req.Actor, "body", req.Body); err != nil {
		return 0, nil, err
	}
	sha := r.PathValue("sha")
	c, evs, err := s.forge.Comment(repoOf(r), 0, sha, req.Actor, req.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("commenting on commit %s: %w", sha, err)
	}
	return http.StatusCreated, CommentResult{Comment: c, Deliveries: s.deliveriesOf(evs)}, nil
}

func (s *Server) putTag(r *http.Request) (int, any, error) {
	var req TagRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if err := required("actor", req.Actor, "ref", req.Ref); err != nil {
		return 0, nil, err
	}
	repo, tag := repoOf(r), r.PathValue("tag")
	evs, err := s.forge.PushTag(repo, req.Actor, tag, req.Ref)
	if err != nil {
		return 0, nil, fmt.Errorf("pushing tag %s: %w", tag, err)
	}
	var sha string
	err = s.forge.WithRepo(repo, func(rp *state.Repo) error {
		sha, _ = rp.Tag(tag)
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("reading tag %s: %w", tag, err)
	}
	return http.StatusOK, TagResult{Tag: tag, SHA: sha, Deliveries: s.deliveriesOf(evs)}, nil
}

// actorOf reads the body of a DELETE; curl users tend to send it without
// one, so ?actor= works too.
func actorOf(r *http.Request) (ActorRequest, error) {
	req := ActorRequest{Actor: r.URL.Query().Get("actor")}
	if r.ContentLength != 0 {
		if err := decode(r, &req); err != nil {
			return req, err
		}
	}
	return req, required("actor", req.Actor)
}

func (s *Server) deleteTag(r *http.Request) (int, any, error) {
	req, err := actorOf(r)
	if err != nil {
		return 0, nil, err
	}
	tag := r.PathValue("tag")
	evs, err := s.forge.RemoveTag(repoOf(r), req.Actor, tag)
	if err != nil {
		return 0, nil, fmt.Errorf("deleting tag %s: %w", tag, err)
	}
	return http.StatusOK, DeliveriesResult{Deliveries: s.deliveriesOf(evs)}, nil
}

func (s *Server) deleteBranch(r *http.Request) (int, any, error) {
	req, err := actorOf(r)
	if err != nil {
		return 0, nil, err
	}
	branch := r.PathValue("branch")
	evs, err := s.forge.RemoveBranch(repoOf(r), req.Actor, branch)
	if err != nil {
		return 0, nil, fmt.Errorf("deleting branch %s: %w", branch, err)
	}
	return http.StatusOK, DeliveriesResult{Deliveries: s.deliveriesOf(evs)}, nil
}

func (s *Server) getDeliveries(r *http.Request) (int, any, error) {
	repo := r.URL.Query().Get("repo")
	out := []Delivery{}
	for _, d := range s.Deliveries() {
		if repo == "" || d.Repo == repo {
			out = append(out, d)
		}
	}
	return http.StatusOK, DeliveriesResult{Deliveries: out}, nil
}

func (s *Server) getDelivery(r *http.Request) (int, any, error) {
	id := r.PathValue("id")
	out := []Delivery{}
	for _, d := range s.Deliveries() {
		if d.ID == id {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return 0, nil, fmt.Errorf("delivery %s: %w", id, state.ErrNotFound)
	}
	return http.StatusOK, DeliveriesResult{Deliveries: out}, nil
}

func (s *Server) postRedeliver(r *http.Request) (int, any, error) {
	ds, err := s.Redeliver(r.Context(), r.PathValue("id"))
	if err != nil {
		return 0, nil, fmt.Errorf("redelivering: %w", err)
	}
	return http.StatusOK, DeliveriesResult{Deliveries: ds}, nil
}

func (s *Server) postWebhook(r *http.Request) (int, any, error) {
	var req RawWebhook
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	d, err := s.Emit(r.Context(), req)
	if err != nil {
		return 0, nil, fmt.Errorf("emitting webhook: %w", err)
	}
	return http.StatusOK, DeliveryResult{Delivery: d}, nil
}

// issue reads an issue's current state.
func (s *Server) issue(repo string, n int) (state.Issue, error) {
	var out state.Issue
	err := s.forge.WithRepo(repo, func(r *state.Repo) error {
		i, ok := r.Issue(n)
		if !ok {
			return fmt.Errorf("issue %d: %w", n, state.ErrNotFound)
		}
		out = issueOut(*i)
		return nil
	})
	return out, err
}

// issueOut copies an issue for an answer, with labels as a list, never null.
func issueOut(i state.Issue) state.Issue {
	i.Labels = append([]string{}, i.Labels...)
	return i
}
