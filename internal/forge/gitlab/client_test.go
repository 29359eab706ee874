package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
)

const fakeToken = "glpat-fake-secret-token-0123456789"

// fake serves handler at the instance root and returns a client pointed at it.
func fake(t *testing.T, handler http.HandlerFunc) *Client {
	t.Helper()
	ts := httptest.NewServer(handler)
	t.Cleanup(ts.Close)
	c, err := New(Config{APIURL: ts.URL, Token: fakeToken, HTTPClient: &http.Client{Timeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewURLs(t *testing.T) {
	tests := []struct {
		name          string
		cfg           Config
		wantAPI       string
		wantBranchURL string
	}{
		{"gitlab.com", Config{}, "https://gitlab.com/api/v4/", "https://gitlab.com/g/p/-/tree/exp/a%20b"},
		{"instance root", Config{APIURL: "https://gitlab.example.com"}, "https://gitlab.example.com/api/v4/", "https://gitlab.example.com/g/p/-/tree/exp/a%20b"},
		{"REST root", Config{APIURL: "https://gitlab.example.com/api/v4"}, "https://gitlab.example.com/api/v4/", "https://gitlab.example.com/g/p/-/tree/exp/a%20b"},
		{"under a path", Config{APIURL: "https://example.com/gitlab/api/v4/"}, "https://example.com/gitlab/api/v4/", "https://example.com/gitlab/g/p/-/tree/exp/a%20b"},
		{"explicit web URL", Config{APIURL: "http://10.0.0.1/", WebURL: "https://code.example.com/"}, "http://10.0.0.1/api/v4/", "https://code.example.com/g/p/-/tree/exp/a%20b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Token = fakeToken
			c, err := New(tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.api.BaseURL().String(); got != tt.wantAPI {
				t.Errorf("API base = %q, want %q", got, tt.wantAPI)
			}
			if got := c.BranchURL("g/p", "exp/a b"); got != tt.wantBranchURL {
				t.Errorf("BranchURL = %q, want %q", got, tt.wantBranchURL)
			}
			wantCommit := strings.TrimSuffix(tt.wantBranchURL, "tree/exp/a%20b") + "commit/abc123"
			if got := c.CommitURL("g/p", "abc123"); got != wantCommit {
				t.Errorf("CommitURL = %q, want %q", got, wantCommit)
			}
			if c.Forge() != event.GitLab {
				t.Errorf("Forge() = %q", c.Forge())
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no token":           {},
		"credentials in URL": {Token: fakeToken, APIURL: "https://oauth2:" + fakeToken + "@gitlab.example.com/"},
		"relative URL":       {Token: fakeToken, APIURL: "gitlab.example.com"},
		"query in URL":       {Token: fakeToken, APIURL: "https://gitlab.example.com/?private_token=x"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if strings.Contains(err.Error(), fakeToken) {
				t.Errorf("error contains the token: %v", err)
			}
		})
	}
}

// TestErrorClassification drives every method into one failing answer and
// checks the error is transient, not found, or neither, with the token
// nowhere in it although the server echoes it back. It also checks that
// go-gitlab does not retry on its own (one request per call).
func TestErrorClassification(t *testing.T) {
	echo := `{"message":"rejected token {auth}"}`
	tests := []struct {
		name          string
		status        int
		body          string
		wantTransient bool
		wantNotFound  bool
	}{
		{"503", 503, `{"message":"unavailable"}`, true, false},
		{"502 without JSON", 502, "<html>bad gateway</html>", true, false},
		{"429", 429, `{"message":"Retry later"}`, true, false},
		{"500 echoing the token", 500, echo, true, false},
		{"401 echoing the token", 401, echo, false, false},
		{"403", 403, `{"message":"403 Forbidden"}`, false, false},
		{"400", 400, `{"error":"name is missing"}`, false, false},
		{"404", 404, `{"message":"404 Project Not Found"}`, false, true},
	}
	issue := event.Thread{Kind: event.IssueThread, Number: 1}
	calls := map[string]func(context.Context, *Client) error{
		"ResolveRef":    func(ctx context.Context, c *Client) error { _, err := c.ResolveRef(ctx, "g/p", "exp/1"); return err },
		"DefaultBranch": func(ctx context.Context, c *Client) error { _, err := c.DefaultBranch(ctx, "g/p"); return err },
		"ReadFile": func(ctx context.Context, c *Client) error {
			_, err := c.ReadFile(ctx, "g/p", "main", "a.yaml")
			return err
		},
		"CreateComment": func(ctx context.Context, c *Client) error {
			_, err := c.CreateComment(ctx, "g/p", issue, "hi")
			return err
		},
		"EditComment": func(ctx context.Context, c *Client) error {
			return c.EditComment(ctx, "g/p", event.Thread{Kind: event.CommitThread, SHA: "abc1234"}, forge.Comment{ID: 5, Note: "d1"}, "hi")
		},
		"Access": func(ctx context.Context, c *Client) error {
			_, err := c.Access(ctx, "g/p", event.Actor{ID: 3})
			return err
		},
	}
	for _, tt := range tests {
		for name, call := range calls {
			if name == "Access" && tt.wantNotFound {
				continue // a 404 there means "not a member", tested below
			}
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				var requests atomic.Int32
				c := fake(t, func(w http.ResponseWriter, r *http.Request) {
					requests.Add(1)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					fmt.Fprint(w, strings.ReplaceAll(tt.body, "{auth}", r.Header.Get("PRIVATE-TOKEN")))
				})
				err := call(context.Background(), c)
				if err == nil {
					t.Fatal("no error")
				}
				if got := forge.IsTransient(err); got != tt.wantTransient {
					t.Errorf("IsTransient = %v, want %v: %v", got, tt.wantTransient, err)
				}
				if got := errors.Is(err, forge.ErrNotFound); got != tt.wantNotFound {
					t.Errorf("Is(ErrNotFound) = %v, want %v: %v", got, tt.wantNotFound, err)
				}
				if strings.Contains(err.Error(), fakeToken) {
					t.Errorf("error contains the token: %v", err)
				}
				if strings.Contains(tt.body, "{auth}") && !strings.Contains(err.Error(), "[REDACTED]") {
					t.Errorf("echoed token not marked as redacted: %v", err)
				}
				if !strings.HasPrefix(err.Error(), "gitlab: ") {
					t.Errorf("error without context: %v", err)
				}
				if n := requests.Load(); n != 1 {
					t.Errorf("%d requests, want 1 (no retries inside the client)", n)
				}
			})
		}
	}
}

func TestNetworkErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		ts.Close() // nothing listens there any more
		c, err := New(Config{APIURL: ts.URL, Token: fakeToken})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ResolveRef(context.Background(), "g/p", "main")
		if !forge.IsTransient(err) {
			t.Errorf("want transient: %v", err)
		}
		if strings.Contains(err.Error(), fakeToken) {
			t.Errorf("error contains the token: %v", err)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		release := make(chan struct{})
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(ts.Close)
		t.Cleanup(func() { close(release) })
		c, err := New(Config{APIURL: ts.URL, Token: fakeToken, HTTPClient: &http.Client{Timeout: 50 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ResolveRef(context.Background(), "g/p", "main")
		if !forge.IsTransient(err) {
			t.Errorf("want transient: %v", err)
		}
	})
	t.Run("caller cancelled", func(t *testing.T) {
		c := fake(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"id":"x"}`) })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.ResolveRef(ctx, "g/p", "main")
		if err == nil || forge.IsTransient(err) || !errors.Is(err, context.Canceled) {
			t.Errorf("want a permanent context.Canceled: %v", err)
		}
	})
}

// TestAccessByUsername covers actors without an id (the simulator has no
// GET /users?username=).
func TestAccessByUsername(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v4/users" && r.URL.Query().Get("username") == "alice":
			fmt.Fprint(w, `[{"id":42,"username":"alice"}]`)
		case r.URL.Path == "/api/v4/users":
			fmt.Fprint(w, `[]`)
		case r.URL.EscapedPath() == "/api/v4/projects/g%2Fsub%2Fp/members/all/42":
			fmt.Fprint(w, `{"id":42,"username":"alice","access_level":40}`)
		default:
			t.Errorf("unexpected request %s", r.URL)
			w.WriteHeader(http.StatusNotFound)
		}
	})
	ctx := context.Background()
	got, err := c.Access(ctx, "g/sub/p", event.Actor{Login: "alice"})
	if err != nil || got != forge.Maintain {
		t.Errorf("Access(alice) = %v, %v; want Maintain", got, err)
	}
	got, err = c.Access(ctx, "g/sub/p", event.Actor{Login: "ghost"})
	if err != nil || got != forge.NoAccess {
		t.Errorf("Access(ghost) = %v, %v; want NoAccess", got, err)
	}
	if _, err := c.Access(ctx, "g/sub/p", event.Actor{}); err == nil {
		t.Error("actor without id or login accepted")
	}
}

func TestAccessLevels(t *testing.T) {
	for level, want := range map[int]forge.Access{
		0: forge.NoAccess, 5: forge.NoAccess, 10: forge.Read, 15: forge.Read, 20: forge.Triage,
		30: forge.Write, 40: forge.Maintain, 50: forge.Admin, 60: forge.Admin,
	} {
		c := fake(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"id":3,"access_level":%d}`, level)
		})
		got, err := c.Access(context.Background(), "g/p", event.Actor{ID: 3})
		if err != nil || got != want {
			t.Errorf("level %d: Access = %v, %v; want %v", level, got, err, want)
		}
	}
}

func TestBadArguments(t *testing.T) {
	c := fake(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
	})
	ctx := context.Background()
	if _, err := c.ResolveRef(ctx, "", "main"); err == nil {
		t.Error("empty project accepted")
	}
	if _, err := c.ResolveRef(ctx, "g/p", ""); err == nil {
		t.Error("empty ref accepted")
	}
	for _, th := range []event.Thread{{Kind: "wiki", Number: 1}, {Kind: event.PullThread}, {Kind: event.CommitThread, SHA: "main"}} {
		if _, err := c.CreateComment(ctx, "g/p", th, "x"); err == nil {
			t.Errorf("thread %+v accepted", th)
		}
	}
	commit := event.Thread{Kind: event.CommitThread, SHA: "abc1234"}
	if err := c.EditComment(ctx, "g/p", commit, forge.Comment{ID: 5}, "x"); err == nil {
		t.Error("commit note without discussion id accepted")
	}
	if err := c.EditComment(ctx, "g/p", event.Thread{Kind: event.IssueThread, Number: 1}, forge.Comment{ID: -1}, "x"); err == nil {
		t.Error("negative note id accepted")
	}
	err := c.React(ctx, "g/p", commit, 5, "eyes")
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("react on a commit note: want ErrUnsupported, got %v", err)
	}
}
