package config

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// minimalEnv enables GitHub with every secret it needs.
func minimalEnv(extra map[string]string) func(string) string {
	env := map[string]string{
		"EXPBOT_GITHUB_ENABLED":         "true",
		"EXPBOT_GITHUB_TOKEN":           "ghp_token_value",
		"EXPBOT_GITHUB_WEBHOOK_SECRETS": "s1,s2",
		"EXPBOT_PULUMI_PASSPHRASE":      "pass-value",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "expbot.yaml", "listen: 127.0.0.1:1111\nlabel: from-yaml\nworkers: 2\nretire: delete\n")
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantListen string
		wantLabel  string
		wantWork   int
	}{
		{"yaml over defaults", nil, []string{"--config", cfg}, "127.0.0.1:1111", "from-yaml", 2},
		{"env over yaml", map[string]string{"EXPBOT_LABEL": "from-env"}, []string{"--config", cfg}, "127.0.0.1:1111", "from-env", 2},
		{"flag over env", map[string]string{"EXPBOT_LABEL": "from-env", "EXPBOT_WORKERS": "3"}, []string{"--config", cfg, "--label", "from-flag"}, "127.0.0.1:1111", "from-flag", 3},
		{"config path from env", map[string]string{"EXPBOT_CONFIG": cfg}, nil, "127.0.0.1:1111", "from-yaml", 2},
		{"defaults alone", nil, nil, "127.0.0.1:8080", "new-experiment", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, minimalEnv(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Listen != tt.wantListen || c.Label != tt.wantLabel || c.Workers != tt.wantWork {
				t.Errorf("got listen=%s label=%s workers=%d, want %s %s %d", c.Listen, c.Label, c.Workers, tt.wantListen, tt.wantLabel, tt.wantWork)
			}
		})
	}
}

func TestPulumiPriority(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantNice int
		wantIdle bool
	}{
		{"defaults: nice, not idle", nil, nil, 10, false},
		{"idle from env", map[string]string{"EXPBOT_PULUMI_IDLE": "true"}, nil, 10, true},
		{"flag over env, nice from env", map[string]string{"EXPBOT_PULUMI_IDLE": "true", "EXPBOT_PULUMI_NICE": "19"}, []string{"--pulumi-idle=false"}, 19, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, minimalEnv(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Pulumi.Nice != tt.wantNice || c.Pulumi.Idle != tt.wantIdle {
				t.Errorf("nice=%d idle=%v, want %d %v", c.Pulumi.Nice, c.Pulumi.Idle, tt.wantNice, tt.wantIdle)
			}
		})
	}
}

func TestPulumiHistoryKeep(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{"default", nil, nil, DefaultHistoryKeep},
		{"from env", map[string]string{"EXPBOT_PULUMI_HISTORY_KEEP": "3"}, nil, 3},
		{"flag over env: keep all", map[string]string{"EXPBOT_PULUMI_HISTORY_KEEP": "3"}, []string{"--pulumi-history-keep=0"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, minimalEnv(tt.env), io.Discard)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Pulumi.HistoryKeep != tt.want {
				t.Errorf("pulumi.history_keep = %d, want %d", c.Pulumi.HistoryKeep, tt.want)
			}
		})
	}
}

