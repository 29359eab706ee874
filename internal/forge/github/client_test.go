package github

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/forge/forgetest"
)

const fakeToken = "ghp_fake-secret-token-0123456789"

// fakeAPI is the client pointed at a fake under /api/v3/ (an Enterprise
// layout).
var fakeAPI = forgetest.Fake{Prefix: "github: ", Token: fakeToken, AuthHeader: "Authorization",
	New: func(url string, hc *http.Client) (forge.Client, error) {
		c, err := New(Config{APIURL: url + "/", Token: fakeToken, HTTPClient: hc})
		return c, err
	},
}

// fake serves handler and returns a client pointed at it.
func fake(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	return fakeAPI.Client(t, handler).(*Client)
}

func TestNewURLs(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		wantAPI       string
		wantBranchURL string
	}{
		{"github.com", Config{}, "https://api.github.com/", "https://github.com/o/r/tree/exp/a%20b"},
		{"api.github.com given", Config{APIURL: "https://api.github.com"}, "https://api.github.com/", "https://github.com/o/r/tree/exp/a%20b"},
		{"enterprise root", Config{APIURL: "https://ghe.example.com/"}, "https://ghe.example.com/api/v3/", "https://ghe.example.com/o/r/tree/exp/a%20b"},
		{"enterprise REST root", Config{APIURL: "https://ghe.example.com/api/v3"}, "https://ghe.example.com/api/v3/", "https://ghe.example.com/o/r/tree/exp/a%20b"},
		{"local simulator", Config{APIURL: "http://127.0.0.1:8900/"}, "http://127.0.0.1:8900/api/v3/", "http://127.0.0.1:8900/o/r/tree/exp/a%20b"},
		{"explicit web URL", Config{APIURL: "https://ghe-api.internal/", WebURL: "https://code.example.com"}, "https://ghe-api.internal/api/v3/", "https://code.example.com/o/r/tree/exp/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Token = fakeToken
			c, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.api.BaseURL.String(); got != tt.wantAPI {
				t.Errorf("API base = %q, want %q", got, tt.wantAPI)
			}
			if got := c.BranchURL("o/r", "exp/a b"); got != tt.wantBranchURL {
				t.Errorf("BranchURL = %q, want %q", got, tt.wantBranchURL)
			}
			wantCommit := strings.TrimSuffix(tt.wantBranchURL, "tree/exp/a%20b") + "commit/abc123"
			if got := c.CommitURL("o/r", "abc123"); got != wantCommit {
				t.Errorf("CommitURL = %q, want %q", got, wantCommit)
			}
			if c.Forge() != event.GitHub {
				t.Errorf("Forge() = %q", c.Forge())
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no token", Config{}},
		{"credentials in URL", Config{Token: fakeToken, APIURL: "https://x:" + fakeToken + "@ghe.example.com/"}},
		{"relative URL", Config{Token: fakeToken, APIURL: "ghe.example.com"}},
		{"query in URL", Config{Token: fakeToken, APIURL: "https://ghe.example.com/?token=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if strings.Contains(err.Error(), fakeToken) {
				t.Errorf("error contains the token: %v", err)
			}
		})
	}
}

func TestNewKeepsCallersClient(t *testing.T) {
	hc := &http.Client{}
	if _, err := New(Config{Token: fakeToken, HTTPClient: hc}); err != nil {
		t.Fatal(err)
	}
	if hc.Timeout != 0 || hc.Transport != nil {
		t.Errorf("caller's client changed: %+v", hc)
	}
}

