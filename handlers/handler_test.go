package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/internal/event"
)

// fakeRecorder records every call and deduplicates on Forge+ID like the
// pipeline's store does.
type fakeRecorder struct {
	mu          sync.Mutex
	calls       []event.Delivery
	seen        map[string]bool
	err         error         // returned by every call when set
	outcome     event.Outcome // returned by every call when set
	noDeadlines int           // calls whose context had no deadline
	gate        *ackfirst.Gate
	inFlight    []int // gate.InFlight() during each call
}

func (f *fakeRecorder) Record(ctx context.Context, d event.Delivery) (event.Outcome, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, d)
	f.inFlight = append(f.inFlight, f.gate.InFlight())
	if _, ok := ctx.Deadline(); !ok {
		f.noDeadlines++
	}
	switch {
	case f.err != nil:
		return 0, f.err
	case f.outcome != 0:
		return f.outcome, nil
	}
	key := string(d.Forge) + "/" + d.ID
	if f.seen[key] {
		return event.OutcomeDuplicate, nil
	}
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	f.seen[key] = true
	return event.OutcomeAccepted, nil
}

func (f *fakeRecorder) take() []event.Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var fixedNow = time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)

type harness struct {
	srv  *httptest.Server
	rec  *fakeRecorder
	reg  *prometheus.Registry
	logs *syncBuffer
}

func newHarness(t *testing.T, mk func(Recorder, *Metrics, zerolog.Logger) http.Handler) *harness {
	t.Helper()
	h := &harness{rec: &fakeRecorder{}, reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	h.srv = httptest.NewServer(mk(h.rec, NewMetrics(h.reg), zerolog.New(h.logs)))
	t.Cleanup(h.srv.Close)
	return h
}

// done waits for in-flight handlers (they count and log after answering).
func (h *harness) done() { h.srv.Close() }

type resp struct {
	status int
	header http.Header
	answer answer
	raw    string
}

func (h *harness) send(t *testing.T, method string, hdr http.Header, body io.Reader) resp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, h.srv.URL, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	res, err := h.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := resp{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.answer); err != nil {
		t.Fatalf("answer %q is not JSON: %v", raw, err)
	}
	if len(raw) > 512 {
		t.Errorf("answer is %d bytes, want a small one", len(raw))
	}
	return r
}

func (h *harness) post(t *testing.T, hdr http.Header, body string) resp {
	t.Helper()
	return h.send(t, http.MethodPost, hdr, strings.NewReader(body))
}

// --- GitHub ---

const (
	ghSecret    = "gh-webhook-secret-5f1c0e"
	ghOldSecret = "gh-webhook-secret-old-77aa"
)

func githubHarness(t *testing.T, opts Options) *harness {
	opts.Now = func() time.Time { return fixedNow }
	return newHarness(t, func(rec Recorder, m *Metrics, log zerolog.Logger) http.Handler {
		return NewGitHub(GitHubConfig{Secrets: []string{ghSecret, ghOldSecret}, Options: opts}, rec, m, log)
	})
}

func ghHeaders(eventName, id, secret, body string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitHub-Hookshot/c3ff9b2")
	h.Set("X-GitHub-Hook-ID", "470012345")
	if eventName != "" {
		h.Set("X-GitHub-Event", eventName)
	}
	if id != "" {
		h.Set("X-GitHub-Delivery", id)
	}
	if secret != "" {
		h.Set("X-Hub-Signature-256", githubSig(secret, []byte(body)))
	}
	return h
}

func labeledBody() string {
	return ghIssues("labeled", "open", ghLabelsJSON("bug", trigger), ghLabelMember(trigger), "", "User")
}

