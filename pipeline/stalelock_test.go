package pipeline

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func writeLock(t *testing.T, root, stack, name string, owner lockOwner) string {
	t.Helper()
	dir := filepath.Join(root, ".pulumi", "locks", "organization", "expbot", stack)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(owner)
	p := filepath.Join(dir, name+".json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestRemoveStaleLocks(t *testing.T) {
	host, _ := os.Hostname()
	root := t.TempDir()
	stale := writeLock(t, root, "s1", "a", lockOwner{Pid: deadPID(t), Hostname: host})
	live := writeLock(t, root, "s1", "b", lockOwner{Pid: os.Getpid(), Hostname: host})
	remote := writeLock(t, root, "s1", "c", lockOwner{Pid: deadPID(t), Hostname: host + "-elsewhere"})
	otherStack := writeLock(t, root, "s2", "d", lockOwner{Pid: deadPID(t), Hostname: host})

	n, err := removeStaleLocks("file://"+root, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("removed %d locks, want 1", n)
	}
	for path, want := range map[string]bool{stale: false, live: true, remote: true, otherStack: true} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(path), err == nil, want)
		}
	}
	if n, err := removeStaleLocks("postgres://x/y", "s1"); n != 0 || err != nil {
		t.Errorf("non-file backend: %d, %v", n, err)
	}
	if n, err := removeStaleLocks("file://"+filepath.Join(root, "missing"), "s1"); n != 0 || err != nil {
		t.Errorf("no locks dir: %d, %v", n, err)
	}
}
