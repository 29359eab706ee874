package pipeline

import (
	"fmt"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// TestDriftDue: a check falls due exactly when its offset within an
// interval passes, whatever the ticks.
func TestDriftDue(t *testing.T) {
	const interval = time.Hour
	epoch := time.Unix(0, 0).Add(1000 * interval) // an interval's start
	at := func(d time.Duration) time.Time { return epoch.Add(d) }
	tests := []struct {
		name      string
		prev, now time.Time
		offset    time.Duration
		want      bool
	}{
		{"offset inside the window", at(9 * time.Minute), at(11 * time.Minute), 10 * time.Minute, true},
		{"offset at the window's end counts", at(9 * time.Minute), at(10 * time.Minute), 10 * time.Minute, true},
		{"offset at the window's start does not (it was due before)", at(10 * time.Minute), at(11 * time.Minute), 10 * time.Minute, false},
		{"offset before the window", at(11 * time.Minute), at(12 * time.Minute), 10 * time.Minute, false},
		{"offset after the window", at(5 * time.Minute), at(6 * time.Minute), 10 * time.Minute, false},
		{"next interval's turn", at(interval + 9*time.Minute), at(interval + 11*time.Minute), 10 * time.Minute, true},
		{"window across the interval boundary", at(59 * time.Minute), at(61 * time.Minute), 30 * time.Second, true},
		{"zero offset at the boundary", at(59 * time.Minute), at(60 * time.Minute), 0, true},
		{"empty window", at(10 * time.Minute), at(10 * time.Minute), 10 * time.Minute, false},
		{"long window: due once however many turns passed", at(0), at(5 * interval), 10 * time.Minute, true},
	}
	for _, tt := range tests {
		if got := driftDue(tt.prev, tt.now, tt.offset, interval); got != tt.want {
			t.Errorf("%s: driftDue = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDriftScheduleOncePerInterval walks a day in uneven ticks: every
// repository falls due exactly once per interval, at its own offset.
func TestDriftScheduleOncePerInterval(t *testing.T) {
	const interval = 6 * time.Hour
	repos := []store.RepoKey{{Forge: event.GitHub, Path: "acme/llm"}, {Forge: event.GitLab, Path: "acme/vision"}, {Forge: event.GitHub, Path: "acme/vision"}}
	start := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	count := map[store.RepoKey]int{}
	prev := start
	for i := 0; prev.Before(start.Add(4 * interval)); i++ {
		now := prev.Add(time.Duration(7+i%53) * time.Second)
		for _, r := range repos {
			if driftDue(prev, now, DriftOffset(r, interval), interval) {
				count[r]++
			}
		}
		prev = now
	}
	for _, r := range repos {
		if count[r] != 4 {
			t.Errorf("%v was due %d times in 4 intervals, want 4", r, count[r])
		}
	}
}

// TestDriftOffsetSpread: many repositories spread over the interval, so
// that they do not all refresh at once; the same repository keeps its
// offset, and the same path on the other forge has its own.
func TestDriftOffsetSpread(t *testing.T) {
	const interval = 6 * time.Hour
	const n, buckets = 2000, 36 // ten-minute buckets
	hist := make([]int, buckets)
	for i := range n {
		r := store.RepoKey{Forge: event.GitHub, Path: fmt.Sprintf("org%d/repo%d", i%37, i)}
		off := DriftOffset(r, interval)
		if off < 0 || off >= interval {
			t.Fatalf("offset %v of %v outside [0, %v)", off, r, interval)
		}
		if off != DriftOffset(r, interval) {
			t.Fatalf("offset of %v is not stable", r)
		}
		hist[off*buckets/interval]++
	}
	mean := n / buckets
	for i, c := range hist {
		if c < mean/2 || c > mean*2 {
			t.Errorf("bucket %d holds %d repositories, want about %d (histogram %v)", i, c, mean, hist)
		}
	}
	gh, gl := store.RepoKey{Forge: event.GitHub, Path: "acme/llm"}, store.RepoKey{Forge: event.GitLab, Path: "acme/llm"}
	if DriftOffset(gh, interval) == DriftOffset(gl, interval) {
		t.Error("the same path on both forges has the same offset")
	}
	if DriftOffset(gh, 0) != 0 {
		t.Error("an interval of 0 gave an offset")
	}
}

func TestDriftTick(t *testing.T) {
	for interval, want := range map[time.Duration]time.Duration{
		6 * time.Hour: time.Minute, 4 * time.Minute: 30 * time.Second, 2 * time.Second: 250 * time.Millisecond, 100 * time.Millisecond: 100 * time.Millisecond,
	} {
		if got := driftTick(interval); got != want {
			t.Errorf("driftTick(%v) = %v, want %v", interval, got, want)
		}
	}
}
