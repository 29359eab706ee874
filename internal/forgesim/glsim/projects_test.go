package glsim

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestUsers(t *testing.T) {
	fx := newFixture(t)
	me, _, err := fx.client("expbot").Users.CurrentUser()
	if err != nil {
		t.Fatal(err)
	}
	if me.Username != "expbot" || me.Email != "expbot@example.com" || !me.Bot || me.State != "active" || me.WebURL != fx.srv.URL+"/expbot" {
		t.Errorf("current user = %+v", me)
	}
	other, _, err := fx.client("dev").Users.GetUser(me.ID, gitlab.GetUsersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if other.Username != "expbot" || other.Email != "" {
		t.Errorf("GET /users/:id = %q email %q; want expbot without email", other.Username, other.Email)
	}
	for _, q := range []string{"expbot", "ExpBot"} {
		found, _, err := fx.client("dev").Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr(q)})
		if err != nil || len(found) != 1 || found[0].ID != me.ID {
			t.Errorf("GET /users?username=%s = %+v, %v", q, found, err)
		}
	}
	if none, _, err := fx.client("dev").Users.ListUsers(&gitlab.ListUsersOptions{Username: gitlab.Ptr("ghost")}); err != nil || len(none) != 0 {
		t.Errorf("unknown username = %+v, %v", none, err)
	}
	r := fx.do(http.MethodGet, "/users/999999", "tok-dev", "", "")
	if r.status != http.StatusNotFound || r.decode(t)["message"] != "404 User Not Found" {
		t.Errorf("unknown user = %d %s", r.status, r.body)
	}
	v, _, err := fx.client("dev").Version.GetVersion()
	if err != nil || v.Version != "17.11.0-ee" {
		t.Errorf("version = %+v, %v", v, err)
	}
	md, _, err := fx.client("dev").Metadata.GetMetadata()
	if err != nil || md.Version != "17.11.0-ee" || !md.Enterprise || md.KAS.Enabled {
		t.Errorf("metadata = %+v, %v", md, err)
	}
}

func TestGetProject(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	for _, id := range []any{project, int(fx.repo.ID), strconv.FormatInt(fx.repo.ID, 10)} {
		p, _, err := gl.Projects.GetProject(id, nil)
		if err != nil {
			t.Fatalf("GetProject(%v): %v", id, err)
		}
		if p.ID != int(fx.repo.ID) || p.PathWithNamespace != project || p.Path != "llm" || p.DefaultBranch != "main" ||
			p.WebURL != fx.srv.URL+"/acme/llm" || p.HTTPURLToRepo != fx.srv.URL+"/acme/llm.git" ||
			p.Namespace == nil || p.Namespace.FullPath != "acme" || p.Namespace.Kind != "group" || p.NameWithNamespace != "acme / llm" {
			t.Errorf("GetProject(%v) = %+v", id, p)
		}
		if p.Permissions == nil || p.Permissions.ProjectAccess == nil || p.Permissions.ProjectAccess.AccessLevel != gitlab.DeveloperPermissions {
			t.Errorf("permissions = %+v", p.Permissions)
		}
	}
	for _, path := range []string{"/projects/acme%2Fnope", "/projects/424242"} {
		r := fx.do(http.MethodGet, path, "tok-dev", "", "")
		if r.status != http.StatusNotFound || r.decode(t)["message"] != "404 Project Not Found" {
			t.Errorf("GET %s = %d %s", path, r.status, r.body)
		}
	}
}

