// Package cpuslice asks the kernel for short CPU slices for this process.
//
// Linux (6.12 and later, EEVDF) lets a thread suggest its slice: how long
// it runs before another task of the same priority may take the CPU. A
// thread that wakes with a shorter slice than the running task preempts it
// at once; with the default slice (about a millisecond or more) a busy
// task keeps the CPU until its slice is used. An acknowledgement wakes the
// bot several times (the request, the database's reply), and on a machine
// kept busy by the work that acknowledgements cause (Pulumi runs, the
// database) each wake-up may otherwise wait for a slice to end.
// docs/performance.md has the measurements.
package cpuslice

import (
	"errors"
	"time"
)

// Short is the slice expbot asks for: the shortest the kernel grants.
const Short = 100 * time.Microsecond

// ErrUnsupported: the system has no per-thread slices (other systems, or
// Linux before 6.12, which accepts the request and ignores it).
var ErrUnsupported = errors.New("the kernel does not take slice suggestions")
