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

// childNice is a PulumiCommand whose "CLI" reports its own niceness.
type childNice struct{}

func (childNice) Version() semver.Version { return semver.MustParse("3.0.0") }

func (childNice) Run(ctx context.Context, _ string, _ io.Reader, _, _ []io.Writer, _ []string, _ ...string) (string, string, int, error) {
	out, err := exec.CommandContext(ctx, "cat", "/proc/self/stat").Output()
	if err != nil {
		return "", "", -1, err
	}
	return string(out), "", 0, nil
}

// niceOf reads the niceness field of a /proc/<pid>/stat line.
func niceOf(t *testing.T, stat string) int {
	t.Helper()
	// "pid (comm) state ..." with niceness the 19th field; comm may hold spaces.
	i := strings.LastIndexByte(stat, ')')
	f := strings.Fields(stat[i+1:])
	if i < 0 || len(f) < 17 {
		t.Fatalf("unexpected stat line %q", stat)
	}
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNicedLowersOnlyTheCLI(t *testing.T) {
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	base := 20 - raw
	tests := []struct {
		name string
		nice int
		want int
	}{
		{"off", 0, base},
		{"negative means off", -5, base},
		{"lowered", 7, min(base+7, MaxNice)},
		{"capped", 40, MaxNice},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stat, _, _, err := Niced(childNice{}, tt.nice).Run(context.Background(), "", nil, nil, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := niceOf(t, stat); got != tt.want {
				t.Errorf("CLI runs at niceness %d, want %d", got, tt.want)
			}
			// Processes started elsewhere keep the bot's own priority.
			out, err := exec.Command("cat", "/proc/self/stat").Output()
			if err != nil {
				t.Fatal(err)
			}
			if got := niceOf(t, string(bytes.TrimSpace(out))); got != base {
				t.Errorf("a later child runs at niceness %d, want the bot's %d", got, base)
			}
		})
	}
}

func TestNicedKeepsTheVersion(t *testing.T) {
	if v := Niced(childNice{}, 10).Version(); !v.Equals(semver.MustParse("3.0.0")) {
		t.Errorf("Version() = %v", v)
	}
}
