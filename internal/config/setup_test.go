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
	hookTokens := filepath.Join(dir, "gl-hooks")
	botYAML, badYAML := filepath.Join(dir, "bot.yaml"), filepath.Join(dir, "bad.yaml")
	for path, content := range map[string]string{
		hookTokens: "gl-hook-token\nold-token\n",
		botYAML:    "data_dir: /srv/bot\npulumi:\n  home: /srv/home\ngitlab:\n  webhook_tokens_file: " + hookTokens + "\n",
		badYAML:    "nope: 1\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
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
				if b := s.BackendURL; b != "file:///srv/expbot/pulumi/state" {
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
		{
			name: "the bot's YAML file and its secret files",
			env:  map[string]string{"EXPBOT_CONFIG": botYAML, "EXPBOT_PULUMI_PASSPHRASE": "pp"},
			check: func(t *testing.T, s Setup) {
				if s.DataDir != "/srv/bot" || s.PulumiHome != "/srv/home" || s.GitLabWebhookToken.Reveal() != "gl-hook-token" {
					t.Errorf("the bot's file was not read: data %q home %q token set %v", s.DataDir, s.PulumiHome, s.GitLabWebhookToken != "")
				}
			},
		},
		{name: "no passphrase", env: map[string]string{}, wantErr: "passphrase"},
		{name: "unknown key in the bot's file", env: map[string]string{"EXPBOT_CONFIG": badYAML, "EXPBOT_PULUMI_PASSPHRASE": "pp"}, wantErr: "nope"},
		{name: "missing secret file", env: map[string]string{"EXPBOT_PULUMI_PASSPHRASE": "pp", "EXPBOT_SETUP_GITHUB_TOKEN_FILE": filepath.Join(dir, "nope")}, wantErr: "EXPBOT_SETUP_GITHUB_TOKEN"},
		{name: "bad delay", env: map[string]string{"EXPBOT_PULUMI_PASSPHRASE": "pp", "EXPBOT_GITHUB_WRITE_DELAY_MS": "-1"}, wantErr: "write_delay_ms"},
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

// `expbot setup` keeps its stack where serve keeps the bot's: with a
// store_url, in the store's database, unless pulumi.backend_url says
// otherwise.
func TestSetupBackendIsServes(t *testing.T) {
	dir := t.TempDir()
	botYAML := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(botYAML, []byte("data_dir: /srv/bot\nstore_url: postgres://bot@db/expbot?sslmode=disable\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const inStore = "postgres://bot@db/expbot?sslmode=disable&table=pulumi_state"
	for _, tc := range []struct {
		name, want, wantErr string
		env                 map[string]string
	}{
		{name: "store_url from the environment", want: inStore,
			env: map[string]string{"EXPBOT_STORE_URL": "postgres://bot@db/expbot?sslmode=disable"}},
		{name: "store_url from the bot's file", want: inStore,
			env: map[string]string{"EXPBOT_CONFIG": botYAML}},
		{name: "backend_url wins", want: "s3://state",
			env: map[string]string{"EXPBOT_CONFIG": botYAML, "EXPBOT_PULUMI_BACKEND_URL": "s3://state"}},
		{name: "no store_url: the data directory", want: "file:///srv/expbot/pulumi/state",
			env: map[string]string{"EXPBOT_DATA_DIR": "/srv/expbot"}},
		{name: "a store_url that is not PostgreSQL", wantErr: "store_url",
			env: map[string]string{"EXPBOT_STORE_URL": "mysql://bot@db/expbot"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.env["EXPBOT_PULUMI_PASSPHRASE"] = "pp"
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
			if s.BackendURL != tc.want {
				t.Errorf("setup's backend %q, want %q", s.BackendURL, tc.want)
			}
		})
	}
}
