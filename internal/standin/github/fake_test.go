package github

import (
	"crypto/sha1"
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

// fakeGitHub is a tiny in-memory GitHub Enterprise REST API (under
// /api/v3/) that answers exactly the calls the provider makes, strictly
// enough to catch wrong escaping or bodies.
type fakeGitHub struct {
	t    *testing.T
	base string

	mu      sync.Mutex
	orgs    map[string]bool
	refs    map[string]string            // branch -> commit sha
	files   map[string]map[string]string // branch -> path -> content
	commits map[string]fakeCommit
	seq     int
}

type fakeCommit struct{ message, name, email string }

func newFakeGitHub(t *testing.T) (*fakeGitHub, *kittest.Recorder) {
	f := &fakeGitHub{
		t:       t,
		orgs:    map[string]bool{"o": true},
		refs:    map[string]string{"main": "c0"},
		files:   map[string]map[string]string{"main": {}},
		commits: map[string]fakeCommit{"c0": {message: "init"}},
	}
	rec, url := kittest.Serve(t, "/api/v3", f)
	f.base = url + "/"
	return f, rec
}

func blobSHA(content string) string {
	sum := sha1.Sum([]byte("blob " + content))
	return hex.EncodeToString(sum[:])
}

func (f *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := r.Header.Get("Authorization"); got != "Bearer sekrit" {
		kittest.Reply(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return
	}
	esc := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	raw := strings.TrimPrefix(r.URL.Path, "/")
	switch {
	case strings.HasPrefix(esc, "orgs/"):
		if f.orgs[strings.TrimPrefix(raw, "orgs/")] {
			kittest.Reply(w, http.StatusOK, map[string]any{"id": 1})
			return
		}
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	case esc == "user":
		kittest.Reply(w, http.StatusOK, map[string]string{"login": "me"})
	case !strings.HasPrefix(raw, "repos/o/r"):
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	case raw == "repos/o/r":
		kittest.Reply(w, http.StatusOK, map[string]any{"id": 42, "default_branch": "main"})
	case strings.HasPrefix(raw, "repos/o/r/git/ref/heads/") && r.Method == http.MethodGet:
		f.getRef(w, r, strings.TrimPrefix(raw, "repos/o/r/git/ref/heads/"))
	case raw == "repos/o/r/git/refs" && r.Method == http.MethodPost:
		f.createRef(w, r)
	case strings.HasPrefix(raw, "repos/o/r/git/refs/heads/") && r.Method == http.MethodDelete:
		b := strings.TrimPrefix(raw, "repos/o/r/git/refs/heads/")
		if _, ok := f.refs[b]; !ok {
			kittest.Reply(w, http.StatusUnprocessableEntity, map[string]string{"message": "Reference does not exist"})
			return
		}
		delete(f.refs, b)
		delete(f.files, b)
		w.WriteHeader(http.StatusNoContent)
	case strings.HasPrefix(esc, "repos/o/r/branches/"):
		seg := strings.TrimPrefix(esc, "repos/o/r/branches/")
		if strings.Contains(seg, "/") {
			f.t.Errorf("branch %q must arrive as one escaped path segment", seg)
		}
		b, _ := url.PathUnescape(seg)
		if sha, ok := f.refs[b]; ok {
			kittest.Reply(w, http.StatusOK, map[string]any{"name": b, "commit": map[string]string{"sha": sha}})
			return
		}
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "Branch not found"})
	case strings.HasPrefix(raw, "repos/o/r/contents/"):
		f.contents(w, r, strings.TrimPrefix(raw, "repos/o/r/contents/"))
	case strings.HasPrefix(raw, "repos/o/r/commits/"):
		sha := strings.TrimPrefix(raw, "repos/o/r/commits/")
		c, ok := f.commits[sha]
		if !ok {
			kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "No commit found"})
			return
		}
		kittest.Reply(w, http.StatusOK, map[string]any{"sha": sha, "commit": map[string]any{
			"message": c.message, "committer": map[string]string{"name": c.name, "email": c.email}}})
	default:
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
	}
}