func TestGitHubHandler(t *testing.T) {
	labeled := labeledBody()
	wantChange, err := DecodeGitHub("issues", []byte(labeled))
	if err != nil {
		t.Fatal(err)
	}
	pr := ghIssues("labeled", "open", ghLabelsJSON(trigger), ghLabelMember(trigger), `"pull_request": {"url": "x"},`, "User")
	form := "payload=" + url.QueryEscape(labeled)
	formHdr := ghHeaders("issues", "d-form", ghSecret, form)
	formHdr.Set("Content-Type", "application/x-www-form-urlencoded")
	sha1Only := ghHeaders("issues", "d-sha1", "", labeled)
	sha1Only.Set("X-Hub-Signature", "sha1=0123456789abcdef0123456789abcdef01234567")

	tests := []struct {
		name       string
		method     string
		hdr        http.Header
		body       string
		status     int
		answer     answer
		recorded   bool
		recordFail bool
	}{
		{"accepted", "POST", ghHeaders("issues", "d-1", ghSecret, labeled), labeled,
			202, answer{Status: "accepted", Delivery: "d-1"}, true, false},
		{"redelivery acknowledged as duplicate", "POST", ghHeaders("issues", "d-1", ghSecret, labeled), labeled,
			202, answer{Status: "duplicate", Delivery: "d-1"}, true, false},
		{"old secret during rotation", "POST", ghHeaders("issues", "d-2", ghOldSecret, labeled), labeled,
			202, answer{Status: "accepted", Delivery: "d-2"}, true, false},
		{"form content type", "POST", formHdr, form,
			202, answer{Status: "accepted", Delivery: "d-form"}, true, false},
		{"ping", "POST", ghHeaders("ping", "d-ping", ghSecret, ghPingBody), ghPingBody,
			200, answer{Status: "ping", Delivery: "d-ping"}, false, false},
		{"other event ignored", "POST", ghHeaders("push", "d-push", ghSecret, `{"ref":"refs/heads/main"}`), `{"ref":"refs/heads/main"}`,
			200, answer{Status: "ignored", Delivery: "d-push", Reason: "github branch push not handled"}, false, false},
		{"unknown event counted as other", "POST", ghHeaders("star", "d-star", ghSecret, `{"action":"created"}`), `{"action":"created"}`,
			200, answer{Status: "ignored", Delivery: "d-star", Reason: `github event "star" not handled`}, false, false},
		{"pull request ignored", "POST", ghHeaders("issues", "d-pr", ghSecret, pr), pr,
			200, answer{Status: "ignored", Delivery: "d-pr", Reason: "github issues event for a pull request"}, false, false},
		{"GET", "GET", ghHeaders("issues", "d-get", ghSecret, ""), "",
			405, answer{Status: "method_not_allowed", Error: "only POST"}, false, false},
		{"no signature", "POST", ghHeaders("issues", "d-3", "", labeled), labeled,
			401, answer{Status: "unauthorized", Error: "signature or token invalid"}, false, false},
		{"legacy sha1 signature only", "POST", sha1Only, labeled,
			401, answer{Status: "unauthorized", Error: "signature or token invalid"}, false, false},
		{"wrong secret", "POST", ghHeaders("issues", "d-4", "guess", labeled), labeled,
			401, answer{Status: "unauthorized", Error: "signature or token invalid"}, false, false},
		{"body altered after signing", "POST", ghHeaders("issues", "d-5", ghSecret, labeled), labeled + " ",
			401, answer{Status: "unauthorized", Error: "signature or token invalid"}, false, false},
		{"malformed JSON", "POST", ghHeaders("issues", "d-6", ghSecret, `{"action":`), `{"action":`,
			400, answer{Status: "malformed", Error: "malformed webhook payload: github issues: unexpected end of JSON input"}, false, false},
		{"event header missing", "POST", ghHeaders("", "d-7", ghSecret, labeled), labeled,
			400, answer{Status: "malformed", Error: "X-GitHub-Event header missing"}, false, false},
		{"delivery id missing", "POST", ghHeaders("issues", "", ghSecret, labeled), labeled,
			400, answer{Status: "malformed", Error: "delivery id header missing"}, false, false},
		{"delivery id too long", "POST", ghHeaders("issues", strings.Repeat("x", 300), ghSecret, labeled), labeled,
			400, answer{Status: "malformed", Error: "delivery id too long"}, false, false},
		{"recorder fails", "POST", ghHeaders("issues", "d-8", ghSecret, labeled), labeled,
			503, answer{Status: "error", Delivery: "d-8", Error: "delivery not recorded; retry later"}, true, true},
	}
	h := githubHarness(t, Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.rec.mu.Lock()
			h.rec.err = nil
			if tt.recordFail {
				h.rec.err = errors.New("database is locked")
			}
			h.rec.mu.Unlock()
			r := h.send(t, tt.method, tt.hdr, strings.NewReader(tt.body))
			if r.status != tt.status || r.answer != tt.answer {
				t.Fatalf("got %d %+v, want %d %+v", r.status, r.answer, tt.status, tt.answer)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			switch tt.status {
			case 405:
				if a := r.header.Get("Allow"); a != "POST" {
					t.Errorf("Allow = %q, want POST", a)
				}
			case 503:
				if ra := r.header.Get("Retry-After"); ra != strconv.Itoa(int(DefaultRetryAfter/time.Second)) {
					t.Errorf("Retry-After = %q", ra)
				}
			}
			calls := h.rec.take()
			if !tt.recorded {
				if len(calls) != 0 {
					t.Fatalf("Record called %d times, want none", len(calls))
				}
				return
			}
			if len(calls) != 1 {
				t.Fatalf("Record called %d times, want once", len(calls))
			}
			want := event.Delivery{Forge: event.GitHub, ID: tt.hdr.Get("X-GitHub-Delivery"), Event: "issues", ReceivedAt: fixedNow, Payload: wantChange}
			if !reflect.DeepEqual(calls[0], want) {
				t.Errorf("Record got %+v\nwant %+v", calls[0], want)
			}
		})
	}
	h.done()
	if h.rec.noDeadlines != 0 {
		t.Errorf("%d Record calls without a deadline", h.rec.noDeadlines)
	}

	// Metrics: one count per request, under bounded labels.
	wantCounts := map[[2]string]float64{
		{"issues", "accepted"}: 3, {"issues", "duplicate"}: 1, {"ping", "ping"}: 1, {"push", "ignored"}: 1,
		{"issues", "ignored"}: 1, {"issues", "method_not_allowed"}: 1, {"issues", "unauthorized"}: 4,
		{"issues", "malformed"}: 3, {"other", "malformed"}: 1, {"issues", "error"}: 1, {"other", "ignored"}: 1,
	}
	for k, want := range wantCounts {
		if got := counterValue(t, h.reg, "github", k[0], k[1]); got != want {
			t.Errorf("deliveries{event=%q,outcome=%q} = %v, want %v", k[0], k[1], got, want)
		}
	}
	if got := ackCount(t, h.reg, "github"); got != uint64(len(tests)) {
		t.Errorf("ack histogram count = %d, want %d", got, len(tests))
	}

	logs := h.logs.String()
	checkLogs(t, logs, len(tests), []string{ghSecret, ghOldSecret, githubSig(ghSecret, []byte(labeled)), "learning_rate"})
	if !strings.Contains(logs, `"repo":"github.com/octo-org/llm-variants","issue":7`) {
		t.Errorf("no log line names the repository and issue:\n%s", logs)
	}
}

