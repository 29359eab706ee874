package pulumicli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"golang.org/x/sys/unix"
)

// Supervised returns a command that runs cli at priority p under a guard
// (see supervise.go), its processes marked as owner's.
func Supervised(cli CLI, p Priority, owner Owner) auto.PulumiCommand {
	return supervised{cli: cli, priority: p, owner: owner}
}

type supervised struct {
	cli      CLI
	priority Priority
	owner    Owner
}

func (c supervised) Version() semver.Version { return c.cli.Version }

// unknownExitCode is what the Automation API reports when the CLI did not
// tell (it failed to start).
const unknownExitCode = -2

func (c supervised) Run(ctx context.Context, workdir string, stdin io.Reader,
	additionalOutput, additionalErrorOutput []io.Writer, additionalEnv []string, args ...string,
) (string, string, int, error) {
	type result struct {
		stdout, stderr string
		code           int
		err            error
	}
	done := make(chan result, 1)
	go func() {
		// The guard's parent-death signal fires when the thread that
		// started it ends, not the process: this goroutine keeps its thread
		// until the guard has exited, and ends without unlocking it, so the
		// thread (and any lowered priority) dies with it.
		if err := lowerThreadPriority(c.priority); err != nil {
			done <- result{code: unknownExitCode, err: err}
			return
		}
		var stdout, stderr bytes.Buffer
		bin := c.cli.bin()
		cmd := &exec.Cmd{
			Path:   "/proc/self/exe", // this very binary, even if replaced on disk meanwhile
			Args:   append([]string{os.Args[0], GuardArg, bin}, nonInteractive(args)...),
			Dir:    workdir,
			Env:    withPathFirst(slices.Concat(os.Environ(), additionalEnv, []string{"PULUMI_AUTOMATION_API=true", OwnerEnv + "=" + c.owner.String()}), filepath.Dir(bin)),
			Stdin:  stdin,
			Stdout: io.MultiWriter(slices.Concat(additionalOutput, []io.Writer{&stdout})...),
			Stderr: io.MultiWriter(slices.Concat(additionalErrorOutput, []io.Writer{&stderr})...),
			// Its own group, so that signals meant for the bot's group
			// (a terminal's ^C) reach the CLI only through the guard.
			SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM},
			WaitDelay:   5 * time.Second,
		}
		if err := cmd.Start(); err != nil {
			done <- result{code: unknownExitCode, err: fmt.Errorf("start pulumi: %w", err)}
			return
		}
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		var err error
		select {
		case err = <-waited:
		case <-ctx.Done():
			// The guard passes SIGINT on: the CLI ends the update and
			// releases the stack. If it takes too long, SIGTERM makes the
			// guard kill the CLI and its plugins.
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case err = <-waited:
			case <-time.After(InterruptGrace):
				_ = cmd.Process.Signal(syscall.SIGTERM)
				err = <-waited
			}
		}
		code := unknownExitCode
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err == nil {
			code = 0
		}
		done <- result{stdout.String(), stderr.String(), code, err}
	}()
	r := <-done
	return r.stdout, r.stderr, r.code, r.err
}

// GuardMain makes this process a guard and exits when it was started as
// one (by Supervised); otherwise it returns at once. Call it first thing in
// main, and in TestMain of tests that run Supervised.
func GuardMain() {
	if len(os.Args) < 3 || os.Args[1] != GuardArg {
		return
	}
	os.Exit(guard(os.Args[2], os.Args[3:]))
}

// guard runs the CLI at path and returns its exit code, or 128+signal when
// the guard was told to stop (SIGTERM: the bot died or gave up waiting).
// SIGINT is passed on to the CLI. Whatever still runs below the guard when
// it returns is killed.
func guard(path string, args []string) int {
	// Orphans below the guard (a plugin whose CLI died) become its
	// children rather than init's, so it can find and reap them.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "expbot: pulumi guard: %v\n", err)
		return 125
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	proc, err := os.StartProcess(path, append([]string{path}, args...), &os.ProcAttr{
		Env:   os.Environ(),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "expbot: pulumi guard: %v\n", err)
		return 127
	}
	exited, reaped := make(chan int, 1), make(chan struct{})
	go reap(proc.Pid, exited, reaped)
	code := 0
	for stop := false; !stop; {
		select {
		case code = <-exited:
			stop = true
		case s := <-sigs:
			if s == syscall.SIGINT {
				_ = proc.Signal(syscall.SIGINT)
				continue
			}
			code, stop = 128+int(s.(syscall.Signal)), true
		}
	}
	killBelow(os.Getpid(), reaped)
	return code
}

// reap waits for every child of the guard, reports the CLI's exit code on
// exited, and closes reaped when no child is left.
func reap(cli int, exited chan<- int, reaped chan<- struct{}) {
	defer close(reaped)
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return // ECHILD: nothing left
		}
		if pid == cli {
			code := ws.ExitStatus()
			if ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
			exited <- code
		}
	}
}

// killBelow kills every process below pid until reaped closes (all of
// them are gone), or for at most a few seconds.
func killBelow(pid int, reaped <-chan struct{}) {
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		for _, p := range descendants(pid) {
			_ = unix.Kill(p, unix.SIGKILL)
		}
		select {
		case <-reaped:
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// procStat is what /proc/<pid>/stat says of a process.
type procStat struct {
	ppid  int
	state byte
	start uint64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// "pid (comm) state ppid ... starttime(22nd) ...": comm may hold
	// spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	var st procStat
	st.state = f[0][0]
	if st.ppid, err = strconv.Atoi(f[1]); err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	if st.start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

func startTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, fmt.Errorf("start time of process %d: %w", pid, err)
	}
	return st.start, nil
}

// pids lists the processes in /proc.
func pids() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if p, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	for _, p := range pids() {
		if st, err := readStat(p); err == nil {
			children[st.ppid] = append(children[st.ppid], p)
		}
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		out = append(out, children[queue[0]]...)
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// SweepLeftovers kills the processes that an earlier bot serving self's
// data directory left running: those whose environment names that data
// directory in OwnerEnv and another bot process than self. The caller must
// hold the data directory (one bot per directory), so such an owner is
// gone. It returns how many processes it killed.
func SweepLeftovers(self Owner) (int, error) {
	killed := map[int]bool{}
	for round := 0; round < 10; round++ {
		found := 0
		for _, p := range pids() {
			if p == os.Getpid() {
				continue
			}
			env, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/environ")
			if err != nil {
				continue // gone, or not ours to read
			}
			o, ok := ownerIn(env)
			if !ok || o.DataDir != self.DataDir || (o.Pid == self.Pid && o.Start == self.Start) {
				continue
			}
			if st, err := readStat(p); err != nil || st.state == 'Z' {
				continue // gone, or only waiting to be reaped
			}
			if err := unix.Kill(p, unix.SIGKILL); err == nil {
				killed[p] = true
				found++
			}
		}
		if found == 0 {
			return len(killed), nil
		}
		time.Sleep(50 * time.Millisecond) // a guard killed first may have had a child starting
	}
	return len(killed), fmt.Errorf("processes of an earlier expbot on %s keep running after SIGKILL", self.DataDir)
}

// ownerIn finds OwnerEnv in a NUL-separated environment.
func ownerIn(environ []byte) (Owner, bool) {
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte(OwnerEnv+"=")); ok {
			return parseOwner(string(v))
		}
	}
	return Owner{}, false
}
