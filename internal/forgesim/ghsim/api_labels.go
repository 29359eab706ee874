package ghsim

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Repository labels: /repos/{o}/{r}/labels[/{name}]. Anyone may read them;
// changing them takes push access (GitHub hides the rest behind 404). Names
// match without regard to case, as on GitHub.

var hexColor = regexp.MustCompile(`^[0-9A-Fa-f]{6}$`)

func repoLabelObject(l links, info state.RepoInfo, lb state.Label) labelJSON {
	out := labelJSON{
		ID: lb.ID, NodeID: nodeID("Label", lb.ID), URL: l.repoAPI(info.FullName, "/labels/"+escapeSegments(lb.Name)),
		Name: lb.Name, Color: lb.Color,
	}
	if lb.Description != "" {
		d := lb.Description
		out.Description = &d
	}
	return out
}

func labelInvalid(field, code string) *apiError { return validationFailed("Label", field, code) }

type labelRequest struct {
	Name        *string `json:"name"`
	NewName     *string `json:"new_name"`
	Color       *string `json:"color"`
	Description *string `json:"description"`
}

// color normalises "#RRGGBB" to "RRGGBB", as GitHub accepts both.
func (r labelRequest) color() (string, error) {
	c := strings.TrimPrefix(*r.Color, "#")
	if !hexColor.MatchString(c) {
		return "", labelInvalid("color", "invalid")
	}
	return strings.ToLower(c), nil
}

func (q *request) findLabel(info state.RepoInfo) (state.Label, bool) {
	name := q.r.PathValue("name")
	lb, err := q.s.f.FindLabel(state.Scope{Repo: info.FullName}, func(lb state.Label) bool { return strings.EqualFold(lb.Name, name) })
	if err != nil {
		q.fail(notFound())
		return state.Label{}, false
	}
	return lb, true
}

func (s *server) listLabels(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	labels, err := s.f.Labels(state.Scope{Repo: info.FullName})
	if err != nil {
		q.fail(err)
		return
	}
	out := []labelJSON{}
	for _, lb := range paginate(q, labels) {
		out = append(out, repoLabelObject(q.l, info, lb))
	}
	q.reply(http.StatusOK, out)
}

func (s *server) getLabel(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	if lb, ok := q.findLabel(info); ok {
		q.reply(http.StatusOK, repoLabelObject(q.l, info, lb))
	}
}

func (s *server) createLabel(q *request) {
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	var req labelRequest
	if err := q.decode(&req); err != nil {
		q.fail(err)
		return
	}
	if req.Name == nil || strings.TrimSpace(*req.Name) == "" {
		q.fail(labelInvalid("name", "missing_field"))
		return
	}
	if req.Color == nil {
		req.Color = new(string)
		*req.Color = "ededed" // GitHub's default colour
	}
	color, err := req.color()
	if err != nil {
		q.fail(err)
		return
	}
	lb := state.Label{Name: *req.Name, Color: color}
	if req.Description != nil {
		lb.Description = *req.Description
	}
	lb, err = s.f.CreateLabel(state.Scope{Repo: info.FullName}, lb)
	if errors.Is(err, state.ErrExists) {
		q.fail(labelInvalid("name", "already_exists"))
		return
	}
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusCreated, repoLabelObject(q.l, info, lb))
}

func (s *server) editLabel(q *request) {
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	lb, ok := q.findLabel(info)
	if !ok {
		return
	}
	var req labelRequest
	if err := q.decode(&req); err != nil {
		q.fail(err)
		return
	}
	var color string
	if req.Color != nil {
		c, err := req.color()
		if err != nil {
			q.fail(err)
			return
		}
		color = c
	}
	lb, err := s.f.UpdateLabel(state.Scope{Repo: info.FullName}, lb.ID, func(l *state.Label) {
		// go-github sends the new name as "name", the REST docs as "new_name".
		if req.NewName != nil && *req.NewName != "" {
			l.Name = *req.NewName
		} else if req.Name != nil && *req.Name != "" {
			l.Name = *req.Name
		}
		if req.Color != nil {
			l.Color = color
		}
		if req.Description != nil {
			l.Description = *req.Description
		}
	})
	if errors.Is(err, state.ErrExists) {
		q.fail(labelInvalid("name", "already_exists"))
		return
	}
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, repoLabelObject(q.l, info, lb))
}

func (s *server) deleteLabel(q *request) {
	info, ok := q.writableRepo()
	if !ok {
		return
	}
	lb, ok := q.findLabel(info)
	if !ok {
		return
	}
	if err := s.f.DeleteLabel(state.Scope{Repo: info.FullName}, lb.ID); err != nil {
		q.fail(err)
		return
	}
	q.w.WriteHeader(http.StatusNoContent)
}
