package pipeline

import (
	"os/exec"
	"testing"
	"time"
)

// A lock holder killed with the bot may linger as a zombie until init
// reaps it: it is gone all the same.
func TestProcessAliveTreatsZombiesAsGone(t *testing.T) {
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	if !processAlive(live.Process.Pid) {
		t.Error("a running process counts as gone")
	}
	_ = live.Process.Kill()
	// Not reaped yet: a zombie until Wait.
	deadline := time.Now().Add(30 * time.Second)
	for processAlive(live.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("a killed, unreaped process still counts as running")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = live.Wait()
	if processAlive(live.Process.Pid) {
		t.Error("a reaped process counts as running")
	}
}
