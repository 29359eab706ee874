package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/forge/forgetest"
)

const fakeToken = "glpat-fake-secret-token-0123456789"

// fakeAPI is the client pointed at a fake at the instance root.
var fakeAPI = forgetest.Fake{Prefix: "gitlab: ", Token: fakeToken, AuthHeader: "PRIVATE-TOKEN",
	New: func(url string, hc *http.Client) (forge.Client, error) {
		c, err := New(Config{APIURL: url, Token: fakeToken, HTTPClient: hc})
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

// TestErrorClassification: go-gitlab does not retry on its own either.
func TestErrorClassification(t *testing.T) {
	echo := `{"message":"rejected token {auth}"}`
	issue := event.Thread{Kind: event.IssueThread, Number: 1}
	forgetest.ErrorClassification(t, fakeAPI, []forgetest.Failure{
		{Name: "503", Status: 503, Body: `{"message":"unavailable"}`, Transient: true},
		{Name: "502 without JSON", Status: 502, Body: "<html>bad gateway</html>", Transient: true},
		{Name: "429", Status: 429, Body: `{"message":"Retry later"}`, Transient: true},
		{Name: "500 echoing the token", Status: 500, Body: echo, Transient: true},
		{Name: "401 echoing the token", Status: 401, Body: echo},
		{Name: "403", Status: 403, Body: `{"message":"403 Forbidden"}`},
		{Name: "400", Status: 400, Body: `{"error":"name is missing"}`},
		{Name: "404", Status: 404, Body: `{"message":"404 Project Not Found"}`, NotFound: true},
	}, map[string]forgetest.Call{
		"ResolveRef": func(ctx context.Context, c forge.Client) error {
			_, err := c.ResolveRef(ctx, "g/p", "exp/1")
			return err
		},
		"DefaultBranch": func(ctx context.Context, c forge.Client) error { _, err := c.DefaultBranch(ctx, "g/p"); return err },
		"ReadFile": func(ctx context.Context, c forge.Client) error {
			_, err := c.ReadFile(ctx, "g/p", "main", "a.yaml")
			return err
		},
		"CreateComment": func(ctx context.Context, c forge.Client) error {
			_, err := c.CreateComment(ctx, "g/p", issue, "hi")
			return err
		},
		"EditComment": func(ctx context.Context, c forge.Client) error {
			return c.EditComment(ctx, "g/p", event.Thread{Kind: event.CommitThread, SHA: "abc1234"}, forge.Comment{ID: 5, Note: "d1"}, "hi")
		},
		"Access": func(ctx context.Context, c forge.Client) error {
			_, err := c.Access(ctx, "g/p", event.Actor{ID: 3})
			return err
		},
	})
}

func TestNetworkErrors(t *testing.T) {
	forgetest.NetworkErrors(t, fakeAPI, func(ctx context.Context, c forge.Client) error {
		_, err := c.ResolveRef(ctx, "g/p", "main")
		return err
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
