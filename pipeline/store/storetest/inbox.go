package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// testInbox: accepting is durable and deduplicated against the inbox and
// the recorded deliveries; claims come oldest first, hide what they claimed
// until their time to live passes, and a retry counts and postpones.
func testInbox(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	received := time.Date(2026, 12, 6, 11, 0, 0, 123456789, time.UTC)
	accept := func(s store.Store, id string) bool {
		t.Helper()
		dup, err := s.AcceptDelivery(ctx, store.Inbound{Forge: event.GitHub, ID: id, Event: "issues", ReceivedAt: received, Payload: []byte(`{"kind":"` + id + `"}`)})
		if err != nil {
			t.Fatalf("accept %s: %v", id, err)
		}
		return dup
	}
	for _, id := range []string{"a", "b", "c"} {
		if accept(s, id) {
			t.Errorf("first acceptance of %s reported as a duplicate", id)
		}
	}
	if !accept(s, "b") {
		t.Error("a delivery accepted twice was not reported as a duplicate")
	}
	inTx(ctx, t, s, func(ctx context.Context, tx store.Tx) error {
		_, err := tx.RecordDelivery(ctx, event.GitHub, "recorded", "issues", received)
		return err
	})
	if !accept(s, "recorded") {
		t.Error("a delivery recorded (applied) already was accepted again")
	}
	if dup, err := s.AcceptDelivery(ctx, store.Inbound{Forge: event.GitLab, ID: "a", Event: "Issue Hook", ReceivedAt: received, Payload: []byte(`{}`)}); err != nil || dup {
		t.Errorf("the same id from another forge: dup %v, error %v; want accepted", dup, err)
	}
	if n, err := s.InboxDepth(ctx); err != nil || n != 4 {
		t.Errorf("InboxDepth = %d, %v; want 4", n, err)
	}

	// Durable: a store opened again on the database holds them.
	s.Close()
	s = openStore(t, open)
	now := time.Now()
	got, err := s.ClaimInbound(ctx, now, time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	if ids := inboundIDs(got); !slices.Equal(ids, []string{"github/a", "github/b"}) {
		t.Fatalf("first claim = %v, want the two oldest, github/a and github/b", ids)
	}
	if d := got[0]; d.Event != "issues" || !d.ReceivedAt.Equal(received) || string(d.Payload) != `{"kind":"a"}` || d.Attempts != 0 || got[1].Seq <= d.Seq {
		t.Errorf("claimed %+v, want it as accepted (event issues, received %v, its payload, no attempts) and seq increasing", d, received)
	}
	rest, err := s.ClaimInbound(ctx, now, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := inboundIDs(rest); !slices.Equal(ids, []string{"github/c", "gitlab/a"}) {
		t.Fatalf("second claim = %v, want what the first left: github/c, gitlab/a", ids)
	}
	if again, err := s.ClaimInbound(ctx, now.Add(59*time.Second), time.Minute, 10); err != nil || len(again) != 0 {
		t.Fatalf("claim within the claims' time to live = %v, %v; want nothing", inboundIDs(again), err)
	}

	// A retry counts and postpones; a drop removes.
	if err := s.RetryInbound(ctx, got[0].Seq, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.DropInbound(ctx, []int64{got[1].Seq, rest[0].Seq}); err != nil {
		t.Fatal(err)
	}
	late, err := s.ClaimInbound(ctx, now.Add(61*time.Second), time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	if ids := inboundIDs(late); !slices.Equal(ids, []string{"gitlab/a"}) {
		t.Fatalf("claim after the time to live = %v, want gitlab/a alone (github/a retries later; b and c were dropped)", ids)
	}
	retried, err := s.ClaimInbound(ctx, now.Add(3*time.Minute), time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(retried) != 1 || retried[0].ID != "a" || retried[0].Forge != event.GitHub || retried[0].Attempts != 1 {
		t.Fatalf("claim after the retry's time = %+v, want github/a with 1 attempt", retried)
	}
	if err := s.DropInbound(ctx, []int64{retried[0].Seq, late[0].Seq}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.InboxDepth(ctx); err != nil || n != 0 {
		t.Errorf("InboxDepth after every drop = %d, %v; want 0", n, err)
	}
	if err := s.DropInbound(ctx, nil); err != nil {
		t.Errorf("dropping nothing: %v", err)
	}
}

// testInboxConcurrentClaims: claims made at once never return one
// delivery twice, and together return every one.
func testInboxConcurrentClaims(ctx context.Context, t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	const n = 60
	for i := range n {
		if _, err := s.AcceptDelivery(ctx, store.Inbound{Forge: event.GitHub, ID: fmt.Sprint(i), Event: "issues", Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
	)
	now := time.Now()
	for range 4 {
		wg.Go(func() {
			for {
				got, err := s.ClaimInbound(ctx, now, time.Hour, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, d := range got {
					seen[d.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("the claims returned %d of %d deliveries", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Errorf("delivery %s claimed %d times", id, k)
		}
	}
}

func inboundIDs(ds []store.Inbound) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = string(d.Forge) + "/" + d.ID
	}
	return out
}
