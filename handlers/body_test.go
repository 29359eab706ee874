package handlers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// A client that sends its body too slowly gets 408 once the server's read
// deadline passes, and its connection is closed.
func TestSlowBodyGets408AndIsClosed(t *testing.T) {
	rec := &fakeRecorder{}
	srv := httptest.NewUnstartedServer(NewGitHub(GitHubConfig{Secrets: []string{ghSecret}}, rec, nil, zerolog.Nop()))
	srv.Config.ReadTimeout = 500 * time.Millisecond
	srv.Start()
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	hdr := "POST / HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\nX-GitHub-Delivery: d\r\n" +
		"X-Hub-Signature-256: sha256=" + strings.Repeat("0", 64) + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
	if _, err := io.WriteString(conn, hdr); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "body not received in time") {
		t.Errorf("answer %d %s, want 408", res.StatusCode, body)
	}
	if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("connection still open after the 408: %v", err)
	}
}

// blockingBody is a body that is never sent: reading it waits for done.
type blockingBody struct {
	read atomic.Bool
	done chan struct{}
}

func (b *blockingBody) Read([]byte) (int, error) {
	b.read.Store(true)
	<-b.done
	return 0, io.EOF
}

// Bodies not yet verified share the budget: while it is full, another one
// waits, then gets 503 with Retry-After; once room frees up, deliveries go
// through again and the memory is handed back.
func TestUnverifiedBodiesShareABudget(t *testing.T) {
	var freed atomic.Int32
	b := NewBudget(1 << 20)
	b.idle, b.freeAbove, b.freeOS = 10*time.Millisecond, 1, func() { freed.Add(1) }

	// Hold the whole budget with a body that arrives slowly.
	if err := b.acquire(context.Background(), 1<<20); err != nil {
		t.Fatal(err)
	}
	h := githubHarness(t, Options{Budget: b})
	start := time.Now()
	r := h.post(t, ghHeaders("issues", "d-busy", "wrong-secret", "{}"), "{}")
	if r.status != http.StatusServiceUnavailable || r.answer.Status != "busy" || r.header.Get("Retry-After") == "" {
		t.Fatalf("with the budget full: %d %+v Retry-After=%q, want 503 busy", r.status, r.answer, r.header.Get("Retry-After"))
	}
	if waited := time.Since(start); waited < budgetWait/2 {
		t.Errorf("answered after %v: the body did not wait for room", waited)
	}
	if r.answer.Delivery != "" {
		t.Errorf("an unauthenticated answer echoes the delivery id %q", r.answer.Delivery)
	}
	b.release(1 << 20)

	r = h.post(t, ghHeaders("issues", "d-ok", ghSecret, labeledBody()), labeledBody())
	if r.status != http.StatusAccepted {
		t.Fatalf("with room: %d %+v", r.status, r.answer)
	}
	r = h.post(t, ghHeaders("issues", "d-bad", "wrong-secret", labeledBody()), labeledBody())
	if r.status != http.StatusUnauthorized {
		t.Fatalf("bad signature: %d %+v", r.status, r.answer)
	}
	deadline := time.Now().Add(10 * time.Second)
	for freed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b.Used() != 0 || freed.Load() == 0 {
		t.Errorf("after the requests: %d bytes held, memory given back %d times", b.Used(), freed.Load())
	}
}

// Concurrent bodies never hold more than the budget, whatever their size
// and whether their length is known.
func TestBudgetBoundsConcurrentBodies(t *testing.T) {
	const limit = 2 << 20
	const total = 2 * limit
	b := NewBudget(total)
	b.freeOS = func() {}
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				if u := b.Used(); u > peak.Load() {
					peak.Store(u)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}()
	h := githubHarness(t, Options{Budget: b, MaxBodyBytes: limit})
	var wg sync.WaitGroup
	statuses := make(chan int, 12)
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat("x", limit-i)
			var rd io.Reader = strings.NewReader(body)
			if i%2 == 1 {
				rd = io.MultiReader(rd) // no length: sent chunked
			}
			statuses <- h.send(t, http.MethodPost, ghHeaders("issues", fmt.Sprint("d", i), "wrong-secret", body), rd).status
		}()
	}
	wg.Wait()
	close(stop)
	close(statuses)
	for s := range statuses {
		if s != http.StatusUnauthorized && s != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 401 or 503", s)
		}
	}
	if p := peak.Load(); p > total || p == 0 {
		t.Errorf("peak %d bytes held, budget %d", p, total)
	}
	if b.Used() != 0 {
		t.Errorf("%d bytes still held", b.Used())
	}
}

