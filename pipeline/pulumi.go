package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/inlineup"
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
	// OneProcess: the store is this process's alone (SQLite). A lock
	// written on this host by a process that no longer runs is then
	// stale even without a record of it (stalelock.go).
	OneProcess bool
	// HistoryKeep: how many entries of each stack's history are kept
	// (statehistory.go); 0 keeps all.
	HistoryKeep int
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
		// The CLI writes a stack's whole state twice per resource it
		// changes; compressed, a tenth of it (the postgres:// backend
		// stores it base64 in JSON, which the server compresses badly).
		// Reading detects the format, and a stack written plain is
		// rewritten compressed by its next update.
		"PULUMI_DIY_BACKEND_ZSTD": "true",
		// Every update also keeps a copy of the stack's final state in its
		// history (`pulumi stack history`); the backup written besides is
		// the same bytes a second time, for ever.
		"PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS": "true",
		"GITHUB_TOKEN":               "",
		"GITHUB_OWNER":               "",
		"GITHUB_ORGANIZATION":        "",
		"GITHUB_BASE_URL":            "",
		"GITHUB_APP_ID":              "",
		"GITHUB_APP_INSTALLATION_ID": "",
		"GITHUB_APP_PEM_FILE":        "",
		"GITLAB_TOKEN":               "",
		"GITLAB_BASE_URL":            "",
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
	env  PulumiEnv
	st   store.Store
	host string
	log  zerolog.Logger
	mu   sync.Mutex
	m    map[string]*auto.Stack
	held map[string]int // holds of each stack in this process (see hold)
}

func newStacks(env PulumiEnv, st store.Store, log zerolog.Logger) *stacks {
	host, _ := os.Hostname() // as the CLI writes it in its locks; "" matches none
	return &stacks{env: env, st: st, host: host, log: log, m: map[string]*auto.Stack{}, held: map[string]int{}}
}

// hold is this process's hold of a repository's run lock, for the Pulumi
// CLI runs on its stack. Before the first, it records them in the store
// (BeginPulumi), so that a lock they leave can be told to be this
// process's; at release, their end. A stack that a gone process ran last
// is looked at afresh, as after a crash here: its stale lock removed, its
// pending creates adopted (stacks.get).
type hold struct {
	s      *stacks
	repo   store.RepoKey
	name   string
	unlock func()
	begun  bool
	prev   []store.PulumiRun // the stack's records before this hold's
}

// hold wraps unlock, the release of repo's run lock that the caller took.
func (s *stacks) hold(repo store.RepoKey, unlock func()) *hold {
	name := StackName(repo)
	s.mu.Lock()
	s.held[name]++
	s.mu.Unlock()
	return &hold{s: s, repo: repo, name: name, unlock: unlock}
}

// endTimeout bounds one try to record a hold's end, and endPatience all of
// them: while the end is not recorded, another process takes a lock left
// by the hold's CLI runs for a live update's (stalelock.go) and leaves it.
// So a database that is down when the hold ends (its CLI runs likely
// failed on it, their locks left behind) is waited for; past endPatience
// only this process removes such a lock, when it next holds the stack.
const (
	endTimeout  = 5 * time.Second
	endPatience = 2 * time.Minute
)

// release records the end of the hold's CLI runs and prunes the stack's
// history, then releases the lock.
func (h *hold) release() {
	if h.begun {
		h.recordEnd(time.Now())
	}
	if h.begun && h.s.env.HistoryKeep > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), historyTimeout)
		n, err := h.pruneHistory(ctx, h.s.env.HistoryKeep)
		cancel()
		if err != nil {
			h.s.log.Warn().Err(err).Str("stack", h.name).Msg("pruning the stack's history failed; the next run tries again")
		} else if n > 0 {
			h.s.log.Debug().Str("stack", h.name).Int("blobs", n).Msg("pruned the stack's history")
		}
	}
	h.s.mu.Lock()
	if h.s.held[h.name]--; h.s.held[h.name] <= 0 {
		delete(h.s.held, h.name)
	}
	h.s.mu.Unlock()
	h.unlock()
}

// recordEnd records that the hold's CLI runs ended at, trying again for
// endPatience.
func (h *hold) recordEnd(at time.Time) {
	give := time.Now().Add(endPatience)
	for wait := time.Second; ; wait = min(2*wait, 15*time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), endTimeout)
		err := h.s.st.EndPulumi(ctx, h.name, at)
		cancel()
		if err == nil {
			return
		}
		if time.Now().Add(wait).After(give) {
			h.s.log.Warn().Err(err).Str("stack", h.name).Msg("record the end of Pulumi runs (giving up: a lock they left waits for this process)")
			return
		}
		h.s.log.Warn().Err(err).Str("stack", h.name).Dur("retry_in", wait).Msg("record the end of Pulumi runs")
		time.Sleep(wait)
	}
}

// stack returns the hold's stack with prog as its program, recording the
// hold's runs first.
func (h *hold) stack(ctx context.Context, prog pulumi.RunFunc) (*auto.Stack, error) {
	if !h.begun {
		prev, err := h.s.st.BeginPulumi(ctx, h.name, h.s.host, time.Now())
		if err != nil {
			return nil, err
		}
		h.begun, h.prev = true, prev
		for _, r := range prev {
			if r.Gone {
				// A takeover: the gone process's update may have been
				// cut short. Look at the stack afresh.
				h.s.forget(h.repo)
				break
			}
		}
	}
	return h.s.get(ctx, h, prog)
}

