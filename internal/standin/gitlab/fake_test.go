package gitlab

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/expbot/expbot/internal/standin/kit"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

// fakeGitLab is a tiny in-memory GitLab REST API (under /api/v4/) for one
// project "grp/proj", strict about escaping and bodies.
type fakeGitLab struct {
	t    *testing.T
	base string

	mu       sync.Mutex
	branches map[string]string            // name -> head commit
	files    map[string]map[string]string // branch -> path -> content
	seq      int
	noDates  bool
}

func newFakeGitLab(t *testing.T) (*fakeGitLab, *kittest.Recorder) {
	f := &fakeGitLab{
		t:        t,
		branches: map[string]string{"main": "c0"},
		files:    map[string]map[string]string{"main": {}},
	}
	rec, url := kittest.Serve(t, "/api/v4", f)
	f.base = url + "/api/v4/"
	return f, rec
}

func (f *fakeGitLab) branchJSON(name string) map[string]any {
	commit := map[string]any{
		"id": f.branches[name], "short_id": f.branches[name], "title": "t", "message": "m",
		"author_name": "a", "author_email": "a@x", "committer_name": "c", "committer_email": "c@x",
		"parent_ids": []string{"p0"},
	}
	if !f.noDates {
		commit["authored_date"] = "2024-05-01T10:00:00.000+02:00"
		commit["committed_date"] = "2024-05-01T10:00:01.000+02:00"
	}
	return map[string]any{"name": name, "merged": false, "protected": false, "default": name == "main",
		"can_push": true, "developers_can_push": false, "developers_can_merge": false,
		"web_url": "https://gitlab.example/grp/proj/-/tree/" + name, "commit": commit}
}

func (f *fakeGitLab) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer gltok" {
		kittest.Reply(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return
	}
	esc := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	if esc == "user" {
		kittest.Reply(w, http.StatusOK, map[string]any{"id": 1, "username": "me"})
		return
	}
	const prefix = "projects/grp%2Fproj/repository/"
	if !strings.HasPrefix(esc, prefix) {
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "404 Project Not Found"})
		return
	}
	rest := strings.TrimPrefix(esc, prefix)
	switch {
	case rest == "branches" && r.Method == http.MethodPost:
		var body struct{ Branch, Ref string }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Branch == "" || body.Ref == "" {
			kittest.Reply(w, http.StatusBadRequest, map[string]string{"message": "branch is missing"})
			return
		}
		if _, ok := f.branches[body.Branch]; ok {
			kittest.Reply(w, http.StatusBadRequest, map[string]string{"message": "Branch already exists"})
			return
		}
		head, ok := f.branches[body.Ref]
		if !ok {
			kittest.Reply(w, http.StatusBadRequest, map[string]string{"message": "Invalid reference name"})
			return
		}
		f.branches[body.Branch] = head
		f.files[body.Branch] = map[string]string{}
		for p, c := range f.files[body.Ref] {
			f.files[body.Branch][p] = c
		}
		kittest.Reply(w, http.StatusCreated, f.branchJSON(body.Branch))
	case strings.HasPrefix(rest, "branches/"):
		seg := strings.TrimPrefix(rest, "branches/")
		if strings.Contains(seg, "/") {
			f.t.Errorf("branch %q must be one escaped segment", seg)
		}
		name, _ := url.PathUnescape(seg)
		if _, ok := f.branches[name]; !ok {
			kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "404 Branch Not Found"})
			return
		}
		if r.Method == http.MethodDelete {
			delete(f.branches, name)
			delete(f.files, name)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		kittest.Reply(w, http.StatusOK, f.branchJSON(name))
	case strings.HasPrefix(rest, "files/"):
		seg := strings.TrimPrefix(rest, "files/")
		if strings.ContainsAny(seg, "/.") {
			f.t.Errorf("file path %q must be escaped with %%2F and %%2E", seg)
		}
		path, _ := url.PathUnescape(seg)
		f.file(w, r, path)
	default:
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "404 Not Found"})
	}
}

func (f *fakeGitLab) file(w http.ResponseWriter, r *http.Request, path string) {
	if r.Method == http.MethodGet {
		ref := r.URL.Query().Get("ref")
		c, ok := f.files[ref][path]
		if !ok {
			kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "404 File Not Found"})
			return
		}
		sum := sha256.Sum256([]byte(c))
		name := path[strings.LastIndex(path, "/")+1:]
		kittest.Reply(w, http.StatusOK, map[string]any{
			"file_name": name, "file_path": path, "size": len(c), "encoding": "base64",
			"content": base64.StdEncoding.EncodeToString([]byte(c)), "content_sha256": hex.EncodeToString(sum[:]),
			"ref": ref, "blob_id": "blob-" + c, "commit_id": f.branches[ref], "last_commit_id": f.branches[ref],
			"execute_filemode": false,
		})
		return
	}
	var body wireFile
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil || body.Branch == "" || body.CommitMessage == "" {
		kittest.Reply(w, http.StatusBadRequest, map[string]string{"error": "branch, commit_message are missing"})
		return
	}
	files, ok := f.files[body.Branch]
	if !ok {
		kittest.Reply(w, http.StatusBadRequest, map[string]string{"message": "You can only create or edit files when you are on a branch"})
		return
	}
	_, exists := files[path]
	switch r.Method {
	case http.MethodPost:
		if exists {
			kittest.Reply(w, http.StatusBadRequest, map[string]string{"message": "A file with this name already exists"})
			return
		}
	default:
		if !exists {
			kittest.Reply(w, http.StatusBadRequest, map[string]string{"message": "A file with this name doesn't exist"})
			return
		}
		if body.LastCommitID != f.branches[body.Branch] {
			kittest.Reply(w, http.StatusBadRequest, map[string]string{"message": "You are attempting to update a file that has changed since you started editing it."})
			return
		}
	}
	f.seq++
	f.branches[body.Branch] = fmt.Sprintf("c%d", f.seq)
	if r.Method == http.MethodDelete {
		delete(files, path)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	text := body.Content
	switch body.Encoding {
	case "base64":
		b, err := base64.StdEncoding.DecodeString(body.Content)
		if err != nil {
			kittest.Reply(w, http.StatusBadRequest, map[string]string{"message": "invalid base64"})
			return
		}
		text = string(b)
	case "text", "":
	default:
		kittest.Reply(w, http.StatusBadRequest, map[string]string{"error": "encoding does not have a valid value"})
		return
	}
	files[path] = text
	status := http.StatusOK
	if r.Method == http.MethodPost {
		status = http.StatusCreated
	}
	kittest.Reply(w, status, map[string]string{"file_path": path, "branch": body.Branch})
}

// configured returns a stand-in server configured against the fake.
func configured(t *testing.T, f *fakeGitLab) *kit.Server {
	t.Helper()
	srv := New(Options{Getenv: func(string) string { return "" }})
	kittest.Configure(t, srv, map[string]any{"token": "gltok", "baseUrl": f.base})
	return srv
}
