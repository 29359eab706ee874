package ghsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Repository and organisation webhooks: /repos/{o}/{r}/hooks and
// /orgs/{org}/hooks. Repository hooks take admin rights on the repository
// (Owner), organisation hooks the organisation's owner role; GitHub hides
// both behind 404 from everyone else.

// hookTarget is the repository or organisation a hook route addresses.
type hookTarget struct {
	scope state.Scope
	kind  string // "Repository" or "Organization"
	base  string // API path of the hooks collection
}

func (q *request) repoHookTarget() (hookTarget, bool) {
	info, ok := q.repo()
	if !ok {
		return hookTarget{}, false
	}
	if lvl, err := q.s.f.Access(info.FullName, q.user.Login); err != nil || lvl < state.Owner {
		q.fail(notFound())
		return hookTarget{}, false
	}
	return hookTarget{scope: state.Scope{Repo: info.FullName}, kind: "Repository", base: "/repos/" + info.FullName + "/hooks"}, true
}

func (q *request) orgHookTarget() (hookTarget, bool) {
	org := q.r.PathValue("org")
	if lvl, err := q.s.f.NamespaceAccess(org, q.user.Login); err != nil || lvl < state.Owner {
		q.fail(notFound())
		return hookTarget{}, false
	}
	return hookTarget{scope: state.Scope{Namespace: org}, kind: "Organization", base: "/orgs/" + org + "/hooks"}, true
}

type hookConfigJSON struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	InsecureSSL string `json:"insecure_ssl"`
	Secret      string `json:"secret,omitempty"`
}

type hookResponseJSON struct {
	Code    *int    `json:"code"`
	Status  string  `json:"status"`
	Message *string `json:"message"`
}

type hookJSON struct {
	Type          string           `json:"type"`
	ID            int64            `json:"id"`
	Name          string           `json:"name"`
	Active        bool             `json:"active"`
	Events        []string         `json:"events"`
	Config        hookConfigJSON   `json:"config"`
	UpdatedAt     string           `json:"updated_at"`
	CreatedAt     string           `json:"created_at"`
	URL           string           `json:"url"`
	TestURL       string           `json:"test_url,omitempty"`
	PingURL       string           `json:"ping_url"`
	DeliveriesURL string           `json:"deliveries_url"`
	LastResponse  hookResponseJSON `json:"last_response"`
}

// hookObject renders a hook; GitHub shows a set secret as eight asterisks.
func hookObject(l links, t hookTarget, h state.Hook) hookJSON {
	self := l.api(t.base + "/" + strconv.FormatInt(h.ID, 10))
	out := hookJSON{
		Type: t.kind, ID: h.ID, Name: "web", Active: !h.Inactive, Events: nonNil(h.Events),
		Config: hookConfigJSON{
			URL: h.URL, ContentType: h.Options["content_type"], InsecureSSL: h.Options["insecure_ssl"],
		},
		UpdatedAt: ts(h.CreatedAt), CreatedAt: ts(h.CreatedAt), URL: self,
		PingURL: self + "/pings", DeliveriesURL: self + "/deliveries",
		LastResponse: hookResponseJSON{Status: "unused"},
	}
	if t.kind == "Repository" {
		out.TestURL = self + "/test"
	}
	if h.Secret != "" {
		out.Config.Secret = "********"
	}
	return out
}

// hookRequest is the body of a create or edit; config fields are raw so
// that insecure_ssl may come as a string or a number.
type hookRequest struct {
	Name   *string                    `json:"name"`
	Config map[string]json.RawMessage `json:"config"`
	Events *[]string                  `json:"events"`
	Active *bool                      `json:"active"`
}

var eventName = regexp.MustCompile(`^(\*|[a-z_]+)$`)

func hookInvalid(msg string) *apiError {
	e := newAPIError(http.StatusUnprocessableEntity, "Validation Failed")
	e.body.Errors = []fieldError{{Resource: "Hook", Code: "custom", Message: msg}}
	return e
}

