package glsim

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// hookFlags are the event switches of project and group hooks, in the
// words of the REST API; a hook keeps the ones that are on as its Events.
var hookFlags = []string{
	"push_events", "tag_push_events", "issues_events", "confidential_issues_events",
	"merge_requests_events", "note_events", "confidential_note_events", "job_events",
	"pipeline_events", "wiki_page_events", "deployment_events", "releases_events",
	"feature_flag_events", "emoji_events", "resource_access_token_events",
	"member_events", "project_events", "subgroup_events",
}

// hookSettings are the string settings a hook keeps as given.
var hookSettings = []string{"name", "description", "push_events_branch_filter", "branch_filter_strategy", "custom_webhook_template"}

// eventFlags maps the X-Gitlab-Event header of a delivery to the switch
// that turns it on.
var eventFlags = map[string]string{
	"Push Hook":               "push_events",
	"Tag Push Hook":           "tag_push_events",
	"Issue Hook":              "issues_events",
	"Confidential Issue Hook": "confidential_issues_events",
	"Merge Request Hook":      "merge_requests_events",
	"Note Hook":               "note_events",
	"Confidential Note Hook":  "confidential_note_events",
}

// EventFlag tells which hook switch (e.g. "issues_events") a delivery with
// the given X-Gitlab-Event header needs.
func EventFlag(header string) (string, bool) {
	f, ok := eventFlags[header]
	return f, ok
}

// hookTarget is the project or group a hook route addresses.
type hookTarget struct {
	scope    state.Scope
	idField  string // "project_id" or "group_id"
	id       int64
	group    bool
	notFound string
}

// projectTarget resolves :id as a project; hooks need Maintainer
// (GitLab's admin_project), labels Reporter to change and any member to read.
func (c *call) projectTarget(min state.AccessLevel) (hookTarget, bool) {
	info, ok := c.project()
	if !ok {
		return hookTarget{}, false
	}
	if !c.requireAccess(info, min) {
		return hookTarget{}, false
	}
	return hookTarget{scope: state.Scope{Repo: info.FullName}, idField: "project_id", id: info.ID}, true
}

// groupTarget resolves :id as a group; hooks need the Owner role
// (admin_group), labels Reporter to change.
func (c *call) groupTarget(min state.AccessLevel) (hookTarget, bool) {
	path, id, err := c.s.f.Org(c.vars["id"])
	if err != nil {
		c.fail(http.StatusNotFound, "404 Group Not Found")
		return hookTarget{}, false
	}
	lvl, err := c.s.f.NamespaceAccess(path, c.user.Login)
	if err != nil || lvl < min {
		c.fail(http.StatusForbidden, "403 Forbidden")
		return hookTarget{}, false
	}
	return hookTarget{scope: state.Scope{Namespace: path}, idField: "group_id", id: id, group: true}, true
}

func (s *server) hookRoutes(base string, target func(c *call) (hookTarget, bool)) []route {
	r := func(method, pattern string, h func(c *call, t hookTarget)) route {
		return route{method: method, pattern: strings.Split(pattern, "/"), handle: func(c *call) {
			if t, ok := target(c); ok {
				h(c, t)
			}
		}}
	}
	return []route{
		r(http.MethodGet, base+"/hooks", s.listHooks),
		r(http.MethodPost, base+"/hooks", s.createHook),
		r(http.MethodGet, base+"/hooks/:hook_id", s.getHook),
		r(http.MethodPut, base+"/hooks/:hook_id", s.editHook),
		r(http.MethodDelete, base+"/hooks/:hook_id", s.deleteHook),
	}
}

// hookEntity is GitLab's ProjectHook / GroupHook entity; the token is
// never shown.
func hookEntity(h state.Hook, t hookTarget) obj {
	o := obj{
		"id": h.ID, "url": h.URL, "created_at": apiTime(h.CreatedAt),
		t.idField:                 t.id,
		"enable_ssl_verification": h.Options["enable_ssl_verification"] != "false",
		"alert_status":            "executable", "disabled_until": nil,
		"url_variables": []any{}, "custom_headers": []any{},
		"repository_update_events": false,
	}
	for _, k := range hookSettings {
		o[k] = h.Options[k]
	}
	if o["branch_filter_strategy"] == "" {
		o["branch_filter_strategy"] = "wildcard"
	}
	for _, f := range hookFlags {
		o[f] = slices.Contains(h.Events, f)
	}
	return o
}

