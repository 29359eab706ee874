package kubernetes

import (
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/expbot/expbot/internal/config"
)

const composeFile = "../compose.yaml"

// TestCompose checks deploy/compose.yaml: the bot's variables are ones it
// reads, its secrets come as files, and a compose tool accepts the file.
func TestCompose(t *testing.T) {
	raw, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]struct {
			Environment map[string]string `json:"environment"`
			Secrets     []string          `json:"secrets"`
			ReadOnly    bool              `json:"read_only"`
			User        string            `json:"user"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	bot, ok := file.Services["expbot"]
	if !ok {
		t.Fatal("no expbot service")
	}
	if !bot.ReadOnly || bot.User == "" || strings.HasPrefix(bot.User, "0") || strings.HasPrefix(bot.User, "root") {
		t.Errorf("expbot runs with read_only=%v as %q; want a read-only root and a non-root user", bot.ReadOnly, bot.User)
	}
	known, secret := config.Environment()
	for name, value := range bot.Environment {
		switch {
		case !slices.Contains(known, name) && pending[name] == "":
			t.Errorf("%s is not a variable expbot reads (internal/config)", name)
		case secret[name]:
			t.Errorf("%s holds a secret in the compose file; use its _FILE form and a compose secret", name)
		case strings.HasSuffix(name, "_FILE"):
			if dir, s := path.Split(value); dir != "/run/secrets/" || !slices.Contains(bot.Secrets, s) {
				t.Errorf("%s=%s is not one of the service's secrets %v", name, value, bot.Secrets)
			}
		case strings.Contains(value, "://") && strings.Contains(value, "@") && !strings.Contains(value, "${"):
			t.Errorf("%s carries credentials in the compose file; take them from the environment", name)
		}
	}

	tool := composeTool(t)
	if tool == nil {
		return
	}
	noEnv := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(noEnv, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	check := func(password string) (string, error) {
		args := append(slices.Clone(tool[1:]), "--env-file", noEnv, "-f", composeFile, "config", "-q")
		cmd := exec.Command(tool[0], args...)
		cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "POSTGRES_PASSWORD=") })
		if password != "" {
			cmd.Env = append(cmd.Env, "POSTGRES_PASSWORD="+password)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := check("not-a-real-password"); err != nil {
		t.Errorf("%s config rejects %s: %v\n%s", strings.Join(tool, " "), composeFile, err, out)
	}
	if _, err := check(""); err == nil {
		t.Errorf("%s config accepts %s without POSTGRES_PASSWORD", strings.Join(tool, " "), composeFile)
	}
}

// composeTool finds `docker compose` or `docker-compose`. Without one the
// file is only read, unless EXPBOT_REQUIRE_COMPOSE=1 (CI, where the tool
// installs) makes that a failure.
func composeTool(t *testing.T) []string {
	t.Helper()
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}
	}
	if os.Getenv("EXPBOT_REQUIRE_COMPOSE") == "1" {
		t.Fatal("EXPBOT_REQUIRE_COMPOSE=1 but neither `docker compose` nor docker-compose is installed")
	}
	t.Log("no compose tool installed: compose.yaml was read but not validated by one")
	return nil
}
