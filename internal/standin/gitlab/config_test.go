package gitlab

import (
	"context"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

func TestAPIBase(t *testing.T) {
	tests := map[string]string{
		"https://gitlab.com/api/v4/":      "https://gitlab.com/api/v4/",
		"https://gitlab.com/api/v4":       "https://gitlab.com/api/v4/",
		"http://127.0.0.1:9000/":          "http://127.0.0.1:9000/api/v4/",
		"https://git.example/gitlab/":     "https://git.example/gitlab/api/v4/",
		"http://127.0.0.1:9000/x/api/v4/": "http://127.0.0.1:9000/x/api/v4/",
	}
	for in, want := range tests {
		if got, err := apiBase(in); err != nil || got != want {
			t.Errorf("apiBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := apiBase("gitlab.com"); err == nil {
		t.Error("apiBase must reject a URL without scheme")
	}
}

func TestConfigureFromVariablesAndHeaders(t *testing.T) {
	f, rec := newFakeGitLab(t)
	srv := New(Options{Getenv: func(string) string { return "" }})
	_, err := srv.Configure(context.Background(), &pulumirpc.ConfigureRequest{Variables: map[string]string{
		"gitlab:config:token":   "gltok",
		"gitlab:config:baseUrl": f.base,
		"gitlab:config:headers": `{"X-Extra":"1"}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	calls := rec.Calls()
	if len(calls) != 1 || calls[0].Line() != "GET /api/v4/user" || calls[0].Header.Get("X-Extra") != "1" {
		t.Fatalf("calls = %+v", calls)
	}
}

func TestConfigureTokenFromEnvAndEarlyAuthCheckOff(t *testing.T) {
	f, rec := newFakeGitLab(t)
	env := map[string]string{"GITLAB_TOKEN": "gltok", "GITLAB_BASE_URL": f.base}
	srv := New(Options{Getenv: func(k string) string { return env[k] }})
	if _, err := srv.Configure(context.Background(), &pulumirpc.ConfigureRequest{
		Args: kittest.Struct(t, map[string]any{"earlyAuthCheck": false}),
	}); err != nil {
		t.Fatal(err)
	}
	if got := rec.Lines(); len(got) != 0 {
		t.Errorf("earlyAuthCheck=false must not call the API, got %v", got)
	}
	// The env token is used for resource calls.
	_, err := srv.Create(context.Background(), &pulumirpc.CreateRequest{Urn: branchURN,
		Properties: kittest.Struct(t, map[string]any{"project": "grp/proj", "name": "b", "ref": "main"})})
	if err != nil {
		t.Fatalf("create with env token: %v", err)
	}
}

func TestConfigureBadTokenFailsWithoutLeakingIt(t *testing.T) {
	f, _ := newFakeGitLab(t)
	srv := New(Options{Getenv: func(string) string { return "" }})
	_, err := srv.Configure(context.Background(), &pulumirpc.ConfigureRequest{
		Args: kittest.Struct(t, map[string]any{"token": "wrong-token-value", "baseUrl": f.base}),
	})
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token-value") {
		t.Errorf("err = %v, want a 401 without the token", err)
	}
}
