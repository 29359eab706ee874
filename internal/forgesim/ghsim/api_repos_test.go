package ghsim

import (
	"net/http"
	"strings"
	"testing"
)

func TestAuthentication(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name    string
		header  string
		status  int
		message string
	}{
		{"missing", "", http.StatusUnauthorized, "Requires authentication"},
		{"unknown token", "Bearer nope", http.StatusUnauthorized, "Bad credentials"},
		{"unknown scheme", "Digest " + tokDev, http.StatusUnauthorized, "Bad credentials"},
		{"bearer", "Bearer " + tokDev, http.StatusOK, ""},
		{"token scheme", "token " + tokDev, http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.header != "" {
				hdr = []string{"Authorization", tt.header}
			}
			r := fx.do(http.MethodGet, "/repos/acme/llm", "", nil, hdr...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if r.header.Get("X-GitHub-Request-Id") == "" || r.header.Get("X-RateLimit-Remaining") == "" {
				t.Errorf("GitHub headers missing: %v", r.header)
			}
			if tt.message != "" {
				var e errorBody
				r.json(t, &e)
				if e.Message != tt.message || e.DocumentationURL == "" {
					t.Errorf("body %s, want message %q", r.body, tt.message)
				}
			}
		})
	}

	// go-github surfaces the 401 as an ErrorResponse.
	_, _, err := fx.client("wrong").Users.Get(t.Context(), "")
	if statusOf(err) != http.StatusUnauthorized || messageOf(err) != "Bad credentials" {
		t.Errorf("go-github error %v", err)
	}
}

func TestBasicAuthWithTokenAsPassword(t *testing.T) {
	fx := newFixture(t)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, fx.srv.URL+"/api/v3/user", nil)
	must(t, err)
	req.SetBasicAuth("dev", tokDev)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestUnknownRouteIsGitHubNotFound(t *testing.T) {
	fx := newFixture(t)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/nope"},
		{http.MethodDelete, "/repos/acme/llm/branches/main"},
		{http.MethodGet, "/repos/acme/llm/issues/1/nope"},
	} {
		r := fx.do(tc.method, tc.path, tokDev, nil)
		var e errorBody
		r.json(t, &e)
		if r.status != http.StatusNotFound || e.Message != "Not Found" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
}

func TestUsersAndOrgs(t *testing.T) {
	fx := newFixture(t)
	gh := fx.client(tokBot)

	me, _, err := gh.Users.Get(t.Context(), "")
	must(t, err)
	if me.GetLogin() != botLogin || me.GetType() != "Bot" || me.GetID() == 0 {
		t.Errorf("GET /user = %+v", me)
	}

	tests := []struct {
		login, typ, name string
		status           int
	}{
		{"dev", "User", "Dev Eloper", http.StatusOK},
		{botLogin, "Bot", "expbot", http.StatusOK},
		{"ghost", "", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		u, _, err := gh.Users.Get(t.Context(), tt.login)
		if tt.status != http.StatusOK {
			if statusOf(err) != tt.status {
				t.Errorf("GET /users/%s: %v, want %d", tt.login, err, tt.status)
			}
			continue
		}
		must(t, err)
		if u.GetLogin() != tt.login || u.GetType() != tt.typ || u.GetName() != tt.name ||
			!strings.HasSuffix(u.GetHTMLURL(), "/"+tt.login) {
			t.Errorf("GET /users/%s = %+v", tt.login, u)
		}
	}

	org, _, err := gh.Organizations.Get(t.Context(), "acme")
	must(t, err)
	if org.GetLogin() != "acme" || org.GetID() == 0 || org.GetType() != "Organization" {
		t.Errorf("GET /orgs/acme = %+v", org)
	}
	// A personal account is not an organisation: the provider relies on this 404.
	if _, _, err := gh.Organizations.Get(t.Context(), "olga"); statusOf(err) != http.StatusNotFound {
		t.Errorf("GET /orgs/olga: %v", err)
	}
}

func TestGetRepository(t *testing.T) {
	fx := newFixture(t)
	orgID, _ := fx.f.OrgID("acme")
	tests := []struct {
		name, token, owner, repo string
		ownerType, defaultBranch string
		ownerID                  int64
		push, admin              bool
		status                   int
	}{
		{"org repo as developer", tokDev, "acme", "llm", "Organization", "main", orgID, true, false, http.StatusOK},
		{"org repo as outsider", tokNobody, "acme", "llm", "Organization", "main", orgID, false, false, http.StatusOK},
		{"personal repo as owner", tokOlga, "olga", "tools", "User", "trunk", 0, true, true, http.StatusOK},
		{"missing", tokDev, "acme", "nope", "", "", 0, false, false, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _, err := fx.client(tt.token).Repositories.Get(t.Context(), tt.owner, tt.repo)
			if tt.status != http.StatusOK {
				if statusOf(err) != tt.status {
					t.Fatalf("err %v, want %d", err, tt.status)
				}
				return
			}
			must(t, err)
			if r.GetFullName() != tt.owner+"/"+tt.repo || r.GetName() != tt.repo || r.GetID() == 0 ||
				r.GetOwner().GetLogin() != tt.owner || r.GetOwner().GetType() != tt.ownerType ||
				r.GetDefaultBranch() != tt.defaultBranch || r.GetArchived() || r.GetPrivate() ||
				!strings.HasSuffix(r.GetHTMLURL(), "/"+tt.owner+"/"+tt.repo) ||
				!strings.Contains(r.GetURL(), "/api/v3/repos/"+tt.owner+"/"+tt.repo) {
				t.Errorf("repository %+v", r)
			}
			if tt.ownerID != 0 && r.GetOwner().GetID() != tt.ownerID {
				t.Errorf("owner id %d, want %d", r.GetOwner().GetID(), tt.ownerID)
			}
			p := r.GetPermissions()
			if p["push"] != tt.push || p["admin"] != tt.admin || !p["pull"] {
				t.Errorf("permissions %v", p)
			}
		})
	}
}

