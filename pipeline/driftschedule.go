package pipeline

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/pipeline/store"
)

// DriftSchedule queues a drift check of every repository once per
// Interval. Each repository has its own offset within the interval, derived
// from its key, so that many repositories do not refresh at once and a
// restart does not move anyone's turn.
type DriftSchedule struct {
	Store    store.Store
	Interval time.Duration // 0 or less: no scheduled checks
	Log      zerolog.Logger
}

// Run queues the checks that fall due until ctx ends. Checks due while the
// bot was down are not made up at start: the next turn comes within one
// interval.
func (d *DriftSchedule) Run(ctx context.Context) {
	if d.Interval <= 0 {
		return
	}
	t := time.NewTicker(driftTick(d.Interval))
	defer t.Stop()
	prev := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if d.queueDue(ctx, prev, now) {
				prev = now
			}
		}
	}
}

// queueDue queues the checks due in (prev, now]; false when the window must
// be looked at again (the store did not answer).
func (d *DriftSchedule) queueDue(ctx context.Context, prev, now time.Time) bool {
	repos, err := d.Store.Repos(ctx)
	if err != nil {
		d.Log.Warn().Err(err).Msg("drift schedule: list repositories")
		return false
	}
	for _, repo := range repos {
		if !driftDue(prev, now, DriftOffset(repo, d.Interval), d.Interval) {
			continue
		}
		err := d.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return EnqueueDrift(ctx, tx, repo) })
		if err != nil {
			d.Log.Warn().Err(err).Str("forge", string(repo.Forge)).Str("repo", repo.Path).Msg("drift schedule: queue a check")
			continue
		}
		d.Log.Debug().Str("forge", string(repo.Forge)).Str("repo", repo.Path).Msg("drift check queued")
	}
	return true
}

// driftTick is how often the schedule looks for due checks: often enough
// that a turn is late by little, at most a minute apart.
func driftTick(interval time.Duration) time.Duration {
	return min(max(interval/8, 100*time.Millisecond), time.Minute)
}

// DriftOffset is where in each interval the checks of repo fall: a hash of
// its key, so spread evenly over many repositories and the same on every
// start and replica.
func DriftOffset(repo store.RepoKey, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(string(repo.Forge) + "\x00" + repo.Path))
	return time.Duration(h.Sum64() % uint64(interval))
}

// driftDue reports whether a check at offset within each interval (counted
// from the Unix epoch) falls in (prev, now].
func driftDue(prev, now time.Time, offset, interval time.Duration) bool {
	slot := func(t time.Time) int64 {
		n := t.UnixNano() - int64(offset)
		q := n / int64(interval)
		if n%int64(interval) < 0 {
			q--
		}
		return q
	}
	return slot(now) > slot(prev)
}