// What can be refused on its headers is refused without reading the body:
// a GitLab token, a GitHub delivery without a signature.
func TestRefusedOnHeadersBeforeTheBody(t *testing.T) {
	for _, tt := range []struct {
		name string
		mk   func(Recorder, *Metrics, zerolog.Logger) http.Handler
		hdr  http.Header
	}{
		{"gitlab wrong token", func(rec Recorder, m *Metrics, log zerolog.Logger) http.Handler {
			return NewGitLab(GitLabConfig{Tokens: []string{glToken}}, rec, m, log)
		}, glHeaders("Issue Hook", "wrong-token")},
		{"gitlab no token", func(rec Recorder, m *Metrics, log zerolog.Logger) http.Handler {
			return NewGitLab(GitLabConfig{Tokens: []string{glToken}}, rec, m, log)
		}, glHeaders("Issue Hook", "")},
		{"github no signature", func(rec Recorder, m *Metrics, log zerolog.Logger) http.Handler {
			return NewGitHub(GitHubConfig{Secrets: []string{ghSecret}}, rec, m, log)
		}, ghHeaders("issues", "d", "", "")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.mk)
			body := &blockingBody{done: make(chan struct{})}
			defer close(body.done)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tt.hdr
			req.ContentLength = 10 << 20
			res, err := h.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", res.StatusCode)
			}
		})
	}
}

// GitHub's form content type: the JSON is the one "payload" field of the
// signed form body.
func TestGitHubFormContentType(t *testing.T) {
	h := githubHarness(t, Options{})
	labeled := labeledBody()
	form := func(id, body string) http.Header {
		hdr := ghHeaders("issues", id, ghSecret, body)
		hdr.Set("Content-Type", "application/x-www-form-urlencoded")
		return hdr
	}
	for _, tt := range []struct {
		name, body string
		hdr        http.Header
		status     int
		answer     answer
	}{
		{"accepted", "payload=" + url.QueryEscape(labeled), nil, 202, answer{Status: "accepted", Delivery: "f-accepted"}},
		{"other fields ignored", "x=1&payload=" + url.QueryEscape(labeled), nil, 202, answer{Status: "accepted", Delivery: "f-other fields ignored"}},
		{"no payload field", "zen=1", nil, 400, answer{Status: "malformed", Error: "malformed webhook payload: github form body: payload field missing"}},
		{"two payload fields", "payload=%7B%7D&payload=%7B%7D", nil, 400, answer{Status: "malformed", Error: "malformed webhook payload: github form body: payload field given more than once"}},
		{"broken escape", "payload=%zz", nil, 400, answer{Status: "malformed", Error: `malformed webhook payload: github form body: invalid URL escape "%zz"`}},
		{"JSON sent as form", labeled, nil, 400, answer{Status: "malformed", Error: "malformed webhook payload: github form body: payload field missing"}},
		{"signature over the JSON, not the form", "payload=" + url.QueryEscape(labeled), ghHeaders("issues", "f-sig", ghSecret, labeled), 401, answer{Status: "unauthorized", Error: "signature or token invalid"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hdr := tt.hdr
			if hdr == nil {
				hdr = form("f-"+tt.name, tt.body)
			} else {
				hdr.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			r := h.post(t, hdr, tt.body)
			if r.status != tt.status || r.answer != tt.answer {
				t.Errorf("got %d %+v, want %d %+v", r.status, r.answer, tt.status, tt.answer)
			}
		})
	}
}
