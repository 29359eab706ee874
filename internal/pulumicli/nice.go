package pulumicli

import (
	"context"
	"io"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// MaxNice is the largest niceness Linux allows.
const MaxNice = 19

// Priority is how the CLI, and so the provider plugins it starts, yield the
// CPU to the bot. A Pulumi update is CPU-heavy background work; webhooks
// must still be acknowledged in milliseconds while it runs.
type Priority struct {
	// Nice lowers the CPU priority by this many steps (capped at MaxNice):
	// the CLI still gets a share when the machine is saturated.
	Nice int
	// Idle runs the CLI only on CPU time nothing else wants (Linux
	// SCHED_IDLE): a waking bot thread takes the CPU at once, but on a
	// machine kept busy by other programs an update may nearly stall.
	Idle bool
}

// Niced returns cmd running the CLI at priority p, with the kernel's
// default CPU slice even at the zero Priority. A system where priorities
// cannot be set per thread leaves cmd as it is.
func Niced(cmd auto.PulumiCommand, p Priority) auto.PulumiCommand {
	if !perThreadPriority {
		return cmd
	}
	return nicedCommand{inner: cmd, priority: p}
}

type nicedCommand struct {
	inner    auto.PulumiCommand
	priority Priority
}

func (c nicedCommand) Version() semver.Version { return c.inner.Version() }

func (c nicedCommand) Run(ctx context.Context, workdir string, stdin io.Reader,
	additionalOutput, additionalErrorOutput []io.Writer, additionalEnv []string, args ...string,
) (string, string, int, error) {
	type result struct {
		stdout, stderr string
		code           int
		err            error
	}
	done := make(chan result, 1)
	go func() {
		// The CLI inherits the priority of the thread that starts it. This
		// goroutine keeps its thread to itself and ends without unlocking
		// it, so the lowered priority dies with the thread and never
		// reaches other goroutines.
		if err := lowerThreadPriority(c.priority); err != nil {
			done <- result{code: -1, err: err}
			return
		}
		stdout, stderr, code, err := c.inner.Run(ctx, workdir, stdin, additionalOutput, additionalErrorOutput, additionalEnv, args...)
		done <- result{stdout, stderr, code, err}
	}()
	r := <-done
	return r.stdout, r.stderr, r.code, r.err
}
