package glsim

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/xanzy/go-gitlab"
)

func TestMatchPatternUnescapesEachSegmentAlone(t *testing.T) {
	pattern := strings.Split("projects/:id/repository/files/:file_path/raw", "/")
	tests := []struct {
		path    string
		ok      bool
		id, fp  string
		comment string
	}{
		{"projects/acme%2Fllm/repository/files/dir%2Fa%2Eyaml/raw", true, "acme/llm", "dir/a.yaml", "escaped slashes and dots stay inside"},
		{"projects/42/repository/files/a.yaml/raw", true, "42", "a.yaml", "plain segments"},
		{"projects/acme/llm/repository/files/a.yaml/raw", false, "", "", "an unescaped project path is two segments"},
		{"projects/acme%2Fllm/repository/files/dir/a.yaml/raw", false, "", "", "an unescaped file path is two segments"},
		{"projects/acme%2Fllm/repository/files/%zz/raw", false, "", "", "bad escape"},
	}
	for _, tt := range tests {
		t.Run(tt.comment, func(t *testing.T) {
			segs, ok := splitPath("/" + tt.path)
			if !ok {
				t.Fatalf("splitPath(%q) failed", tt.path)
			}
			vars, ok := matchPattern(pattern, segs)
			if ok != tt.ok {
				t.Fatalf("match = %v, want %v", ok, tt.ok)
			}
			if ok && (vars["id"] != tt.id || vars["file_path"] != tt.fp) {
				t.Errorf("vars = %v, want id %q file_path %q", vars, tt.id, tt.fp)
			}
		})
	}
}

func TestSplitPathRejectsEmptySegments(t *testing.T) {
	for _, p := range []string{"/", "", "/projects//x", "/user/"} {
		if _, ok := splitPath(p); ok {
			t.Errorf("splitPath(%q) accepted an empty segment", p)
		}
	}
}

func TestAuthentication(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name   string
		setup  func(*http.Request)
		query  string
		status int
	}{
		{"no token", func(*http.Request) {}, "", http.StatusUnauthorized},
		{"unknown private token", func(r *http.Request) { r.Header.Set("PRIVATE-TOKEN", "nope") }, "", http.StatusUnauthorized},
		{"private token", func(r *http.Request) { r.Header.Set("PRIVATE-TOKEN", "tok-dev") }, "", http.StatusOK},
		{"bearer token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-dev") }, "", http.StatusOK},
		{"basic auth is not a token", func(r *http.Request) { r.SetBasicAuth("dev", "tok-dev") }, "", http.StatusUnauthorized},
		{"private_token query", func(*http.Request) {}, "?private_token=tok-dev", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, fx.srv.URL+apiPrefix+"/user"+tt.query, nil)
			if err != nil {
				t.Fatal(err)
			}
			tt.setup(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.status)
			}
		})
	}
	// The 401 body is GitLab's.
	r := fx.do(http.MethodGet, "/projects/acme%2Fllm", "", "", "")
	if r.status != http.StatusUnauthorized || r.decode(t)["message"] != "401 Unauthorized" {
		t.Errorf("GET project without token = %d %s, want 401 {\"message\":\"401 Unauthorized\"}", r.status, r.body)
	}
	// go-gitlab sees it as an error with that message.
	bad, _ := gitlab.NewClient("wrong", gitlab.WithBaseURL(fx.srv.URL+apiPrefix), gitlab.WithoutRetries())
	if _, _, err := bad.Users.CurrentUser(); errorStatus(err) != http.StatusUnauthorized || errorMessage(err) != "{message: 401 Unauthorized}" {
		t.Errorf("CurrentUser with a bad token: err = %v", err)
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		method, path string
		status       int
		body         string
	}{
		{http.MethodGet, "/nothing/here", http.StatusNotFound, `{"error":"404 Not Found"}`},
		{http.MethodGet, "/projects/acme/llm", http.StatusNotFound, `{"error":"404 Not Found"}`},
		{http.MethodGet, "/projects/acme%2Fllm/repository/branches/exp/1", http.StatusNotFound, `{"error":"404 Not Found"}`},
		{http.MethodPatch, "/projects/acme%2Fllm/repository/branches", http.StatusMethodNotAllowed, `{"error":"405 Not Allowed"}`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := fx.do(tt.method, tt.path, "tok-dev", "", "")
			if r.status != tt.status || strings.TrimSpace(string(r.body)) != tt.body {
				t.Errorf("= %d %s, want %d %s", r.status, r.body, tt.status, tt.body)
			}
		})
	}
}

