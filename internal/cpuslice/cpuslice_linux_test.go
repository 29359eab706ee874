package cpuslice

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestShortenReachesEveryThread(t *testing.T) {
	before, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	if err := Shorten(Short); err != nil {
		if errors.Is(err, ErrUnsupported) && !slicesSuggestible(t) {
			t.Skipf("kernel %s predates slice suggestions (6.12)", release(t))
		}
		t.Fatal(err)
	}
	tids, err := threads()
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range tids {
		if got, err := Slice(tid); err != nil || got != Short {
			t.Errorf("thread %d: slice %v (%v), want %v", tid, got, err, Short)
		}
	}

	// Threads started afterwards inherit it: hold more threads at once
	// than the process had, so that the runtime must start new ones.
	held := len(before) + 4
	var (
		wg      sync.WaitGroup
		unblock = make(chan struct{})
		mu      sync.Mutex
		later   = map[int]error{}
	)
	for range held {
		wg.Go(func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tid := unix.Gettid()
			got, err := Slice(tid)
			if err == nil && got != Short {
				err = fmt.Errorf("slice %v", got)
			}
			mu.Lock()
			later[tid] = err
			full := len(later) == held
			mu.Unlock()
			if full {
				close(unblock)
			}
			<-unblock
		})
	}
	wg.Wait()
	started := 0
	for tid, err := range later {
		if !contains(before, tid) {
			started++
		}
		if err != nil {
			t.Errorf("thread %d: %v, want slice %v", tid, err, Short)
		}
	}
	if started == 0 {
		t.Fatal("no thread was started after Shorten: the test checked nothing new")
	}
}

func contains(tids []int, tid int) bool {
	for _, t := range tids {
		if t == tid {
			return true
		}
	}
	return false
}

func release(t *testing.T) string {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	return unix.ByteSliceToString(u.Release[:])
}

// slicesSuggestible tells whether the running kernel is 6.12 or later.
func slicesSuggestible(t *testing.T) bool {
	var major, minor int
	if _, err := fmt.Sscanf(release(t), "%d.%d", &major, &minor); err != nil {
		t.Fatalf("kernel release %q: %v", release(t), err)
	}
	return major > 6 || major == 6 && minor >= 12
}

func TestResetThreadLeavesTheOthersShort(t *testing.T) {
	if err := Shorten(Short); err != nil {
		if errors.Is(err, ErrUnsupported) && !slicesSuggestible(t) {
			t.Skipf("kernel %s predates slice suggestions (6.12)", release(t))
		}
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine instead of
		// serving others with the default slice.
		runtime.LockOSThread()
		if err := ResetThread(); err != nil {
			done <- err
			return
		}
		got, err := Slice(unix.Gettid())
		if err == nil && got == Short {
			err = fmt.Errorf("slice still %v after ResetThread", got)
		}
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got, err := Slice(unix.Gettid()); err != nil || got != Short {
		t.Errorf("this thread: slice %v (%v), want %v", got, err, Short)
	}
}
