package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadSetup(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "gl-admin")
	if err := os.WriteFile(tokenFile, []byte("gl-admin-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		check   func(t *testing.T, s Setup)
		wantErr string
	}{
		{
			name: "env and files",
			env: map[string]string{
				"EXPBOT_PULUMI_PASSPHRASE": "pp", "EXPBOT_SETUP_GITHUB_TOKEN": "gh-admin",
				"EXPBOT_SETUP_GITLAB_TOKEN_FILE": tokenFile, "EXPBOT_GITHUB_WEBHOOK_SECRETS": "new,old",
				"EXPBOT_DATA_DIR": "/srv/expbot", "EXPBOT_GITHUB_WRITE_DELAY_MS": "5",
			},
			check: func(t *testing.T, s Setup) {
				if s.GitHubToken.Reveal() != "gh-admin" || s.GitLabToken.Reveal() != "gl-admin-token" ||
					s.GitHubWebhookSecret.Reveal() != "new" || s.GitLabWebhookToken != "" || s.WriteDelayMs != 5 {
					t.Errorf("secrets not read as expected")
				}
				if b, _ := s.Backend(); b != "file:///srv/expbot/pulumi/state" {
					t.Errorf("backend %q", b)
				}
			},
		},
		{
			name: "defaults",
			env:  map[string]string{"EXPBOT_PULUMI_PASSPHRASE": "pp"},
			check: func(t *testing.T, s Setup) {
				if s.DataDir != Defaults().DataDir {
					t.Errorf("data dir %q", s.DataDir)
				}
			},
		},
		{name: "no passphrase", env: map[string]string{}, wantErr: "passphrase"},
		{name: "missing secret file", env: map[string]string{"EXPBOT_PULUMI_PASSPHRASE": "pp", "EXPBOT_SETUP_GITHUB_TOKEN_FILE": filepath.Join(dir, "nope")}, wantErr: "EXPBOT_SETUP_GITHUB_TOKEN"},
		{name: "bad delay", env: map[string]string{"EXPBOT_PULUMI_PASSPHRASE": "pp", "EXPBOT_GITHUB_WRITE_DELAY_MS": "-1"}, wantErr: "WRITE_DELAY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := LoadSetup(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}