// TestRecordingClosesTheGate: background work waiting at the gate lets a
// delivery being recorded go first, and only an authenticated one.
func TestRecordingClosesTheGate(t *testing.T) {
	gate := ackfirst.New(time.Hour)
	h := githubHarness(t, Options{Gate: gate})
	h.rec.gate = gate
	body := labeledBody()
	if r := h.post(t, ghHeaders("issues", "d-forged", "not-the-secret", body), body); r.status != http.StatusUnauthorized {
		t.Fatalf("forged delivery: status %d, want 401", r.status)
	}
	if r := h.post(t, ghHeaders("issues", "d-1", ghSecret, body), body); r.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202", r.status)
	}
	h.done()
	if want := []int{1}; !slices.Equal(h.rec.inFlight, want) {
		t.Errorf("acknowledgements in flight while recording = %v, want %v", h.rec.inFlight, want)
	}
	if n := gate.InFlight(); n != 0 {
		t.Errorf("acknowledgements in flight after the answers = %d, want 0", n)
	}
}

func TestGitHubHandlerTooLarge(t *testing.T) {
	h := githubHarness(t, Options{MaxBodyBytes: 4096})
	big := labeledBody() + strings.Repeat(" ", 4096)
	hdr := ghHeaders("issues", "d-big", ghSecret, big)

	r := h.post(t, hdr, big) // with Content-Length
	if r.status != 413 || r.answer.Status != "too_large" {
		t.Fatalf("with length: got %d %+v, want 413 too_large", r.status, r.answer)
	}
	// Without a length (chunked) the limit still holds while reading.
	r = h.send(t, http.MethodPost, hdr, io.MultiReader(strings.NewReader(big)))
	if r.status != 413 {
		t.Fatalf("chunked: got %d %+v, want 413", r.status, r.answer)
	}
	// Exactly at the limit passes.
	small := labeledBody()
	small += strings.Repeat(" ", 4096-len(small))
	r = h.post(t, ghHeaders("issues", "d-fits", ghSecret, small), small)
	if r.status != 202 {
		t.Fatalf("at the limit: got %d %+v, want 202", r.status, r.answer)
	}
	h.done()
	if n := len(h.rec.take()); n != 1 {
		t.Errorf("Record called %d times, want once (only the body that fits)", n)
	}
	if got := counterValue(t, h.reg, "github", "issues", "too_large"); got != 2 {
		t.Errorf("too_large count = %v, want 2", got)
	}
}

