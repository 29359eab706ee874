package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad invocations of `expbot setup` stop before anything runs, saying why.
func TestSetupRefusesBadInvocations(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "forges.yaml")
	if err := os.WriteFile(good, []byte("github:\n  webhook_url: https://bot.example/webhooks/github\n  repositories: [acme/llm]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("github:\n  webhook_url: https://bot.example/webhooks/github\n  repos: [acme/llm]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"EXPBOT_PULUMI_PASSPHRASE": "pp"}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no config", []string{"setup"}, base, "--config is required"},
		{"preview and destroy", []string{"setup", "--config", good, "--preview", "--destroy"}, base, "exclude each other"},
		{"stray argument", []string{"setup", "--config", good, "now"}, base, "unexpected arguments"},
		{"missing file", []string{"setup", "--config", filepath.Join(dir, "nope.yaml")}, base, "read forges file"},
		{"unknown key", []string{"setup", "--config", bad}, base, "field repos not found"},
		{"no passphrase", []string{"setup", "--config", good}, map[string]string{}, "passphrase"},
		{"no admin token or secret", []string{"setup", "--config", good}, base, "EXPBOT_SETUP_GITHUB_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, &out, &errOut)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
