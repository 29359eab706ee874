package e2e

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

// On PostgreSQL, a replica killed in the middle of an update leaves the
// stack's lock in pulumi_state. Whose it is, is decided by the lease of the
// process that recorded its Pulumi runs on the stack, not by a PID: while
// that lease lives (here kept alive by hand, as a replica that is only slow
// would keep it), the next process leaves the lock alone and its updates
// fail; once the lease runs out, the lock is removed, the
// branch the killed update had asked for is adopted, and the request is
// served once.
func TestStaleLockOnPostgresFollowsTheLease(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := pgtest.NewDatabase(t)
	h := newHarnessEnv(t, map[string]string{"EXPBOT_STORE_URL": dbURL})
	db := pgtest.Connect(t, dbURL)
	locks := func() []string {
		t.Helper()
		rows, err := db.Query(ctx, `SELECT key FROM pulumi_state WHERE key LIKE '%/.pulumi/locks/%' ORDER BY key`)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		return keys
	}

	repo := repoFor["github"]
	g := h.holdRequests(t, branchCreates)
	first := h.labeledIssues(t, repo, "lease", 1)
	select {
	case <-g.arrived:
	case <-time.After(waitLimit):
		t.Fatal("the bot never asked for the branch")
	}
	held := locks()
	if len(held) == 0 {
		t.Fatal("no lock in pulumi_state while the update runs: nothing to check")
	}
	var dead string
	if err := db.QueryRow(ctx, `SELECT id FROM queue_processes`).Scan(&dead); err != nil {
		t.Fatalf("the process's lease: %v", err)
	}
	h.crash()
	h.open(g) // the request had left: the forge makes the branch
	// The killed process's lease, kept alive: as far as anyone can tell,
	// it is a live replica's update.
	if _, err := db.Exec(ctx, `UPDATE queue_processes SET lease_until = now() + interval '1 hour' WHERE id = $1`, dead); err != nil {
		t.Fatal(err)
	}
	h.restart()
	// The repository's reconcile is the killed process's job, which the
	// queue leaves to it while its lease lives; a drift check of the
	// repository is another job, which this process runs.
	h.sync(t, "github", repo)
	h.waitFor(t, "the new process to look at the lock", func() bool {
		b, _ := os.ReadFile(h.log.Name())
		return strings.Contains(string(b), "holds a live lease")
	})
	if now := locks(); !slices.Equal(now, held) {
		t.Fatalf("locks %q while their owner's lease lives, want %q left alone", now, held)
	}

	// The lease runs out: the lock goes and both requests are served.
	if _, err := db.Exec(ctx, `UPDATE queue_processes SET lease_until = now() WHERE id = $1`, dead); err != nil {
		t.Fatal(err)
	}
	h.requireReady(t, repo, "lease", first)
	h.waitFor(t, "no lock left in pulumi_state", func() bool { return len(locks()) == 0 })
	if b, _ := os.ReadFile(h.log.Name()); !strings.Contains(string(b), "removed a stack lock left by an update that was cut short") {
		t.Error("the log does not say the lock was removed")
	}
}
