package forgesim

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestDispatchRecordsEachDelivery(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		answer     string
		add        []string
		wantN      int
		wantStatus int
		wantBody   string
	}{
		{"one label", http.StatusAccepted, "ok", []string{"new-experiment"}, 1, http.StatusAccepted, "ok"},
		{"two labels, two events", http.StatusOK, "", []string{"a", "b"}, 2, http.StatusOK, ""},
		{"receiver fails", http.StatusInternalServerError, "boom", []string{"x"}, 1, http.StatusInternalServerError, "boom"},
		{"long answer is truncated on a rune boundary", http.StatusOK, "a" + strings.Repeat("é", maxResponseBody), []string{"x"}, 1, http.StatusOK, "a" + strings.Repeat("é", maxResponseBody/2-1) + "…(truncated)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSim(t, fakeOptions()...)
			e.seedBasic(t)
			rc := newReceiver(t, tc.status, tc.answer)
			hook, err := e.srv.Forge().AddHook("acme/llm", GitHub, rc.URL, "s3cret")
			if err != nil {
				t.Fatal(err)
			}
			evs, err := e.srv.Forge().LabelIssue("acme/llm", 1, "alice", tc.add, nil)
			if err != nil {
				t.Fatal(err)
			}
			// Delivery is synchronous: the receiver has answered already.
			if got := len(rc.requests()); got != tc.wantN {
				t.Fatalf("receiver got %d requests, want %d", got, tc.wantN)
			}
			ds := e.srv.Deliveries()
			if len(ds) != tc.wantN {
				t.Fatalf("recorded %d deliveries, want %d", len(ds), tc.wantN)
			}
			if got := e.srv.deliveriesOf(evs); len(got) != tc.wantN {
				t.Errorf("deliveriesOf(action) = %d, want %d", len(got), tc.wantN)
			}
			for i, d := range ds {
				if !uuidRE.MatchString(d.ID) {
					t.Errorf("delivery id %q is not a v4 UUID", d.ID)
				}
				if i > 0 && d.ID == ds[i-1].ID {
					t.Errorf("delivery ids repeat: %s", d.ID)
				}
				if d.Status != tc.wantStatus || d.ResponseBody != tc.wantBody {
					t.Errorf("status %d body %q, want %d %q", d.Status, d.ResponseBody, tc.wantStatus, tc.wantBody)
				}
				if d.HookID != hook.ID || d.Flavor != GitHub || d.Repo != "acme/llm" || d.Kind != state.IssueLabeled || d.URL != rc.URL {
					t.Errorf("delivery fields wrong: %+v", d)
				}
				if d.Event != string(state.IssueLabeled) || d.Error != "" || d.Duration <= 0 || d.Seq != int64(i+1) {
					t.Errorf("delivery event/error/duration/seq wrong: %+v", d)
				}
				var p map[string]any
				if err := json.Unmarshal(d.Payload, &p); err != nil || p["label"] != tc.add[i] || p["base"] != e.ts.URL {
					t.Errorf("payload %s (%v), want label %q and base %s", d.Payload, err, tc.add[i], e.ts.URL)
				}
				if d.Headers.Get("X-Hub-Signature-256") != GitHubSignature("s3cret", rc.requests()[i].body) {
					t.Errorf("recorded signature does not match the body sent")
				}
			}
		})
	}
}

