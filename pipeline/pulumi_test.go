package pipeline

import (
	"context"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/pulumitest"
)

// An update is one CLI run; a refresh reads the history entry it reports
// without decrypting secrets: each decrypting run derives the passphrase
// key again, a quarter of a second of CPU.
func TestUpdateAndRefreshRunTheCLISparingly(t *testing.T) {
	ctx := context.Background()
	env := pulumitest.New(t)
	cli := env.Record()
	st := env.Stack(ctx, t, "expbot", "github.o-r", func(ctx *pulumi.Context) error {
		ctx.Export("token", pulumi.ToSecret(pulumi.String("not shown")))
		return nil
	})
	cli.Runs()
	res, err := up(ctx, &st)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if res.summary["create"] != 1 {
		t.Errorf("summary = %v, want the stack itself created", res.summary)
	}
	if runs := cli.Runs(); len(runs) != 1 {
		t.Errorf("update: CLI runs %q, want one", runs)
	}
	if _, err := refresh(ctx, &st, nil); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	var history int
	for _, args := range cli.Runs() {
		if slices.Contains(args, "history") {
			history++
			if slices.Contains(args, "--show-secrets") {
				t.Errorf("history read with secrets: %q", args)
			}
		}
	}
	if history != 1 {
		t.Errorf("refresh read the history %d times, want once", history)
	}
}