func TestErrorClassification(t *testing.T) {
	echo := `{"message":"rejected credentials {auth}"}`
	forgetest.ErrorClassification(t, fakeAPI, []forgetest.Failure{
		{Name: "503", Status: 503, Body: `{"message":"unavailable"}`, Transient: true},
		{Name: "502 without JSON", Status: 502, Body: "<html>bad gateway</html>", Transient: true},
		{Name: "429", Status: 429, Header: map[string]string{"Retry-After": "1"}, Body: `{"message":"slow down"}`, Transient: true},
		{Name: "403 rate limit", Status: 403, Header: map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}, Body: `{"message":"API rate limit exceeded"}`, Transient: true},
		{Name: "403 secondary rate limit", Status: 403, Body: `{"message":"You have exceeded a secondary rate limit","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`, Transient: true},
		{Name: "403 forbidden", Status: 403, Body: `{"message":"Resource not accessible by integration"}`},
		{Name: "401 echoing the token", Status: 401, Body: echo},
		{Name: "500 echoing the token", Status: 500, Body: echo, Transient: true},
		{Name: "422", Status: 422, Body: `{"message":"Validation Failed"}`},
		{Name: "404", Status: 404, Body: `{"message":"Not Found"}`, NotFound: true},
	}, map[string]forgetest.Call{
		"DefaultBranch": func(ctx context.Context, c forge.Client) error { _, err := c.DefaultBranch(ctx, "o/r"); return err },
		"ReadFile": func(ctx context.Context, c forge.Client) error {
			_, err := c.ReadFile(ctx, "o/r", "main", "a.yaml")
			return err
		},
		"CreateComment": func(ctx context.Context, c forge.Client) error {
			_, err := c.CreateComment(ctx, "o/r", event.Thread{Kind: event.IssueThread, Number: 1}, "hi")
			return err
		},
		"EditComment": func(ctx context.Context, c forge.Client) error {
			return c.EditComment(ctx, "o/r", event.Thread{Kind: event.CommitThread, SHA: "abc1234"}, forge.Comment{ID: 5}, "hi")
		},
		"React": func(ctx context.Context, c forge.Client) error {
			return c.React(ctx, "o/r", event.Thread{Kind: event.PullThread, Number: 2}, 5, "eyes")
		},
	})
}

func TestAccessErrors(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	_, err := c.Access(context.Background(), "o/r", event.Actor{Login: "alice"})
	if !forge.IsTransient(err) {
		t.Errorf("503: want a transient error, got %v", err)
	}
	if _, err := c.Access(context.Background(), "o/r", event.Actor{ID: 7}); err == nil || forge.IsTransient(err) {
		t.Errorf("actor without login: want a permanent error, got %v", err)
	}
}

func TestResolveRefTransient(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/git/ref/heads/") {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusBadGateway) // the tag lookup fails
	})
	_, err := c.ResolveRef(context.Background(), "o/r", "v1")
	if !forge.IsTransient(err) || errors.Is(err, forge.ErrNotFound) {
		t.Errorf("want transient, not not-found: %v", err)
	}
	if !strings.Contains(err.Error(), `"v1"`) {
		t.Errorf("error does not name the ref: %v", err)
	}
}

func TestNetworkErrors(t *testing.T) {
	forgetest.NetworkErrors(t, fakeAPI, func(ctx context.Context, c forge.Client) error {
		_, err := c.DefaultBranch(ctx, "o/r")
		return err
	})
}

