package forgesetup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/forgesetup/forges"
	"github.com/expbot/expbot/internal/scrub"
)

// Mode is what a run does.
type Mode int

const (
	Up      Mode = iota // create or update to match the file
	Preview             // show what Up would change, change nothing
	Destroy             // remove everything the stack made
)

func (m Mode) String() string {
	return [...]string{"up", "preview", "destroy"}[m]
}

// Options are one run's inputs.
type Options struct {
	Forges  forges.File
	Env     config.Setup
	CLI     auto.PulumiCommand // nil: the Automation API's lookup
	Mode    Mode
	Out     io.Writer // Pulumi's progress; nil discards it
	Secrets Secrets
}

// SecretsFrom takes the secrets out of the environment settings and checks
// that each forge the file names has what it needs.
func SecretsFrom(f forges.File, env config.Setup) (Secrets, error) {
	s := Secrets{
		GitHubToken: env.GitHubToken.Reveal(), GitLabToken: env.GitLabToken.Reveal(),
		GitHubWebhookSecret: env.GitHubWebhookSecret.Reveal(), GitLabWebhookToken: env.GitLabWebhookToken.Reveal(),
		WriteDelayMs: env.WriteDelayMs,
	}
	var errs []error
	if f.GitHub != nil {
		if s.GitHubToken == "" {
			errs = append(errs, errors.New("github: no admin token: set EXPBOT_SETUP_GITHUB_TOKEN or EXPBOT_SETUP_GITHUB_TOKEN_FILE"))
		}
		if s.GitHubWebhookSecret == "" {
			errs = append(errs, errors.New("github: no webhook secret: set EXPBOT_GITHUB_WEBHOOK_SECRETS or EXPBOT_GITHUB_WEBHOOK_SECRETS_FILE (the bot's)"))
		}
	}
	if f.GitLab != nil {
		if s.GitLabToken == "" {
			errs = append(errs, errors.New("gitlab: no admin token: set EXPBOT_SETUP_GITLAB_TOKEN or EXPBOT_SETUP_GITLAB_TOKEN_FILE"))
		}
		if s.GitLabWebhookToken == "" {
			errs = append(errs, errors.New("gitlab: no webhook token: set EXPBOT_GITLAB_WEBHOOK_TOKENS or EXPBOT_GITLAB_WEBHOOK_TOKENS_FILE (the bot's)"))
		}
	}
	return s, errors.Join(errs...)
}

// Summary counts what a run changed (or, for a preview, would change) by
// Pulumi operation: "create", "update", "delete", "replace", "same".
type Summary map[string]int

func (s Summary) String() string {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s[k]))
	}
	return strings.Join(parts, " ")
}

// Changed reports whether anything but "same" happened.
func (s Summary) Changed() bool {
	for k, n := range s {
		if k != "same" && n > 0 {
			return true
		}
	}
	return false
}

// WorkDir is the Pulumi work directory of the set-up's stack.
func WorkDir(dataDir, stack string) string {
	return filepath.Join(dataDir, "pulumi", "work", config.SetupProject+"-"+stack)
}

// Run sets the forges up (or previews, or destroys) and summarises it. Up
// and Preview refresh first, so that a hook or label removed by hand is
// made again. Errors never carry the secrets.
func Run(ctx context.Context, o Options) (Summary, error) {
	sc := scrub.New(o.Secrets.GitHubToken, o.Secrets.GitLabToken, o.Secrets.GitHubWebhookSecret,
		o.Secrets.GitLabWebhookToken, o.Env.Passphrase.Reveal(), urlPassword(o.Env.BackendURL))
	if o.Out != nil {
		o.Out = sc.Writer(o.Out)
	}
	sum, err := run(ctx, o)
	return sum, sc.Error(err)
}

// urlPassword is the password in a backend URL (a postgres:// one may
// carry the store's), "" when there is none.
func urlPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

func run(ctx context.Context, o Options) (Summary, error) {
	backend := o.Env.BackendURL
	if backend == "" {
		return nil, errors.New("no Pulumi state backend (config.LoadSetup decides it)")
	}
	if dir, ok := strings.CutPrefix(backend, "file://"); ok {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	work := WorkDir(o.Env.DataDir, o.Forges.Stack)
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	env := map[string]string{
		"PULUMI_BACKEND_URL":                          backend,
		"PULUMI_CONFIG_PASSPHRASE":                    o.Env.Passphrase.Reveal(),
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		// Blanked so that ambient provider settings cannot redirect the
		// providers: the program passes everything explicitly.
		"GITHUB_TOKEN": "", "GITHUB_OWNER": "", "GITHUB_ORGANIZATION": "", "GITHUB_BASE_URL": "",
		"GITLAB_TOKEN": "", "GITLAB_BASE_URL": "",
	}
	opts := []auto.LocalWorkspaceOption{auto.WorkDir(work), auto.EnvVars(env)}
	if o.Env.PulumiHome != "" {
		env["PULUMI_HOME"] = o.Env.PulumiHome
		opts = append(opts, auto.PulumiHome(o.Env.PulumiHome))
	}
	if o.CLI != nil {
		opts = append(opts, auto.Pulumi(o.CLI))
	}
	st, err := auto.UpsertStackInlineSource(ctx, o.Forges.Stack, config.SetupProject, Program(o.Forges, o.Secrets), opts...)
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", o.Forges.Stack, err)
	}
	out := o.Out
	if out == nil {
		out = io.Discard
	}
	switch o.Mode {
	case Preview:
		res, err := st.Preview(ctx, optpreview.Refresh(), optpreview.ProgressStreams(out), optpreview.SuppressProgress())
		if err != nil {
			return nil, fmt.Errorf("preview: %w", err)
		}
		sum := Summary{}
		for op, n := range res.ChangeSummary {
			sum[string(op)] += n
		}
		return sum, nil
	case Destroy:
		res, err := st.Destroy(ctx, optdestroy.ProgressStreams(out), optdestroy.SuppressProgress())
		if err != nil {
			return nil, fmt.Errorf("destroy: %w", err)
		}
		return summary(res.Summary.ResourceChanges), nil
	default:
		res, err := st.Up(ctx, optup.Refresh(), optup.ProgressStreams(out), optup.SuppressProgress())
		if err != nil {
			return nil, fmt.Errorf("up: %w", err)
		}
		return summary(res.Summary.ResourceChanges), nil
	}
}

func summary(m *map[string]int) Summary {
	sum := Summary{}
	if m != nil {
		for k, n := range *m {
			sum[k] = n
		}
	}
	return sum
}
