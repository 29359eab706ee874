// Package pulumitest gives tests a real Pulumi engine to run against: the
// CLI found by internal/pulumicli, a private PULUMI_HOME holding the stand-in
// provider plugins, and a file:// state backend in a temporary directory.
// Test support only.
package pulumitest

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/pulumicli"
	"github.com/expbot/expbot/internal/standin/install"
)

// Passphrase encrypts the test stacks' secrets; it protects nothing real.
const Passphrase = "expbot-test-passphrase"

// Env is one isolated Pulumi environment.
type Env struct {
	CLI     pulumicli.CLI
	Home    string // PULUMI_HOME with the stand-in plugins installed
	Backend string // file:// URL of the state directory
	Dir     string // parent of per-stack work directories
}

// New locates the CLI and prepares a PULUMI_HOME and a backend under
// t.TempDir(). A missing CLI fails the test rather than skipping it: CI
// must always run these tests (`make pulumi` provides the CLI).
func New(t testing.TB) *Env {
	t.Helper()
	ctx := context.Background()
	cli, err := pulumicli.Locate(ctx, "")
	if err != nil {
		t.Fatalf("this test needs the Pulumi CLI (run `make pulumi` first): %v", err)
	}
	dir := t.TempDir()
	home := filepath.Join(dir, "pulumi-home")
	if err := install.Install(ctx, home); err != nil {
		t.Fatalf("install stand-in provider plugins: %v", err)
	}
	stateDir := filepath.Join(dir, "state")
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return &Env{CLI: cli, Home: home, Backend: "file://" + stateDir, Dir: filepath.Join(dir, "work")}
}

// EnvVars is the environment every CLI run needs; nothing is inherited that
// could point the providers elsewhere.
func (e *Env) EnvVars() map[string]string {
	return map[string]string{
		"PULUMI_HOME":                                 e.Home,
		"PULUMI_BACKEND_URL":                          e.Backend,
		"PULUMI_CONFIG_PASSPHRASE":                    Passphrase,
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS":               "true", // only the stand-ins in Home
	}
}

// Stack upserts an inline-program stack with a stable work directory.
func (e *Env) Stack(ctx context.Context, t testing.TB, project, stack string, program pulumi.RunFunc) auto.Stack {
	t.Helper()
	work := filepath.Join(e.Dir, project, stack)
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := auto.UpsertStackInlineSource(ctx, stack, project, program,
		auto.Pulumi(e.CLI.Command),
		auto.WorkDir(work),
		auto.PulumiHome(e.Home),
		auto.EnvVars(e.EnvVars()),
	)
	if err != nil {
		t.Fatalf("upsert stack %s/%s: %v", project, stack, err)
	}
	return st
}

// RecordingCLI runs the CLI it wraps and keeps the arguments of every run,
// for tests of which runs an operation makes.
type RecordingCLI struct {
	auto.PulumiCommand
	mu   sync.Mutex
	runs [][]string
}

// Record makes e's stacks run the CLI through a RecordingCLI; stacks made
// before keep the CLI they have.
func (e *Env) Record() *RecordingCLI {
	r := &RecordingCLI{PulumiCommand: e.CLI.Command}
	e.CLI.Command = r
	return r
}

func (r *RecordingCLI) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	r.mu.Lock()
	r.runs = append(r.runs, slices.Clone(args))
	r.mu.Unlock()
	return r.PulumiCommand.Run(ctx, workdir, stdin, out, errOut, env, args...)
}

// Runs returns the arguments of the runs since the last call, and forgets them.
func (r *RecordingCLI) Runs() [][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	runs := r.runs
	r.runs = nil
	return runs
}