func TestCollaboratorPermission(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		token, repo, user string
		permission, role  string
		status            int
	}{
		{tokBot, "acme/llm", "maint", "write", "maintain", http.StatusOK},
		{tokBot, "acme/llm", "dev", "write", "write", http.StatusOK},
		{tokBot, "acme/llm", "rita", "read", "triage", http.StatusOK},
		{tokBot, "acme/llm", "gus", "read", "read", http.StatusOK},
		{tokBot, "acme/llm", "nobody", "none", "none", http.StatusOK},
		{tokBot, "acme/llm", botLogin, "write", "write", http.StatusOK},
		{tokOlga, "olga/tools", "olga", "admin", "admin", http.StatusOK},
		{tokBot, "acme/llm", "ghost", "", "", http.StatusNotFound},
		{tokRita, "acme/llm", "dev", "", "", http.StatusForbidden}, // needs push access
		{tokBot, "acme/nope", "dev", "", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.repo+"/"+tt.user, func(t *testing.T) {
			owner, name, _ := strings.Cut(tt.repo, "/")
			p, _, err := fx.client(tt.token).Repositories.GetPermissionLevel(t.Context(), owner, name, tt.user)
			if tt.status != http.StatusOK {
				if statusOf(err) != tt.status {
					t.Fatalf("err %v, want %d", err, tt.status)
				}
				return
			}
			must(t, err)
			if p.GetPermission() != tt.permission || p.GetUser().GetLogin() != tt.user {
				t.Errorf("got %s for %s, want %s", p.GetPermission(), p.GetUser().GetLogin(), tt.permission)
			}
			// go-github v60 has no RoleName; read it from the raw body.
			var raw permissionJSON
			fx.do(http.MethodGet, "/repos/"+tt.repo+"/collaborators/"+tt.user+"/permission", tt.token, nil).json(t, &raw)
			if raw.RoleName != tt.role {
				t.Errorf("role_name %q, want %q", raw.RoleName, tt.role)
			}
		})
	}

	ok, _, err := fx.client(tokDev).Repositories.IsCollaborator(t.Context(), "acme", "llm", "rita")
	must(t, err)
	notOK, _, err := fx.client(tokDev).Repositories.IsCollaborator(t.Context(), "acme", "llm", "nobody")
	must(t, err)
	if !ok || notOK {
		t.Errorf("IsCollaborator rita=%v nobody=%v", ok, notOK)
	}
}

func TestListTags(t *testing.T) {
	fx := newFixture(t)
	for _, tag := range []string{"v1", "exp/run-1"} {
		if _, err := fx.f.PushTag("acme/llm", "dev", tag, "main"); err != nil {
			t.Fatal(err)
		}
	}
	tags, _, err := fx.client(tokDev).Repositories.ListTags(t.Context(), "acme", "llm", nil)
	must(t, err)
	main := fx.head("acme/llm", "main")
	if len(tags) != 2 || tags[0].GetName() != "exp/run-1" || tags[1].GetName() != "v1" || tags[0].GetCommit().GetSHA() != main {
		t.Errorf("tags %v", tags)
	}
}
