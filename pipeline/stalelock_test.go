package pipeline

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
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
	// The file backend keeps each blob's attributes beside it.
	if err := os.WriteFile(p+attrsSuffix, []byte(`{"user.cache_control":""}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeOrphanAttrs writes a sidecar whose lock is gone, aged by age.
func writeOrphanAttrs(t *testing.T, root, stack, name string, age time.Duration) string {
	t.Helper()
	p := filepath.Join(root, ".pulumi", "locks", "organization", "expbot", stack, name+".json"+attrsSuffix)
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-age)
	if err := os.Chtimes(p, then, then); err != nil {
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
	oldOrphan := writeOrphanAttrs(t, root, "s1", "e", 2*orphanAge)
	newOrphan := writeOrphanAttrs(t, root, "s1", "f", 0) // its lock may be being written

	n, err := removeStaleLocks("file://"+root, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("removed %d locks, want 1", n)
	}
	for path, want := range map[string]bool{
		stale: false, stale + attrsSuffix: false,
		live: true, live + attrsSuffix: true,
		remote: true, remote + attrsSuffix: true,
		otherStack: true, otherStack + attrsSuffix: true,
		oldOrphan: false, newOrphan: true,
	} {
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
