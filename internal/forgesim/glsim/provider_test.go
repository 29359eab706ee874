package glsim

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestProviderSequence replays, over raw HTTP, the calls terraform-provider-
// gitlab 17.11 (pulumi-gitlab 8.11) makes for a gitlab_branch plus a
// gitlab_repository_file: configure, create, refresh, update, destroy. It
// authenticates as the provider does (a bearer token) and escapes path
// parameters as go-gitlab/client-go do.
func TestProviderSequence(t *testing.T) {
	fx := newFixture(t)
	const (
		branches = "/projects/acme%2Fllm/repository/branches"
		branch   = branches + "/exp%2F1-x"
		file     = "/projects/acme%2Fllm/repository/files/experiments%2Fexp-1%2Eyaml"
	)
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, fx.srv.URL+apiPrefix+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer tok-expbot")
		req.Header.Set("Accept", "application/json")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		if len(b) == 0 {
			return nil
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
		return m
	}
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	// Configure (early_auth_check).
	if me := call("GET", "/user", "", 200); me["username"] != "expbot" {
		t.Fatalf("GET /user = %v", me)
	}

	// gitlab_branch: create, then read.
	created := call("POST", branches, `{"branch":"exp/1-x","ref":"main"}`, 201)
	commit, _ := created["commit"].(map[string]any)
	for _, k := range []string{"authored_date", "committed_date", "created_at"} {
		s, _ := commit[k].(string)
		if _, err := time.Parse(time.RFC3339, s); err != nil {
			t.Errorf("branch commit %s = %v: the provider dereferences it", k, commit[k])
		}
	}
	for _, k := range []string{"name", "merged", "protected", "default", "can_push", "developers_can_push", "developers_can_merge", "web_url"} {
		if _, ok := created[k]; !ok {
			t.Errorf("branch lacks %q", k)
		}
	}
	if read := call("GET", branch, "", 200); read["name"] != "exp/1-x" {
		t.Errorf("branch read = %v", read)
	}

	// gitlab_repository_file: create, then read.
	fileCreated := call("POST", file, `{"branch":"exp/1-x","encoding":"base64","author_email":"","author_name":"","content":"`+enc("lr: 2\n")+`","commit_message":"expbot: experiment 1"}`, 201)
	if fileCreated["file_path"] != "experiments/exp-1.yaml" || fileCreated["branch"] != "exp/1-x" {
		t.Errorf("file create = %v", fileCreated)
	}
	read := call("GET", file+"?ref=exp%2F1-x", "", 200)
	if read["content"] != enc("lr: 2\n") || read["ref"] != "exp/1-x" || read["encoding"] != "base64" || read["last_commit_id"] != fx.head("exp/1-x") {
		t.Errorf("file read = %v", read)
	}
	author := call("GET", "/projects/acme%2Fllm/repository/commits/"+fx.head("exp/1-x"), "", 200)
	if author["author_name"] != "Expbot" || author["committer_email"] != "expbot@example.com" {
		t.Errorf("empty author fields should fall back to the user: %v", author)
	}

	// Update: re-read for last_commit_id, then PUT.
	last := call("GET", file+"?ref=exp%2F1-x", "", 200)["last_commit_id"].(string)
	call("PUT", file, `{"branch":"exp/1-x","encoding":"base64","author_email":"","author_name":"","content":"`+enc("lr: 3\n")+`","commit_message":"expbot: experiment 1","last_commit_id":"`+last+`"}`, 200)
	if read := call("GET", file+"?ref=exp%2F1-x", "", 200); read["content"] != enc("lr: 3\n") || read["blob_id"] == last {
		t.Errorf("file after update = %v", read)
	}

	// Destroy: the file (re-read, DELETE with a JSON body), then the branch.
	last = call("GET", file+"?ref=exp%2F1-x", "", 200)["last_commit_id"].(string)
	call("DELETE", file, `{"branch":"exp/1-x","author_email":"","author_name":"","commit_message":"[DELETE]: expbot: experiment 1","last_commit_id":"`+last+`"}`, 204)
	if gone := call("GET", file+"?ref=exp%2F1-x", "", 404); gone["message"] != "404 File Not Found" {
		t.Errorf("file after delete = %v", gone)
	}
	call("DELETE", branch, "", 204)
	if gone := call("GET", branch, "", 404); gone["message"] != "404 Branch Not Found" {
		t.Errorf("branch after delete = %v", gone)
	}
}
