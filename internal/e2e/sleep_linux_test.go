package e2e

import (
	"time"

	"golang.org/x/sys/unix"
)

// sleepUntil blocks the calling thread until t with the kernel's
// high-resolution timer. Go's monotonic clock is CLOCK_MONOTONIC here, so
// the two agree up to the time it takes to read both.
func sleepUntil(t time.Time) {
	var now unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &now); err != nil {
		time.Sleep(time.Until(t))
		return
	}
	target := unix.NsecToTimespec(now.Nano() + int64(time.Until(t)))
	for {
		err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &target, nil)
		if err != unix.EINTR {
			return
		}
	}
}
