// Package demo runs expbot end to end on one machine with nothing set up:
// a simulated forge (GitHub and GitLab faces), the stand-in provider
// plugins, SQLite and local Pulumi state in a temporary directory, and the
// real server wired as `expbot serve` wires it. It then plays a person:
// label an issue, edit it, close it, on both forges, and prints what the
// bot did. Because the stand-in plugins are built from source, it runs from
// a checkout of the repository.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/app"
	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/internal/spec"
	"github.com/expbot/expbot/internal/standin/install"
	"github.com/expbot/expbot/pipeline"
)

// Made-up credentials: they only mean something to the simulated forge.
const (
	botToken      = "demo-bot-token"
	personToken   = "demo-alice-token"
	githubSecret  = "demo-github-webhook-secret"
	gitlabToken   = "demo-gitlab-webhook-token"
	demoPassword  = "demo-pulumi-passphrase"
	waitForAnswer = 3 * time.Minute
)

// Options tune a run.
type Options struct {
	Dir string    // working directory; empty = a temporary one, removed afterwards
	Log io.Writer // the bot's JSON log; nil = discarded
}

// Env is a running simulated forge with a bot serving it.
type Env struct {
	Forge     *state.Forge
	ForgeURL  string
	BotURL    string
	stop      func()
	serveDone chan error
}

// Start brings up the forge and the bot; Close stops both.
func Start(ctx context.Context, opts Options) (*Env, error) {
	dir := opts.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "expbot-demo-")
		if err != nil {
			return nil, err
		}
		dir = tmp
	}
	sim := forgesim.New()
	forgeL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	forgeSrv := &http.Server{Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = forgeSrv.Serve(forgeL) }()
	forgeURL := "http://" + forgeL.Addr().String()
	sim.SetBaseURL(forgeURL)

	botL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = forgeSrv.Close()
		return nil, err
	}
	botURL := "http://" + botL.Addr().String()
	if err := Seed(sim.Forge(), botURL); err != nil {
		_ = forgeSrv.Close()
		return nil, fmt.Errorf("seed the forge: %w", err)
	}

	home := filepath.Join(dir, "pulumi-home")
	if err := install.Install(ctx, home); err != nil {
		_ = forgeSrv.Close()
		return nil, fmt.Errorf("install the stand-in provider plugins: %w", err)
	}
	cfg := Config(filepath.Join(dir, "data"), home, forgeURL)
	logOut := opts.Log
	if logOut == nil {
		logOut = io.Discard
	}
	sc := app.Scrubber(cfg) // the log, like everything else, without the demo's secrets
	srv, err := app.New(ctx, cfg, zerolog.New(sc.Writer(logOut)).With().Timestamp().Logger(), app.WithScrubber(sc))
	if err != nil {
		_ = forgeSrv.Close()
		return nil, err
	}
	serveCtx, cancel := context.WithCancel(context.Background())
	env := &Env{Forge: sim.Forge(), ForgeURL: forgeURL, BotURL: botURL, serveDone: make(chan error, 1)}
	go func() { env.serveDone <- srv.Serve(serveCtx, botL) }()
	env.stop = func() {
		cancel()
		<-env.serveDone
		_ = forgeSrv.Close()
		if opts.Dir == "" {
			_ = os.RemoveAll(dir)
		}
	}
	return env, nil
}

// Close stops the bot (gracefully) and the forge.
func (e *Env) Close() { e.stop() }

// Config is the bot's configuration against a forge at forgeURL, as a
// person would write it for real GitHub/GitLab but pointed at the simulator.
func Config(dataDir, pulumiHome, forgeURL string) config.Config {
	c := config.Defaults()
	c.DataDir = dataDir
	c.Pulumi.Home = pulumiHome
	c.Pulumi.Passphrase = demoPassword
	c.GitHub = config.GitHub{Enabled: true, APIURL: forgeURL + "/", WebURL: forgeURL + "/", WriteDelayMs: 1,
		Token: botToken, WebhookSecrets: []config.Secret{githubSecret}}
	c.GitLab = config.GitLab{Enabled: true, APIURL: forgeURL + "/api/v4/", WebURL: forgeURL + "/",
		Token: botToken, WebhookTokens: []config.Secret{gitlabToken}}
	return c
}

// Seed creates the demo forge: users alice (maintainer) and expbot (the bot),
// and repositories acme/llm (a GitHub hook to botURL) and acme/vision (a GitLab hook).
func Seed(f *state.Forge, botURL string) error { return seed(f, botURL, true) }

// SeedWithoutHooks is Seed with no webhook registered, for a set-up that
// registers them itself (`expbot setup`).
func SeedWithoutHooks(f *state.Forge) error { return seed(f, "", false) }

func seed(f *state.Forge, botURL string, hooks bool) error {
	f.AddOrg("acme")
	f.AddUser("alice", "Alice Example", "alice@example.com", personToken, false)
	f.AddUser("expbot", "expbot", "expbot@example.com", botToken, true)
	files := map[string]string{
		"train.py":          "import yaml\nparams = yaml.safe_load(open('experiment.yaml'))['params']\n",
		"configs/base.yaml": "model: tiny\nlr: 0.001\n",
	}
	for _, r := range []struct{ repo, flavor, url, secret string }{
		{"acme/llm", "github", botURL + "/webhooks/github", githubSecret},
		{"acme/vision", "gitlab", botURL + "/webhooks/gitlab", gitlabToken},
	} {
		if _, err := f.CreateRepo(r.repo, "main", files, state.Signature{Name: "Alice Example", Email: "alice@example.com"}); err != nil {
			return err
		}
		for login, lvl := range map[string]state.AccessLevel{"alice": state.Maintainer, "expbot": state.Developer} {
			if err := f.SetAccess(r.repo, login, lvl); err != nil {
				return err
			}
		}
		if !hooks {
			continue
		}
		if _, err := f.AddHook(r.repo, r.flavor, r.url, r.secret); err != nil {
			return err
		}
	}
	return nil
}

