package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
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

// Setup is what `expbot setup` reads from the environment, where the bot
// reads it too: the Pulumi settings and, only from env or files, the
// secrets. The hooks get the first webhook secret/token the bot accepts.
type Setup struct {
	DataDir      string
	PulumiCLI    string
	PulumiHome   string
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
	s := Setup{
		DataDir:    Defaults().DataDir,
		PulumiCLI:  getenv("EXPBOT_PULUMI"),
		PulumiHome: getenv("EXPBOT_PULUMI_HOME"),
		BackendURL: getenv("EXPBOT_PULUMI_BACKEND_URL"),
	}
	if v := getenv("EXPBOT_DATA_DIR"); v != "" {
		s.DataDir = v
	}
	if v := getenv("EXPBOT_GITHUB_WRITE_DELAY_MS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return Setup{}, fmt.Errorf("EXPBOT_GITHUB_WRITE_DELAY_MS: %q is not a non-negative integer", v)
		}
		s.WriteDelayMs = n
	}
	for _, src := range []struct {
		env string
		to  *Secret
	}{
		{"EXPBOT_PULUMI_PASSPHRASE", &s.Passphrase},
		{"EXPBOT_SETUP_GITHUB_TOKEN", &s.GitHubToken},
		{"EXPBOT_SETUP_GITLAB_TOKEN", &s.GitLabToken},
		{"EXPBOT_GITHUB_WEBHOOK_SECRETS", &s.GitHubWebhookSecret},
		{"EXPBOT_GITLAB_WEBHOOK_TOKENS", &s.GitLabWebhookToken},
	} {
		v, err := firstSecret(getenv, src.env)
		if err != nil {
			return Setup{}, err
		}
		*src.to = v
	}
	if s.Passphrase == "" {
		return Setup{}, errors.New("no Pulumi passphrase (it encrypts the webhook secrets in the state): set EXPBOT_PULUMI_PASSPHRASE or EXPBOT_PULUMI_PASSPHRASE_FILE")
	}
	return s, nil
}

// firstSecret reads env, or the file env_FILE names, and keeps the first
// value of the list (the one being rotated in comes first).
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

// Backend is the state backend of the set-up: the bot's by default.
func (s Setup) Backend() (string, error) {
	c := Config{DataDir: s.DataDir, Pulumi: Pulumi{BackendURL: s.BackendURL}}
	return c.BackendURL()
}