func TestGitHubHandlerMisconfigured(t *testing.T) {
	rec, logs := &fakeRecorder{}, &syncBuffer{}
	srv := httptest.NewServer(NewGitHub(GitHubConfig{}, rec, nil, zerolog.New(logs)))
	defer srv.Close()
	body := labeledBody()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header = ghHeaders("issues", "d-1", "", body)
	req.Header.Set("X-Hub-Signature-256", githubSig("", []byte(body))) // the empty key must not work
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || len(rec.take()) != 0 {
		t.Fatalf("got %d, want 401 and no Record", res.StatusCode)
	}
	if !strings.Contains(logs.String(), "misconfigured") {
		t.Errorf("misconfiguration not logged: %s", logs)
	}
}

// --- GitLab ---

const (
	glToken   = "glpat-hook-token-9c3e1b"
	glToken2  = "gl-hook-token-next-44d0"
	glSigning = "whsec_c2lnbmluZy1rZXktZm9yLWV4cGJvdC10ZXN0cw=="
)

func gitlabHarness(t *testing.T, cfg GitLabConfig) *harness {
	cfg.Now = func() time.Time { return fixedNow }
	return newHarness(t, func(rec Recorder, m *Metrics, log zerolog.Logger) http.Handler {
		return NewGitLab(cfg, rec, m, log)
	})
}

func glHeaders(eventName, token string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "GitLab/17.11.0")
	h.Set("X-Gitlab-Event", eventName)
	h.Set("X-Gitlab-Instance", "https://gitlab.example.com")
	h.Set("X-Gitlab-Webhook-UUID", "7b1f7c2e-0000-4000-8000-000000000001")
	if token != "" {
		h.Set("X-Gitlab-Token", token)
	}
	return h
}

func withIDs(h http.Header, idem, uuid string) http.Header {
	if idem != "" {
		h.Set("Idempotency-Key", idem)
	}
	if uuid != "" {
		h.Set("X-Gitlab-Event-UUID", uuid)
	}
	return h
}

func signGL(t *testing.T, h http.Header, id string, at time.Time, body string) http.Header {
	ts := strconv.FormatInt(at.Unix(), 10)
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", standardSig(mustKey(t, glSigning), id, ts, []byte(body)))
	return h
}