func TestDriftAndAdmin(t *testing.T) {
	c, err := Load(nil, minimalEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DriftInterval != DefaultDriftInterval || c.AdminToken != "" {
		t.Errorf("defaults: drift_interval %v admin token set %v, want %v and none (admin API off)", c.DriftInterval, c.AdminToken != "", DefaultDriftInterval)
	}
	dir := t.TempDir()
	c, err = Load([]string{"--drift-interval", "0"}, minimalEnv(map[string]string{
		"EXPBOT_DRIFT_INTERVAL": "1h", "EXPBOT_ADMIN_TOKEN_FILE": writeFile(t, dir, "admin", "a-long-admin-token-value\n"),
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DriftInterval != 0 || c.AdminToken.Reveal() != "a-long-admin-token-value" {
		t.Errorf("drift_interval %v admin token %q, want 0 (flag over env) and the file's", c.DriftInterval, c.AdminToken.Reveal())
	}
	if _, err := Load(nil, func(k string) string {
		return map[string]string{"EXPBOT_CONFIG": writeFile(t, dir, "c.yaml", "admin_token: x\n")}[k]
	}, io.Discard); err == nil {
		t.Error("an admin token inline in YAML was accepted")
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	tok := writeFile(t, dir, "token", "glpat-secret\n")
	hooks := writeFile(t, dir, "hooks", "old-token\nnew-token\n")
	cfg := writeFile(t, dir, "c.yaml", fmt.Sprintf("gitlab:\n  enabled: true\n  token_file: %s\n  webhook_tokens_file: %s\n", tok, hooks))
	env := map[string]string{"EXPBOT_PULUMI_PASSPHRASE_FILE": writeFile(t, dir, "pass", "pp\n")}
	c, err := Load([]string{"--config", cfg}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.GitLab.Token.Reveal() != "glpat-secret" || len(c.GitLab.WebhookTokens) != 2 || c.GitLab.WebhookTokens[1].Reveal() != "new-token" || c.Pulumi.Passphrase.Reveal() != "pp" {
		t.Errorf("secrets not loaded from files: token=%q hooks=%d", c.GitLab.Token.Reveal(), len(c.GitLab.WebhookTokens))
	}
}

func TestFailsClosed(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no forge", map[string]string{"EXPBOT_GITHUB_ENABLED": "false"}, "no forge is enabled"},
		{"github without token", map[string]string{"EXPBOT_GITHUB_TOKEN": ""}, "EXPBOT_GITHUB_TOKEN"},
		{"github without webhook secret", map[string]string{"EXPBOT_GITHUB_WEBHOOK_SECRETS": ""}, "EXPBOT_GITHUB_WEBHOOK_SECRETS"},
		{"gitlab without anything", map[string]string{"EXPBOT_GITLAB_ENABLED": "true"}, "EXPBOT_GITLAB_TOKEN"},
		{"gitlab api url", map[string]string{"EXPBOT_GITLAB_ENABLED": "true", "EXPBOT_GITLAB_TOKEN": "x", "EXPBOT_GITLAB_WEBHOOK_TOKENS": "y", "EXPBOT_GITLAB_API_URL": "https://gitlab.example.com/"}, "/api/v4/"},
		{"no passphrase", map[string]string{"EXPBOT_PULUMI_PASSPHRASE": ""}, "EXPBOT_PULUMI_PASSPHRASE"},
		{"bad retire", map[string]string{"EXPBOT_RETIRE": "archive"}, "keep or delete"},
		{"bad template", map[string]string{"EXPBOT_BRANCH_TEMPLATE": "exp/{issue}"}, "branch_template"},
		{"pulumi nice too high", map[string]string{"EXPBOT_PULUMI_NICE": "20"}, "pulumi.nice"},
		{"pulumi nice negative", map[string]string{"EXPBOT_PULUMI_NICE": "-1"}, "pulumi.nice"},
		{"pulumi history keep negative", map[string]string{"EXPBOT_PULUMI_HISTORY_KEEP": "-1"}, "pulumi.history_keep"},
		{"delivery retention too short", map[string]string{"EXPBOT_DELIVERY_RETENTION": "24h"}, "delivery_retention"},
		{"bad duration", map[string]string{"EXPBOT_DELIVERY_RETENTION": "a month"}, "EXPBOT_DELIVERY_RETENTION"},
		{"bad bool", map[string]string{"EXPBOT_GITLAB_ENABLED": "yes please"}, "EXPBOT_GITLAB_ENABLED"},
		{"budget below twice the body limit", map[string]string{"EXPBOT_BODY_LIMIT": "1000", "EXPBOT_UNVERIFIED_BODY_BUDGET": "1999"}, "unverified_body_budget"},
		{"bad budget", map[string]string{"EXPBOT_UNVERIFIED_BODY_BUDGET": "64MiB"}, "EXPBOT_UNVERIFIED_BODY_BUDGET"},
		{"body timeout too short", map[string]string{"EXPBOT_BODY_TIMEOUT": "500ms"}, "body_timeout"},
		{"missing secret file", map[string]string{"EXPBOT_GITHUB_TOKEN": "", "EXPBOT_GITHUB_TOKEN_FILE": "/nonexistent/token"}, "read secret file"},
		{"negative drift interval", map[string]string{"EXPBOT_DRIFT_INTERVAL": "-1h"}, "drift_interval"},
		{"store url not postgres", map[string]string{"EXPBOT_STORE_URL": "mysql://db.example.com/expbot"}, "store_url"},
		{"short admin token", map[string]string{"EXPBOT_ADMIN_TOKEN": "letmein"}, "admin token"},
		{"missing admin token file", map[string]string{"EXPBOT_ADMIN_TOKEN_FILE": "/nonexistent/admin"}, "EXPBOT_ADMIN_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(nil, minimalEnv(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load() error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// Secrets are refused inline in YAML: the file would end up in a repo.
func TestYAMLRejectsInlineSecretsAndUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"inline token": "github:\n  token: ghp_inline\n",
		"unknown key":  "lable: typo\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := writeFile(t, dir, strings.ReplaceAll(name, " ", "_")+".yaml", body)
			if _, err := Load([]string{"--config", cfg}, minimalEnv(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "not found") {
				t.Fatalf("Load() error = %v, want an unknown-field error", err)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c, err := Load(nil, minimalEnv(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), string(js)} {
		for _, secret := range []string{"ghp_token_value", "pass-value", "s1", "s2"} {
			if strings.Contains(out, `"`+secret+`"`) || strings.Contains(out, ":"+secret) || strings.Contains(out, " "+secret) {
				t.Errorf("secret %q printed in %q", secret, out)
			}
		}
	}
}

// Every Secret field, at any depth, is listed for the scrubber.
func TestSecretsListsEverySecretField(t *testing.T) {
	c, err := Load(nil, minimalEnv(map[string]string{
		"EXPBOT_GITLAB_TOKEN": "glpat-value", "EXPBOT_GITLAB_WEBHOOK_TOKENS": "t1,t2", "EXPBOT_GITLAB_SIGNING_SECRETS": "whsec_a2V5",
		"EXPBOT_ADMIN_TOKEN": "admin-token-0123456789",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Secrets(), " ")
	if want := "admin-token-0123456789 pass-value ghp_token_value s1 s2 glpat-value t1 t2 whsec_a2V5"; got != want {
		t.Errorf("Secrets = %q, want %q", got, want)
	}
}

// The README's configuration table is the reference: every setting must be
// in it, with its environment variable and flag.
func TestREADMEDocumentsEveryOption(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, o := range options {
		for _, want := range []string{"`" + o.key + "`", "`" + o.env + "`", "`--" + o.flag + "`"} {
			if !strings.Contains(readme, want) {
				t.Errorf("README does not document %s", want)
			}
		}
	}
	for _, secret := range []string{"EXPBOT_GITHUB_TOKEN", "EXPBOT_GITHUB_WEBHOOK_SECRETS", "EXPBOT_GITLAB_TOKEN", "EXPBOT_GITLAB_WEBHOOK_TOKENS", "EXPBOT_GITLAB_SIGNING_SECRETS", "EXPBOT_PULUMI_PASSPHRASE"} {
		if !strings.Contains(readme, "`"+secret+"`") && !strings.Contains(readme, "`"+secret+"` / `_FILE`") {
			t.Errorf("README does not document %s", secret)
		}
	}
}

func TestLoadAdminClient(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name          string
		env           map[string]string
		url, token, e string
	}{
		{"defaults", map[string]string{"EXPBOT_ADMIN_TOKEN": "tok"}, "http://127.0.0.1:8080", "tok", ""},
		{"listen", map[string]string{"EXPBOT_ADMIN_TOKEN": "tok", "EXPBOT_LISTEN": "127.0.0.1:9"}, "http://127.0.0.1:9", "tok", ""},
		{"url and file", map[string]string{"EXPBOT_ADMIN_TOKEN_FILE": writeFile(t, dir, "t", "from-file\n"), "EXPBOT_ADMIN_URL": "https://bot.example/"}, "https://bot.example", "from-file", ""},
		{"no token", map[string]string{"EXPBOT_GITHUB_TOKEN": "not this one"}, "", "", "EXPBOT_ADMIN_TOKEN"},
	}
	for _, tt := range tests {
		c, err := LoadAdminClient(func(k string) string { return tt.env[k] })
		if tt.e != "" {
			if err == nil || !strings.Contains(err.Error(), tt.e) {
				t.Errorf("%s: error %v, want one naming %s", tt.name, err, tt.e)
			}
			continue
		}
		if err != nil || c.URL != tt.url || c.Token.Reveal() != tt.token {
			t.Errorf("%s: %q %q %v, want %q %q", tt.name, c.URL, c.Token.Reveal(), err, tt.url, tt.token)
		}
	}
}
