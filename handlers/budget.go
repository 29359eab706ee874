package handlers

import (
	"context"
	"errors"
	"io"
	"net/http"
	"runtime/debug"
	"sync"
	"time"
)

// Budget bounds the bytes of webhook bodies held at once before their
// signature is checked: anyone can send those, and without a bound a flood
// of large unsigned bodies takes as much memory as it likes. Verified
// bodies are not counted. One Budget is shared by every endpoint.
//
// Bodies are read into buffers of their own, never pooled, so that memory
// goes back when a burst is over: once no unverified body is held, after a
// burst of at least freeAbove bytes, the memory the runtime holds free is
// returned to the system (debug.FreeOSMemory), at most once per idle spell.
type Budget struct {
	total     int64
	freeAbove int64
	idle      time.Duration
	freeOS    func()

	mu      sync.Mutex
	used    int64
	peak    int64         // most used since memory was last given back
	changed chan struct{} // closed and replaced on every release
	timer   *time.Timer   // pending give-back, if any
}

// Give memory back once a burst of at least this many bytes is over, after
// this long without unverified bodies.
const (
	defaultFreeAbove = 8 << 20
	defaultFreeIdle  = 2 * time.Second
)

// NewBudget returns a Budget of total bytes.
func NewBudget(total int64) *Budget {
	return &Budget{total: total, freeAbove: defaultFreeAbove, idle: defaultFreeIdle, freeOS: debug.FreeOSMemory, changed: make(chan struct{})}
}

// errBusy: the budget stayed full for as long as a body may wait.
var errBusy = errors.New("too many unverified webhook bodies at once")

// acquire reserves n bytes, waiting while ctx lasts.
func (b *Budget) acquire(ctx context.Context, n int64) error {
	if n > b.total {
		return errBusy // cannot fit even alone; callers cap n at the body limit, which fits
	}
	for {
		b.mu.Lock()
		if b.used+n <= b.total {
			b.used += n
			b.peak = max(b.peak, b.used)
			if b.timer != nil {
				b.timer.Stop()
				b.timer = nil
			}
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return errBusy
		}
	}
}

func (b *Budget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	close(b.changed)
	b.changed = make(chan struct{})
	if b.used == 0 && b.peak >= b.freeAbove && b.timer == nil {
		b.timer = time.AfterFunc(b.idle, b.giveBack)
	}
}

func (b *Budget) giveBack() {
	b.mu.Lock()
	if b.used != 0 || b.timer == nil {
		b.mu.Unlock()
		return
	}
	b.timer, b.peak = nil, 0
	b.mu.Unlock()
	b.freeOS()
}

// Used is the number of bytes reserved now (for tests and metrics).
func (b *Budget) Used() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// budgetWait is the longest a body waits for room in the budget; it also
// ends when the request's read deadline does.
const budgetWait = 5 * time.Second

// chunk is how much an unverified body of unknown length reserves at a time.
const chunk = 256 << 10

// readBody reads r's body, at most limit bytes. With b non-nil the bytes are
// reserved in b first; release gives them back (it may be called more than
// once).
func readBody(ctx context.Context, r *http.Request, limit int64, b *Budget) (body []byte, release func(), err error) {
	var held int64
	release = func() {
		if b != nil {
			b.release(held)
		}
		held = 0
	}
	// Only a request that holds nothing waits for room: one that waited
	// while holding could wait for others that wait for it.
	reserve := func(n int64) error {
		if b == nil {
			return nil
		}
		wait := budgetWait
		if held > 0 {
			wait = 0
		}
		wctx, cancel := context.WithTimeout(ctx, wait)
		defer cancel()
		if err := b.acquire(wctx, n); err != nil {
			return err
		}
		held += n
		return nil
	}
	if r.ContentLength > limit {
		return nil, release, &http.MaxBytesError{Limit: limit}
	}
	if r.ContentLength >= 0 {
		// The length is known: one buffer of exactly that size, so no
		// copy is left behind by growing.
		if err := reserve(r.ContentLength); err != nil {
			return nil, release, err
		}
		body = make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, release, err
		}
		return body, release, nil
	}
	// Chunked: grow by doubling, reserving each new buffer before it is
	// made (so up to three times the body is reserved while it is copied),
	// and give up past the limit.
	size := min(int64(chunk), limit+1)
	if err := reserve(size); err != nil {
		return nil, release, err
	}
	body = make([]byte, 0, size)
	for {
		n, err := r.Body.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if int64(len(body)) > limit {
			return nil, release, &http.MaxBytesError{Limit: limit}
		}
		if errors.Is(err, io.EOF) {
			return body, release, nil
		}
		if err != nil {
			return nil, release, err
		}
		if len(body) == cap(body) {
			// The old buffer is dropped once copied: it stops counting.
			old := int64(cap(body))
			next := min(2*old, limit+1)
			if err := reserve(next); err != nil {
				return nil, release, err
			}
			body = append(make([]byte, 0, next), body...)
			if b != nil {
				b.release(old)
				held -= old
			}
		}
	}
}
