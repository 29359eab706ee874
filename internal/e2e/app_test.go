package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/demo"
	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/ghsim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// The GitHub App variant of the environment: expbot authenticates as the
// app "expbot-app", installed on acme/llm only. acme/outside has a
// repository webhook to the bot but is not in the installation.
const (
	appSlug     = "expbot-app"
	appBot      = appSlug + "[bot]"
	outsideRepo = "acme/outside"
	labsRepo    = "labs/rl" // in a second installation
)

type appEnv struct {
	app     ghsim.App
	inst    ghsim.Installation
	labs    ghsim.Installation
	key     *rsa.PrivateKey
	keyFile string
	pem     string
}

func writeKey(t testing.TB, dir, name string, k *rsa.PrivateKey) (string, string) {
	t.Helper()
	text := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, text
}

// newAppHarness starts expbot with GitHub App authentication; tokenTTL is
// how long the simulated GitHub's installation tokens live.
func newAppHarness(t testing.TB, tokenTTL time.Duration, start bool) (*harness, *appEnv) {
	t.Helper()
	ae := &appEnv{}
	h := newHarnessWith(t, demo.Seed, func(h *harness, dir string) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		ae.key = k
		ae.keyFile, ae.pem = writeKey(t, dir, "app.pem", k)
		apps := h.sim.Apps()
		apps.SetTokenTTL(tokenTTL)
		ae.app = apps.AddApp(appSlug, &k.PublicKey, "http://"+h.addr+"/webhooks/github", githubSecret)
		if _, err := h.forge.CreateRepo(outsideRepo, "main", map[string]string{"train.py": "print(1)\n"},
			state.Signature{Name: "Alice Example", Email: "alice@example.com"}); err != nil {
			t.Fatal(err)
		}
		if err := h.forge.SetAccess(outsideRepo, "alice", state.Maintainer); err != nil {
			t.Fatal(err)
		}
		if _, err := h.forge.AddHook(outsideRepo, "github", "http://"+h.addr+"/webhooks/github", githubSecret); err != nil {
			t.Fatal(err)
		}
		// Installed before the bot runs: the installation webhook finds no
		// one. acme/llm's events now reach the bot through the app's
		// webhook, as they do for an App: its repository hook goes.
		if ae.inst, err = apps.Install(context.Background(), ae.app.ID, "acme", "acme/llm"); err != nil {
			t.Fatal(err)
		}
		// A second organisation with an installation of its own.
		h.forge.AddOrg("labs")
		if _, err := h.forge.CreateRepo(labsRepo, "main", map[string]string{"train.py": "print(2)\n"},
			state.Signature{Name: "Alice Example", Email: "alice@example.com"}); err != nil {
			t.Fatal(err)
		}
		if err := h.forge.SetAccess(labsRepo, "alice", state.Maintainer); err != nil {
			t.Fatal(err)
		}
		if ae.labs, err = apps.Install(context.Background(), ae.app.ID, "labs", labsRepo); err != nil {
			t.Fatal(err)
		}
		hooks, err := h.forge.ScopeHooks(state.Scope{Repo: "acme/llm"})
		if err != nil {
			t.Fatal(err)
		}
		for _, hk := range hooks {
			if err := h.forge.DeleteHook(state.Scope{Repo: "acme/llm"}, hk.ID); err != nil {
				t.Fatal(err)
			}
		}
		h.envSet = map[string]string{
			"EXPBOT_GITHUB_TOKEN":                "",
			"EXPBOT_GITHUB_APP_ID":               strconv.FormatInt(ae.app.ID, 10),
			"EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": ae.keyFile,
		}
	}, start)
	return h, ae
}

// lastDelivery returns the newest delivery to repo (or, with repo "", of
// event) once the bot has answered it.
func (h *harness) lastDelivery(t testing.TB, repo, event string) forgesim.Delivery {
	t.Helper()
	var d forgesim.Delivery
	h.waitFor(t, "a delivery of "+repo+event, func() bool {
		ds := h.sim.Deliveries()
		for i := len(ds) - 1; i >= 0; i-- {
			if (repo != "" && ds[i].Repo == repo) || (repo == "" && ds[i].Event == event) {
				d = ds[i]
				return d.Status != 0
			}
		}
		return false
	})
	return d
}

func (h *harness) commentsOn(repo string) []state.Comment {
	var out []state.Comment
	_ = h.forge.WithRepo(repo, func(r *state.Repo) error {
		for _, c := range r.AllComments() {
			out = append(out, *c)
		}
		return nil
	})
	return out
}

