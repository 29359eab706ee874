package pulumicli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The Pulumi CLI and the provider plugins it starts must not outlive the
// bot: a plugin left running after a `kill -9` of the bot runs forever,
// re-parented to init. The CLI puts every plugin in a process group of its
// own, so killing the CLI's group does not reach them. Where the platform
// allows (Linux), every CLI run therefore goes through a guard: the bot's
// own binary started again with GuardArg. The guard dies with the bot's
// thread that started it (parent-death signal), adopts whatever the CLI
// leaves orphaned (child subreaper) and, when the CLI ends or the bot dies,
// kills everything still below it.
//
// A guard killed with SIGKILL cannot clean up. For that, every process of a
// run carries OwnerEnv in its environment (the CLI passes its environment
// to the plugins), naming the data directory and the bot process; at start
// SweepLeftovers kills the processes that carry the same data directory
// but another bot process: leftovers of a previous expbot, provably ours.

// GuardArg is the first argument that makes the bot's binary a guard; the
// bot's main calls GuardMain before anything else.
const GuardArg = "__pulumi-guard"

// OwnerEnv marks the environment of every process of a supervised run.
const OwnerEnv = "EXPBOT_PULUMI_OWNER"

// InterruptGrace is how long a cancelled run may take to end after the CLI
// got SIGINT (it ends the update and releases the stack's lock) before the
// guard kills the CLI and its plugins.
const InterruptGrace = 10 * time.Second

// Owner names the bot process on behalf of which Pulumi runs: the data
// directory and the process (pid and start time, which tell it from a
// later process given the same pid).
type Owner struct {
	DataDir string
	Pid     int
	Start   uint64 // clock ticks after boot, from /proc/<pid>/stat
}

// String is the value of OwnerEnv: "<pid>:<start>:<data dir>".
func (o Owner) String() string { return fmt.Sprintf("%d:%d:%s", o.Pid, o.Start, o.DataDir) }

// parseOwner reads an OwnerEnv value.
func parseOwner(s string) (Owner, bool) {
	pid, rest, ok := strings.Cut(s, ":")
	if !ok {
		return Owner{}, false
	}
	start, dir, ok := strings.Cut(rest, ":")
	if !ok || dir == "" {
		return Owner{}, false
	}
	var o Owner
	if _, err := fmt.Sscan(pid, &o.Pid); err != nil {
		return Owner{}, false
	}
	if _, err := fmt.Sscan(start, &o.Start); err != nil {
		return Owner{}, false
	}
	o.DataDir = dir
	return o, true
}

// SelfOwner is the Owner for this process serving dataDir.
func SelfOwner(dataDir string) (Owner, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return Owner{}, fmt.Errorf("data dir %q: %w", dataDir, err)
	}
	start, err := startTime(os.Getpid())
	if err != nil {
		return Owner{}, err
	}
	return Owner{DataDir: filepath.Clean(abs), Pid: os.Getpid(), Start: start}, nil
}

// nonInteractive makes the CLI fail rather than prompt, as the Automation
// API's own command runner does.
func nonInteractive(args []string) []string {
	flags := args
	if i := slices.Index(args, "--"); i >= 0 {
		flags = args[:i]
	}
	if slices.Contains(flags, "--non-interactive") {
		return args
	}
	return append([]string{"--non-interactive"}, args...)
}

// withPathFirst puts dir first on env's PATH, so that the CLI finds the
// binaries installed beside it (as the Automation API does).
func withPathFirst(env []string, dir string) []string {
	out := slices.Clone(env)
	for i, e := range out {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			if v != "" {
				dir += string(os.PathListSeparator) + v
			}
			out[i] = "PATH=" + dir
			return out
		}
	}
	return append(out, "PATH="+dir)
}
