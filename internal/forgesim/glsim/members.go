package glsim

import (
	"net/http"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// getMember serves GET /projects/:id/members/:user_id and
// GET /projects/:id/members/all/:user_id. The model has direct grants and
// the namespace owner, who is an Owner (50) as in a personal namespace; it
// does not tell direct from inherited membership, so both endpoints answer
// alike. Non-members get GitLab's find_by! 404.
func (s *server) getMember() func(c *call) {
	return func(c *call) {
		id, ok := c.intVar("user_id")
		if !ok {
			return
		}
		info, ok := c.project()
		if !ok {
			return
		}
		u, err := s.f.UserByID(id)
		if err != nil {
			c.fail(http.StatusNotFound, "404 Not found")
			return
		}
		lvl, err := s.f.Access(info.FullName, u.Login)
		if err != nil || lvl == state.NoAccess {
			c.fail(http.StatusNotFound, "404 Not found")
			return
		}
		m := userBasic(u, c.base())
		m["access_level"] = int(lvl)
		m["created_at"] = apiTime(info.CreatedAt)
		m["created_by"] = nil
		m["expires_at"] = nil
		m["membership_state"] = "active"
		c.json(http.StatusOK, m)
	}
}
