package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/demo"
	"github.com/expbot/expbot/internal/forgesetup"
	"github.com/expbot/expbot/internal/forgesim/state"
)

const setupToken = "setup-admin-token"

// seedForSetup is the demo forge without hooks, plus an organisation and a
// group whose hook is to cover their repositories, and an admin who may
// register hooks everywhere.
func seedForSetup(f *state.Forge, _ string) error {
	if err := demo.SeedWithoutHooks(f); err != nil {
		return err
	}
	f.AddUser("root", "Forge Admin", "root@example.com", setupToken, false)
	files := map[string]string{"train.py": "print('train')\n", "configs/base.yaml": "model: tiny\n"}
	for _, ns := range []string{"ghorg", "glgrp"} {
		f.AddOrg(ns)
		if err := f.SetNamespaceAccess(ns, "root", state.Owner); err != nil {
			return err
		}
	}
	for _, repo := range []string{"ghorg/app", "glgrp/proj"} {
		if _, err := f.CreateRepo(repo, "main", files, state.Signature{Name: "Alice Example", Email: "alice@example.com"}); err != nil {
			return err
		}
	}
	for _, repo := range []string{"acme/llm", "acme/vision", "ghorg/app", "glgrp/proj"} {
		for login, lvl := range map[string]state.AccessLevel{"alice": state.Maintainer, "expbot": state.Developer, "root": state.Owner} {
			if err := f.SetAccess(repo, login, lvl); err != nil {
				return err
			}
		}
	}
	return nil
}

