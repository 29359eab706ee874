package pulumicli

import (
	"context"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver"
	"golang.org/x/sys/unix"

	"github.com/expbot/expbot/internal/cpuslice"
)

// childNice is a PulumiCommand whose "CLI" reports its own /proc stat line
// and, after it, its scheduler's state (/proc/<pid>/sched).
type childNice struct{}

func (childNice) Version() semver.Version { return semver.MustParse("3.0.0") }

func (childNice) Run(ctx context.Context, _ string, _ io.Reader, _, _ []io.Writer, _ []string, _ ...string) (string, string, int, error) {
	out, err := exec.CommandContext(ctx, "sh", "-c", "cat /proc/$$/stat /proc/$$/sched").Output()
	if err != nil {
		return "", "", -1, err
	}
	return string(out), "", 0, nil
}

// sliceOf reads the CPU slice from the scheduler's state after a stat
// line (childNice).
func sliceOf(t *testing.T, out string) time.Duration {
	t.Helper()
	for line := range strings.Lines(out) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "se.slice" {
			ns, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("se.slice %q: %v", v, err)
			}
			return time.Duration(ns)
		}
	}
	t.Fatalf("no se.slice in %q", out)
	return 0
}

// schedOf reads the niceness and the scheduling policy of a /proc/<pid>/stat
// line.
func schedOf(t *testing.T, stat string) (nice, policy int) {
	t.Helper()
	stat, _, _ = strings.Cut(stat, "\n")
	// "pid (comm) state ..." with niceness the 19th field and the policy the
	// 41st; comm may hold spaces.
	i := strings.LastIndexByte(stat, ')')
	f := strings.Fields(stat[i+1:])
	if i < 0 || len(f) < 39 {
		t.Fatalf("unexpected stat line %q", stat)
	}
	nice, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	if policy, err = strconv.Atoi(f[38]); err != nil {
		t.Fatal(err)
	}
	return nice, policy
}

func TestNicedLowersOnlyTheCLI(t *testing.T) {
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := 20 - raw
	// As the bot does at start; the CLI must not inherit it.
	if err := cpuslice.Shorten(cpuslice.Short); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		priority   Priority
		wantNice   int
		wantPolicy int
	}{
		{"off", Priority{}, base, unix.SCHED_NORMAL},
		{"negative means off", Priority{Nice: -5}, base, unix.SCHED_NORMAL},
		{"lowered", Priority{Nice: 7}, min(base+7, MaxNice), unix.SCHED_NORMAL},
		{"capped", Priority{Nice: 40}, MaxNice, unix.SCHED_NORMAL},
		{"idle", Priority{Idle: true}, base, unix.SCHED_IDLE},
		{"idle and lowered", Priority{Nice: 3, Idle: true}, min(base+3, MaxNice), unix.SCHED_IDLE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stat, _, _, err := Niced(childNice{}, tt.priority).Run(context.Background(), "", nil, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if nice, policy := schedOf(t, stat); nice != tt.wantNice || policy != tt.wantPolicy {
				t.Errorf("CLI runs at niceness %d, policy %d; want %d, %d", nice, policy, tt.wantNice, tt.wantPolicy)
			}
			if tt.wantPolicy == unix.SCHED_NORMAL { // the idle policy has no slice
				if slice := sliceOf(t, stat); slice == cpuslice.Short {
					t.Errorf("CLI runs with the bot's CPU slice %v, want the kernel's default", slice)
				}
			}
			// Processes started elsewhere keep the bot's own priority.
			out, _, _, err := childNice{}.Run(context.Background(), "", nil, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if nice, policy := schedOf(t, out); nice != base || policy != unix.SCHED_NORMAL {
				t.Errorf("a later child runs at niceness %d, policy %d; want the bot's %d, %d", nice, policy, base, unix.SCHED_NORMAL)
			}
			if slice := sliceOf(t, out); slice != cpuslice.Short {
				t.Errorf("a later child runs with a CPU slice of %v, want the bot's %v", slice, cpuslice.Short)
			}
		})
	}
}

func TestNicedKeepsTheVersion(t *testing.T) {
	if v := Niced(childNice{}, Priority{Nice: 10}).Version(); !v.Equals(semver.MustParse("3.0.0")) {
		t.Errorf("Version() = %v", v)
	}
}