// Everything expbot does on GitHub, done as a GitHub App: a labeled issue,
// /experiment commands and a sweep, comments signed by the app's bot; a
// repository outside the installation gets nothing, and one removed from
// it stops being served with its experiments left as they are.
func TestGitHubAppEndToEnd(t *testing.T) {
	h, ae := newAppHarness(t, time.Hour, true)
	repo := "acme/llm"

	// Labeled issue.
	issue, _, err := h.forge.OpenIssue(repo, "alice", "lr", request("app-lr", "0.01"), []string{label})
	if err != nil {
		t.Fatal(err)
	}
	c := h.waitComment(t, repo, issue.Number, "is ready")
	if c.Author != appBot {
		t.Errorf("status comment by %q, want %q", c.Author, appBot)
	}
	if d := h.lastDelivery(t, repo, ""); !strings.Contains(string(d.Payload), `"installation":{"id":`) || d.URL != "http://"+h.addr+"/webhooks/github" {
		t.Errorf("acme/llm's events did not come through the app's webhook: %s", d.Payload)
	}
	branch := fmt.Sprintf("exp/%d-app-lr", issue.Number)
	if b := h.branch(repo, branch); !b.exists || !strings.Contains(b.file, "lr: 0.01") {
		t.Fatalf("branch %s = %+v", branch, b)
	}

	// The second installation, at the same time.
	li, _, err := h.forge.OpenIssue(labsRepo, "alice", "rl", request("labs-lr", "0.2"), []string{label})
	if err != nil {
		t.Fatal(err)
	}
	if lc := h.waitComment(t, labsRepo, li.Number, "is ready"); lc.Author != appBot {
		t.Errorf("labs status comment by %q", lc.Author)
	}
	if b := h.branch(labsRepo, fmt.Sprintf("exp/%d-labs-lr", li.Number)); !b.exists {
		t.Error("no branch in the second installation's repository")
	}

	// Commands in a pull request; the commenter's own permission decides.
	number, _ := openPull(t, h, repo, "feature/app")
	comment(t, h, repo, number, "alice", "/experiment new app-a lr=0.1")
	if r := h.waitBotComment(t, repo, number, "app-a", "is ready"); r.Author != appBot {
		t.Errorf("command reply by %q", r.Author)
	}
	h.forge.AddUser("bob", "Bob", "bob@example.com", "", false)
	if err := h.forge.SetAccess(repo, "bob", state.Reporter); err != nil {
		t.Fatal(err)
	}
	comment(t, h, repo, number, "bob", "/experiment delete app-a --delete-branch")
	h.waitBotComment(t, repo, number, "Sorry @bob")
	if !h.branch(repo, fmt.Sprintf("exp/mr-%d-app-a", number)).exists {
		t.Fatal("a refused command deleted the branch")
	}

	// A sweep.
	sha := push(t, h, repo, map[string]string{".expbot/sweep.yaml": sweepFile})
	if _, err := h.forge.PushTag(repo, "alice", "sweep-app", sha); err != nil {
		t.Fatal(err)
	}
	if sc := h.waitCommitComment(t, repo, sha, "all 4 branches ready"); sc.Author != appBot {
		t.Errorf("sweep comment by %q", sc.Author)
	}

	// Outside the installation: acknowledged, nothing said or made.
	out, _, err := h.forge.OpenIssue(outsideRepo, "alice", "lr", request("outside", "0.1"), []string{label})
	if err != nil {
		t.Fatal(err)
	}
	if d := h.lastDelivery(t, outsideRepo, ""); d.Status != 200 || !strings.Contains(d.ResponseBody, "ignored") {
		t.Errorf("outside delivery answered %d %s", d.Status, d.ResponseBody)
	}

	// Removed from the installation: the installation_repositories event
	// is acknowledged, and the repository's requests get no answer.
	if err := h.sim.Apps().RemoveRepos(context.Background(), ae.inst.ID, repo); err != nil {
		t.Fatal(err)
	}
	if d := h.lastDelivery(t, "", "installation_repositories"); d.Status != 200 {
		t.Fatalf("installation_repositories answered %d %s", d.Status, d.ResponseBody)
	}
	// GitHub sends the app nothing more about it; a repository webhook
	// someone left there still reaches the bot, which must stay silent.
	if _, err := h.forge.AddHook(repo, "github", "http://"+h.addr+"/webhooks/github", githubSecret); err != nil {
		t.Fatal(err)
	}
	before := len(h.commentsOn(repo))
	late, _, err := h.forge.OpenIssue(repo, "alice", "late", request("late", "0.3"), []string{label})
	if err != nil {
		t.Fatal(err)
	}
	if d := h.lastDelivery(t, repo, ""); d.Status != 200 || !strings.Contains(d.ResponseBody, "ignored") {
		t.Errorf("delivery for a removed repository answered %d %s", d.Status, d.ResponseBody)
	}
	if got := h.metric(`expbot_github_installation_events_total{action="removed"} `); got != "1" {
		t.Errorf("installation events counted %q, want 1", got)
	}

	// Give a wrongly queued job time to show itself, then check nothing came.
	time.Sleep(3 * time.Second)
	if n := len(h.commentsOn(repo)); n != before {
		t.Errorf("%d new comments on a repository removed from the installation", n-before)
	}
	if h.branch(repo, fmt.Sprintf("exp/%d-late", late.Number)).exists {
		t.Error("a branch was made for a repository removed from the installation")
	}
	if !h.branch(repo, branch).exists {
		t.Error("the experiment made before the removal lost its branch")
	}
	if cs := h.commentsOn(outsideRepo); len(cs) != 0 || len(h.branches(outsideRepo)) != 1 {
		t.Errorf("outside the installation: comments %v, branches %v", cs, h.branches(outsideRepo))
	}
	_ = out

	// Neither the key nor any installation token in plain text on disk or in the log.
	h.stop()
	secrets := append([]string{strings.Split(ae.pem, "\n")[1]}, h.sim.Apps().IssuedTokens()...)
	if len(secrets) < 3 {
		t.Fatalf("only %d secrets to look for", len(secrets))
	}
	files, withAppAuth := 0, 0
	for _, root := range []string{h.dataDir, h.log.Name()} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := readPlain(path)
			if err != nil {
				return err
			}
			files++
			if bytes.Contains(b, []byte(`"appAuth"`)) && (strings.HasSuffix(path, ".json") || strings.HasSuffix(path, ".json.zst")) {
				withAppAuth++
				if !bytes.Contains(b, []byte(`"ciphertext"`)) {
					t.Errorf("%s holds appAuth without encrypted secrets", path)
				}
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("%s holds a secret in plain text", path)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 5 || withAppAuth == 0 {
		t.Fatalf("only %d files looked at, %d stack states with appAuth", files, withAppAuth)
	}
}

// Installation tokens live 70 s here. During a burst of requests that
// lasts past the first token's expiry, the bot renews its token before it
// expires and every Pulumi update gets a fresh one: no request is refused,
// no run fails.
func TestGitHubAppTokenExpiresMidBurst(t *testing.T) {
	h, _ := newAppHarness(t, 70*time.Second, true)
	repo := "acme/llm"
	start := time.Now()
	var issues []int
	for i := 0; time.Since(start) < 85*time.Second; i++ {
		issue, _, err := h.forge.OpenIssue(repo, "alice", "burst", request(fmt.Sprintf("burst-%d", i), "0.0"+strconv.Itoa(i+1)), []string{label})
		if err != nil {
			t.Fatal(err)
		}
		issues = append(issues, issue.Number)
		time.Sleep(6 * time.Second)
	}
	for _, n := range issues {
		h.waitComment(t, repo, n, "is ready")
	}
	st := h.sim.Apps().Stats()
	t.Logf("%d issues over %s; tokens issued %d, first expiry %s, last use %s", len(issues), time.Since(start).Round(time.Second),
		st.TokensIssued, st.FirstExpiry.Format(time.TimeOnly), st.LastUsed.Format(time.TimeOnly))
	if st.ExpiredTokens != 0 || st.JWTRejected != 0 {
		t.Errorf("requests refused: %+v", st)
	}
	if st.TokensIssued < 3 || !st.LastUsed.After(st.FirstExpiry) {
		t.Errorf("the burst did not outlive a token: %+v", st)
	}
	if got := h.metric(`expbot_reconcile_runs_total{outcome="failed"} `); got != "" && got != "0" {
		t.Errorf("%s runs failed", got)
	}
}

// A wrong key or app id, or a token as well as an app, stops start-up with
// a message that says what is wrong.
func TestGitHubAppWrongCredentialsStopStartUp(t *testing.T) {
	h, ae := newAppHarness(t, time.Hour, false)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherFile, _ := writeKey(t, t.TempDir(), "other.pem", other)
	for _, tc := range []struct {
		name string
		set  map[string]string
		want []string
	}{
		{"another app's key", map[string]string{"EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": otherFile}, []string{"A JSON web token could not be decoded", "github.app_id"}},
		{"wrong app id", map[string]string{"EXPBOT_GITHUB_APP_ID": strconv.FormatInt(ae.app.ID+999, 10)}, []string{"Integration not found", "github.app_id"}},
		{"unknown installation", map[string]string{"EXPBOT_GITHUB_APP_INSTALLATION_ID": "987654"}, []string{"no installation 987654", "github.app_installation_id"}},
		{"token and app", map[string]string{"EXPBOT_GITHUB_TOKEN": botToken}, []string{"use one, either EXPBOT_GITHUB_TOKEN"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := h.envSet
			h.envSet = map[string]string{}
			for k, v := range saved {
				h.envSet[k] = v
			}
			for k, v := range tc.set {
				h.envSet[k] = v
			}
			defer func() { h.envSet = saved }()
			u, _ := forgeURLs.Load(h)
			cmd := exec.Command(h.bin, "serve")
			cmd.Env = h.env(u.(string))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatalf("expbot started; output:\n%s", out.String())
				}
			case <-time.After(waitLimit):
				_ = cmd.Process.Kill()
				t.Fatalf("expbot did not stop; output:\n%s", out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("start-up output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), strings.Split(ae.pem, "\n")[1]) {
				t.Error("the output quotes the key")
			}
		})
	}
}
