package pulumicli

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// Linux keeps a niceness per thread, and a child inherits its parent
// thread's.
const perThreadPriority = true

// lowerThreadPriority locks the calling goroutine to its thread and raises
// that thread's niceness by n, capped at MaxNice. The caller must never
// unlock it.
func lowerThreadPriority(n int) error {
	runtime.LockOSThread()
	tid := unix.Gettid()
	// The raw syscall answers 20 - niceness.
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return fmt.Errorf("read thread priority: %w", err)
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, min(20-raw+n, MaxNice)); err != nil {
		return fmt.Errorf("lower thread priority for the pulumi CLI: %w", err)
	}
	return nil
}
