package pulumicli

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Linux keeps a niceness and a scheduling policy per thread, and a child
// inherits its parent thread's.
const perThreadPriority = true

// lowerThreadPriority locks the calling goroutine to its thread and lowers
// that thread's priority to p. The caller must never unlock it.
func lowerThreadPriority(p Priority) error {
	runtime.LockOSThread()
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		return fmt.Errorf("read thread priority: %w", err)
	}
	// The bot's threads run with a short CPU slice (cpuslice), which lets
	// them preempt at once; the CLI would inherit it and preempt the bot
	// the same way, so it takes the kernel's default slice.
	attr.Size = unix.SizeofSchedAttr
	attr.Flags &= unix.SCHED_FLAG_RESET_ON_FORK
	attr.Runtime = 0
	if p.Nice > 0 {
		attr.Nice = int32(min(int(attr.Nice)+p.Nice, MaxNice))
	}
	if err := unix.SchedSetAttr(0, attr, 0); err != nil {
		return fmt.Errorf("lower thread priority for the pulumi CLI: %w", err)
	}
	if p.Idle {
		// Giving up priority needs no privilege; only taking it back would,
		// and this thread never does. (A separate call: the idle policy
		// ignores the niceness it is given and keeps the one set above.)
		if err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0); err != nil {
			return fmt.Errorf("set SCHED_IDLE for the pulumi CLI: %w", err)
		}
	}
	return nil
}
