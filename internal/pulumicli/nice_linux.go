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
func lowerThreadPriority(p Priority) error { return lowerThread(p, unix.SchedSetAttr) }

// lowerThread is lowerThreadPriority with sched_setattr given: tests refuse
// it, as a seccomp profile may.
func lowerThread(p Priority, setAttr func(tid int, attr *unix.SchedAttr, flags uint) error) error {
	runtime.LockOSThread()
	// The bot's threads run with a short CPU slice (cpuslice), which lets
	// them preempt at once; the CLI would inherit it and preempt the bot
	// the same way, so it takes the kernel's default slice, in the call
	// that lowers its niceness.
	attr, err := unix.SchedGetAttr(0, 0)
	if err == nil {
		attr.Size = unix.SizeofSchedAttr
		attr.Flags &= unix.SCHED_FLAG_RESET_ON_FORK
		attr.Runtime = 0
		if p.Nice > 0 {
			attr.Nice = int32(min(int(attr.Nice)+p.Nice, MaxNice))
		}
		err = setAttr(0, attr, 0)
	}
	if err != nil && p.Nice > 0 {
		// Where sched_setattr is refused, the bot's slice could not be
		// shortened either: the niceness is all there is to set.
		if err := lowerNice(p.Nice); err != nil {
			return err
		}
	}
	if p.Idle {
		// Giving up priority needs no privilege; only taking it back would,
		// and this thread never does. (A separate call: the idle policy
		// ignores the niceness it is given and keeps the one set above.)
		if err := setAttr(0, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_IDLE}, 0); err != nil {
			return fmt.Errorf("set SCHED_IDLE for the pulumi CLI: %w", err)
		}
	}
	return nil
}

// lowerNice lowers the calling thread's priority by nice steps.
func lowerNice(nice int) error {
	tid := unix.Gettid()
	// The raw syscall answers 20 - niceness.
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return fmt.Errorf("read thread priority: %w", err)
	}
	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, min(20-raw+nice, MaxNice)); err != nil {
		return fmt.Errorf("lower thread priority for the pulumi CLI: %w", err)
	}
	return nil
}
