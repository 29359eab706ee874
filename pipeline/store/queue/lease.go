package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// DefaultLease is how long a process's lease lasts without a heartbeat
// (Leaser); it renews it every lease/6.
const DefaultLease = 30 * time.Second

// releaseTimeout bounds the release of the lease at stop; a lease not
// released runs out anyway.
const releaseTimeout = 5 * time.Second

// Leaser is the SQL of a driver whose database several processes share.
// Each working process holds a lease that it renews while it lives, and
// its River client id names it in the jobs it runs; a live process makes
// available again the running jobs whose process's lease ran out. A
// driver of one process's database (SQLite) has no Leaser and recovers at
// start (Driver.RecoverOrphans).
type Leaser interface {
	// Heartbeat registers process id, or renews its lease, until lease
	// from now.
	Heartbeat(ctx context.Context, id string, lease time.Duration) error
	// RecoverExpired makes available the running jobs of processes
	// without a live lease, and returns how many.
	RecoverExpired(ctx context.Context) (int64, error)
	// Release ends process id's lease.
	Release(ctx context.Context, id string) error
}

// Leasing is a store whose driver is a Leaser: the drivers' shared suite
// (storetest) reaches the leases through it.
type Leasing interface {
	// Leaser is the store's lease SQL.
	Leaser() Leaser
	// ProcessID names this process in the queue (Queue.ProcessID).
	ProcessID() string
}

// keeper renews a process's lease and recovers the jobs of dead processes
// (when the driver is a Leaser), and recovers the jobs this process lost
// (lost.go), until stopped.
type keeper struct {
	l     Leaser // nil: the driver has none
	id    string
	lease time.Duration
	stop  context.CancelFunc
	done  chan struct{}
}

// newProcessID names a process in the queue (River's client id, its
// lease's id): random, so that a restarted process is a new one.
func newProcessID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "expbot-" + hex.EncodeToString(b[:])
}

// startKeeper registers a new process and recovers the jobs of dead ones
// before this one works (l may be nil), then keeps doing both, and
// recovering its own lost jobs, every lease/6 until stop.
func (q *Queue[TTx]) startKeeper(ctx context.Context, l Leaser) (*keeper, error) {
	h := &keeper{l: l, id: q.id, lease: q.cfg.Lease, done: make(chan struct{})}
	if l != nil {
		if err := l.Heartbeat(ctx, h.id, h.lease); err != nil {
			return nil, fmt.Errorf("queue: register process: %w", err)
		}
		q.recoverExpired(ctx, l)
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	h.stop = stop
	go func() {
		defer close(h.done)
		t := time.NewTicker(h.lease / 6)
		defer t.Stop()
		for {
			select {
			case <-lctx.Done():
				return
			case <-t.C:
			}
			if l != nil {
				if err := l.Heartbeat(lctx, h.id, h.lease); err != nil && lctx.Err() == nil {
					q.cfg.Logger.WarnContext(lctx, "queue: renew this process's lease", "error", err)
				}
				q.recoverExpired(lctx, l)
			}
			q.recoverLost(lctx)
		}
	}()
	return h, nil
}

func (q *Queue[TTx]) recoverExpired(ctx context.Context, l Leaser) {
	n, err := l.RecoverExpired(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		q.cfg.Logger.WarnContext(ctx, "queue: recover the jobs of processes gone", "error", err)
	case n > 0:
		q.cfg.Logger.WarnContext(ctx, "queue: jobs left running by a process whose lease ran out made available again", "jobs", n)
	}
}

// end stops the keeper and releases the lease: this process runs no job
// any more (or gives up those that did not stop).
func (h *keeper) end(ctx context.Context) error {
	h.stop()
	<-h.done
	if h.l == nil {
		return nil
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := h.l.Release(rctx, h.id); err != nil {
		return fmt.Errorf("queue: release this process's lease: %w", err)
	}
	return nil
}
