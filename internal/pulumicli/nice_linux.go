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
	tid := unix.Gettid()
	if p.Nice > 0 {
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
		// and this thread never does.
		if err := unix.SchedSetAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0); err != nil {
			return fmt.Errorf("set SCHED_IDLE for the pulumi CLI: %w", err)
		}
	}
	return nil
}
