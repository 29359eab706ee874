package glsim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// project is the repository every test works on: an organisation project,
// so the owner "acme" is a group and access comes from grants.
const project = "acme/llm"

// fixture is a forge with users of every access level, one project, the
// handler served over HTTP the way the simulated forge mounts it, and a
// record of the events the forge emitted.
type fixture struct {
	t    *testing.T
	f    *state.Forge
	srv  *httptest.Server
	repo *state.RepoInfo

	mu     sync.Mutex
	events []state.Event
}

// users: login -> access level on the project (-1: none, "owner" of a
// personal project gets its own repo).
var fixtureUsers = []struct {
	login string
	level state.AccessLevel
	bot   bool
}{
	{"maint", state.Maintainer, false},
	{"dev", state.Developer, false},
	{"guest", state.Guest, false},
	{"outsider", state.NoAccess, false},
	{"expbot", state.Developer, true},
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{t: t}
	var tick atomic.Int64
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	fx.f = state.New(
		state.WithClock(func() time.Time { return start.Add(time.Duration(tick.Add(1)) * time.Second) }),
		state.WithEventSink(func(evs []state.Event) {
			fx.mu.Lock()
			defer fx.mu.Unlock()
			fx.events = append(fx.events, evs...)
		}),
	)
	fx.f.AddOrg("acme")
	for _, u := range fixtureUsers {
		fx.f.AddUser(u.login, strings.ToUpper(u.login[:1])+u.login[1:], u.login+"@example.com", "tok-"+u.login, u.bot)
	}
	sig := state.Signature{Name: "Init", Email: "init@example.com", When: start}
	info, err := fx.f.CreateRepo(project, "main", map[string]string{
		"README.md":         "hello\n",
		"configs/base.yaml": "lr: 1\nsteps: 10\n",
	}, sig)
	if err != nil {
		t.Fatalf("creating repo: %v", err)
	}
	fx.repo = info
	for _, u := range fixtureUsers {
		if u.level > state.NoAccess {
			if err := fx.f.SetAccess(project, u.login, u.level); err != nil {
				t.Fatalf("granting %s: %v", u.login, err)
			}
		}
	}
	fx.srv = httptest.NewServer(http.StripPrefix(apiPrefix, NewHandler(fx.f)))
	t.Cleanup(fx.srv.Close)
	return fx
}

// client is go-gitlab authenticated as login, with retries off so that an
// error status shows up at once.
func (fx *fixture) client(login string) *gitlab.Client {
	fx.t.Helper()
	c, err := gitlab.NewClient("tok-"+login, gitlab.WithBaseURL(fx.srv.URL+apiPrefix), gitlab.WithoutRetries())
	if err != nil {
		fx.t.Fatalf("gitlab client: %v", err)
	}
	return c
}

// takeEvents returns and forgets the events emitted so far.
func (fx *fixture) takeEvents() []state.Event {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	evs := fx.events
	fx.events = nil
	return evs
}

// head is a branch's head SHA in the model.
func (fx *fixture) head(branch string) string {
	fx.t.Helper()
	var sha string
	err := fx.f.WithRepo(project, func(r *state.Repo) error {
		s, ok := r.Branch(branch)
		if !ok {
			return errors.New("no branch " + branch)
		}
		sha = s
		return nil
	})
	if err != nil {
		fx.t.Fatal(err)
	}
	return sha
}

// rawResponse is a response read in full.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends a raw request; path is below /api/v4 and used as given, so tests
// control the escaping exactly.
func (fx *fixture) do(method, path, token, contentType, body string) rawResponse {
	fx.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, fx.srv.URL+apiPrefix+path, rd)
	if err != nil {
		fx.t.Fatalf("building %s %s: %v", method, path, err)
	}
	if token != "" {
		req.Header.Set("PRIVATE-TOKEN", token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fx.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		fx.t.Fatalf("reading %s %s: %v", method, path, err)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// decode parses a JSON body into a generic value.
func (r rawResponse) decode(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
	return m
}

// errorStatus extracts the HTTP status of a go-gitlab error (go-gitlab turns
// a 404 into ErrNotFound without the response).
func errorStatus(err error) int {
	var er *gitlab.ErrorResponse
	switch {
	case err == nil:
		return 0
	case errors.Is(err, gitlab.ErrNotFound):
		return http.StatusNotFound
	case errors.As(err, &er):
		return er.Response.StatusCode
	}
	return -1
}

// errorMessage is the parsed message of a go-gitlab error.
func errorMessage(err error) string {
	var er *gitlab.ErrorResponse
	if errors.As(err, &er) {
		return er.Message
	}
	return ""
}