func glLabeledBody() string {
	return glIssue("issue", "Issue", "update", "opened", glLabels("bug", trigger), glLabelChange(glLabels("bug"), glLabels("bug", trigger)), "ada")
}

func TestGitLabHandler(t *testing.T) {
	body := glLabeledBody()
	wantChange, err := DecodeGitLab("Issue Hook", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	note := `{"object_kind": "note", "object_attributes": {"noteable_type": "Issue", "action": "create"}}`
	tests := []struct {
		name      string
		hdr       http.Header
		body      string
		status    int
		answer    answer
		wantID    string // Record expected with this delivery id
		wantEvent string
	}{
		{"token, Idempotency-Key", withIDs(glHeaders("Issue Hook", glToken), "idem-1", "uuid-1"), body,
			202, answer{Status: "accepted", Delivery: "idem-1"}, "idem-1", "Issue Hook"},
		{"retry with the same key", withIDs(glHeaders("Issue Hook", glToken), "idem-1", "uuid-1b"), body,
			202, answer{Status: "duplicate", Delivery: "idem-1"}, "idem-1", "Issue Hook"},
		{"second token, event UUID only (before 17.4)", withIDs(glHeaders("Confidential Issue Hook", glToken2), "", "uuid-2"), body,
			202, answer{Status: "accepted", Delivery: "uuid-2"}, "uuid-2", "Confidential Issue Hook"},
		{"signed, no token", signGL(t, glHeaders("Issue Hook", ""), "wh-3", fixedNow.Add(-time.Minute), body), body,
			202, answer{Status: "accepted", Delivery: "wh-3"}, "wh-3", "Issue Hook"},
		{"signed replay an hour later, with the token", signGL(t, glHeaders("Issue Hook", glToken), "wh-4", fixedNow.Add(-time.Hour), body), body,
			401, answer{Status: "unauthorized", Error: "signature or token invalid"}, "", ""},
		{"signed, body altered", signGL(t, glHeaders("Issue Hook", ""), "wh-5", fixedNow, body), body + "\n",
			401, answer{Status: "unauthorized", Error: "signature or token invalid"}, "", ""},
		{"wrong token", withIDs(glHeaders("Issue Hook", "glpat-guess"), "idem-6", ""), body,
			401, answer{Status: "unauthorized", Error: "signature or token invalid"}, "", ""},
		{"no token", withIDs(glHeaders("Issue Hook", ""), "idem-7", ""), body,
			401, answer{Status: "unauthorized", Error: "signature or token invalid"}, "", ""},
		{"note hook ignored", withIDs(glHeaders("Note Hook", glToken), "idem-8", ""), note,
			200, answer{Status: "ignored", Delivery: "idem-8", Reason: `gitlab note on "Issue" not handled`}, "", ""},
		{"task ignored", withIDs(glHeaders("Issue Hook", glToken), "idem-9", ""), strings.Replace(body, `"type": "Issue"`, `"type": "Task"`, 1),
			200, answer{Status: "ignored", Delivery: "idem-9", Reason: `gitlab issue of type "Task" not handled`}, "", ""},
		{"malformed", withIDs(glHeaders("Issue Hook", glToken), "idem-10", ""), `{"object_kind": "issue"`,
			400, answer{Status: "malformed", Error: "malformed webhook payload: gitlab issue: unexpected end of JSON input"}, "", ""},
		{"no delivery id", glHeaders("Issue Hook", glToken), body,
			400, answer{Status: "malformed", Error: "delivery id header missing"}, "", ""},
	}
	h := gitlabHarness(t, GitLabConfig{Tokens: []string{glToken, glToken2}, SigningSecrets: []string{glSigning}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.post(t, tt.hdr, tt.body)
			if r.status != tt.status || r.answer != tt.answer {
				t.Fatalf("got %d %+v, want %d %+v", r.status, r.answer, tt.status, tt.answer)
			}
			calls := h.rec.take()
			if tt.wantID == "" {
				if len(calls) != 0 {
					t.Fatalf("Record called %d times, want none", len(calls))
				}
				return
			}
			payload := *wantChange.(*event.IssueChange)
			payload.Confidential = tt.wantEvent == "Confidential Issue Hook" // the hook name says so
			want := event.Delivery{Forge: event.GitLab, ID: tt.wantID, Event: tt.wantEvent, ReceivedAt: fixedNow, Payload: &payload}
			if len(calls) != 1 || !reflect.DeepEqual(calls[0], want) {
				t.Fatalf("Record calls %+v, want exactly %+v", calls, want)
			}
		})
	}
	h.done()
	for k, want := range map[[2]string]float64{
		{"Issue Hook", "accepted"}: 2, {"Issue Hook", "duplicate"}: 1, {"Confidential Issue Hook", "accepted"}: 1,
		{"Issue Hook", "unauthorized"}: 4, {"Note Hook", "ignored"}: 1, {"Issue Hook", "ignored"}: 1, {"Issue Hook", "malformed"}: 2,
	} {
		if got := counterValue(t, h.reg, "gitlab", k[0], k[1]); got != want {
			t.Errorf("deliveries{event=%q,outcome=%q} = %v, want %v", k[0], k[1], got, want)
		}
	}
	checkLogs(t, h.logs.String(), len(tests), []string{glToken, glToken2, glSigning, strings.TrimPrefix(glSigning, "whsec_"), "learning_rate"})
}