// apply copies a request onto h. GitHub keeps config values it is not
// sent on an edit.
func (req hookRequest) apply(h *state.Hook, create bool) error {
	if req.Name != nil && *req.Name != "web" {
		return hookInvalid("Name must be web")
	}
	if h.Options == nil {
		h.Options = map[string]string{"content_type": "form", "insecure_ssl": "0"}
	}
	if create && req.Config == nil {
		return hookInvalid("Config must contain URL.")
	}
	for k, raw := range req.Config {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			var n json.Number
			if json.Unmarshal(raw, &n) != nil {
				return hookInvalid("Config " + k + " is invalid")
			}
			v = n.String()
		}
		switch k {
		case "url":
			h.URL = v
		case "secret":
			h.Secret = v
		case "content_type":
			if v != "json" && v != "form" {
				return hookInvalid("Config content_type must be json or form")
			}
			h.Options[k] = v
		case "insecure_ssl":
			if v != "0" && v != "1" {
				return hookInvalid("Config insecure_ssl must be 0 or 1")
			}
			h.Options[k] = v
		}
	}
	if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return hookInvalid("Config must contain URL.")
	}
	if req.Events != nil {
		for _, e := range *req.Events {
			if !eventName.MatchString(e) {
				return hookInvalid("Events are invalid: " + e)
			}
		}
		h.Events = slices.Clone(*req.Events)
	} else if create {
		h.Events = []string{"push"}
	}
	if h.Events == nil {
		h.Events = []string{}
	}
	if req.Active != nil {
		h.Inactive = !*req.Active
	}
	return nil
}

func (s *server) listHooks(q *request, t hookTarget) {
	hooks, err := s.f.ScopeHooks(t.scope)
	if err != nil {
		q.fail(err)
		return
	}
	out := []hookJSON{}
	for _, h := range paginate(q, hooks) {
		out = append(out, hookObject(q.l, t, h))
	}
	q.reply(http.StatusOK, out)
}

func (s *server) createHook(q *request, t hookTarget) {
	var req hookRequest
	if err := q.decode(&req); err != nil {
		q.fail(err)
		return
	}
	h := state.Hook{Flavor: "github"}
	if err := req.apply(&h, true); err != nil {
		q.fail(err)
		return
	}
	existing, err := s.f.ScopeHooks(t.scope)
	if err != nil {
		q.fail(err)
		return
	}
	for _, o := range existing {
		if o.URL == h.URL {
			q.fail(hookInvalid("Hook already exists on this " + strings.ToLower(t.kind)))
			return
		}
	}
	h, err = s.f.CreateHook(t.scope, h)
	if err != nil {
		q.fail(err)
		return
	}
	s.ping(q, t, h)
	q.reply(http.StatusCreated, hookObject(q.l, t, h))
}

func hookID(q *request) (int64, bool) {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	if err != nil {
		q.fail(notFound())
		return 0, false
	}
	return id, true
}

// hook reads the hook of t the route names, or answers why not.
func (s *server) hook(q *request, t hookTarget) (state.Hook, bool) {
	id, ok := hookID(q)
	if !ok {
		return state.Hook{}, false
	}
	h, err := s.f.ScopeHook(t.scope, id)
	if err != nil {
		q.fail(err)
		return state.Hook{}, false
	}
	return h, true
}

func (s *server) getHook(q *request, t hookTarget) {
	if h, ok := s.hook(q, t); ok {
		q.reply(http.StatusOK, hookObject(q.l, t, h))
	}
}

func (s *server) editHook(q *request, t hookTarget) {
	id, ok := hookID(q)
	if !ok {
		return
	}
	var req hookRequest
	if err := q.decode(&req); err != nil {
		q.fail(err)
		return
	}
	h, err := s.f.UpdateHook(t.scope, id, func(h *state.Hook) error { return req.apply(h, false) })
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, hookObject(q.l, t, h))
}

func (s *server) deleteHook(q *request, t hookTarget) {
	id, ok := hookID(q)
	if !ok {
		return
	}
	if err := s.f.DeleteHook(t.scope, id); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}

// hookRoutes registers the hook routes under prefix.
func (s *server) hookRoutes(handle func(string, func(*request)), prefix string, target func(*request) (hookTarget, bool)) {
	with := func(fn func(*request, hookTarget)) func(*request) {
		return func(q *request) {
			if t, ok := target(q); ok {
				fn(q, t)
			}
		}
	}
	handle("GET "+prefix+"/hooks", with(s.listHooks))
	handle("POST "+prefix+"/hooks", with(s.createHook))
	handle("GET "+prefix+"/hooks/{id}", with(s.getHook))
	handle("PATCH "+prefix+"/hooks/{id}", with(s.editHook))
	handle("DELETE "+prefix+"/hooks/{id}", with(s.deleteHook))
	handle("POST "+prefix+"/hooks/{id}/pings", with(s.pingHook))
}