// applyHookParams copies the request's settings onto h; on create, GitLab
// turns push events on unless told otherwise.
func (c *call) applyHookParams(h *state.Hook, create bool) []string {
	var errs []string
	if v, ok := c.params.str("url"); ok {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, "url is invalid")
		}
		h.URL = v
	}
	if v, ok := c.params.str("token"); ok {
		h.Secret = v
	}
	if h.Options == nil {
		h.Options = map[string]string{}
	}
	for _, k := range hookSettings {
		if v, ok := c.params.str(k); ok {
			h.Options[k] = v
		}
	}
	if v, ok, err := c.params.boolean("enable_ssl_verification"); err != nil {
		errs = append(errs, err.Error())
	} else if ok {
		h.Options["enable_ssl_verification"] = strconv.FormatBool(v)
	}
	if create {
		h.Events = []string{"push_events"}
	}
	for _, f := range hookFlags {
		v, ok, err := c.params.boolean(f)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if !ok {
			continue
		}
		h.Events = slices.DeleteFunc(h.Events, func(e string) bool { return e == f })
		if v {
			h.Events = append(h.Events, f)
		}
	}
	if h.Events == nil {
		h.Events = []string{} // a hook with every switch off hears nothing
	}
	return errs
}

func (s *server) listHooks(c *call, t hookTarget) {
	hooks, err := s.f.ScopeHooks(t.scope)
	if err != nil {
		c.failErr(err, "Hook")
		return
	}
	out := make([]obj, 0, len(hooks))
	for _, h := range paginate(c, hooks) {
		out = append(out, hookEntity(h, t))
	}
	c.json(http.StatusOK, out)
}

func (s *server) createHook(c *call, t hookTarget) {
	if !c.require(spec{name: "url"}) {
		return
	}
	h := state.Hook{Flavor: "gitlab"}
	if errs := c.applyHookParams(&h, true); c.rejectParams(errs) {
		return
	}
	h, err := s.f.CreateHook(t.scope, h)
	if err != nil {
		c.failErr(err, "Hook")
		return
	}
	c.json(http.StatusCreated, hookEntity(h, t))
}

func (c *call) hookID() (int64, bool) { return c.intVar("hook_id") }

func (s *server) getHook(c *call, t hookTarget) {
	id, ok := c.hookID()
	if !ok {
		return
	}
	h, err := s.f.ScopeHook(t.scope, id)
	if err != nil {
		c.failErr(err, "Hook")
		return
	}
	c.json(http.StatusOK, hookEntity(h, t))
}

func (s *server) editHook(c *call, t hookTarget) {
	id, ok := c.hookID()
	if !ok {
		return
	}
	var errs []string
	h, err := s.f.UpdateHook(t.scope, id, func(h *state.Hook) error {
		if errs = c.applyHookParams(h, false); len(errs) > 0 {
			return errInvalidParams
		}
		return nil
	})
	if c.rejectParams(errs) {
		return
	}
	if err != nil {
		c.failErr(err, "Hook")
		return
	}
	c.json(http.StatusOK, hookEntity(h, t))
}

var errInvalidParams = errors.New("invalid parameters")

func (s *server) deleteHook(c *call, t hookTarget) {
	id, ok := c.hookID()
	if !ok {
		return
	}
	if err := s.f.DeleteHook(t.scope, id); err != nil {
		c.failErr(err, "Hook")
		return
	}
	c.noContent()
}

// setupRoutes serve what a forge set-up manages: project and group hooks
// and labels.
func (s *server) setupRoutes() []route {
	project := func(min state.AccessLevel) func(c *call) (hookTarget, bool) {
		return func(c *call) (hookTarget, bool) { return c.projectTarget(min) }
	}
	group := func(min state.AccessLevel) func(c *call) (hookTarget, bool) {
		return func(c *call) (hookTarget, bool) { return c.groupTarget(min) }
	}
	var out []route
	out = append(out, s.hookRoutes("projects/:id", project(state.Maintainer))...)
	out = append(out, s.hookRoutes("groups/:id", group(state.Owner))...)
	out = append(out, s.labelRoutes("projects/:id", func(c *call, write bool) (hookTarget, bool) {
		return c.projectTarget(labelAccess(write))
	})...)
	out = append(out, s.labelRoutes("groups/:id", func(c *call, write bool) (hookTarget, bool) {
		return c.groupTarget(labelAccess(write))
	})...)
	return out
}