func TestGitLabHandlerRecorderOutcomes(t *testing.T) {
	body := glLabeledBody()
	tests := []struct {
		name    string
		err     error
		outcome event.Outcome
		status  int
		answer  answer
	}{
		{"recorder fails", errors.New("connection refused"), 0, 503, answer{Status: "error", Delivery: "k", Error: "delivery not recorded; retry later"}},
		{"nothing to do", nil, event.OutcomeIgnored, 200, answer{Status: "ignored", Delivery: "k", Reason: "nothing to do"}},
		{"unknown outcome", nil, event.Outcome(42), 503, answer{Status: "error", Delivery: "k", Error: "delivery not recorded; retry later"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := gitlabHarness(t, GitLabConfig{Tokens: []string{glToken}})
			h.rec.err, h.rec.outcome = tt.err, tt.outcome
			r := h.post(t, withIDs(glHeaders("Issue Hook", glToken), "k", ""), body)
			if r.status != tt.status || r.answer != tt.answer {
				t.Fatalf("got %d %+v, want %d %+v", r.status, r.answer, tt.status, tt.answer)
			}
			if tt.status == 503 && r.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			h.done()
			if n := len(h.rec.take()); n != 1 {
				t.Errorf("Record called %d times, want once", n)
			}
			if tt.err != nil && !strings.Contains(h.logs.String(), tt.err.Error()) {
				t.Errorf("recorder error not logged: %s", h.logs)
			}
		})
	}
}

// --- shared checks ---

// checkLogs asserts one JSON line per request with the agreed fields, and
// that no secret appears anywhere.
func checkLogs(t *testing.T, logs string, requests int, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a secret or the body: %q", s)
		}
	}
	lines := strings.Split(strings.TrimSpace(logs), "\n")
	if len(lines) != requests {
		t.Fatalf("%d log lines for %d requests:\n%s", len(lines), requests, logs)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		for _, k := range []string{"forge", "event", "delivery", "outcome", "status", "duration"} {
			if _, ok := m[k]; !ok {
				t.Errorf("log line lacks %q: %s", k, l)
			}
		}
	}
}

func counterValue(t *testing.T, g prometheus.Gatherer, forge, ev, outcome string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "expbot_webhook_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["forge"] == forge && l["event"] == ev && l["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func ackCount(t *testing.T, g prometheus.Gatherer, forge string) uint64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "expbot_webhook_ack_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == forge {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}
