package glsim

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func (s *server) labelRoutes(base string, target func(c *call, write bool) (hookTarget, bool)) []route {
	r := func(method, pattern string, write bool, h func(c *call, t hookTarget)) route {
		return route{method: method, pattern: strings.Split(pattern, "/"), handle: func(c *call) {
			if t, ok := target(c, write); ok {
				h(c, t)
			}
		}}
	}
	return []route{
		r(http.MethodGet, base+"/labels", false, s.listLabels),
		r(http.MethodPost, base+"/labels", true, s.createLabel),
		r(http.MethodGet, base+"/labels/:label_id", false, s.getLabel),
		r(http.MethodPut, base+"/labels/:label_id", true, s.editLabel),
		r(http.MethodDelete, base+"/labels/:label_id", true, s.deleteLabel),
	}
}

// labelAccess: reading a label takes any member (Guest), changing one
// Reporter, as GitLab's read_label / admin_label.
func labelAccess(write bool) state.AccessLevel {
	if write {
		return state.Reporter
	}
	return state.Guest
}

// labelColor accepts what GitLab's ColorValidator does: #RGB, #RRGGBB or
// a CSS colour name.
var labelColor = regexp.MustCompile(`^(#[0-9A-Fa-f]{3}|#[0-9A-Fa-f]{6}|[A-Za-z]+)$`)

// labelEntity is GitLab's Label / GroupLabel entity.
func labelEntity(lb state.Label, t hookTarget) obj {
	o := obj{
		"id": lb.ID, "name": lb.Name, "color": lb.Color, "text_color": "#FFFFFF",
		"description": nilIfEmpty(lb.Description), "description_html": lb.Description,
		"open_issues_count": 0, "closed_issues_count": 0, "open_merge_requests_count": 0,
		"subscribed": false, "archived": false,
	}
	if !t.group {
		o["priority"] = nil
		o["is_project_label"] = true
	}
	return o
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// findLabel resolves :label_id, an id or a title, as GitLab's find_label!.
func (c *call) findLabel(t hookTarget) (state.Label, bool) {
	key := c.vars["label_id"]
	lb, err := c.s.f.FindLabel(t.scope, func(lb state.Label) bool {
		return strconv.FormatInt(lb.ID, 10) == key || lb.Name == key
	})
	if err != nil {
		c.fail(http.StatusNotFound, "404 Label Not Found")
		return state.Label{}, false
	}
	return lb, true
}

func (s *server) listLabels(c *call, t hookTarget) {
	labels, err := s.f.Labels(t.scope)
	if err != nil {
		c.failErr(err, "Label")
		return
	}
	out := make([]obj, 0, len(labels))
	for _, lb := range paginate(c, labels) {
		out = append(out, labelEntity(lb, t))
	}
	c.json(http.StatusOK, out)
}

func (s *server) createLabel(c *call, t hookTarget) {
	if !c.require(spec{name: "name"}, spec{name: "color"}) {
		return
	}
	color := c.params.get("color")
	if !labelColor.MatchString(color) {
		c.json(http.StatusBadRequest, obj{"message": obj{"color": []string{"must be a valid color code"}}})
		return
	}
	lb, err := s.f.CreateLabel(t.scope, state.Label{Name: c.params.get("name"), Color: color, Description: c.params.get("description")})
	if errors.Is(err, state.ErrExists) {
		c.fail(http.StatusConflict, "Label already exists")
		return
	}
	if err != nil {
		c.failErr(err, "Label")
		return
	}
	c.json(http.StatusCreated, labelEntity(lb, t))
}

func (s *server) getLabel(c *call, t hookTarget) {
	if lb, ok := c.findLabel(t); ok {
		c.json(http.StatusOK, labelEntity(lb, t))
	}
}

// editLabel takes new_name, color and description; one at least.
func (s *server) editLabel(c *call, t hookTarget) {
	lb, ok := c.findLabel(t)
	if !ok {
		return
	}
	newName, hasName := c.params.str("new_name")
	color, hasColor := c.params.str("color")
	desc, hasDesc := c.params.str("description")
	if !hasName && !hasColor && !hasDesc {
		c.badParam("new_name, color, description, priority are missing, at least one parameter must be provided")
		return
	}
	if hasColor && !labelColor.MatchString(color) {
		c.json(http.StatusBadRequest, obj{"message": obj{"color": []string{"must be a valid color code"}}})
		return
	}
	lb, err := s.f.UpdateLabel(t.scope, lb.ID, func(l *state.Label) {
		if hasName && newName != "" {
			l.Name = newName
		}
		if hasColor {
			l.Color = color
		}
		if hasDesc {
			l.Description = desc
		}
	})
	if errors.Is(err, state.ErrExists) {
		c.json(http.StatusBadRequest, obj{"message": obj{"title": []string{"has already been taken"}}})
		return
	}
	if err != nil {
		c.failErr(err, "Label")
		return
	}
	c.json(http.StatusOK, labelEntity(lb, t))
}

func (s *server) deleteLabel(c *call, t hookTarget) {
	lb, ok := c.findLabel(t)
	if !ok {
		return
	}
	if err := s.f.DeleteLabel(t.scope, lb.ID); err != nil {
		c.failErr(err, "Label")
		return
	}
	c.noContent()
}