// TestResolveAnnotatedTag peels a tag object (the simulator has only
// lightweight tags) and checks the lookup order branch → tag.
func TestResolveAnnotatedTag(t *testing.T) {
	const (
		tagObj = "1111111111111111111111111111111111111111"
		inner  = "2222222222222222222222222222222222222222"
		commit = "3333333333333333333333333333333333333333"
	)
	var paths []string
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		switch r.URL.Path {
		case "/api/v3/repos/o/r/git/ref/tags/release/v1":
			fmt.Fprintf(w, `{"ref":"refs/tags/release/v1","object":{"type":"tag","sha":%q}}`, tagObj)
		case "/api/v3/repos/o/r/git/tags/" + tagObj: // a tag of a tag
			fmt.Fprintf(w, `{"sha":%q,"object":{"type":"tag","sha":%q}}`, tagObj, inner)
		case "/api/v3/repos/o/r/git/tags/" + inner:
			fmt.Fprintf(w, `{"sha":%q,"object":{"type":"commit","sha":%q}}`, inner, commit)
		default:
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"Not Found"}`)
		}
	})
	got, err := c.ResolveRef(context.Background(), "o/r", "release/v1")
	if err != nil {
		t.Fatal(err)
	}
	if got != commit {
		t.Errorf("ResolveRef = %s, want %s", got, commit)
	}
	want := []string{
		"/api/v3/repos/o/r/git/ref/heads/release/v1",
		"/api/v3/repos/o/r/git/ref/tags/release/v1",
		"/api/v3/repos/o/r/git/tags/" + tagObj,
		"/api/v3/repos/o/r/git/tags/" + inner,
	}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
}

// TestReadLargeFile follows GitHub's answer for files over 1 MB (no
// content, encoding "none") to the blobs API.
func TestReadLargeFile(t *testing.T) {
	const blobSHA = "4444444444444444444444444444444444444444"
	content := strings.Repeat("x", 64) + "\n"
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v3/repos/o/r/contents/big.txt":
			if r.URL.Query().Get("ref") != "exp/1" {
				t.Errorf("ref = %q", r.URL.Query().Get("ref"))
			}
			fmt.Fprintf(w, `{"type":"file","encoding":"none","content":"","sha":%q,"path":"big.txt"}`, blobSHA)
		case "/api/v3/repos/o/r/git/blobs/" + blobSHA:
			fmt.Fprintf(w, `{"sha":%q,"encoding":"base64","content":%q}`, blobSHA, base64.StdEncoding.EncodeToString([]byte(content)))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
	got, err := c.ReadFile(context.Background(), "o/r", "exp/1", "big.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != content {
		t.Errorf("content = %q", got)
	}
}

func TestReadDirectory(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `[{"type":"file","name":"a.yaml","path":"configs/a.yaml"}]`)
	})
	_, err := c.ReadFile(context.Background(), "o/r", "main", "configs")
	if err == nil || errors.Is(err, forge.ErrNotFound) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("want a directory error: %v", err)
	}
}

// TestAccessRoles covers GitHub's answers beyond the simulator's: custom
// roles fall back to their base permission.
func TestAccessRoles(t *testing.T) {
	tests := []struct {
		body string
		want forge.Access
	}{
		{`{"permission":"write","role_name":"maintain"}`, forge.Maintain},
		{`{"permission":"read","role_name":"triage"}`, forge.Triage},
		{`{"permission":"write","role_name":"release-manager"}`, forge.Write},
		{`{"permission":"admin"}`, forge.Admin},
		{`{"permission":"none","role_name":""}`, forge.NoAccess},
	}
	for _, tt := range tests {
		t.Run(tt.body, func(t *testing.T) {
			c := fake(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/api/v3/repos/o/r/collaborators/dependabot[bot]/permission" {
					t.Errorf("path = %q", r.URL.Path)
				}
				fmt.Fprint(w, tt.body)
			})
			got, err := c.Access(context.Background(), "o/r", event.Actor{Login: "dependabot[bot]"})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Access = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("unknown permission", func(t *testing.T) {
		c := fake(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"permission":"superuser"}`) })
		if _, err := c.Access(context.Background(), "o/r", event.Actor{Login: "a"}); err == nil {
			t.Error("unknown permission accepted")
		}
	})
}

func TestBadArguments(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	})
	ctx := context.Background()
	if _, err := c.ResolveRef(ctx, "no-slash", "main"); err == nil {
		t.Error("repo without owner accepted")
	}
	if _, err := c.ResolveRef(ctx, "o/r", ""); err == nil {
		t.Error("empty ref accepted")
	}
	for _, th := range []event.Thread{{Kind: "wiki", Number: 1}, {Kind: event.IssueThread}, {Kind: event.CommitThread, SHA: "main"}} {
		if _, err := c.CreateComment(ctx, "o/r", th, "x"); err == nil {
			t.Errorf("thread %+v accepted", th)
		}
	}
}
