package pulumicli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeBotEnv makes the test binary a "bot" that runs the CLI at the given
// path through Supervised and waits (TestSupervisedDiesWithTheBot).
const fakeBotEnv = "EXPBOT_TEST_FAKE_BOT_CLI"

func TestMain(m *testing.M) {
	GuardMain()
	if cli := os.Getenv(fakeBotEnv); cli != "" {
		_, _, _, err := Supervised(CLI{Path: cli}, Priority{}, Owner{DataDir: "/nonexistent", Pid: os.Getpid()}).
			Run(context.Background(), "", nil, nil, nil, nil)
		if err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// scriptCLI writes a "Pulumi CLI" that prints its arguments and owner, starts
// a "plugin" in a session of its own (as the real CLI starts plugins in
// their own process groups), writes the plugin's pid to $PLUGIN_PID and
// then runs body. head runs first.
func scriptCLI(t *testing.T, head, body string) (cli, pidFile string) {
	t.Helper()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Fatal("these tests need setsid (util-linux)")
	}
	dir := t.TempDir()
	cli, pidFile = filepath.Join(dir, "pulumi"), filepath.Join(dir, "plugin.pid")
	script := "#!/bin/sh\n" + head + "echo \"args: $*\"\necho \"owner: $" + OwnerEnv + "\"\n" +
		"setsid sleep 300 &\necho $! > \"$PLUGIN_PID.tmp\" && mv \"$PLUGIN_PID.tmp\" \"$PLUGIN_PID\"\n" + body
	if err := os.WriteFile(cli, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return cli, pidFile
}

// waitPid waits for the pid file and reads it.
func waitPid(t *testing.T, file string) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no pid in %s", file)
	return 0
}

// running tells whether pid runs (a zombie does not).
func running(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z' && st.state != 'X'
}

// waitGone waits until pid no longer runs; the kill is asynchronous.
func waitGone(t *testing.T, what string, pid int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); running(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("%s (pid %d) still runs", what, pid)
		}
	}
}

func TestSupervisedKillsWhatTheCLILeaves(t *testing.T) {
	cli, pidFile := scriptCLI(t, "", "exit 4\n")
	owner := Owner{DataDir: "/some/data", Pid: 42, Start: 7}
	stdout, _, code, err := Supervised(CLI{Path: cli}, Priority{}, owner).
		Run(context.Background(), t.TempDir(), nil, nil, nil, []string{"PLUGIN_PID=" + pidFile}, "up", "--yes")
	if err == nil || code != 4 {
		t.Errorf("exit code %d, err %v; want 4 and an error", code, err)
	}
	for _, want := range []string{"args: --non-interactive up --yes", "owner: " + owner.String()} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout %q lacks %q", stdout, want)
		}
	}
	waitGone(t, "the plugin the CLI left behind", waitPid(t, pidFile))
}

func TestSupervisedInterruptsOnCancel(t *testing.T) {
	cli, pidFile := scriptCLI(t, "trap 'echo interrupted; exit 3' INT\n", "while :; do sleep 0.05; done\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		waitPid(t, pidFile)
		cancel()
	}()
	stdout, _, code, err := Supervised(CLI{Path: cli}, Priority{Nice: 1}, Owner{}).
		Run(ctx, "", nil, nil, nil, []string{"PLUGIN_PID=" + pidFile})
	if code != 3 || err == nil || !strings.Contains(stdout, "interrupted") {
		t.Errorf("code %d, err %v, stdout %q: want the CLI to end on SIGINT with its own code 3", code, err, stdout)
	}
	waitGone(t, "the plugin", waitPid(t, pidFile))
}

// A bot killed with SIGKILL takes the CLI and its plugins with it.
func TestSupervisedDiesWithTheBot(t *testing.T) {
	cli, pidFile := scriptCLI(t, "", "while :; do sleep 0.05; done\n")
	bot := exec.Command(os.Args[0], "-test.run=^$")
	bot.Env = append(os.Environ(), fakeBotEnv+"="+cli, "PLUGIN_PID="+pidFile)
	if err := bot.Start(); err != nil {
		t.Fatal(err)
	}
	plugin := waitPid(t, pidFile)
	below := descendants(bot.Process.Pid)
	if len(below) < 2 {
		t.Fatalf("processes below the bot: %v, want at least the guard and the CLI", below)
	}
	if err := bot.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = bot.Wait()
	waitGone(t, "the plugin", plugin)
	for _, p := range below {
		waitGone(t, "a process the bot started", p)
	}
}

func TestSweepLeftovers(t *testing.T) {
	self, err := SelfOwner(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	earlier := Owner{DataDir: self.DataDir, Pid: self.Pid, Start: self.Start - 1} // same pid, another process
	start := func(env ...string) *exec.Cmd {
		cmd := exec.Command("sleep", "300")
		cmd.Env = append(os.Environ(), env...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	leftover := start(OwnerEnv + "=" + earlier.String())
	mine := start(OwnerEnv + "=" + self.String())
	otherDir := start(OwnerEnv + "=" + Owner{DataDir: self.DataDir + "-other", Pid: 1, Start: 1}.String())
	unmarked := start()

	n, err := SweepLeftovers(self)
	if err != nil || n != 1 {
		t.Errorf("SweepLeftovers = %d, %v; want 1, nil", n, err)
	}
	if err := leftover.Wait(); err == nil {
		t.Error("the leftover of an earlier bot was not killed")
	}
	for name, cmd := range map[string]*exec.Cmd{"this bot's": mine, "another data dir's": otherDir, "an unmarked": unmarked} {
		if !running(cmd.Process.Pid) {
			t.Errorf("%s process was killed", name)
		}
	}
}

func TestParseOwner(t *testing.T) {
	o := Owner{DataDir: "/var/lib/expbot:x", Pid: 12, Start: 345}
	if got, ok := parseOwner(o.String()); !ok || got != o {
		t.Errorf("parseOwner(%q) = %+v, %v", o.String(), got, ok)
	}
	for _, bad := range []string{"", "12", "12:345", "x:1:/d", "1:y:/d", "1:2:"} {
		if _, ok := parseOwner(bad); ok {
			t.Errorf("parseOwner(%q) accepted", bad)
		}
	}
}
