package config

import (
	"errors"
	"fmt"
	"os"
)

// Defaults of `expbot setup` (the forges set up as code, internal/forgesetup).
const (
	// SetupProject is the Pulumi project of the forge set-up stacks; the
	// bot's own stacks live in project "expbot" of the same backend.
	SetupProject = "expbot-forge"
	// SetupStack is the stack a forges file without `stack:` uses.
	SetupStack = "forges"
	// LabelColor is the trigger label's colour (RRGGBB).
	LabelColor = "1d76db"
	// LabelDescription is the trigger label's description.
	LabelDescription = "Ask expbot for an experiment branch"
	// GitHubAPIURL is the REST root of github.com.
	GitHubAPIURL = "https://api.github.com/"
)

// Setup is what `expbot setup` reads where the bot reads it: the bot's
// YAML file (EXPBOT_CONFIG) and EXPBOT_* environment for the Pulumi settings,
// and, only from the environment or files, the secrets. The hooks get the
// first webhook secret/token the bot accepts.
type Setup struct {
	DataDir    string
	PulumiCLI  string
	PulumiHome string
	PluginDir  string // read-only plugins linked as PulumiHome/plugins
	// BackendURL is the Pulumi state backend, decided as serve decides it
	// (Config.BackendURL): the bot's stacks and the set-up's share it.
	BackendURL   string
	WriteDelayMs int // GitHub provider's pause between writes; 0 = its default

	Passphrase Secret
	// Admin tokens: registering hooks takes more rights than the bot has.
	GitHubToken, GitLabToken Secret
	// What the hooks present; the bot must accept it.
	GitHubWebhookSecret, GitLabWebhookToken Secret
}

// LoadSetup reads the set-up settings through getenv.
func LoadSetup(getenv func(string) string) (Setup, error) {
	c := Defaults()
	if path := getenv("EXPBOT_CONFIG"); path != "" {
		if err := loadYAML(&c, path); err != nil {
			return Setup{}, err
		}
	}
	for _, o := range options {
		if v := getenv(o.env); v != "" {
			if err := o.set(&c, v); err != nil {
				return Setup{}, fmt.Errorf("%s: %w", o.env, err)
			}
		}
	}
	if err := c.loadSecrets(getenv); err != nil {
		return Setup{}, err
	}
	backend, err := c.BackendURL()
	if err != nil {
		return Setup{}, err
	}
	s := Setup{
		DataDir: c.DataDir, PulumiCLI: c.Pulumi.CLI, PulumiHome: c.Pulumi.Home, PluginDir: c.Pulumi.PluginDir,
		BackendURL: backend, WriteDelayMs: c.GitHub.WriteDelayMs, Passphrase: c.Pulumi.Passphrase,
	}
	if len(c.GitHub.WebhookSecrets) > 0 {
		s.GitHubWebhookSecret = c.GitHub.WebhookSecrets[0]
	}
	if len(c.GitLab.WebhookTokens) > 0 {
		s.GitLabWebhookToken = c.GitLab.WebhookTokens[0]
	}
	for _, src := range []struct {
		env string
		to  *Secret
	}{
		{"EXPBOT_SETUP_GITHUB_TOKEN", &s.GitHubToken},
		{"EXPBOT_SETUP_GITLAB_TOKEN", &s.GitLabToken},
	} {
		v, err := firstSecret(getenv, src.env)
		if err != nil {
			return Setup{}, err
		}
		*src.to = v
	}
	switch {
	case s.Passphrase == "":
		return Setup{}, errors.New("no Pulumi passphrase (it encrypts the webhook secrets in the state): set EXPBOT_PULUMI_PASSPHRASE or EXPBOT_PULUMI_PASSPHRASE_FILE")
	case s.DataDir == "":
		return Setup{}, errors.New("data_dir must be set")
	case s.WriteDelayMs < 0:
		return Setup{}, errors.New("github.write_delay_ms must not be negative")
	case s.PluginDir != "" && s.PulumiHome == "":
		return Setup{}, errors.New("pulumi.plugin_dir needs pulumi.home: the writable PULUMI_HOME whose plugins link to it")
	}
	return s, nil
}

// firstSecret reads env, or the file env_FILE names, and keeps the first
// value of the list.
func firstSecret(getenv func(string) string, env string) (Secret, error) {
	raw := getenv(env)
	if raw == "" {
		if f := getenv(env + "_FILE"); f != "" {
			b, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("read secret file for %s: %w", env, err)
			}
			raw = string(b)
		}
	}
	if vals := splitList(raw); len(vals) > 0 {
		return Secret(vals[0]), nil
	}
	return "", nil
}
