package imagetest

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/expbot/expbot/internal/app"
	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/pulumicli"
)

// TestDockerfileMatchesTheBot needs no Docker: the versions the Dockerfile
// installs are the ones the bot asks for, and the settings it gives are
// ones the bot reads.
func TestDockerfileMatchesTheBot(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for arg, want := range map[string]string{
		"PULUMI_VERSION":        pulumicli.Version,
		"GITHUB_PLUGIN_VERSION": app.GitHubPluginVersion,
		"GITLAB_PLUGIN_VERSION": app.GitLabPluginVersion,
	} {
		m := regexp.MustCompile(`(?m)^ARG ` + arg + `=(\S+)$`).FindStringSubmatch(df)
		if m == nil || m[1] != want {
			t.Errorf("Dockerfile ARG %s = %v, want %s", arg, m, want)
		}
	}
	known, secret := config.Environment()
	vars := regexp.MustCompile(`\b(EXPBOT_[A-Z0-9_]+)=`).FindAllStringSubmatch(df, -1)
	if len(vars) < 4 {
		t.Fatalf("found %d EXPBOT_ settings in the Dockerfile: the pattern is stale", len(vars))
	}
	for _, v := range vars {
		if !slices.Contains(known, v[1]) {
			t.Errorf("the Dockerfile sets %s, which expbot does not read", v[1])
		}
		if secret[v[1]] {
			t.Errorf("the Dockerfile sets the secret %s", v[1])
		}
	}
}
