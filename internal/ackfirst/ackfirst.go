// Package ackfirst lets webhook acknowledgements go before background work.
//
// Everything expbot does after an acknowledgement (applying it, status
// comments, the queue's own statements) is work-conserving: while a backlog
// lasts it keeps the CPUs busy, the database server's included, and an
// acknowledgement arriving then waits for a CPU at every hop. Go has no
// goroutine priorities and the database none per session, so the
// background asks a Gate before each step it can hold back (a statement, a
// comment, a delivery): while an acknowledgement is in flight the step
// waits for it to finish.
//
// The wait is bounded: once acknowledgements have kept the gate closed for
// the gate's maxClosed (New) without a break (a saturated intake), every step goes through
// as if there were no gate, until it opens again. Background work is then
// as fast as without the gate; it is only moved into the gaps between
// acknowledgements when there are gaps.
package ackfirst

import (
	"context"
	"sync"
	"time"
)

// DefaultMaxClosed is how long acknowledgements may hold the background
// back without a break: a few acknowledgements' worth.
const DefaultMaxClosed = 20 * time.Millisecond

// Gate is closed while an acknowledgement is in flight. A nil *Gate is
// always open.
type Gate struct {
	maxClosed time.Duration

	mu       sync.Mutex
	inFlight int
	closedAt time.Time
	opened   chan struct{} // closed when the last acknowledgement in flight ends
}

// New returns an open gate that holds the background back for at most
// maxClosed at a time.
func New(maxClosed time.Duration) *Gate {
	return &Gate{maxClosed: maxClosed}
}

// Enter marks an acknowledgement in flight until the returned func is
// called (once or more).
func (g *Gate) Enter() (exit func()) {
	if g == nil {
		return func() {}
	}
	g.mu.Lock()
	if g.inFlight == 0 {
		g.opened, g.closedAt = make(chan struct{}), time.Now()
	}
	g.inFlight++
	g.mu.Unlock()
	var once sync.Once
	return func() { once.Do(g.exit) }
}

func (g *Gate) exit() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.inFlight--; g.inFlight == 0 {
		close(g.opened)
	}
}

// Wait returns once no acknowledgement is in flight, the gate has been
// closed for maxClosed, or ctx is done (the step that follows then fails
// on ctx itself).
func (g *Gate) Wait(ctx context.Context) {
	if g == nil {
		return
	}
	g.mu.Lock()
	if g.inFlight == 0 {
		g.mu.Unlock()
		return
	}
	opened, left := g.opened, g.maxClosed-time.Since(g.closedAt)
	g.mu.Unlock()
	if left <= 0 {
		return
	}
	t := time.NewTimer(left)
	defer t.Stop()
	select {
	case <-opened:
	case <-t.C:
	case <-ctx.Done():
	}
}

// InFlight is how many acknowledgements are in flight.
func (g *Gate) InFlight() int {
	if g == nil {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inFlight
}
