package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// A sweep's experiments share one comment, so changing all of them asks
// for one report, not one each (each would edit the same comment); other
// experiments changed with them get their own.
func TestApplyAndQueueAsksOneReportPerComment(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	var changes []store.Change
	for _, sha := range []string{"aaa", "bbb"} { // the tag on one commit, then another
		for i := range 5 {
			c := seedChange(repo.Path, fmt.Sprintf("tag:sweep-%s:%d", sha, i), store.Active)
			c.Thread = event.Thread{Kind: event.CommitThread, SHA: sha}
			changes = append(changes, c)
		}
	}
	changes = append(changes, seedChange(repo.Path, "issue:1", store.Active), seedChange(repo.Path, "issue:2", store.Active))
	if err := db.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		return applyAndQueue(ctx, tx, repo, changes)
	}); err != nil {
		t.Fatal(err)
	}
	reports, reconciles := 0, 0
	for _, j := range db.jobs(t) {
		switch {
		case strings.HasPrefix(j, "report "):
			reports++
		case strings.HasPrefix(j, "reconcile "):
			reconciles++
		}
	}
	if reports != 4 || reconciles != 1 {
		t.Errorf("jobs %v: %d reports and %d reconciles, want 4 (two sweeps' comments, two issues') and 1", db.jobs(t), reports, reconciles)
	}
}
