package queue

import (
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"
)

func TestRetryPolicy(t *testing.T) {
	p := &retryPolicy{base: time.Second, max: time.Minute}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{1, time.Second},
		{2, 2 * time.Second},
		{5, 16 * time.Second},
		{7, time.Minute},
		{60, time.Minute},
	} {
		now := time.Now()
		got := p.NextRetry(&rivertype.JobRow{Attempt: tc.attempt}).Sub(now)
		if got < tc.want*85/100 || got > tc.want*115/100 {
			t.Errorf("attempt %d: retry in %s, want about %s", tc.attempt, got, tc.want)
		}
	}
}
