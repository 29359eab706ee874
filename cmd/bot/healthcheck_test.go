package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"127.0.0.1:8080", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:8080", "http://127.0.0.1:8080/healthz"},
		{":9000", "http://127.0.0.1:9000/healthz"},
		{"[::]:8080", "http://[::1]:8080/healthz"},
		{"bot.internal:80", "http://bot.internal:80/healthz"},
	} {
		got, err := healthURL(tc.listen)
		if err != nil || got != tc.want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", tc.listen, got, err, tc.want)
		}
	}
	if _, err := healthURL("8080"); err == nil {
		t.Error("healthURL accepted an address without a port")
	}
}

func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	env := func(k string) string {
		if k == "EXPBOT_LISTEN" {
			return listen
		}
		return ""
	}
	ctx := context.Background()
	if err := run(ctx, []string{"healthcheck"}, env, io.Discard, io.Discard); err != nil {
		t.Fatalf("healthy server: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := run(ctx, []string{"healthcheck"}, env, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("unhealthy server: err = %v, want a 503 error", err)
	}
	srv.Close()
	if err := run(ctx, []string{"healthcheck", "--url", srv.URL + "/healthz"}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("no server: healthcheck passed")
	}
}
