package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/pipeline/store"
)

// PulumiEnv is where and how the reconciler runs Pulumi.
type PulumiEnv struct {
	CLI        auto.PulumiCommand
	Home       string // PULUMI_HOME; "" leaves the CLI's default (~/.pulumi)
	BackendURL string // file://<data-dir>/pulumi/state, postgres://..., s3://...
	Passphrase string // encrypts secrets (the forge tokens) in the state
	WorkRoot   string // one stable work directory per stack below it
	Project    string // Pulumi project name; default "expbot"
}

// envVars is the environment of every CLI run. The provider variables are
// blanked so that a GITHUB_TOKEN or GITHUB_OWNER in the bot's environment
// cannot redirect the providers: everything they need is passed explicitly.
func (p PulumiEnv) envVars() map[string]string {
	env := map[string]string{
		"PULUMI_BACKEND_URL":                          p.BackendURL,
		"PULUMI_CONFIG_PASSPHRASE":                    p.Passphrase,
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"GITHUB_TOKEN":                                "",
		"GITHUB_OWNER":                                "",
		"GITHUB_ORGANIZATION":                         "",
		"GITHUB_BASE_URL":                             "",
		"GITHUB_APP_ID":                               "",
		"GITHUB_APP_INSTALLATION_ID":                  "",
		"GITHUB_APP_PEM_FILE":                         "",
		"GITLAB_TOKEN":                                "",
		"GITLAB_BASE_URL":                             "",
	}
	if p.Home != "" {
		env["PULUMI_HOME"] = p.Home
	}
	return env
}

func (p PulumiEnv) project() string {
	if p.Project == "" {
		return "expbot"
	}
	return p.Project
}

// stacks keeps one workspace per repository: creating one costs about a
// second of CLI calls, so later runs only swap the program.
type stacks struct {
	env PulumiEnv
	mu  sync.Mutex
	m   map[string]*auto.Stack
}

func newStacks(env PulumiEnv) *stacks { return &stacks{env: env, m: map[string]*auto.Stack{}} }

// get returns the stack of repo with prog as its program. Callers hold the
// repository's lock, so one stack is never used by two runs at once.
func (s *stacks) get(ctx context.Context, repo store.RepoKey, prog pulumi.RunFunc) (*auto.Stack, error) {
	name := StackName(repo)
	s.mu.Lock()
	st, ok := s.m[name]
	s.mu.Unlock()
	if ok {
		st.Workspace().SetProgram(prog)
		return st, nil
	}
	if dir, ok := strings.CutPrefix(s.env.BackendURL, "file://"); ok {
		// The CLI wants a file backend's directory to exist.
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	work := filepath.Join(s.env.WorkRoot, name)
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, fmt.Errorf("stack work dir: %w", err)
	}
	opts := []auto.LocalWorkspaceOption{
		auto.WorkDir(work),
		auto.EnvVars(s.env.envVars()),
	}
	if s.env.CLI != nil {
		opts = append(opts, auto.Pulumi(s.env.CLI))
	}
	if s.env.Home != "" {
		opts = append(opts, auto.PulumiHome(s.env.Home))
	}
	// A stack made now is clean; one that exists may hold what an
	// interrupted update left. (Creating fails on an existing stack in
	// ways auto.IsCreateStack409Error does not always recognise, so any
	// failure tries selecting it.)
	created, err := auto.NewStackInlineSource(ctx, name, s.env.project(), prog, opts...)
	if err != nil {
		existing, selErr := auto.SelectStackInlineSource(ctx, name, s.env.project(), prog, opts...)
		if selErr != nil {
			return nil, fmt.Errorf("stack %s: %w", name, redact(err))
		}
		// What an interrupted update may have left: its lock, then its
		// pending creates (pendingcreates.go).
		if _, err := removeStaleLocks(s.env.BackendURL, name); err != nil {
			return nil, err
		}
		if _, err := adoptPendingCreates(ctx, &existing); err != nil {
			return nil, err
		}
		created = existing
	}
	s.mu.Lock()
	s.m[name] = &created
	s.mu.Unlock()
	return &created, nil
}

