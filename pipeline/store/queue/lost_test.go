package queue

import (
	"slices"
	"testing"
	"time"
)

// A job running under this process counts as lost only when no handler of
// this process has seen it, for the grace since it was first found so: a
// job whose handler returned is River's completer's to record.
func TestOwnJobsLost(t *testing.T) {
	const grace = time.Minute
	t0 := time.Now()
	for _, tc := range []struct {
		name    string
		setup   func(o *ownJobs) // job 1 is in a handler; 2 and 3 as the case says
		scans   []time.Duration  // offsets from t0 at which the database lists jobs 1, 2, 3
		between func(o *ownJobs) // after the first scan, if set
		want    []int64          // lost at the last scan
	}{
		{"handlers run them", func(o *ownJobs) { o.begin(2); o.begin(3) }, []time.Duration{0, 2 * grace}, nil, nil},
		{"returned", func(o *ownJobs) { o.begin(2)(); o.begin(3)() }, []time.Duration{0, 2 * grace}, nil, nil},
		{"never handled, first seen now", func(*ownJobs) {}, []time.Duration{0}, nil, nil},
		{"never handled, seen a grace ago", func(*ownJobs) {}, []time.Duration{0, grace}, nil, []int64{2, 3}},
		{"a handler took one between scans", func(*ownJobs) {}, []time.Duration{0, grace}, func(o *ownJobs) { o.begin(2) }, []int64{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := newOwnJobs()
			o.begin(1)
			tc.setup(o)
			var got []int64
			for i, at := range tc.scans {
				got = o.lost([]int64{1, 2, 3}, t0.Add(at), grace)
				if i == 0 && tc.between != nil {
					tc.between(o)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("lost = %v, want %v", got, tc.want)
			}
		})
	}
}

// What the database no longer runs is forgotten, so that a job fetched
// again later gets its own grace.
func TestOwnJobsForget(t *testing.T) {
	const grace = time.Minute
	t0 := time.Now()
	o := newOwnJobs()
	o.begin(7)()
	if got := o.lost([]int64{8}, t0, grace); got != nil {
		t.Fatalf("lost = %v, want none: 8 was first seen now", got)
	}
	if got := o.lost(nil, t0.Add(grace/2), grace); got != nil {
		t.Fatalf("lost = %v, want none", got)
	}
	if len(o.returned)+len(o.unseen) != 0 {
		t.Errorf("ended jobs still tracked: returned %v, unseen %v", o.returned, o.unseen)
	}
	// 8 is running again: its grace starts over.
	if got := o.lost([]int64{8}, t0.Add(grace), grace); got != nil {
		t.Errorf("lost = %v, want none: 8 is back, and was first seen again now", got)
	}
}
