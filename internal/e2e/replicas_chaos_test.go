package e2e

import (
	"syscall"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/forgesim"
)

// Three replicas on PostgreSQL, 50 repositories, over 1,000 requests sent
// at a fixed rate; one replica is SIGKILLed and restarted, another
// SIGTERMed and left down (its work is handed back and the others must
// finish it). Afterwards every experiment matches its latest request
// exactly once, every delivery was accepted, no comment ever carried an
// internal error, and no Pulumi process is left.
func TestChaosThreeReplicas(t *testing.T) {
	w, seed := newWorkload(13, 50, 3, 10)
	// A cluster of its own: three replicas, their Pulumi runs and their
	// locks take connections that the shared server's other tests need.
	pg := newPGCluster(t)
	rs := newReplicas(t, 3, replicaConfig{
		StoreURL: pg.createDB(t, "expbot"),
		Seed:     seed,
		Forge:    []forgesim.Option{chaosRetry},
		// A short grace, so that SIGTERM interrupts an update and hands
		// it back rather than waiting for it.
		Env: map[string]string{"EXPBOT_SHUTDOWN_GRACE": "2s"},
	})
	if n := len(w.actions); n < 900 {
		t.Fatalf("the workload has %d actions; it must cause at least 1,000 deliveries", n)
	}
	const rate = 30 // actions per second
	end := budget(t, 8*time.Minute)
	start := time.Now()
	sent := w.runOpenLoop(rs.forge, time.Second/rate)
	runFor := time.Duration(len(w.actions)) * time.Second / rate
	t.Logf("%d actions over %s", len(w.actions), runFor)

	// SIGKILL replica 1 a third of the way in, in the middle of an update
	// if it runs one within a few seconds; restart it two seconds later.
	killed, termed := rs.replicas[1], rs.replicas[2]
	time.Sleep(time.Until(start.Add(runFor / 3)))
	midUpdate := false
	for wait := time.Now().Add(5 * time.Second); time.Now().Before(wait) && !midUpdate; time.Sleep(50 * time.Millisecond) {
		midUpdate = runsPulumi(killed.snapshot(t))
	}
	if err := killed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = killed.cmd.Wait()
	killed.cmd = nil
	t.Logf("replica 1 SIGKILLed (in the middle of an update: %v)", midUpdate)
	time.Sleep(2 * time.Second)
	killed.restart()

	// SIGTERM replica 2 two thirds of the way in; it must exit cleanly.
	time.Sleep(time.Until(start.Add(2 * runFor / 3)))
	if err := termed.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := termed.waitExit(t); err != nil {
		t.Errorf("replica 2 exited with %v after SIGTERM", err)
	}
	t.Log("replica 2 SIGTERMed; left down")

	for _, err := range <-sent {
		t.Errorf("forge action failed (a bug of the test): %v", err)
	}
	w.converge(t, rs, end)
	t.Logf("converged %s after the start, %s after the last request", time.Since(start).Round(time.Second), time.Since(start.Add(runFor)).Round(time.Second))

	lost, ids, failed := lostDeliveries(rs.sim)
	if ids < 1000 {
		t.Errorf("%d deliveries, want at least 1,000", ids)
	}
	t.Logf("%d deliveries, %d failed attempts sent again, none lost (%d); front: %v", ids, failed, len(lost), rs.front.answers())
	if failed == 0 {
		t.Error("no delivery failed: the kills went unnoticed, and the retries were not exercised")
	}
	// A little later, nothing has changed: no late second comment.
	time.Sleep(3 * time.Second)
	for _, p := range w.problems(rs) {
		t.Errorf("after convergence: %s", p)
	}
	for _, e := range commentErrors(rs) {
		t.Errorf("a comment carried an internal error: %s", e)
	}
	for _, p := range pulumiLeft(rs) {
		t.Errorf("Pulumi process left once all was done: %s", p)
	}
	if !alive(rs.replicas[0]) || !alive(killed) {
		t.Error("a replica that was not stopped exited by itself")
	}
	rs.stopAll()
	for _, p := range pulumiLeft(rs) {
		t.Errorf("Pulumi process left after the replicas stopped: %s", p)
	}
}
