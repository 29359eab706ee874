package github

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

func TestRestBase(t *testing.T) {
	tests := map[string]string{
		"https://api.github.com/":    "https://api.github.com/",
		"https://api.github.com":     "https://api.github.com/",
		"http://127.0.0.1:8080/":     "http://127.0.0.1:8080/api/v3/",
		"https://ghe.example.com":    "https://ghe.example.com/api/v3/",
		"https://ghe.example.com/x/": "https://ghe.example.com/x/api/v3/",
	}
	for in, want := range tests {
		got, err := restBase(in)
		if err != nil || got != want {
			t.Errorf("restBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := restBase("ftp://x/"); err == nil {
		t.Error("restBase must reject non-HTTP URLs")
	}
}

func TestParseSettingsDefaultsAndEnv(t *testing.T) {
	env := map[string]string{"GITHUB_TOKEN": "envtok", "GITHUB_OWNER": "envowner"}
	s, err := parseSettings(resource.PropertyMap{"owner": resource.NewStringProperty("cfgowner")},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.writeDelay != time.Second || s.readDelay != 0 || s.maxRetries != 3 || s.retryDelay != time.Second {
		t.Errorf("defaults = %+v", s)
	}
	if !slices.Equal(s.retryable, []int{500, 502, 503, 504}) {
		t.Errorf("retryable = %v", s.retryable)
	}
	if s.token != "envtok" || s.baseURL != defaultBaseURL {
		t.Errorf("token/baseURL = %q/%q", s.token, s.baseURL)
	}
	if s.owner != "envowner" {
		t.Errorf("owner = %q, want GITHUB_OWNER to win (as the official plugin does)", s.owner)
	}
	s, err = parseSettings(resource.PropertyMap{
		"organization": resource.NewStringProperty("org"),
		"writeDelayMs": resource.NewStringProperty("5"),
	}, func(string) string { return "" })
	if err != nil || s.owner != "org" || s.writeDelay != 5*time.Millisecond {
		t.Errorf("organization fallback / string ms = %+v, %v", s, err)
	}
}

func TestConfigureFromVariables(t *testing.T) {
	f, rec := newFakeGitHub(t)
	srv := New(Options{Getenv: func(string) string { return "" }})
	_, err := srv.Configure(context.Background(), &pulumirpc.ConfigureRequest{Variables: map[string]string{
		"github:config:token":        "sekrit",
		"github:config:owner":        "someuser",
		"github:config:baseUrl":      f.base,
		"github:config:writeDelayMs": "1",
	}})
	if err != nil {
		t.Fatal(err)
	}
	calls := rec.Calls()
	if len(calls) != 1 || calls[0].Line() != "GET /api/v3/orgs/someuser" {
		t.Fatalf("calls = %+v", calls)
	}
	if got := calls[0].Header.Get("Authorization"); got != "Bearer sekrit" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestConfigureWithoutOwnerAsksForUser(t *testing.T) {
	f, rec := newFakeGitHub(t)
	srv := New(Options{Getenv: func(string) string { return "" }})
	if _, err := srv.Configure(context.Background(), &pulumirpc.ConfigureRequest{
		Args: kittest.Struct(t, map[string]any{"token": "sekrit", "baseUrl": f.base}),
	}); err != nil {
		t.Fatal(err)
	}
	if got := rec.Lines(); !slices.Equal(got, []string{"GET /api/v3/user"}) {
		t.Errorf("calls = %v", got)
	}
}

func TestConfigureBadTokenFailsWithoutLeakingIt(t *testing.T) {
	f, _ := newFakeGitHub(t)
	srv := New(Options{Getenv: func(string) string { return "" }})
	_, err := srv.Configure(context.Background(), &pulumirpc.ConfigureRequest{
		Args: kittest.Struct(t, map[string]any{"token": "wrong-token-value", "owner": "o", "baseUrl": f.base}),
	})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want 401", err)
	}
	if strings.Contains(err.Error(), "wrong-token-value") {
		t.Error("the token leaked into the error")
	}
}

func TestCheckConfigRejectsAppAuthAndBadURL(t *testing.T) {
	srv := New(Options{})
	resp, err := srv.CheckConfig(context.Background(), &pulumirpc.CheckRequest{
		Urn:  "urn:pulumi:dev::expbot::pulumi:providers:github::gh",
		News: kittest.Struct(t, map[string]any{"baseUrl": "not a url", "appAuth": map[string]any{"id": "1"}, "writeDelayMs": -1}),
	})
	if err != nil {
		t.Fatal(err)
	}
	got := kittest.Failures(resp)
	slices.Sort(got)
	if want := []string{"appAuth", "baseUrl", "writeDelayMs"}; !slices.Equal(got, want) {
		t.Errorf("failures = %v, want %v", got, want)
	}
}
