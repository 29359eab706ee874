package kit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestClientRetriesRetryableStatuses(t *testing.T) {
	var mu sync.Mutex
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		attempts++
		n := attempts
		mu.Unlock()
		if n < 3 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	c, err := NewClient(ClientOptions{BaseURL: srv.URL + "/", MaxRetries: 3, Retryable: []int{502}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), Request{Method: http.MethodGet, Path: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != http.StatusOK || attempts != 3 {
		t.Errorf("status %d after %d attempts, want 200 after 3", resp.Status, attempts)
	}
}

func TestClientGivesUpAfterMaxRetries(t *testing.T) {
	attempts := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attempts++
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"message":"down"}`))
	}))
	defer srv.Close()
	c, err := NewClient(ClientOptions{BaseURL: srv.URL + "/", MaxRetries: 1, Retryable: []int{503}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(context.Background(), Request{Method: http.MethodPost, Path: "x", Body: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if attempts != 2 {
		t.Errorf("attempts = %d, want 2", attempts)
	}
	err = resp.Expect(http.StatusCreated)
	if !IsStatus(err, http.StatusServiceUnavailable) || !strings.Contains(err.Error(), "down") {
		t.Errorf("Expect error = %v, want 503 with message", err)
	}
}

func TestClientSendsPathVerbatimAndPacesWrites(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	var writes []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		paths = append(paths, r.URL.EscapedPath()+"?"+r.URL.RawQuery)
		if r.Method != http.MethodGet {
			writes = append(writes, time.Now())
		}
		if got := r.Header.Get("Authorization"); got != "Bearer t" {
			t.Errorf("Authorization = %q", got)
		}
	}))
	defer srv.Close()
	h := http.Header{}
	h.Set("Authorization", "Bearer t")
	c, err := NewClient(ClientOptions{BaseURL: srv.URL + "/api/v3/", Header: h, WriteDelay: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, req := range []Request{
		{Method: http.MethodGet, Path: "repos/o/r/branches/exp%2Fx", Query: map[string][]string{"ref": {"exp/x"}}},
		{Method: http.MethodPost, Path: "a"},
		{Method: http.MethodDelete, Path: "b"},
	} {
		if _, err := c.Do(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	if paths[0] != "/api/v3/repos/o/r/branches/exp%2Fx?ref=exp%2Fx" {
		t.Errorf("path = %q, want the escaped segment and query kept", paths[0])
	}
	if len(writes) != 2 || writes[1].Sub(writes[0]) < 140*time.Millisecond {
		t.Errorf("writes %v not paced by the write delay", writes)
	}
}

func TestNewClientRejectsBadBaseURL(t *testing.T) {
	for _, u := range []string{"", "no-scheme/", "http://host/no-slash"} {
		if _, err := NewClient(ClientOptions{BaseURL: u}); err == nil {
			t.Errorf("NewClient(%q) succeeded", u)
		}
	}
}
