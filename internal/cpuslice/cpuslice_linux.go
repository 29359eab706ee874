package cpuslice

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Shorten gives every thread of this process the slice d. Threads and
// processes started later inherit it from the thread that starts them: a
// child that must not have it resets its own (pulumicli does for the
// Pulumi CLI). The kernel ignores the slice of threads at the idle or a
// real-time policy.
func Shorten(d time.Duration) error {
	// A thread may start another while they are being set; the pass
	// repeats until it finds none it has not seen.
	seen := map[int]bool{}
	for {
		tids, err := threads()
		if err != nil {
			return err
		}
		fresh := 0
		for _, tid := range tids {
			if seen[tid] {
				continue
			}
			seen[tid], fresh = true, fresh+1
			if err := setSlice(tid, d); err != nil && !errors.Is(err, unix.ESRCH) { // ESRCH: it has ended
				return fmt.Errorf("set the CPU slice of thread %d: %w", tid, err)
			}
		}
		if fresh == 0 {
			break
		}
	}
	got, err := Slice(unix.Gettid())
	if err != nil {
		return err
	}
	if got != d {
		return ErrUnsupported
	}
	return nil
}

// ResetThread gives the calling thread the kernel's default slice back;
// lock the goroutine to its thread first.
func ResetThread() error {
	if err := setSlice(unix.Gettid(), 0); err != nil {
		return fmt.Errorf("reset the CPU slice: %w", err)
	}
	return nil
}

// Slice is the slice thread tid runs with: the kernel's default unless it
// was set.
func Slice(tid int) (time.Duration, error) {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, fmt.Errorf("read the scheduling attributes of thread %d: %w", tid, err)
	}
	return time.Duration(attr.Runtime), nil
}

func setSlice(tid int, d time.Duration) error {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return err
	}
	attr.Size = unix.SizeofSchedAttr
	attr.Flags &= unix.SCHED_FLAG_RESET_ON_FORK
	attr.Runtime = uint64(d)
	return unix.SchedSetAttr(tid, attr, 0)
}

func threads() ([]int, error) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, fmt.Errorf("list this process's threads: %w", err)
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