// Run plays the walk-through and prints it to out.
func Run(ctx context.Context, out io.Writer, opts Options) error {
	fmt.Fprintln(out, "expbot demo: starting a simulated GitHub+GitLab, the stand-in Pulumi plugins and the bot...")
	env, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer env.Close()
	fmt.Fprintf(out, "  forge at %s, bot at %s\n\n", env.ForgeURL, env.BotURL)
	for _, repo := range []struct{ path, forge string }{{"acme/llm", "GitHub"}, {"acme/vision", "GitLab"}} {
		if err := walk(ctx, out, env, repo.path, repo.forge); err != nil {
			return fmt.Errorf("%s walk-through: %w", repo.forge, err)
		}
	}
	fmt.Fprintln(out, "Done: both forges went label -> branch -> comment -> edit -> close.")
	return nil
}

const requestBody = "We want to try a higher learning rate.\n\n```yaml\nname: lr-sweep\nparams:\n  lr: %s\n  batch_size: 32\n  optimizer:\n    name: adamw\n    weight_decay: 0.01\n```\n"

func walk(ctx context.Context, out io.Writer, env *Env, repo, forgeName string) error {
	fmt.Fprintf(out, "== %s (%s)\n", forgeName, repo)
	issue, _, err := env.Forge.OpenIssue(repo, "alice", "Try lr 3e-4", fmt.Sprintf(requestBody, "0.0003"), nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "1. alice opens issue #%d and labels it new-experiment\n", issue.Number)
	if _, err := env.Forge.LabelIssue(repo, issue.Number, "alice", []string{config.DefaultLabel}, nil); err != nil {
		return err
	}
	body, err := WaitForComment(ctx, env.Forge, repo, issue.Number, "is ready")
	if err != nil {
		return err
	}
	branch, err := spec.BranchName(config.DefaultBranchTemplate, spec.BranchVars{Number: issue.Number, Name: "lr-sweep", Forge: strings.ToLower(forgeName)})
	if err != nil {
		return err
	}
	head, file, err := BranchFile(env.Forge, repo, branch, config.DefaultVariantFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "2. the bot made branch %s at commit %s with experiment.yaml:\n%s", branch, head[:12], indent(file))
	fmt.Fprintf(out, "3. and answered in the issue:\n%s\n", indent(body))

	fmt.Fprintln(out, "4. alice edits the description: lr 0.0003 -> 0.001")
	newBody := fmt.Sprintf(requestBody, "0.001")
	if _, err := env.Forge.EditIssue(repo, issue.Number, "alice", nil, &newBody); err != nil {
		return err
	}
	if err := waitFor(ctx, func() (bool, error) {
		h, f, err := BranchFile(env.Forge, repo, branch, config.DefaultVariantFile)
		return err == nil && h != head && strings.Contains(f, "0.001"), nil
	}); err != nil {
		return fmt.Errorf("the branch was not updated: %w", err)
	}
	newHead, _, _ := BranchFile(env.Forge, repo, branch, config.DefaultVariantFile)
	fmt.Fprintf(out, "5. the bot committed the new variant file: %s -> %s\n", head[:12], newHead[:12])

	fmt.Fprintln(out, "6. alice closes the issue")
	if _, err := env.Forge.SetIssueState(repo, issue.Number, "alice", "closed"); err != nil {
		return err
	}
	body, err = WaitForComment(ctx, env.Forge, repo, issue.Number, "retired")
	if err != nil {
		return err
	}
	_, _, err = BranchFile(env.Forge, repo, branch, config.DefaultVariantFile)
	fmt.Fprintf(out, "7. the bot retired the experiment (branch still there: %v) and says:\n%s\n", err == nil, indent(body))
	return nil
}

// WaitForComment waits until the bot's status comment on an issue contains
// want, and returns its body. A failure comment ends the wait early.
func WaitForComment(ctx context.Context, f *state.Forge, repo string, number int, want string) (string, error) {
	var body string
	err := waitFor(ctx, func() (bool, error) {
		body = ""
		_ = f.WithRepo(repo, func(r *state.Repo) error {
			for _, c := range r.Comments(number, "") {
				if strings.Contains(c.Body, pipeline.StatusMarker) {
					body = c.Body
				}
			}
			return nil
		})
		if strings.Contains(body, "failed") || strings.Contains(body, "cannot run") {
			return false, fmt.Errorf("the bot reported a problem:\n%s", body)
		}
		return strings.Contains(body, want), nil
	})
	if err != nil {
		return body, fmt.Errorf("waiting for a comment saying %q: %w", want, err)
	}
	return body, nil
}

// BranchFile returns a branch's head and one file's content on it.
func BranchFile(f *state.Forge, repo, branch, path string) (head, content string, err error) {
	err = f.WithRepo(repo, func(r *state.Repo) error {
		sha, ok := r.Branch(branch)
		if !ok {
			return fmt.Errorf("branch %s: %w", branch, state.ErrNotFound)
		}
		c, _ := r.Commit(sha)
		b, _, ok := r.File(c, path)
		if !ok {
			return fmt.Errorf("%s on %s: %w", path, branch, state.ErrNotFound)
		}
		head, content = sha, string(b)
		return nil
	})
	return head, content, err
}

func waitFor(ctx context.Context, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, waitForAnswer)
	defer cancel()
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.New("gave up after " + waitForAnswer.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return "     | " + strings.Join(lines, "\n     | ") + "\n"
}
