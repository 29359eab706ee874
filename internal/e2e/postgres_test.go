package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/demo"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

// expbot serve on PostgreSQL (store_url): a labeled issue becomes a branch
// with its status comment, the state and the Pulumi state are in the
// database (no SQLite file, no state files), an update works after an outage,
// and /readyz follows the database.
func TestServeOnPostgres(t *testing.T) {
	dbURL, name := pgtest.NewDatabase(t)
	h := newHarnessEnv(t, map[string]string{"EXPBOT_STORE_URL": dbURL, "EXPBOT_PULUMI_HISTORY_KEEP": "1"})
	repo := repoFor["github"]
	base := mainSHA(h, repo)
	issue := h.labelRequest(t, repo)
	h.waitComment(t, repo, issue, "is ready")
	branch := fmt.Sprintf("exp/%d-lr-high", issue)
	if b := h.branch(repo, branch); !b.exists || b.parent != base || !strings.Contains(b.file, "lr: 0.01") {
		t.Fatalf("branch %s = %+v, want one commit on main %s with the variant", branch, b, base)
	}

	ctx := context.Background()
	admin := pgtest.Admin(t)
	if _, err := os.Stat(filepath.Join(h.dataDir, "expbot.db")); !os.IsNotExist(err) {
		t.Errorf("a SQLite database was made in the data directory (%v)", err)
	}
	store := pgtest.Connect(t, dbURL)
	var status string
	if err := store.QueryRow(ctx, `SELECT status FROM experiments WHERE key = $1`, fmt.Sprintf("issue:%d", issue)).Scan(&status); err != nil || status != "applied" {
		t.Errorf("experiment in PostgreSQL: status %q, %v; want applied", status, err)
	}
	// The Pulumi state is in the same database (pulumi.backend_url unset),
	// so that replicas share it: no state files in the data directory.
	// The stack's checkpoint is there (keys start with the URL's path),
	// its secrets encrypted with the passphrase as on file://.
	var checkpoint []byte
	// Compressed with zstd, as expbot asks of the CLI.
	if err := store.QueryRow(ctx, `SELECT data FROM pulumi_state WHERE key LIKE '%/.pulumi/stacks/expbot/%.json.zst'`).Scan(&checkpoint); err != nil {
		t.Errorf("the stack's compressed checkpoint in PostgreSQL: %v", err)
	} else {
		// The CLI's bucket keeps each blob as JSON, its bytes in "data".
		var blob struct{ Data []byte }
		err := json.Unmarshal(checkpoint, &blob)
		if err == nil {
			blob.Data, err = unzstd(blob.Data)
		}
		if err != nil || !strings.Contains(string(blob.Data), `"type":"passphrase"`) {
			t.Errorf("the stack's checkpoint does not use the passphrase secrets provider (%v)", err)
		}
	}
	// Each update's state is kept once, in its history, not a second
	// time as a backup.
	var history, backups int
	if err := store.QueryRow(ctx, `SELECT count(*) FILTER (WHERE key LIKE '%/.pulumi/history/%.checkpoint.json.zst'),
			count(*) FILTER (WHERE key LIKE '%/.pulumi/backups/%') FROM pulumi_state`).Scan(&history, &backups); err != nil || history == 0 || backups != 0 {
		t.Errorf("the state's history has %d checkpoints and its backups %d (%v); want some and none", history, backups, err)
	}
	if _, err := os.Stat(filepath.Join(h.dataDir, "pulumi", "state")); !os.IsNotExist(err) {
		t.Errorf("Pulumi state files were made in the data directory (%v)", err)
	}
	_ = store.Close(ctx)

	readyz := func() int {
		resp, err := http.Get("http://" + h.addr + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "/readyz to fail without the database", func() bool { return readyz() == http.StatusServiceUnavailable })
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "/readyz to pass with the database back", func() bool { return readyz() == http.StatusOK })

	// Work goes on once the database is back.
	body := request("lr-high", "0.02")
	if _, err := h.forge.EditIssue(repo, issue, "alice", nil, &body); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "the variant file to change", func() bool { return strings.Contains(h.branch(repo, branch).file, "lr: 0.02") })

	// Two updates; the history keeps the newest (pulumi.history_keep).
	store = pgtest.Connect(t, dbURL)
	h.waitFor(t, "the state's history to hold one update", func() bool {
		var entries, blobs int
		err := store.QueryRow(ctx, `SELECT count(*) FILTER (WHERE key LIKE '%.history.json.zst'), count(*)
			FROM pulumi_state WHERE key LIKE '%/.pulumi/history/expbot/%'`).Scan(&entries, &blobs)
		return err == nil && entries == 1 && blobs == 2
	})
}

// A PostgreSQL that cannot be reached stops expbot at start with a clear
// message and a non-zero exit, without printing the password.
func TestServeRefusesUnreachablePostgres(t *testing.T) {
	h := newHarnessWith(t, demo.Seed, func(h *harness, _ string) {
		h.envSet = map[string]string{"EXPBOT_STORE_URL": "postgres://expbot:hunter2-secret-pw@127.0.0.1:1/expbot"}
	}, false)
	u, _ := forgeURLs.Load(h)
	cmd := exec.Command(h.bin, "serve")
	cmd.Env = h.env(u.(string))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("expbot started; output:\n%s", out.String())
		}
	case <-time.After(waitLimit):
		_ = cmd.Process.Kill()
		t.Fatalf("expbot did not stop; output:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "cannot reach the database at postgres://127.0.0.1:1/expbot") {
		t.Errorf("start-up output does not say the database cannot be reached:\n%s", out.String())
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("start-up output shows the password:\n%s", out.String())
	}
}
