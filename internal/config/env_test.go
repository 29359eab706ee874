package config

import (
	"slices"
	"testing"
)

func TestEnvironment(t *testing.T) {
	names, secret := Environment()
	for _, want := range []string{"EXPBOT_CONFIG", "EXPBOT_LISTEN", "EXPBOT_DATA_DIR", "EXPBOT_PULUMI_PLUGIN_DIR",
		"EXPBOT_GITHUB_TOKEN", "EXPBOT_GITHUB_TOKEN_FILE", "EXPBOT_PULUMI_PASSPHRASE_FILE", "EXPBOT_GITLAB_SIGNING_SECRETS"} {
		if !slices.Contains(names, want) {
			t.Errorf("Environment() lacks %s", want)
		}
	}
	for _, o := range options {
		if !slices.Contains(names, o.env) {
			t.Errorf("Environment() lacks the option %s", o.env)
		}
	}
	for _, name := range []string{"EXPBOT_GITHUB_TOKEN", "EXPBOT_GITHUB_WEBHOOK_SECRETS", "EXPBOT_PULUMI_PASSPHRASE", "EXPBOT_GITLAB_WEBHOOK_TOKENS"} {
		if !secret[name] {
			t.Errorf("%s is not marked secret", name)
		}
	}
	for _, name := range []string{"EXPBOT_GITHUB_TOKEN_FILE", "EXPBOT_LISTEN", "EXPBOT_CONFIG"} {
		if secret[name] {
			t.Errorf("%s is marked secret; it names no secret", name)
		}
	}
	if slices.Contains(names, "EXPBOT_NOT_A_SETTING") || len(names) != len(slices.Compact(slices.Clone(names))) {
		t.Errorf("Environment() = %v: unexpected or repeated names", names)
	}
}