// forget drops repo's workspace, so that the next get looks at the stack
// afresh: after a failed update, which may have been interrupted.
func (s *stacks) forget(repo store.RepoKey) {
	s.mu.Lock()
	delete(s.m, StackName(repo))
	s.mu.Unlock()
}

// upResult is what one update did, per experiment where it can be told.
type upResult struct {
	summary   map[string]int    // Pulumi's change summary: create, update, same...
	failed    map[string]string // resource-name prefix -> first error message
	transient bool              // the failure looks like the forge or network, not the request
	locked    bool              // another update holds the stack's lock
}

// eventsGrace is how long a failed update's event stream may take to end.
const eventsGrace = 2 * time.Second

// up runs one update and attributes failures to resources. Its error is
// redacted text: what callers need to know of it is in the result.
func up(ctx context.Context, st *auto.Stack) (upResult, error) {
	evs := make(chan events.EngineEvent)
	res := upResult{failed: map[string]string{}}
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			var ev events.EngineEvent
			select {
			case e, ok := <-evs:
				if !ok {
					return
				}
				ev = e
			case <-stop:
				return
			}
			d := ev.DiagnosticEvent
			if d == nil || d.Severity != "error" || d.URN == "" {
				continue
			}
			name := d.URN[strings.LastIndex(d.URN, "::")+2:]
			msg := cleanDiag(d.Message)
			if _, seen := res.failed[name]; !seen {
				res.failed[name] = msg
			}
			if looksTransient(msg) {
				res.transient = true
			}
		}
	}()
	out, err := st.Up(ctx, optup.EventStreams(evs), optup.ContinueOnError(), optup.SuppressProgress())
	if err == nil {
		<-done // the CLI ended its event stream, which closes evs
	} else {
		// A CLI that failed before it opened its event stream never
		// closes evs; one that did closes it as it exits.
		select {
		case <-done:
		case <-time.After(eventsGrace):
			close(stop)
			<-done
		}
	}
	if out.Summary.ResourceChanges != nil {
		res.summary = *out.Summary.ResourceChanges
	}
	if err != nil {
		res.locked = auto.IsConcurrentUpdateError(err)
		if looksTransient(err.Error()) {
			res.transient = true
		}
		return res, redact(err)
	}
	return res, nil
}

// transient matches failures of the forge or the network. A status code
// counts only as a word of its own (": 503 Service Unavailable", "status
// 429"): engine output also holds resource names, branches and URLs made
// from issue numbers ("issue-500-…", "exp/503-…", "projects/429/"), and a
// permanent error mistaken for a transient one is retried until it gives up,
// its experiment left "running". EOF is matched as the word, in capitals.
// The CLI's own state backend failing (the database of a postgres://
// backend down, restarting or out of connections: SQLSTATE classes 08, 53,
// 57P) is never the request's fault either.
var (
	ansi      = regexp.MustCompile(`\x1b\[[0-9;]*m|<\{%[^%]*%\}>`)
	transient = regexp.MustCompile(`(?i)(?:^|[\s:(=\["'])(?:50[0234]|429)(?:$|[\s),;:\]}"']|\.(?:\s|$))|connection refused|connection reset|i/o timeout|timeout awaiting|deadline exceeded|no such host|(?-i:\bEOF\b)|temporarily unavailable|rate limit|unable to open state database|too many clients|the database system is (?:starting up|shutting down|in recovery mode)|terminating connection due to administrator command|(?:\(|SQLSTATE )(?:08[0-9A-Z]{3}|53[0-9A-Z]{3}|57P0[1-3])\)`)
)

func cleanDiag(s string) string { return strings.TrimSpace(ansi.ReplaceAllString(s, "")) }

func looksTransient(msg string) bool { return transient.MatchString(msg) }

// redact drops whatever follows a token-bearing header or URL credentials in
// engine output, in case a provider echoes a request.
var secretish = regexp.MustCompile(`(?i)(authorization:\s*\S+\s+|private-token:\s*|token=|://[^/@\s]+:)[^\s&"']+`)

func redact(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s", secretish.ReplaceAllString(err.Error(), "${1}[redacted]"))
}
