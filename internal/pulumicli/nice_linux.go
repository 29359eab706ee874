package pulumicli

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/expbot/expbot/internal/cpuslice"
)

// Linux keeps a niceness and a scheduling policy per thread, and a child
// inherits its parent thread's.
const perThreadPriority = true

// lowerThreadPriority locks the calling goroutine to its thread and lowers
// that thread's priority to p. The caller must never unlock it.
func lowerThreadPriority(p Priority) error {
	runtime.LockOSThread()
	// The bot's threads run with a short CPU slice, which lets them preempt
	// at once; the CLI would inherit it and preempt the bot the same way.
	// Where the kernel refuses slices, the bot's could not be shortened
	// either: nothing to undo.
	_ = cpuslice.ResetThread()
	if p.Nice > 0 {
		tid := unix.Gettid()
		// The raw syscall answers 20 - niceness.
		raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
		if err != nil {
			return fmt.Errorf("read thread priority: %w", err)
		}
		if err := unix.Setpriority(unix.PRIO_PROCESS, tid, min(20-raw+p.Nice, MaxNice)); err != nil {
			return fmt.Errorf("lower thread priority for the pulumi CLI: %w", err)
		}
	}
	if p.Idle {
		// Giving up priority needs no privilege; only taking it back would,
		// and this thread never does. The idle policy keeps the niceness
		// set above.
		if err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0); err != nil {
			return fmt.Errorf("set SCHED_IDLE for the pulumi CLI: %w", err)
		}
	}
	return nil
}
