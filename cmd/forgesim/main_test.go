package main

import (
	"bytes"
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/forgesim"
)

// syncBuffer lets the test read logs while the server writes them.
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

func TestRunServesSeedAndShutsDown(t *testing.T) {
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--addr", "127.0.0.1:0", "--seed", "../../internal/forgesim/testdata/seed.yaml"}, slog.New(slog.NewTextHandler(&logs, nil)))
	}()

	adminRE := regexp.MustCompile(`admin_api=(http://127\.0\.0\.1:\d+)/_sim/`)
	var base string
	for deadline := time.Now().Add(10 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := adminRE.FindStringSubmatch(logs.String()); m != nil {
			base = m[1]
		}
	}
	if base == "" {
		t.Fatalf("no admin URL logged:\n%s", logs.String())
	}
	for _, want := range []string{"github_api=" + base + "/api/v3/", "gitlab_api=" + base + "/api/v4/"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q", want)
		}
	}
	st, err := forgesim.NewClient(base, nil).Repo(ctx, "acme/llm")
	if err != nil {
		t.Fatal(err)
	}
	if st.DefaultBranch != "main" || len(st.Hooks) != 1 {
		t.Errorf("seeded repository: %+v", st)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancellation")
	}
	for _, secret := range []string{"alice-token", "expbot-token", "github-webhook-secret", "gitlab-webhook-token"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("logs contain the secret %q", secret)
		}
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // empty: no error
	}{
		{"help", []string{"-h"}, ""},
		{"unknown flag", []string{"--nope"}, "flag provided but not defined"},
		{"missing seed", []string{"--seed", "testdata/none.yaml"}, "opening seed"},
		{"bad address", []string{"--addr", "127.0.0.1:99999"}, "listening"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, slog.New(slog.DiscardHandler))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want %q", err, tc.want)
			}
		})
	}
	if !isLoopback("127.0.0.1") || !isLoopback("::1") || !isLoopback("localhost") || isLoopback("0.0.0.0") || isLoopback("") {
		t.Errorf("isLoopback is wrong")
	}
}
