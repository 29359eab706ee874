package pipeline

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/pulumitest"
)

// recordingCLI runs the real CLI and keeps the arguments of every run.
type recordingCLI struct {
	auto.PulumiCommand
	mu   sync.Mutex
	runs [][]string
}

func (c *recordingCLI) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	c.mu.Lock()
	c.runs = append(c.runs, slices.Clone(args))
	c.mu.Unlock()
	return c.PulumiCommand.Run(ctx, workdir, stdin, out, errOut, env, args...)
}

// The runs the SDK makes after an update read what up needs (the summary
// from the last history entry) without decrypting secrets: each decrypting
// run derives the passphrase key again, a quarter of a second of CPU.
func TestUpReadsItsHistoryWithoutSecrets(t *testing.T) {
	ctx := context.Background()
	env := pulumitest.New(t)
	cli := &recordingCLI{PulumiCommand: env.CLI.Command}
	env.CLI.Command = cli
	st := env.Stack(ctx, t, "expbot", "github.o-r", func(ctx *pulumi.Context) error {
		ctx.Export("token", pulumi.ToSecret(pulumi.String("not shown")))
		return nil
	})
	res, err := up(ctx, &st)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	if res.summary["create"] != 1 {
		t.Errorf("summary = %v, want the stack itself created", res.summary)
	}
	var history int
	for _, args := range cli.runs {
		if slices.Contains(args, "history") {
			history++
			if slices.Contains(args, "--show-secrets") {
				t.Errorf("history read with secrets: %q", args)
			}
		}
	}
	if history == 0 {
		t.Errorf("no history run among %q", cli.runs)
	}
}
