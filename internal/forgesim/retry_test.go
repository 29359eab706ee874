package forgesim

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// A failed delivery is sent again, same id, headers and body, until it is
// answered with neither a 5xx nor silence, or the attempts run out; a 4xx
// is final.
func TestRetryResendsFailedDeliveries(t *testing.T) {
	const hang = -1 // answer after the forge's timeout
	tests := []struct {
		name     string
		answers  []int // one per request; the last repeats
		attempts int
		want     []int // statuses recorded, 0 for no answer
	}{
		{"5xx then accepted", []int{503, 500, 202}, 5, []int{503, 500, 202}},
		{"timeout then accepted", []int{hang, 202}, 5, []int{0, 202}},
		{"4xx is final", []int{400}, 5, []int{400}},
		{"gives up after the attempts", []int{502}, 2, []int{502, 502, 502}},
		{"no policy, no retry", []int{503}, 0, []int{503}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []received
			release := make(chan struct{})
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				got = append(got, received{header: r.Header.Clone(), body: b})
				status := tc.answers[min(len(got), len(tc.answers))-1]
				mu.Unlock()
				if status == hang {
					select {
					case <-r.Context().Done():
					case <-release:
					}
					return
				}
				w.WriteHeader(status)
			}))
			t.Cleanup(func() { close(release); rc.Close() })
			opts := append(fakeOptions(),
				WithHTTPClient(&http.Client{Timeout: 200 * time.Millisecond}),
				WithRetry(RetryPolicy{Attempts: tc.attempts, Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}))
			e := newSim(t, opts...)
			e.seedBasic(t)
			if _, err := e.srv.Forge().AddHook("acme/llm", GitHub, rc.URL, "k"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.srv.Forge().LabelIssue("acme/llm", 1, "alice", []string{"x"}, nil); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); e.srv.PendingRetries() > 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("retries never ended")
				}
			}
			ds := e.srv.Deliveries()
			if len(ds) != len(tc.want) {
				t.Fatalf("recorded %d deliveries %+v, want %d", len(ds), ds, len(tc.want))
			}
			mu.Lock()
			defer mu.Unlock()
			for i, d := range ds {
				if d.Status != tc.want[i] || d.ID != ds[0].ID || d.Redelivery != (i > 0) {
					t.Errorf("delivery %d: status %d id %s redelivery %v; want %d, id %s, redelivery %v",
						i, d.Status, d.ID, d.Redelivery, tc.want[i], ds[0].ID, i > 0)
				}
				for _, h := range []string{"X-GitHub-Delivery", "X-Hub-Signature-256", "X-GitHub-Event"} {
					if got[i].header.Get(h) != got[0].header.Get(h) {
						t.Errorf("request %d: %s changed: %q -> %q", i, h, got[0].header.Get(h), got[i].header.Get(h))
					}
				}
				if string(got[i].body) != string(got[0].body) {
					t.Errorf("request %d: body changed", i)
				}
			}
		})
	}
}
