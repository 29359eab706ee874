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

// A job's args read back from the database name the same request counter
// as when they were enqueued, whatever order and spacing the database gave
// their JSON.
func TestRequestKeyIsCanonical(t *testing.T) {
	enqueued, err := requestKey(TaskArgs{Task: "sweep", Payload: []byte(`{"tag":"v1","delivery":"d","n":12345678901234567}`)})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := requestKey(TaskArgs{Task: "sweep", Payload: []byte(`{"n": 12345678901234567, "tag": "v1", "delivery": "d"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if enqueued != stored {
		t.Errorf("keys differ: %s and %s", enqueued, stored)
	}
	if want := `{"payload":{"delivery":"d","n":12345678901234567,"tag":"v1"},"task":"sweep"}`; enqueued != want {
		t.Errorf("key = %s, want %s", enqueued, want)
	}
	r, err := requestKey(ReconcileArgs{Forge: "github", Path: "acme/llm"})
	if want := `{"forge":"github","path":"acme/llm"}`; err != nil || r != want {
		t.Errorf("reconcile key = %s, %v; want %s (as earlier versions stored it)", r, err, want)
	}
}