func TestUserNamespaceProject(t *testing.T) {
	fx := newFixture(t)
	fx.f.AddUser("alice", "Alice A", "alice@example.com", "tok-alice", false)
	if _, err := fx.f.CreateRepo("alice/notes", "trunk", map[string]string{"a": "b"}, state.Signature{Name: "A", Email: "a@x"}); err != nil {
		t.Fatal(err)
	}
	p, _, err := fx.client("alice").Projects.GetProject("alice/notes", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Namespace.Kind != "user" || p.Namespace.Name != "Alice A" || p.Owner == nil || p.Owner.Username != "alice" ||
		p.Permissions.ProjectAccess.AccessLevel != gitlab.OwnerPermissions || p.DefaultBranch != "trunk" {
		t.Errorf("personal project = %+v namespace %+v", p, p.Namespace)
	}
}

func TestBranchLifecycle(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	mainHead := fx.head("main")
	fx.takeEvents()

	b, resp, err := gl.Branches.CreateBranch(project, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr("exp/1-x"), Ref: gitlab.Ptr("main")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("create status %d, want 201", resp.StatusCode)
	}
	if b.Name != "exp/1-x" || b.Commit == nil || b.Commit.ID != mainHead || b.Commit.ShortID != mainHead[:8] ||
		b.Commit.AuthoredDate == nil || b.Commit.CommittedDate == nil || b.Commit.CreatedAt == nil ||
		b.Commit.Title != "Initial commit" || b.Commit.AuthorName != "Init" || b.Protected || b.Default || !b.CanPush || b.Merged ||
		b.WebURL != fx.srv.URL+"/acme/llm/-/tree/exp/1-x" {
		t.Errorf("created branch = %+v commit %+v", b, b.Commit)
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.BranchPushed || evs[0].Ref != "refs/heads/exp/1-x" || evs[0].Before != state.ZeroSHA || evs[0].After != mainHead {
		t.Errorf("branch creation events = %+v", evs)
	}

	got, _, err := gl.Branches.GetBranch(project, "exp/1-x")
	if err != nil || got.Name != "exp/1-x" || got.Commit.ID != mainHead {
		t.Fatalf("GetBranch = %+v, %v", got, err)
	}
	r := fx.do(http.MethodGet, "/projects/acme%2Fllm/repository/branches/exp%2F1-x", "tok-dev", "", "")
	if r.status != http.StatusOK || r.decode(t)["name"] != "exp/1-x" {
		t.Errorf("raw escaped GET = %d %s", r.status, r.body)
	}
	def, _, err := gl.Branches.GetBranch(project, "main")
	if err != nil || !def.Default || !def.Protected || def.CanPush {
		t.Errorf("main for a developer = %+v, %v; want default, protected, no push", def, err)
	}
	if mdef, _, _ := fx.client("maint").Branches.GetBranch(project, "main"); mdef == nil || !mdef.CanPush {
		t.Errorf("main for a maintainer: can_push should be true")
	}

	// A branch whose head the default branch contains counts as merged.
	if _, _, err := fx.f.PushFiles(project, "main", "maint", "move on", []state.FileChange{{Path: "x", Content: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := gl.Branches.GetBranch(project, "exp/1-x"); got == nil || !got.Merged {
		t.Errorf("branch behind main should be merged: %+v", got)
	}

	fx.takeEvents()
	if resp, err := gl.Branches.DeleteBranch(project, "exp/1-x"); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteBranch = %v, %v", resp, err)
	}
	evs = fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.BranchPushed || evs[0].After != state.ZeroSHA || evs[0].Before != mainHead {
		t.Errorf("branch deletion events = %+v", evs)
	}
	r = fx.do(http.MethodGet, "/projects/acme%2Fllm/repository/branches/exp%2F1-x", "tok-dev", "", "")
	if r.status != http.StatusNotFound || r.decode(t)["message"] != "404 Branch Not Found" {
		t.Errorf("GET deleted branch = %d %s", r.status, r.body)
	}
}

func TestCreateBranchFromTagAndSHA(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	head := fx.head("main")
	if _, err := fx.f.PushTag(project, "maint", "v1", "main"); err != nil {
		t.Fatal(err)
	}
	for i, ref := range []string{"v1", head, head[:10], "HEAD", "refs/heads/main"} {
		name := "from-" + strconv.Itoa(i)
		b, _, err := gl.Branches.CreateBranch(project, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr(name), Ref: gitlab.Ptr(ref)})
		if err != nil {
			t.Fatalf("from %s: %v", ref, err)
		}
		if b.Commit.ID != head {
			t.Errorf("branch from %s at %s, want %s", ref, b.Commit.ID, head)
		}
	}
}

func TestBranchErrors(t *testing.T) {
	fx := newFixture(t)
	if _, _, err := fx.client("dev").Branches.CreateBranch(project, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr("a"), Ref: gitlab.Ptr("main")}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, token, body string
		status                          int
		key, message                    string
	}{
		{"missing branch", "POST", "/projects/acme%2Fllm/repository/branches", "tok-dev", `{"ref":"main"}`, 400, "error", "branch is missing"},
		{"missing both", "POST", "/projects/acme%2Fllm/repository/branches", "tok-dev", `{}`, 400, "error", "branch is missing, ref is missing"},
		{"exists", "POST", "/projects/acme%2Fllm/repository/branches", "tok-dev", `{"branch":"main","ref":"main"}`, 400, "message", "Branch already exists"},
		{"invalid name", "POST", "/projects/acme%2Fllm/repository/branches", "tok-dev", `{"branch":"bad..name","ref":"main"}`, 400, "message", "Branch name is invalid"},
		{"unknown ref", "POST", "/projects/acme%2Fllm/repository/branches", "tok-dev", `{"branch":"b","ref":"nope"}`, 400, "message", "Failed to create branch 'b': invalid reference name 'nope'"},
		{"hierarchy clash", "POST", "/projects/acme%2Fllm/repository/branches", "tok-dev", `{"branch":"a/b","ref":"main"}`, 400, "message", "Failed to create branch 'a/b': Branch name conflicts with existing branch hierarchy."},
		{"guest cannot create", "POST", "/projects/acme%2Fllm/repository/branches", "tok-guest", `{"branch":"g","ref":"main"}`, 403, "message", "403 Forbidden"},
		{"outsider cannot create", "POST", "/projects/acme%2Fllm/repository/branches", "tok-outsider", `{"branch":"g","ref":"main"}`, 403, "message", "403 Forbidden"},
		{"unknown project", "POST", "/projects/acme%2Fnope/repository/branches", "tok-dev", `{"branch":"g","ref":"main"}`, 404, "message", "404 Project Not Found"},
		{"get unknown", "GET", "/projects/acme%2Fllm/repository/branches/nope", "tok-dev", "", 404, "message", "404 Branch Not Found"},
		{"delete unknown", "DELETE", "/projects/acme%2Fllm/repository/branches/nope", "tok-dev", "", 404, "message", "404 Branch Not Found"},
		{"delete default", "DELETE", "/projects/acme%2Fllm/repository/branches/main", "tok-maint", "", 405, "message", "Cannot remove HEAD branch"},
		{"guest cannot delete", "DELETE", "/projects/acme%2Fllm/repository/branches/a", "tok-guest", "", 403, "message", "403 Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.do(tt.method, tt.path, tt.token, "application/json", tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if got := r.decode(t)[tt.key]; got != tt.message {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.message)
			}
		})
	}
}