// setupCmd runs `expbot setup` against the harness's forge and returns
// its summary line.
func (h *harness) setupCmd(t *testing.T, forgesFile string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := h.setupExec(ctx, forgesFile, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("expbot setup %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), tail(stderr.String(), 60))
	}
	for _, s := range []string{setupToken, githubSecret, gitlabToken, passphrase} {
		if strings.Contains(stdout.String()+stderr.String(), s) {
			t.Errorf("expbot setup printed a secret")
		}
	}
	t.Logf("expbot setup %v: %s", args, strings.TrimSpace(stdout.String()))
	return strings.TrimSpace(stdout.String())
}

// setupExec is the command of `expbot setup` against the harness's forge.
func (h *harness) setupExec(ctx context.Context, forgesFile string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, h.bin, append([]string{"setup", "--config", forgesFile}, args...)...)
	env := []string{
		"EXPBOT_DATA_DIR=" + h.dataDir,
		"EXPBOT_PULUMI_HOME=" + h.home,
		"EXPBOT_PULUMI_PASSPHRASE=" + passphrase,
		"EXPBOT_SETUP_GITHUB_TOKEN=" + setupToken,
		"EXPBOT_SETUP_GITLAB_TOKEN=" + setupToken,
		"EXPBOT_GITHUB_WEBHOOK_SECRETS=" + githubSecret,
		"EXPBOT_GITLAB_WEBHOOK_TOKENS=" + gitlabToken,
		"EXPBOT_GITHUB_WRITE_DELAY_MS=1",
		"PULUMI_IGNORE_AMBIENT_PLUGINS=true",
	}
	for _, kv := range h.env("") {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "EXPBOT_") {
			env = append(env, kv) // PATH, HOME, caches
		} else if k == "EXPBOT_PULUMI" || k == "EXPBOT_CACHE_DIR" {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func writeForges(t *testing.T, path, forgeURL, botAddr, color string) {
	t.Helper()
	doc := fmt.Sprintf(`stack: e2e
label:
  color: %q
github:
  api_url: %s/
  webhook_url: http://%s/webhooks/github
  organizations: [ghorg]
  repositories: [ghorg/app, acme/llm]
gitlab:
  api_url: %s/api/v4/
  webhook_url: http://%s/webhooks/gitlab
  groups: [glgrp]
  projects: [glgrp/proj, acme/vision]
`, color, forgeURL, botAddr, forgeURL, botAddr)
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
}

func sortedCopy(s []string) []string { c := slices.Clone(s); slices.Sort(c); return c }

// TestForgeSetup: `expbot setup` registers hooks and labels through Pulumi
// and the stand-in plugins; the forge delivers through those hooks to a
// real `expbot serve`; running again changes nothing; a preview changes
// nothing; destroy removes everything.
func TestForgeSetup(t *testing.T) {
	h := newHarnessSeeded(t, seedForSetup)
	u, _ := forgeURLs.Load(h)
	forgeURL := u.(string)
	forges := filepath.Join(t.TempDir(), "forges.yaml")
	writeForges(t, forges, forgeURL, h.addr, "0e8a16")

	out := h.setupCmd(t, forges)
	if !strings.Contains(out, "create=") {
		t.Fatalf("first run summary %q names no creations", out)
	}

	type want struct {
		scope  state.Scope
		flavor string
		url    string
		secret string
		events []string
	}
	ghURL, glURL := "http://"+h.addr+"/webhooks/github", "http://"+h.addr+"/webhooks/gitlab"
	hooks := []want{
		{state.Scope{Repo: "acme/llm"}, "github", ghURL, githubSecret, forgesetup.GitHubEvents},
		{state.Scope{Namespace: "ghorg"}, "github", ghURL, githubSecret, forgesetup.GitHubEvents},
		{state.Scope{Repo: "acme/vision"}, "gitlab", glURL, gitlabToken, forgesetup.GitLabEvents},
		{state.Scope{Namespace: "glgrp"}, "gitlab", glURL, gitlabToken, forgesetup.GitLabEvents},
	}
	for _, w := range hooks {
		got, err := h.forge.ScopeHooks(w.scope)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 {
			t.Fatalf("%s has %d hooks, want 1: %+v", w.scope, len(got), got)
		}
		g := got[0]
		if g.Flavor != w.flavor || g.URL != w.url || g.Secret != w.secret || g.Inactive ||
			!slices.Equal(sortedCopy(g.Events), sortedCopy(w.events)) {
			t.Errorf("%s hook = %s %s active=%v events=%v (secret ok: %v), want %s %s events=%v",
				w.scope, g.Flavor, g.URL, !g.Inactive, g.Events, g.Secret == w.secret, w.flavor, w.url, w.events)
		}
		if w.flavor == "github" && g.Options["content_type"] != "json" {
			t.Errorf("%s hook content type %q, want json", w.scope, g.Options["content_type"])
		}
	}
	// Covered by their organisation's or group's hook: none of their own.
	for _, repo := range []string{"ghorg/app", "glgrp/proj"} {
		if got, _ := h.forge.ScopeHooks(state.Scope{Repo: repo}); len(got) != 0 {
			t.Errorf("%s has hooks of its own: %+v", repo, got)
		}
	}
	labels := map[state.Scope]string{
		{Repo: "acme/llm"}: "0e8a16", {Repo: "ghorg/app"}: "0e8a16",
		{Repo: "acme/vision"}: "#0e8a16", {Namespace: "glgrp"}: "#0e8a16",
	}
	for scope, color := range labels {
		got, err := h.forge.Labels(scope)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Name != label || got[0].Color != color || got[0].Description == "" {
			t.Errorf("%s labels = %+v, want one %q coloured %s", scope, got, label, color)
		}
	}

	// The state holds the secrets encrypted only.
	stateFile := filepath.Join(h.dataDir, "pulumi", "state", ".pulumi", "stacks", "expbot-forge", "e2e.json")
	raw, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{setupToken, githubSecret, gitlabToken} {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the state file holds a secret in plain text")
		}
	}
	if !bytes.Contains(raw, []byte("ciphertext")) {
		t.Errorf("the state file holds no encrypted values")
	}

	// The forge delivers through the registered hooks: a repository hook
	// and an organisation hook on GitHub, a project hook and a group hook
	// on GitLab.
	issues := map[string]int{}
	for _, repo := range []string{"acme/llm", "ghorg/app", "acme/vision", "glgrp/proj"} {
		issue := h.labelRequest(t, repo)
		issues[repo] = issue
	}
	for repo, n := range issues {
		h.waitComment(t, repo, n, "is ready")
		if b := h.branch(repo, fmt.Sprintf("exp/%d-lr-high", n)); !b.exists {
			t.Errorf("%s: no branch for issue #%d", repo, n)
		}
	}

	// Again: nothing to do.
	if out := h.setupCmd(t, forges); strings.Contains(out, "create=") || strings.Contains(out, "update=") ||
		strings.Contains(out, "delete=") || strings.Contains(out, "replace=") {
		t.Errorf("second run changed something: %q", out)
	}

	// A label deleted by hand comes back.
	lb, err := h.forge.FindLabel(state.Scope{Repo: "acme/llm"}, func(state.Label) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if err := h.forge.DeleteLabel(state.Scope{Repo: "acme/llm"}, lb.ID); err != nil {
		t.Fatal(err)
	}
	if out := h.setupCmd(t, forges); !strings.Contains(out, "create=1") {
		t.Errorf("after deleting a label by hand, the run said %q, want create=1", out)
	}
	if got, _ := h.forge.Labels(state.Scope{Repo: "acme/llm"}); len(got) != 1 {
		t.Errorf("the deleted label was not made again: %+v", got)
	}

	// A preview of a new colour names the updates and changes nothing.
	writeForges(t, forges, forgeURL, h.addr, "b60205")
	if out := h.setupCmd(t, forges, "--preview"); !strings.Contains(out, "update=4") {
		t.Errorf("preview of a new colour said %q, want update=4", out)
	}
	for scope, color := range labels {
		if got, _ := h.forge.Labels(scope); len(got) != 1 || got[0].Color != color {
			t.Errorf("preview changed %s labels: %+v", scope, got)
		}
	}

	// Destroy: hooks and labels gone.
	h.setupCmd(t, forges, "--destroy")
	for _, w := range hooks {
		if got, _ := h.forge.ScopeHooks(w.scope); len(got) != 0 {
			t.Errorf("%s still has hooks after destroy: %+v", w.scope, got)
		}
	}
	for scope := range labels {
		if got, _ := h.forge.Labels(scope); len(got) != 0 {
			t.Errorf("%s still has labels after destroy: %+v", scope, got)
		}
	}
}

// hookCreates matches the creation of a webhook on either forge.
func hookCreates(r *http.Request) bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/hooks")
}

// `kill -9` of `expbot setup` in the middle of its update takes the Pulumi
// CLI and its plugins with it, as for serve.
func TestKilledSetupLeavesNoPulumiProcess(t *testing.T) {
	h := newHarnessSeeded(t, seedForSetup)
	u, _ := forgeURLs.Load(h)
	forges := filepath.Join(t.TempDir(), "forges.yaml")
	writeForges(t, forges, u.(string), h.addr, "0e8a16")
	g := h.holdRequests(t, hookCreates)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := h.setupExec(ctx, forges)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-g.arrived:
	case <-time.After(waitLimit):
		t.Fatalf("setup never asked for a hook:\n%s", tail(stderr.String(), 40))
	}
	var below []proc
	for _, pid := range descendants(cmd.Process.Pid) {
		if _, start, ok := procStat(pid); ok {
			line, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
			below = append(below, proc{pid: pid, start: start, cmdline: strings.ReplaceAll(string(line), "\x00", " ")})
		}
	}
	if !hasPlugin(below) {
		t.Fatalf("no provider plugin runs in the middle of the set-up: %+v", below)
	}
	if err := cmd.Process.Kill(); err != nil { // setup alone, not its group
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Held, the plugin's request cannot end: only the guard can end it.
	waitAllGone(t, "after kill -9 of setup", below)
	h.open(g)
}
