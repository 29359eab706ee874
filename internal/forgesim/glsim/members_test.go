package glsim

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestMembers(t *testing.T) {
	fx := newFixture(t)
	fx.f.AddUser("acme", "Acme Owner", "owner@example.com", "tok-acme", false)
	gl := fx.client("expbot")
	tests := []struct {
		login string
		want  gitlab.AccessLevelValue // 0: not a member
	}{
		{"maint", gitlab.MaintainerPermissions},
		{"dev", gitlab.DeveloperPermissions},
		{"guest", gitlab.GuestPermissions},
		{"expbot", gitlab.DeveloperPermissions},
		{"acme", gitlab.OwnerPermissions}, // the namespace owner
		{"outsider", 0},
	}
	for _, tt := range tests {
		t.Run(tt.login, func(t *testing.T) {
			u, err := fx.f.UserByLogin(tt.login)
			if err != nil {
				t.Fatal(err)
			}
			m, _, err := gl.ProjectMembers.GetInheritedProjectMember(project, int(u.ID))
			if tt.want == 0 {
				if errorStatus(err) != http.StatusNotFound {
					t.Errorf("non-member: %+v, %v", m, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.ID != int(u.ID) || m.Username != tt.login || m.State != "active" || m.AccessLevel != tt.want {
				t.Errorf("member = %+v, want level %d", m, tt.want)
			}
			direct, _, err := gl.ProjectMembers.GetProjectMember(project, int(u.ID))
			if err != nil || direct.AccessLevel != tt.want {
				t.Errorf("GET members/:id = %+v, %v", direct, err)
			}
		})
	}
	for _, path := range []string{"/projects/acme%2Fllm/members/all/999999", "/projects/acme%2Fnope/members/all/1"} {
		r := fx.do(http.MethodGet, path, "tok-dev", "", "")
		if r.status != http.StatusNotFound {
			t.Errorf("GET %s = %d", path, r.status)
		}
	}
	r := fx.do(http.MethodGet, "/projects/acme%2Fllm/members/all/abc", "tok-dev", "", "")
	if r.status != http.StatusBadRequest || r.decode(t)["error"] != "user_id is invalid" {
		t.Errorf("non-numeric user id = %d %s", r.status, r.body)
	}
	// A grant takes effect at once.
	if err := fx.f.SetAccess(project, "outsider", state.Reporter); err != nil {
		t.Fatal(err)
	}
	u, _ := fx.f.UserByLogin("outsider")
	r = fx.do(http.MethodGet, "/projects/acme%2Fllm/members/all/"+strconv.FormatInt(u.ID, 10), "tok-dev", "", "")
	if r.status != http.StatusOK || r.decode(t)["access_level"] != float64(state.Reporter) {
		t.Errorf("after grant = %d %s", r.status, r.body)
	}
}