func TestDispatchFailuresAreRecorded(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	t.Cleanup(func() { close(release); slow.Close() })
	failing := func(context.Context, state.Event, state.Hook, string, string) ([]*http.Request, error) {
		return nil, errors.New("no payload for you")
	}
	panicking := func(context.Context, state.Event, state.Hook, string, string) ([]*http.Request, error) {
		panic("TODO: not written yet")
	}
	none := func(context.Context, state.Event, state.Hook, string, string) ([]*http.Request, error) {
		return nil, nil
	}
	tests := []struct {
		name    string
		builder DeliveryBuilder
		url     string
		client  *http.Client
		wantN   int
		wantErr string
	}{
		{"receiver down", fakeBuilder, downURL, nil, 1, "connection refused"},
		{"receiver too slow", fakeBuilder, slow.URL, &http.Client{Timeout: 100 * time.Millisecond}, 1, "Client.Timeout"},
		{"builder error", failing, downURL, nil, 1, "no payload for you"},
		{"builder panic", panicking, downURL, nil, 1, "panic: TODO: not written yet"},
		{"forge sends nothing", none, downURL, nil, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := []Option{WithDeliveryBuilder(GitLab, tc.builder)}
			if tc.client != nil {
				opts = append(opts, WithHTTPClient(tc.client))
			}
			e := newSim(t, opts...)
			e.seedBasic(t)
			if _, err := e.srv.Forge().AddHook("acme/llm", GitLab, tc.url, "tok"); err != nil {
				t.Fatal(err)
			}
			// The action itself succeeds whatever happens to its webhooks.
			if _, err := e.srv.Forge().LabelIssue("acme/llm", 1, "alice", []string{"x"}, nil); err != nil {
				t.Fatalf("action failed because of its webhook: %v", err)
			}
			ds := e.srv.Deliveries()
			if len(ds) != tc.wantN {
				t.Fatalf("recorded %d deliveries, want %d", len(ds), tc.wantN)
			}
			if tc.wantN == 0 {
				return
			}
			if ds[0].Status != 0 || !strings.Contains(ds[0].Error, tc.wantErr) {
				t.Errorf("delivery status %d error %q, want 0 and %q", ds[0].Status, ds[0].Error, tc.wantErr)
			}
		})
	}
}

