package queue

import (
	"context"
	"sync"
	"time"
)

// Jobs this process lost. River marks the jobs it fetches "running" under
// the fetching process in the fetch's own statement; when its answer never
// arrives (the network broke after the database committed it), the jobs
// stay "running" under a live process that never ran them, which no lease
// recovers, and River rescues them only an hour after JobTimeout:
// meanwhile their repositories' requests wait behind them. So a process
// makes available again the jobs running under its own name that no
// handler of its has seen for lostGrace. A job whose handler returned is
// River's completer's, which retries until it records the job's end.

// lostGrace is how long a job may stay running under this process without
// a handler before it counts as lost: far longer than a fetched job takes
// to reach its handler.
const lostGrace = time.Minute

// LostJobs is the SQL by which a process finds and hands back the jobs it
// lost (part of Driver).
type LostJobs interface {
	// RunningUnder lists the jobs running under process id: the last of
	// their attempted_by.
	RunningUnder(ctx context.Context, id string) ([]int64, error)
	// Requeue makes available again those of jobs still running under
	// process id, and returns how many.
	Requeue(ctx context.Context, id string, jobs []int64) (int64, error)
}

// Losing is a store whose lost jobs the drivers' shared suite (storetest)
// reaches.
type Losing interface {
	LostJobs() LostJobs
	// ProcessID names this process in the queue (Queue.ProcessID).
	ProcessID() string
}

// ownJobs is what this process's handlers have seen, to tell its lost
// jobs from those it works on or has finished.
type ownJobs struct {
	mu       sync.Mutex
	working  map[int64]int       // job id: handlers running it (a retry may overlap its own end)
	returned map[int64]bool      // job id: its handler returned; River's completer records its end
	unseen   map[int64]time.Time // job id: first found running with no handler
}

func newOwnJobs() *ownJobs {
	return &ownJobs{working: map[int64]int{}, returned: map[int64]bool{}, unseen: map[int64]time.Time{}}
}

// begin notes that a handler runs job id; the func it returns notes that
// the handler returned.
func (o *ownJobs) begin(id int64) (end func()) {
	o.mu.Lock()
	o.working[id]++
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.working[id]--; o.working[id] <= 0 {
			delete(o.working, id)
		}
		o.returned[id] = true
	}
}

// lost takes the jobs the database has running under this process, as
// read at now, and returns those lost: no handler of this process has
// seen them, for grace since they were first found so.
func (o *ownJobs) lost(running []int64, now time.Time, grace time.Duration) []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	isRunning := make(map[int64]bool, len(running))
	var out []int64
	for _, id := range running {
		isRunning[id] = true
		if o.working[id] > 0 || o.returned[id] {
			delete(o.unseen, id)
			continue
		}
		since, ok := o.unseen[id]
		if !ok {
			since = now
			o.unseen[id] = now
		}
		if now.Sub(since) >= grace {
			out = append(out, id)
		}
	}
	// A job no longer running has ended, or been handed back: forget it.
	for id := range o.returned {
		if !isRunning[id] {
			delete(o.returned, id)
		}
	}
	for id := range o.unseen {
		if !isRunning[id] {
			delete(o.unseen, id)
		}
	}
	return out
}

// recoverLost makes this process's lost jobs available again.
func (q *Queue[TTx]) recoverLost(ctx context.Context) {
	running, err := q.d.RunningUnder(ctx, q.id)
	if err != nil {
		if ctx.Err() == nil {
			q.cfg.Logger.WarnContext(ctx, "queue: list this process's running jobs", "error", err)
		}
		return
	}
	lost := q.own.lost(running, time.Now(), q.cfg.LostGrace)
	if len(lost) == 0 {
		return
	}
	n, err := q.d.Requeue(ctx, q.id, lost)
	switch {
	case err != nil && ctx.Err() == nil:
		q.cfg.Logger.WarnContext(ctx, "queue: make this process's lost jobs available again", "error", err)
	case n > 0:
		q.cfg.Logger.WarnContext(ctx, "queue: jobs whose end this process could not record made available again", "jobs", n)
	}
}
