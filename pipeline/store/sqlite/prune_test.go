package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

func recordDeliveries(t *testing.T, s *Store, prefix string, n int, at time.Time) {
	t.Helper()
	err := s.InTx(context.Background(), func(ctx context.Context, tx store.Tx) error {
		for i := range n {
			if _, err := tx.RecordDelivery(ctx, event.GitHub, fmt.Sprintf("%s-%d", prefix, i), "issues", at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Old delivery ids go, in batches; recent ones stay and still catch a
// redelivery.
func TestPruneDeliveries(t *testing.T) {
	ctx := context.Background()
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"))
	now := time.Now()
	recordDeliveries(t, s, "old", pruneBatch*2+5, now.Add(-40*24*time.Hour))
	recordDeliveries(t, s, "new", 7, now.Add(-time.Hour))

	n, err := s.pruneDeliveries(ctx, now.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != pruneBatch*2+5 {
		t.Errorf("pruned %d, want %d", n, pruneBatch*2+5)
	}
	got := deliveryIDs(t, s)
	if len(got) != 7 {
		t.Errorf("%d deliveries left, want the 7 recent ones", len(got))
	}
	for i := range 7 {
		if !got[fmt.Sprintf("new-%d", i)] {
			t.Errorf("new-%d was pruned", i)
		}
	}
	err = s.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		dup, err := tx.RecordDelivery(ctx, event.GitHub, "new-3", "issues", now)
		if err == nil && !dup {
			t.Error("a kept delivery id no longer catches its redelivery")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The store prunes by itself while open.
func TestPrunerRuns(t *testing.T) {
	s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), WithDeliveryRetention(time.Hour),
		func(c *config) { c.pruneEvery = 10 * time.Millisecond })
	recordDeliveries(t, s, "old", 3, time.Now().Add(-2*time.Hour))
	recordDeliveries(t, s, "new", 2, time.Now())
	deadline := time.Now().Add(30 * time.Second)
	for len(deliveryIDs(t, s)) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries left, want 2", len(deliveryIDs(t, s)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