// removeStaleLocks removes the stack's locks whose process is gone (see
// lockJudge), logs those it leaves, and forgets the gone processes'
// records that no lock left is theirs. It says how many it removed.
func (h *hold) removeStaleLocks(ctx context.Context) (int, error) {
	b, ok, err := openStateBackend(ctx, h.s.env.BackendURL)
	if err != nil || !ok {
		return 0, err
	}
	defer b.close()
	locks, err := b.locks(ctx, h.name)
	if err != nil {
		return 0, err
	}
	runs, err := h.s.st.PulumiRuns(ctx, h.name)
	if err != nil {
		return 0, err
	}
	for _, r := range h.prev {
		if r.Self { // this process's earlier runs, which this hold's record replaced
			runs = append(runs, r)
		}
	}
	h.s.mu.Lock()
	busy := h.s.held[h.name] > 1
	h.s.mu.Unlock()
	j := lockJudge{runs: runs, busy: busy, host: h.s.host, oneProcess: h.s.env.OneProcess}
	removed := 0
	var kept []stackLock
	for _, l := range locks {
		log := h.s.log.With().Str("stack", h.name).Str("lock", path.Base(l.key)).Str("host", l.owner.Hostname).
			Int("pid", l.owner.Pid).Time("locked_at", l.owner.Timestamp).Logger()
		remove, why := j.judge(l)
		if !remove {
			kept = append(kept, l)
			log.Warn().Str("reason", why).Msg("stack lock left alone")
			continue
		}
		if err := b.remove(ctx, l); err != nil {
			return removed, fmt.Errorf("remove stale lock of %s: %w", h.name, err)
		}
		removed++
		log.Warn().Str("reason", why).Msg("removed a stack lock left by an update that was cut short")
	}
	for _, r := range runs {
		if r.Gone && !slices.ContainsFunc(kept, func(l stackLock) bool { return written(l, r) }) {
			if err := h.s.st.ForgetPulumi(ctx, h.name, r.Process); err != nil {
				return removed, err
			}
		}
	}
	return removed, nil
}

// get returns the stack of h's repository with prog as its program. Callers
// hold the repository's lock, so one stack is never used by two runs at
// once.
func (s *stacks) get(ctx context.Context, h *hold, prog pulumi.RunFunc) (*auto.Stack, error) {
	name := h.name
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
	if err != nil && auto.IsConcurrentUpdateError(err) {
		// Creating a stack takes its lock: a creation cut short (the
		// state's database went away) leaves the lock, and no stack.
		if n, rmErr := h.removeStaleLocks(ctx); rmErr != nil || n == 0 {
			return nil, fmt.Errorf("stack %s: %w: %w", name, errStackLocked, errors.Join(redact(err), rmErr))
		}
		created, err = auto.NewStackInlineSource(ctx, name, s.env.project(), prog, opts...)
	}
	if err != nil {
		existing, selErr := auto.SelectStackInlineSource(ctx, name, s.env.project(), prog, opts...)
		if selErr != nil {
			if auto.IsConcurrentUpdateError(err) {
				return nil, fmt.Errorf("stack %s: %w: %w", name, errStackLocked, redact(err))
			}
			return nil, fmt.Errorf("stack %s: %w", name, redact(err))
		}
		// What an interrupted update may have left: its lock, then its
		// pending creates (pendingcreates.go).
		if _, err := h.removeStaleLocks(ctx); err != nil {
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

// errStackLocked: the stack could not be made, a lock held it.
var errStackLocked = errors.New("stack locked")

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

// up runs one update and attributes failures to resources. Its error is
// redacted text: what callers need to know of it is in the result.
func up(ctx context.Context, st *auto.Stack) (upResult, error) {
	res := upResult{failed: map[string]string{}}
	out, err := inlineup.Up(ctx, st, func(ev events.EngineEvent) {
		d := ev.DiagnosticEvent
		if d == nil || d.Severity != "error" || d.URN == "" {
			return
		}
		name := d.URN[strings.LastIndex(d.URN, "::")+2:]
		msg := cleanDiag(d.Message)
		if _, seen := res.failed[name]; !seen {
			res.failed[name] = msg
		}
		if looksTransient(msg) {
			res.transient = true
		}
	}, "--continue-on-error")
	if err != nil {
		res.locked = inlineup.Locked(err)
		if looksTransient(err.Error()) {
			res.transient = true
		}
		return res, redact(err)
	}
	res.summary = out.Changes
	return res, nil
}

// refresh refreshes the resources urns of st. The SDK then reads the
// stack's last history entry for the summary; read with secrets, that run
// would derive the passphrase key again (about 0.25 s of CPU) for a summary
// that holds none.
func refresh(ctx context.Context, st *auto.Stack, urns []string) (auto.RefreshResult, error) {
	return st.Refresh(ctx, optrefresh.Target(urns), optrefresh.SuppressProgress(), optrefresh.ShowSecrets(false))
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