func (f *fakeGitHub) getRef(w http.ResponseWriter, r *http.Request, b string) {
	sha, ok := f.refs[b]
	if !ok {
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	etag := `"etag-` + sha + `"`
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	kittest.Reply(w, http.StatusOK, map[string]any{"ref": "refs/heads/" + b, "object": map[string]string{"sha": sha, "type": "commit"}})
}

func (f *fakeGitHub) createRef(w http.ResponseWriter, r *http.Request) {
	var body struct{ Ref, SHA string }
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !strings.HasPrefix(body.Ref, "refs/heads/") || body.SHA == "" {
		kittest.Reply(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid request"})
		return
	}
	b := strings.TrimPrefix(body.Ref, "refs/heads/")
	if _, ok := f.refs[b]; ok {
		kittest.Reply(w, http.StatusUnprocessableEntity, map[string]string{"message": "Reference already exists"})
		return
	}
	f.refs[b] = body.SHA
	f.files[b] = map[string]string{}
	for p, c := range f.files["main"] {
		f.files[b][p] = c
	}
	kittest.Reply(w, http.StatusCreated, map[string]any{"ref": body.Ref, "object": map[string]string{"sha": body.SHA}})
}

func (f *fakeGitHub) contents(w http.ResponseWriter, r *http.Request, path string) {
	if r.Method == http.MethodGet {
		b := r.URL.Query().Get("ref")
		c, ok := f.files[b][path]
		if !ok {
			kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		kittest.Reply(w, http.StatusOK, map[string]any{
			"type": "file", "encoding": "base64", "sha": blobSHA(c),
			"content": base64.StdEncoding.EncodeToString([]byte(c)) + "\n",
			"url":     f.base + "api/v3/repos/o/r/contents/" + path + "?ref=" + url.QueryEscape(b),
		})
		return
	}
	var body struct {
		Message, Content, SHA, Branch string
		Committer                     *struct{ Name, Email string }
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Message == "" || body.Branch == "" {
		kittest.Reply(w, http.StatusUnprocessableEntity, map[string]string{"message": "Invalid request"})
		return
	}
	files, ok := f.files[body.Branch]
	if !ok {
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "Branch not found"})
		return
	}
	old, exists := files[path]
	if exists && body.SHA != blobSHA(old) {
		kittest.Reply(w, http.StatusConflict, map[string]string{"message": "sha does not match"})
		return
	}
	if !exists && r.Method == http.MethodDelete {
		kittest.Reply(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	f.seq++
	sha := fmt.Sprintf("c%d", f.seq)
	cm := fakeCommit{message: body.Message}
	if body.Committer != nil {
		cm.name, cm.email = body.Committer.Name, body.Committer.Email
	}
	f.commits[sha] = cm
	f.refs[body.Branch] = sha
	if r.Method == http.MethodDelete {
		delete(files, path)
		kittest.Reply(w, http.StatusOK, map[string]any{"commit": map[string]string{"sha": sha}})
		return
	}
	text, err := base64.StdEncoding.DecodeString(body.Content)
	if err != nil {
		kittest.Reply(w, http.StatusUnprocessableEntity, map[string]string{"message": "content is not valid Base64"})
		return
	}
	files[path] = string(text)
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	kittest.Reply(w, status, map[string]any{"content": map[string]string{"sha": blobSHA(string(text))}, "commit": map[string]string{"sha": sha}})
}

// configured returns a stand-in server configured against the fake.
func configured(t *testing.T, f *fakeGitHub, extra map[string]any) *kit.Server {
	t.Helper()
	cfg := map[string]any{"token": "sekrit", "owner": "o", "baseUrl": f.base, "writeDelayMs": 1}
	for k, v := range extra {
		cfg[k] = v
	}
	srv := New(Options{Getenv: func(string) string { return "" }})
	kittest.Configure(t, srv, cfg)
	return srv
}