// GitLab (Rack) reads parameters from the query string, a JSON body or a
// form body alike.
func TestParameterSources(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name, query, contentType, body, branch string
	}{
		{"json body", "", "application/json", `{"branch":"from-json","ref":"main"}`, "from-json"},
		{"form body", "", "application/x-www-form-urlencoded", "branch=from%2Fform&ref=main", "from/form"},
		{"query string", "?branch=from-query&ref=main", "", "", "from-query"},
		{"body wins over query", "?branch=ignored&ref=main", "application/json", `{"branch":"from-body"}`, "from-body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.do(http.MethodPost, "/projects/acme%2Fllm/repository/branches"+tt.query, "tok-dev", tt.contentType, tt.body)
			if r.status != http.StatusCreated {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			if got := r.decode(t)["name"]; got != tt.branch {
				t.Errorf("created %v, want %q", got, tt.branch)
			}
		})
	}
	r := fx.do(http.MethodPost, "/projects/acme%2Fllm/repository/branches", "tok-dev", "application/json", `{"branch":`)
	if r.status != http.StatusBadRequest {
		t.Errorf("malformed JSON: status %d, want 400", r.status)
	}
}

func TestPagination(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	for i := range 25 {
		if _, _, err := gl.Branches.CreateBranch(project, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr(fmt.Sprintf("b%02d", i)), Ref: gitlab.Ptr("main")}); err != nil {
			t.Fatalf("creating branch %d: %v", i, err)
		}
	}
	branches, resp, err := gl.Branches.ListBranches(project, &gitlab.ListBranchesOptions{ListOptions: gitlab.ListOptions{Page: 2, PerPage: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(branches) != 10 || branches[0].Name != "b10" {
		t.Errorf("page 2 = %d branches starting %q, want 10 starting b10", len(branches), branches[0].Name)
	}
	if resp.TotalItems != 26 || resp.TotalPages != 3 || resp.CurrentPage != 2 || resp.NextPage != 3 || resp.PreviousPage != 1 || resp.ItemsPerPage != 10 {
		t.Errorf("pagination = total %d pages %d page %d next %d prev %d per %d", resp.TotalItems, resp.TotalPages, resp.CurrentPage, resp.NextPage, resp.PreviousPage, resp.ItemsPerPage)
	}
	if !strings.HasPrefix(resp.NextLink, fx.srv.URL+"/api/v4/projects/acme%2Fllm/repository/branches?") || !strings.Contains(resp.NextLink, "page=3") {
		t.Errorf("next link = %q", resp.NextLink)
	}
	last, resp, err := gl.Branches.ListBranches(project, &gitlab.ListBranchesOptions{ListOptions: gitlab.ListOptions{Page: 3, PerPage: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if len(last) != 6 || resp.NextPage != 0 {
		t.Errorf("last page: %d items, next page %d; want 6 and none", len(last), resp.NextPage)
	}
	beyond, _, err := gl.Branches.ListBranches(project, &gitlab.ListBranchesOptions{ListOptions: gitlab.ListOptions{Page: 9, PerPage: 10}})
	if err != nil || len(beyond) != 0 {
		t.Errorf("page past the end = %d items, %v; want none", len(beyond), err)
	}
}
