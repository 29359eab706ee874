package pulumicli

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/blang/semver"
	"golang.org/x/sys/unix"
)

// childNice is a PulumiCommand whose "CLI" reports its own /proc stat line.
type childNice struct{}

func (childNice) Version() semver.Version { return semver.MustParse("3.0.0") }

func (childNice) Run(ctx context.Context, _ string, _ io.Reader, _, _ []io.Writer, _ []string, _ ...string) (string, string, int, error) {
	out, err := exec.CommandContext(ctx, "cat", "/proc/self/stat").Output()
	if err != nil {
		return "", "", -1, err
	}
	return string(out), "", 0, nil
}

// schedOf reads the niceness and the scheduling policy of a /proc/<pid>/stat
// line.
func schedOf(t *testing.T, stat string) (nice, policy int) {
	t.Helper()
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
			// Processes started elsewhere keep the bot's own priority.
			out, err := exec.Command("cat", "/proc/self/stat").Output()
			if err != nil {
				t.Fatal(err)
			}
			if nice, policy := schedOf(t, string(bytes.TrimSpace(out))); nice != base || policy != unix.SCHED_NORMAL {
				t.Errorf("a later child runs at niceness %d, policy %d; want the bot's %d, %d", nice, policy, base, unix.SCHED_NORMAL)
			}
		})
	}
}

func TestNicedKeepsTheVersion(t *testing.T) {
	if v := Niced(childNice{}, Priority{Nice: 10}).Version(); !v.Equals(semver.MustParse("3.0.0")) {
		t.Errorf("Version() = %v", v)
	}
}