func TestListBranchesSearch(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	for _, b := range []string{"exp/1-a", "exp/2-b", "feature"} {
		if _, _, err := gl.Branches.CreateBranch(project, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr(b), Ref: gitlab.Ptr("main")}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		opt  gitlab.ListBranchesOptions
		want []string
	}{
		{gitlab.ListBranchesOptions{}, []string{"exp/1-a", "exp/2-b", "feature", "main"}},
		{gitlab.ListBranchesOptions{Search: gitlab.Ptr("^exp/")}, []string{"exp/1-a", "exp/2-b"}},
		{gitlab.ListBranchesOptions{Search: gitlab.Ptr("b$")}, []string{"exp/2-b"}},
		{gitlab.ListBranchesOptions{Search: gitlab.Ptr("AI")}, []string{"main"}},
		{gitlab.ListBranchesOptions{Regex: gitlab.Ptr("^exp/[0-9]+-a$")}, []string{"exp/1-a"}},
	}
	for _, tt := range tests {
		got, _, err := gl.Branches.ListBranches(project, &tt.opt)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, b := range got {
			names = append(names, b.Name)
		}
		if len(names) != len(tt.want) {
			t.Errorf("list %+v = %v, want %v", tt.opt, names, tt.want)
			continue
		}
		for i := range names {
			if names[i] != tt.want[i] {
				t.Errorf("list %+v = %v, want %v", tt.opt, names, tt.want)
				break
			}
		}
	}
}

// Grape answers HEAD on every GET route; clients probe branches that way.
func TestHeadOnGetRoutes(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		path   string
		status int
	}{
		{"/projects/acme%2Fllm/repository/branches/main", http.StatusOK},
		{"/projects/acme%2Fllm/repository/branches/nope", http.StatusNotFound},
		{"/projects/acme%2Fllm", http.StatusOK},
	}
	for _, tt := range tests {
		r := fx.do(http.MethodHead, tt.path, "tok-dev", "", "")
		if r.status != tt.status || len(r.body) != 0 {
			t.Errorf("HEAD %s = %d with %d body bytes, want %d and none", tt.path, r.status, len(r.body), tt.status)
		}
	}
}

// Parallel writers on one project (the provider serialises file calls, the
// bot does not) all land, each as its own push.
func TestConcurrentWrites(t *testing.T) {
	fx := newFixture(t)
	fx.takeEvents()
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			gl := fx.client("expbot")
			name := "exp/" + strconv.Itoa(i)
			if _, _, err := gl.Branches.CreateBranch(project, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr(name), Ref: gitlab.Ptr("main")}); err != nil {
				errs <- err
				return
			}
			_, _, err := gl.RepositoryFiles.CreateFile(project, "exp.yaml", &gitlab.CreateFileOptions{
				Branch: gitlab.Ptr(name), Content: gitlab.Ptr(name), CommitMessage: gitlab.Ptr(name),
			})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if evs := fx.takeEvents(); len(evs) != 2*n {
		t.Errorf("%d events, want %d", len(evs), 2*n)
	}
	for i := range n {
		raw, _, err := fx.client("dev").RepositoryFiles.GetRawFile(project, "exp.yaml", &gitlab.GetRawFileOptions{Ref: gitlab.Ptr("exp/" + strconv.Itoa(i))})
		if err != nil || string(raw) != "exp/"+strconv.Itoa(i) {
			t.Errorf("exp/%d holds %q, %v", i, raw, err)
		}
	}
}
