package forgesim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// received is one request a test receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is a webhook endpoint that records what it gets and answers with
// a fixed status and body.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	status int
	answer string
}

func newReceiver(t *testing.T, status int, answer string) *receiver {
	t.Helper()
	rc := &receiver{status: status, answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: b})
		rc.mu.Unlock()
		w.WriteHeader(rc.status)
		_, _ = io.WriteString(w, rc.answer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// fakeBuilder stands in for ghsim/glsim in tests of the dispatcher: one
// request per event, GitHub-style headers, a small JSON body naming the event.
func fakeBuilder(ctx context.Context, ev state.Event, hook state.Hook, id, baseURL string) ([]*http.Request, error) {
	body, err := json.Marshal(map[string]any{"kind": ev.Kind, "repo": ev.Repo.FullName, "label": ev.Label, "base": baseURL})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header = githubHeaders(string(ev.Kind), id, hook.ID, hook.Secret, body)
	return []*http.Request{req}, nil
}

// fakeOptions replaces both real builders.
func fakeOptions() []Option {
	return []Option{WithDeliveryBuilder(GitHub, fakeBuilder), WithDeliveryBuilder(GitLab, fakeBuilder)}
}

// simEnv is a forge served over real HTTP, with an admin client.
type simEnv struct {
	srv    *Server
	ts     *httptest.Server
	client *Client
}

func newSim(t *testing.T, opts ...Option) *simEnv {
	t.Helper()
	srv := New(opts...)
	ts := httptest.NewServer(srv.Handler())
	srv.SetBaseURL(ts.URL)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &simEnv{srv: srv, ts: ts, client: NewClient(ts.URL, ts.Client())}
}

// seedBasic makes users alice (human) and expbot (bot) and the repository
// acme/llm with one file and one issue.
func (e *simEnv) seedBasic(t *testing.T) {
	t.Helper()
	f := e.srv.Forge()
	f.AddUser("alice", "Alice", "alice@example.com", "alice-token", false)
	f.AddUser("expbot", "expbot", "bot@example.com", "bot-token", true)
	if _, err := f.CreateRepo("acme/llm", "main", map[string]string{"README.md": "hi\n"}, state.Signature{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.OpenIssue("acme/llm", "alice", "first", "body", nil); err != nil {
		t.Fatal(err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
