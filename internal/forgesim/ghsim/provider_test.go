package ghsim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// TestProviderCallSequence replays, with raw HTTP, the calls the official
// pulumi-github 6.12.1 plugin makes for a Branch plus a RepositoryFile
// (create, no-op refresh, update, destroy), in its order and with its
// escaping: raw "/" under git/ref(s)/heads/, %2F under branches/, and a
// query-escaped ?ref=.
func TestProviderCallSequence(t *testing.T) {
	fx := newFixture(t)
	const tok = tokBot
	type step struct {
		name         string
		method, path string
		body         any
		headers      []string
		status       int
		check        func(t *testing.T, r rawResponse)
	}
	var mainSHA, etag, fileSHA, commitSHA string
	content := "lr: 0.2\nbatch: 8\n"
	updated := "lr: 0.3\nbatch: 8\n"

	run := func(s step) rawResponse {
		t.Helper()
		r := fx.do(s.method, s.path, tok, s.body, s.headers...)
		if r.status != s.status {
			t.Fatalf("%s: %s %s = %d, want %d: %s", s.name, s.method, s.path, r.status, s.status, r.body)
		}
		if s.check != nil {
			s.check(t, r)
		}
		return r
	}

	// Configure: an organisation owner.
	run(step{name: "configure", method: http.MethodGet, path: "/orgs/acme", status: http.StatusOK, check: func(t *testing.T, r rawResponse) {
		var o struct{ ID int64 }
		r.json(t, &o)
		if o.ID == 0 {
			t.Error("organisation without id")
		}
	}})

	// Branch create: source ref, then the new ref.
	run(step{name: "source ref", method: http.MethodGet, path: "/repos/acme/llm/git/ref/heads/main", status: http.StatusOK,
		check: func(t *testing.T, r rawResponse) {
			var ref refJSON
			r.json(t, &ref)
			mainSHA = ref.Object.SHA
			if ref.Ref != "refs/heads/main" || ref.Object.Type != "commit" || len(mainSHA) != 40 {
				t.Errorf("source ref %s", r.body)
			}
		}})
	run(step{name: "create ref", method: http.MethodPost, path: "/repos/acme/llm/git/refs",
		body: map[string]string{"ref": "refs/heads/exp/x", "sha": mainSHA}, status: http.StatusCreated,
		check: func(t *testing.T, r rawResponse) {
			if !strings.HasSuffix(r.header.Get("Location"), "/api/v3/repos/acme/llm/git/refs/heads/exp/x") {
				t.Errorf("Location %q", r.header.Get("Location"))
			}
		}})
	// A retried create meets "Reference already exists" without an errors
	// array, which the provider treats as success.
	run(step{name: "create ref again", method: http.MethodPost, path: "/repos/acme/llm/git/refs",
		body: map[string]string{"ref": "refs/heads/exp/x", "sha": mainSHA}, status: http.StatusUnprocessableEntity,
		check: func(t *testing.T, r rawResponse) {
			var e map[string]any
			r.json(t, &e)
			if _, has := e["errors"]; has || e["message"] != "Reference already exists" {
				t.Errorf("already exists body %s", r.body)
			}
		}})
	readBranch := func(ifNoneMatch, wantSHA string) {
		t.Helper()
		run(step{name: "branch read", method: http.MethodGet, path: "/repos/acme/llm/git/ref/heads/exp/x",
			headers: []string{"If-None-Match", ifNoneMatch}, status: http.StatusOK,
			check: func(t *testing.T, r rawResponse) {
				var ref refJSON
				r.json(t, &ref)
				if r.header.Get("ETag") == "" || r.header.Get("ETag") == ifNoneMatch || ref.Ref != "refs/heads/exp/x" || ref.Object.SHA != wantSHA {
					t.Errorf("branch read etag %q body %s", r.header.Get("ETag"), r.body)
				}
				etag = r.header.Get("ETag")
			}})
	}
	readBranch("", mainSHA)

	// RepositoryFile create.
	run(step{name: "repository", method: http.MethodGet, path: "/repos/acme/llm", status: http.StatusOK, check: func(t *testing.T, r rawResponse) {
		var repo struct {
			ID            int64  `json:"id"`
			DefaultBranch string `json:"default_branch"`
			Archived      bool   `json:"archived"`
		}
		r.json(t, &repo)
		if repo.ID == 0 || repo.DefaultBranch != "main" || repo.Archived {
			t.Errorf("repository %s", r.body)
		}
	}})
	run(step{name: "branch exists", method: http.MethodGet, path: "/repos/acme/llm/branches/exp%2Fx", status: http.StatusOK})
	run(step{name: "file absent", method: http.MethodGet, path: "/repos/acme/llm/contents/experiment.yaml?ref=exp%2Fx", status: http.StatusNotFound})
	run(step{name: "file create", method: http.MethodPut, path: "/repos/acme/llm/contents/experiment.yaml",
		body: map[string]any{
			"message": "Add experiment.yaml", "content": base64.StdEncoding.EncodeToString([]byte(content)), "branch": "exp/x",
			"committer": map[string]string{"name": "expbot", "email": "bot@example.com"},
			"author":    map[string]string{"name": "expbot", "email": "bot@example.com"},
		}, status: http.StatusCreated,
		check: func(t *testing.T, r rawResponse) {
			var out contentResponse
			r.json(t, &out)
			commitSHA = out.Commit.SHA
			if out.Content == nil || out.Content.SHA != state.BlobSHA([]byte(content)) || len(commitSHA) != 40 {
				t.Errorf("create response %s", r.body)
			}
		}})
	readFile := func(want string) {
		t.Helper()
		run(step{name: "file read", method: http.MethodGet, path: "/repos/acme/llm/contents/experiment.yaml?ref=exp%2Fx", status: http.StatusOK,
			check: func(t *testing.T, r rawResponse) {
				var fc contentJSON
				r.json(t, &fc)
				b, err := base64.StdEncoding.DecodeString(*fc.Content)
				must(t, err)
				u, err := url.Parse(fc.URL)
				must(t, err)
				q, err := url.ParseQuery(u.RawQuery)
				must(t, err)
				fileSHA = fc.SHA
				if fc.Type != "file" || fc.Encoding != "base64" || string(b) != want || fc.SHA != state.BlobSHA([]byte(want)) ||
					len(q["ref"]) != 1 || q["ref"][0] != "exp/x" {
					t.Errorf("file read %s", r.body)
				}
			}})
		run(step{name: "file commit", method: http.MethodGet, path: "/repos/acme/llm/commits/" + commitSHA, status: http.StatusOK,
			check: func(t *testing.T, r rawResponse) {
				var c repoCommitJSON
				r.json(t, &c)
				if c.SHA != commitSHA || c.Commit.Committer.Name != "expbot" || c.Commit.Committer.Email != "bot@example.com" || c.Commit.Message == "" {
					t.Errorf("commit %s", r.body)
				}
			}})
	}
	readFile(content)

	// Refresh: the file commit moved the branch, so the stored ETag is
	// stale and the read answers 200 with a new one; a second refresh with
	// that one answers 304.
	readBranch(etag, commitSHA)
	run(step{name: "branch refresh", method: http.MethodGet, path: "/repos/acme/llm/git/ref/heads/exp/x",
		headers: []string{"If-None-Match", etag}, status: http.StatusNotModified})
	run(step{name: "branch exists (refresh)", method: http.MethodGet, path: "/repos/acme/llm/branches/exp%2Fx", status: http.StatusOK})
	readFile(content)

	// Update with the current blob sha: a new commit, a new blob sha.
	run(step{name: "file update", method: http.MethodPut, path: "/repos/acme/llm/contents/experiment.yaml",
		body: map[string]any{
			"message": "Update experiment.yaml", "content": base64.StdEncoding.EncodeToString([]byte(updated)), "branch": "exp/x", "sha": fileSHA,
		}, status: http.StatusOK,
		check: func(t *testing.T, r rawResponse) {
			var out contentResponse
			r.json(t, &out)
			if out.Commit.SHA == commitSHA || out.Content.SHA == fileSHA {
				t.Errorf("update changed nothing: %s", r.body)
			}
			commitSHA = out.Commit.SHA
		}})
	readFile(updated)
	// The branch moved with the write, so the old ETag no longer matches.
	readBranch(etag, commitSHA)

	// Destroy: the file (JSON body on DELETE), then the branch.
	run(step{name: "file delete", method: http.MethodDelete, path: "/repos/acme/llm/contents/experiment.yaml",
		body: map[string]string{"message": "Delete experiment.yaml", "sha": fileSHA, "branch": "exp/x"}, status: http.StatusOK,
		check: func(t *testing.T, r rawResponse) {
			if !strings.HasPrefix(string(r.body), `{"content":null,"commit":{`) {
				t.Errorf("delete body %s", r.body)
			}
		}})
	run(step{name: "branch delete", method: http.MethodDelete, path: "/repos/acme/llm/git/refs/heads/exp/x", status: http.StatusNoContent})
	run(step{name: "branch gone", method: http.MethodGet, path: "/repos/acme/llm/git/ref/heads/exp/x", status: http.StatusNotFound})

	var kinds []string
	for _, ev := range fx.takeEvents() {
		kinds = append(kinds, string(ev.Kind)+" "+ev.Ref)
	}
	want := []string{
		"branch_pushed refs/heads/exp/x", // create ref
		"branch_pushed refs/heads/exp/x", // file create
		"branch_pushed refs/heads/exp/x", // file update
		"branch_pushed refs/heads/exp/x", // file delete
		"branch_pushed refs/heads/exp/x", // branch delete
	}
	if strings.Join(kinds, ",") != strings.Join(want, ",") {
		t.Errorf("events %v", kinds)
	}
}
