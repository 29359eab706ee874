package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline"
	"github.com/expbot/expbot/pipeline/store"
)

// readPlain reads a file of the data directory as a person looking for
// secrets would see it: the Pulumi CLI's checkpoints (*.zst, expbot asks
// for zstd) decompressed, so that a secret in them is not hidden by the
// compression.
func readPlain(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".zst") {
		return b, err
	}
	return unzstd(b)
}

func unzstd(b []byte) ([]byte, error) {
	d, err := zstd.NewReader(nil)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.DecodeAll(b, nil)
}

// On file:// state (SQLite), each stack's history keeps the newest
// pulumi.history_keep updates: after two, one entry (its summary and its
// copy of the state, each with the file backend's sidecar).
func TestStateHistoryKeepsTheNewest(t *testing.T) {
	h := newHarnessEnv(t, map[string]string{"EXPBOT_PULUMI_HISTORY_KEEP": "1"})
	repo := repoFor["github"]
	issue := h.labelRequest(t, repo)
	h.waitComment(t, repo, issue, "is ready")
	dir := filepath.Join(h.dataDir, "pulumi", "state", ".pulumi", "history", "expbot",
		pipeline.StackName(store.RepoKey{Forge: event.GitHub, Path: repo}))
	history := func() (entries, files int) {
		names, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, n := range names {
			if strings.HasSuffix(n, ".history.json.zst") {
				entries++
			}
		}
		return entries, len(names)
	}
	if n, _ := history(); n != 1 {
		t.Fatalf("after the first update the history has %d entries in %s, want 1", n, dir)
	}
	body := request("lr-high", "0.02")
	if _, err := h.forge.EditIssue(repo, issue, "alice", nil, &body); err != nil {
		t.Fatal(err)
	}
	branch := fmt.Sprintf("exp/%d-lr-high", issue)
	h.waitFor(t, "the variant file to change", func() bool { return strings.Contains(h.branch(repo, branch).file, "lr: 0.02") })
	h.waitFor(t, "the state's history to hold one update", func() bool {
		entries, files := history()
		return entries == 1 && files == 4
	})
}
