package ghsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Tokens of the fixture's users.
const (
	tokOlga   = "tok-olga"   // owns the personal repository olga/tools
	tokMaint  = "tok-maint"  // Maintainer on acme/llm
	tokDev    = "tok-dev"    // Developer on acme/llm
	tokRita   = "tok-rita"   // Reporter on acme/llm
	tokGus    = "tok-gus"    // Guest on acme/llm
	tokNobody = "tok-nobody" // no access anywhere
	tokBot    = "tok-bot"    // the bot account, Developer on acme/llm
)

const botLogin = "expbot[bot]"

// fixture is a forge with an organisation repository and a personal one,
// served through the GitHub face at srv.URL+"/api/v3/".
type fixture struct {
	t    *testing.T
	f    *state.Forge
	apps *Apps
	srv  *httptest.Server

	mu     sync.Mutex
	events []state.Event
	pings  []*http.Request
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{t: t}
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var (
		clockMu sync.Mutex
		ticks   int
	)
	// A clock that advances one second per reading keeps SHAs and
	// timestamps distinct and the test deterministic.
	clock := func() time.Time {
		clockMu.Lock()
		defer clockMu.Unlock()
		ticks++
		return start.Add(time.Duration(ticks) * time.Second)
	}
	fx.f = state.New(state.WithClock(clock), state.WithEventSink(func(evs []state.Event) {
		fx.mu.Lock()
		defer fx.mu.Unlock()
		fx.events = append(fx.events, evs...)
	}))
	f := fx.f
	f.AddOrg("acme")
	f.AddUser("olga", "Olga Owner", "olga@example.com", tokOlga, false)
	f.AddUser("maint", "Mia Maintainer", "mia@example.com", tokMaint, false)
	f.AddUser("dev", "Dev Eloper", "dev@example.com", tokDev, false)
	f.AddUser("rita", "Rita Reporter", "rita@example.com", tokRita, false)
	f.AddUser("gus", "Gus Guest", "gus@example.com", tokGus, false)
	f.AddUser("nobody", "No Body", "nobody@example.com", tokNobody, false)
	f.AddUser(botLogin, "expbot", "bot@example.com", tokBot, true)
	sig := state.Signature{Name: "Olga Owner", Email: "olga@example.com"}
	must(t, func() error {
		_, err := f.CreateRepo("acme/llm", "main", map[string]string{
			"README.md": "# llm\n", "configs/base.yaml": "lr: 0.1\n", "configs/deep/x.yaml": "x: 1\n",
		}, sig)
		return err
	}())
	must(t, func() error {
		_, err := f.CreateRepo("olga/tools", "trunk", map[string]string{"a.txt": "a\n"}, sig)
		return err
	}())
	for login, lvl := range map[string]state.AccessLevel{
		"maint": state.Maintainer, "dev": state.Developer, "rita": state.Reporter, "gus": state.Guest, botLogin: state.Developer,
	} {
		must(t, f.SetAccess("acme/llm", login, lvl))
	}
	mux := http.NewServeMux()
	fx.apps = NewApps(f)
	mux.Handle("/api/v3/", http.StripPrefix("/api/v3", NewHandler(f, fx.apps, fx.ping)))
	fx.srv = httptest.NewServer(mux)
	t.Cleanup(fx.srv.Close)
	return fx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// client is go-github configured as the provider configures it for a
// non-github.com base URL (GitHub Enterprise).
func (fx *fixture) client(token string) *github.Client {
	fx.t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(fx.srv.URL+"/api/v3/", fx.srv.URL+"/api/uploads/")
	if err != nil {
		fx.t.Fatal(err)
	}
	return c
}

// ping records the pings the API sends, built as delivery "guid-ping" of a
// forge at http://forge.test.
func (fx *fixture) ping(_ state.Hook, _ string, build func(ctx context.Context, deliveryID, baseURL string) (*http.Request, error)) {
	req, err := build(context.Background(), "guid-ping", "http://forge.test/")
	must(fx.t, err)
	fx.mu.Lock()
	defer fx.mu.Unlock()
	fx.pings = append(fx.pings, req)
}

// takePings returns and clears the pings sent so far.
func (fx *fixture) takePings() []*http.Request {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	out := fx.pings
	fx.pings = nil
	return out
}

// takeEvents returns and clears the events recorded so far.
func (fx *fixture) takeEvents() []state.Event {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	out := fx.events
	fx.events = nil
	return out
}

// head reads a branch head from the model.
func (fx *fixture) head(repo, branch string) string {
	fx.t.Helper()
	var sha string
	must(fx.t, fx.f.WithRepo(repo, func(r *state.Repo) error {
		var ok bool
		if sha, ok = r.Branch(branch); !ok {
			return errors.New("no branch " + branch)
		}
		return nil
	}))
	return sha
}

func (fx *fixture) hasBranch(repo, branch string) bool {
	var ok bool
	must(fx.t, fx.f.WithRepo(repo, func(r *state.Repo) error { _, ok = r.Branch(branch); return nil }))
	return ok
}

// rawResponse is an HTTP answer read in full.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

func (r rawResponse) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// do sends a raw request to path (below /api/v3) with a Bearer token.
func (fx *fixture) do(method, path, token string, body any, headers ...string) rawResponse {
	fx.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		must(fx.t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, fx.srv.URL+"/api/v3"+path, rd)
	must(fx.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	must(fx.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(fx.t, err)
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// statusOf extracts the HTTP status from a go-github error (0 if none).
func statusOf(err error) int {
	var er *github.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// messageOf extracts GitHub's error message from a go-github error.
func messageOf(err error) string {
	var er *github.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return ""
}