func TestDeliveriesRedactSecrets(t *testing.T) {
	builder := func(ctx context.Context, ev state.Event, h state.Hook, id, base string) ([]*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, strings.NewReader(`{}`))
		if err != nil {
			return nil, err
		}
		req.Header.Set("X-Gitlab-Event", "Issue Hook")
		req.Header.Set("X-Gitlab-Event-UUID", id)
		req.Header.Set("X-Gitlab-Token", h.Secret)
		return []*http.Request{req}, nil
	}
	e := newSim(t, WithDeliveryBuilder(GitLab, builder))
	e.seedBasic(t)
	rc := newReceiver(t, http.StatusOK, "")
	if _, err := e.srv.Forge().AddHook("acme/llm", GitLab, rc.URL, "very-secret-token"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Forge().LabelIssue("acme/llm", 1, "alice", []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := rc.requests()[0].header.Get("X-Gitlab-Token"); got != "very-secret-token" {
		t.Fatalf("receiver got token %q, want the secret", got)
	}
	ds, err := e.client.Deliveries(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	all := string(mustJSON(t, ds))
	if strings.Contains(all, "very-secret-token") {
		t.Errorf("admin API leaks the hook token: %s", all)
	}
	if ds[0].Headers.Get("X-Gitlab-Token") != redacted || ds[0].Event != "Issue Hook" {
		t.Errorf("headers %v, want redacted token and event", ds[0].Headers)
	}
	// Redelivery still sends the real token.
	if _, err := e.srv.Redeliver(context.Background(), ds[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := rc.requests()[1].header.Get("X-Gitlab-Token"); got != "very-secret-token" {
		t.Errorf("redelivery sent token %q, want the secret", got)
	}
}

func TestRedeliverReusesID(t *testing.T) {
	e := newSim(t, fakeOptions()...)
	e.seedBasic(t)
	rc := newReceiver(t, http.StatusServiceUnavailable, "later")
	if _, err := e.srv.Forge().AddHook("acme/llm", GitHub, rc.URL, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Forge().LabelIssue("acme/llm", 1, "alice", []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	first := e.srv.Deliveries()[0]
	rc.mu.Lock()
	rc.status = http.StatusAccepted
	rc.mu.Unlock()

	again, err := e.srv.Redeliver(context.Background(), first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 1 || again[0].ID != first.ID || !again[0].Redelivery || again[0].Status != http.StatusAccepted {
		t.Fatalf("redelivery %+v, want same id %s, redelivery, 202", again, first.ID)
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(got))
	}
	for _, h := range []string{"X-GitHub-Delivery", "X-Hub-Signature-256", "X-GitHub-Event"} {
		if got[0].header.Get(h) != got[1].header.Get(h) {
			t.Errorf("%s changed on redelivery: %q -> %q", h, got[0].header.Get(h), got[1].header.Get(h))
		}
	}
	if string(got[0].body) != string(got[1].body) {
		t.Errorf("body changed on redelivery")
	}
	if n := len(e.srv.Deliveries()); n != 2 {
		t.Errorf("log holds %d deliveries, want 2", n)
	}
	if _, err := e.srv.Redeliver(context.Background(), "no-such-id"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("unknown id: err %v, want ErrNotFound", err)
	}
}

func TestMaxDeliveriesDropsOldest(t *testing.T) {
	e := newSim(t, append(fakeOptions(), WithMaxDeliveries(2))...)
	e.seedBasic(t)
	rc := newReceiver(t, http.StatusOK, "")
	if _, err := e.srv.Forge().AddHook("acme/llm", GitHub, rc.URL, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Forge().LabelIssue("acme/llm", 1, "alice", []string{"a", "b", "c"}, nil); err != nil {
		t.Fatal(err)
	}
	ds := e.srv.Deliveries()
	if len(ds) != 2 || ds[0].Seq != 2 || ds[1].Seq != 3 {
		t.Errorf("kept %+v, want the last two (seq 2, 3)", ds)
	}
}

func TestBaseURLFromFirstRequest(t *testing.T) {
	srv := New(fakeOptions()...)
	t.Cleanup(srv.Close)
	if srv.BaseURL() != fallbackBaseURL {
		t.Fatalf("base URL before any request = %q", srv.BaseURL())
	}
	req := httptest.NewRequest(http.MethodGet, "http://forge.test:8900/", nil)
	srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	req = httptest.NewRequest(http.MethodGet, "http://other.test/", nil)
	srv.Handler().ServeHTTP(httptest.NewRecorder(), req)
	if got := srv.BaseURL(); got != "http://forge.test:8900" {
		t.Errorf("base URL = %q, want the first request's host", got)
	}
	if got := New(WithBaseURL("https://x.test/")).BaseURL(); got != "https://x.test" {
		t.Errorf("WithBaseURL: %q", got)
	}
}

func TestURLsHideCredentials(t *testing.T) {
	const raw = "http://user:pw@h.test/hook?token=abc#f"
	if got := safeURL(raw); got != "http://h.test/hook" {
		t.Errorf("safeURL = %q", got)
	}
	if got := shownURL(raw); got != "http://user:xxxxx@h.test/hook?token=abc#f" {
		t.Errorf("shownURL = %q", got)
	}
}

func TestResendAsNewID(t *testing.T) {
	e := newSim(t, fakeOptions()...)
	e.seedBasic(t)
	rc := newReceiver(t, http.StatusAccepted, "ok")
	if _, err := e.srv.Forge().AddHook("acme/llm", GitHub, rc.URL, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Forge().LabelIssue("acme/llm", 1, "alice", []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	first := e.srv.Deliveries()[0]
	again, err := e.srv.ResendAs(context.Background(), first.ID, "new-id")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != "new-id" || again.Redelivery || again.Status != http.StatusAccepted {
		t.Fatalf("resent %+v, want id new-id, a new delivery, 202", again)
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("receiver got %d requests, want 2", len(got))
	}
	if got[1].header.Get("X-GitHub-Delivery") != "new-id" {
		t.Errorf("delivery id %q, want new-id", got[1].header.Get("X-GitHub-Delivery"))
	}
	for _, h := range []string{"X-Hub-Signature-256", "X-GitHub-Event"} {
		if got[0].header.Get(h) != got[1].header.Get(h) {
			t.Errorf("%s changed: %q -> %q", h, got[0].header.Get(h), got[1].header.Get(h))
		}
	}
	if string(got[0].body) != string(got[1].body) {
		t.Errorf("body changed")
	}
	if _, err := e.srv.ResendAs(context.Background(), "no-such-id", "x"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("unknown id: err %v, want ErrNotFound", err)
	}
}
