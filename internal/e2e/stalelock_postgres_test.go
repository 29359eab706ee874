package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline"
	"github.com/expbot/expbot/pipeline/store"
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

// Making a stack takes its lock, and a creation cut short (the state's
// database went away under the CLI) leaves the lock and no stack. The
// lock is another live replica's: while that replica's record says its
// runs on the stack go on, the lock is left alone and the request waits;
// once the record says they ended (the replica could record it when the
// database came back), the lock is removed and the request served. Before,
// every try failed "currently locked" until the job was given up.
func TestLockLeftByACreationCutShort(t *testing.T) {
	ctx := context.Background()
	dbURL, dbName := pgtest.NewDatabase(t)
	h := newHarnessEnv(t, map[string]string{"EXPBOT_STORE_URL": dbURL})
	db := pgtest.Connect(t, dbURL)
	repo := repoFor["github"]
	stack := pipeline.StackName(store.RepoKey{Forge: event.GitHub, Path: repo})
	host, _ := os.Hostname()
	at := time.Now().Add(-time.Minute).UTC()
	owner, _ := json.Marshal(map[string]any{"pid": 1 << 22, "username": "expbot", "hostname": host, "timestamp": at.Add(10 * time.Second)})
	blob, _ := json.Marshal(map[string]string{"data": base64.StdEncoding.EncodeToString(owner)})
	lock := dbName + "/.pulumi/locks/organization/expbot/" + stack + "/cut-short.json"
	for _, q := range []struct {
		sql  string
		args []any
	}{
		// The table as the CLI's postgres backend makes it.
		{`CREATE TABLE IF NOT EXISTS pulumi_state (key TEXT PRIMARY KEY, data JSON NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`, nil},
		{`INSERT INTO pulumi_state (key, data) VALUES ($1, $2)`, []any{lock, string(blob)}},
		{`INSERT INTO queue_processes (id, lease_until) VALUES ('expbot-other', now() + interval '1 hour')`, nil},
		{`INSERT INTO pulumi_runs (stack, process, host, started_at) VALUES ($1, 'expbot-other', $2, $3)`, []any{stack, host, at}},
	} {
		if _, err := db.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	lockLeft := func() bool {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM pulumi_state WHERE key = $1`, lock).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}

	first := h.labeledIssues(t, repo, "cut", 1)
	h.waitFor(t, "the bot to find the lock of a live run", func() bool {
		b, _ := os.ReadFile(h.log.Name())
		return strings.Contains(string(b), "holds a live lease")
	})
	if !lockLeft() {
		t.Fatal("the lock of a replica whose runs on the stack go on was removed")
	}
	if _, err := db.Exec(ctx, `UPDATE pulumi_runs SET ended_at = now() WHERE process = 'expbot-other'`); err != nil {
		t.Fatal(err)
	}
	h.requireReady(t, repo, "cut", first)
	if lockLeft() {
		t.Error("the lock is still there")
	}
	if b, _ := os.ReadFile(h.log.Name()); !strings.Contains(string(b), "removed a stack lock left by an update that was cut short") {
		t.Error("the log does not say the lock was removed")
	}
}
