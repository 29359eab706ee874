package ackfirst

import (
	"context"
	"testing"
	"time"
)

// waited runs g.Wait(ctx) and reports whether it returned within d.
func waited(ctx context.Context, g *Gate, d time.Duration) bool {
	done := make(chan struct{})
	go func() { g.Wait(ctx); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func TestWait(t *testing.T) {
	const long = time.Hour // never reached: what ends the wait is the case's
	for _, c := range []struct {
		name      string
		maxClosed time.Duration
		acks      int  // acknowledgements entered before Wait
		exits     int  // of them, exited before Wait
		cancel    bool // ctx cancelled before Wait
		want      bool // Wait returns
	}{
		{"open gate", long, 0, 0, false, true},
		{"acknowledgement in flight", long, 1, 0, false, false},
		{"all acknowledgements ended", long, 2, 2, false, true},
		{"one of two still in flight", long, 2, 1, false, false},
		{"closed for longer than maxClosed", time.Millisecond, 1, 0, false, true},
		{"context done", long, 1, 0, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := New(c.maxClosed)
			exits := make([]func(), c.acks)
			for i := range exits {
				exits[i] = g.Enter()
			}
			for _, exit := range exits[:c.exits] {
				exit()
				exit() // a second call changes nothing
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if c.cancel {
				cancel()
			}
			if c.maxClosed < long {
				time.Sleep(2 * c.maxClosed) // let the gate's bound run out
			}
			// A Wait that should return gets all the time it could need;
			// one that should not is given a while to show it does not.
			wait := 50 * time.Millisecond
			if c.want {
				wait = 10 * time.Second
			}
			if got := waited(ctx, g, wait); got != c.want {
				t.Errorf("Wait returned = %v, want %v (in flight: %d)", got, c.want, g.InFlight())
			}
		})
	}
}

func TestWaitEndsWithTheAcknowledgement(t *testing.T) {
	g := New(time.Hour)
	exit := g.Enter()
	done := make(chan struct{})
	go func() { g.Wait(context.Background()); close(done) }()
	select {
	case <-done:
		t.Fatal("Wait returned while an acknowledgement was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	exit()
	<-done // the test's timeout fails it otherwise
	if n := g.InFlight(); n != 0 {
		t.Errorf("in flight after exit = %d, want 0", n)
	}
	// The gate opens and closes again for the next acknowledgement.
	exit = g.Enter()
	defer exit()
	if waited(context.Background(), g, 20*time.Millisecond) {
		t.Error("Wait returned while a second acknowledgement was in flight")
	}
}

func TestNilGateIsOpen(t *testing.T) {
	var g *Gate
	g.Enter()()
	if !waited(context.Background(), g, 10*time.Second) || g.InFlight() != 0 {
		t.Error("a nil gate held Wait back")
	}
}
