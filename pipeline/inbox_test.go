package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// newInbox is an inbox over st, applying through an Intake of st, with
// series of its own.
func newInbox(st store.Store) (*Inbox, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	return &Inbox{Store: st, Intake: &Intake{Store: st}, Log: zerolog.Nop(), Metrics: NewInboxMetrics(reg, st)}, reg
}

// runInbox runs ib until the test ends or stop is called, and checks that
// it stops.
func runInbox(t *testing.T, ib *Inbox) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ib.Run(ctx) }()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the inbox did not stop")
		}
	}
	t.Cleanup(stop)
	return stop
}

func labeled(id string, at time.Time, labels ...string) event.Delivery {
	ch := issueChange(event.GitHub, validBody, nil, labels)
	ch.At = at
	return event.Delivery{Forge: event.GitHub, ID: id, Event: "issues", ReceivedAt: time.Now(), Payload: ch}
}

func TestInboxAcknowledgesThenApplies(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	ib, reg := newInbox(db)
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	t0 := time.Date(2026, 12, 6, 11, 0, 0, 0, time.UTC)

	record := func(d event.Delivery, want event.Outcome) {
		t.Helper()
		got, err := ib.Record(ctx, d)
		if err != nil || got != want {
			t.Fatalf("Record(%s) = %v, %v; want %v", d.ID, got, err, want)
		}
	}
	record(labeled("d1", t0, "new-experiment"), event.OutcomeAccepted)
	record(labeled("d1", t0, "new-experiment"), event.OutcomeDuplicate)
	record(labeled("other-label", t0, "bug"), event.OutcomeIgnored) // screened out: not kept
	if _, err := db.ExperimentByKey(ctx, repo, "issue:12"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before the inbox runs, the experiment is %v; want it not applied yet", err)
	}
	if n, _ := db.InboxDepth(ctx); n != 1 {
		t.Fatalf("inbox depth %d, want 1 (the duplicate and the screened-out delivery are not kept)", n)
	}

	runInbox(t, ib)
	waitUntil(t, "the delivery is applied", func() bool { n, _ := db.InboxDepth(ctx); return n == 0 })
	e, err := db.ExperimentByKey(ctx, repo, "issue:12")
	if err != nil || e.Desired != store.Active || e.Name != "lr-sweep" {
		t.Fatalf("experiment after the inbox applied it: %+v, %v; want active lr-sweep", e, err)
	}
	if got := db.jobs(t); len(got) != 2 {
		t.Errorf("queued jobs %v, want the repository's reconcile and the experiment's report", got)
	}

	// Applied deliveries are duplicates too; a late one is applied as stale.
	record(labeled("d1", t0, "new-experiment"), event.OutcomeDuplicate)
	late := labeled("d0-late", t0.Add(-time.Minute)) // the label's removal, older
	late.Payload.(*event.IssueChange).PrevLabels = []string{"new-experiment"}
	record(late, event.OutcomeAccepted)
	waitUntil(t, "the late delivery is applied", func() bool { return appliedCount(t, reg, "stale") == 1 })
	if e, _ := db.ExperimentByKey(ctx, repo, "issue:12"); e.Desired != store.Active {
		t.Errorf("a late delivery changed the experiment: desired %s", e.Desired)
	}
	if got := appliedCount(t, reg, "accepted"); got != 1 {
		t.Errorf("applied accepted = %v, want 1", got)
	}
}

// failingTx makes the first fails transactions fail.
type failingTx struct {
	store.Store
	fails atomic.Int32
}

func (f *failingTx) InKeptTx(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	if f.fails.Add(-1) >= 0 {
		return errors.New("the database went away")
	}
	return f.Store.InKeptTx(ctx, fn)
}

func TestInboxRetriesAFailedApplication(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	st := &failingTx{Store: db}
	st.fails.Store(1)
	ib, reg := newInbox(st)
	if out, err := ib.Record(ctx, labeled("d1", time.Now(), "new-experiment")); err != nil || out != event.OutcomeAccepted {
		t.Fatalf("Record = %v, %v", out, err)
	}
	runInbox(t, ib)
	waitUntil(t, "the delivery is applied on its second try", func() bool { return appliedCount(t, reg, "accepted") == 1 })
	if got := appliedCount(t, reg, "retrying"); got != 1 {
		t.Errorf("applications that failed and were retried: %v, want 1", got)
	}
	if _, err := db.ExperimentByKey(ctx, store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, "issue:12"); err != nil {
		t.Errorf("experiment after the retry: %v", err)
	}
}

// A delivery claimed by a process that died is applied by another once
// the claim has run out.
func TestInboxTakesOverAnAbandonedClaim(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	ib, reg := newInbox(db)
	if _, err := ib.Record(ctx, labeled("d1", time.Now(), "new-experiment")); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ClaimInbound(ctx, time.Now(), claimTTL, claimBatch); err != nil || len(got) != 1 {
		t.Fatalf("the dead process's claim: %v, %v", got, err)
	}
	later := time.Now().Add(claimTTL + time.Second)
	ib.Now = func() time.Time { return later }
	runInbox(t, ib)
	waitUntil(t, "the abandoned delivery is applied", func() bool { return appliedCount(t, reg, "accepted") == 1 })
}

func TestRetryDelay(t *testing.T) {
	for _, tt := range []struct {
		attempts int
		want     time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {5, 32 * time.Second}, {6, time.Minute}, {60, time.Minute}} {
		if got := retryDelay(tt.attempts); got != tt.want {
			t.Errorf("retryDelay(%d) = %v, want %v", tt.attempts, got, tt.want)
		}
	}
}

// appliedCount reads expbot_deliveries_applied_total{outcome}.
func appliedCount(t *testing.T, reg *prometheus.Registry, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "expbot_deliveries_applied_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelIs(m, "outcome", outcome) {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no expbot_deliveries_applied_total{outcome=%q}", outcome)
	return 0
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// txSpy counts transactions and makes ApplyChange fail for one key.
type txSpy struct {
	store.Store
	txs     atomic.Int32
	failKey string
}

func (s *txSpy) InKeptTx(ctx context.Context, fn func(context.Context, store.Tx) error) error {
	s.txs.Add(1)
	return s.Store.InKeptTx(ctx, func(ctx context.Context, tx store.Tx) error { return fn(ctx, failingChange{tx, s.failKey}) })
}

type failingChange struct {
	store.Tx
	key string
}

func (f failingChange) ApplyChange(ctx context.Context, c store.Change) (store.Experiment, bool, error) {
	if c.Key == f.key {
		return store.Experiment{}, false, errors.New("cannot apply this one")
	}
	return f.Tx.ApplyChange(ctx, c)
}

// Deliveries of one repository are applied in one transaction, and a
// delivery that cannot be applied holds up none of the others: the
// transaction fails, they are applied one by one, and it alone is tried
// again later.
func TestInboxAppliesARepositoryTogetherAndIsolatesAFailure(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	spy := &txSpy{Store: db, failKey: "issue:99"}
	ib, reg := newInbox(spy)
	record := func(id string, number int) {
		t.Helper()
		d := labeled(id, time.Now(), "new-experiment")
		d.Payload.(*event.IssueChange).Number = number
		if _, err := ib.Record(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		record(fmt.Sprintf("d%d", i), 20+i)
	}
	stop := runInbox(t, ib)
	waitUntil(t, "all four are applied", func() bool { return appliedCount(t, reg, "accepted") == 4 })
	if n := spy.txs.Load(); n != 1 {
		t.Errorf("four deliveries of one repository took %d transactions, want 1", n)
	}
	var reconciles int
	for _, j := range db.jobs(t) {
		if strings.HasPrefix(j, "reconcile ") {
			reconciles++
		}
	}
	if reconciles != 1 {
		t.Errorf("reconcile jobs %d, want the repository's one: %v", reconciles, db.jobs(t))
	}

	// One that cannot be applied, between two that can, all kept before
	// another inbox claims them.
	stop()
	ib, reg = newInbox(spy)
	spy.txs.Store(0)
	record("e1", 30)
	record("bad", 99)
	record("e2", 31)
	runInbox(t, ib)
	waitUntil(t, "the good ones are applied", func() bool { return appliedCount(t, reg, "accepted") == 2 })
	if n := spy.txs.Load(); n < 4 {
		t.Errorf("%d transactions, want the failed one of all three and one each after it", n)
	}
	waitUntil(t, "the bad one is left", func() bool { n, _ := db.InboxDepth(ctx); return n == 1 })
	if got := appliedCount(t, reg, "retrying"); got < 1 {
		t.Errorf("the failed application was not counted as retrying (%v)", got)
	}
	left, err := db.ClaimInbound(ctx, time.Now().Add(time.Hour), time.Minute, 10)
	if err != nil || len(left) != 1 || left[0].ID != "bad" || left[0].Attempts < 1 {
		t.Fatalf("left in the inbox: %+v, %v; want the bad delivery, tried at least once", left, err)
	}
	for _, key := range []string{"issue:30", "issue:31"} {
		if _, err := db.ExperimentByKey(ctx, store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, key); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}
}

// Deliveries arriving one after another while the inbox is idle are
// gathered and applied in one transaction, not one each.
func TestInboxGathersAStream(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	spy := &txSpy{Store: db}
	ib, reg := newInbox(spy)
	ib.Gather = time.Second // longer than recording four takes
	runInbox(t, ib)
	record := func(i int) {
		t.Helper()
		d := labeled(fmt.Sprintf("s%d", i), time.Now(), "new-experiment")
		d.Payload.(*event.IssueChange).Number = 40 + i
		if _, err := ib.Record(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	// One first, applied, so that the inbox is surely idle (its first
	// claim, at start, takes what waits at once).
	record(0)
	waitUntil(t, "the first is applied", func() bool { return appliedCount(t, reg, "accepted") == 1 })
	spy.txs.Store(0)
	for i := range 4 {
		record(1 + i)
	}
	waitUntil(t, "all four are applied", func() bool { return appliedCount(t, reg, "accepted") == 5 })
	if n := spy.txs.Load(); n != 1 {
		t.Errorf("four deliveries in a row took %d transactions, want 1", n)
	}
}

// TestInboxLetsAcknowledgementsGoFirst: while an acknowledgement is in
// flight a kept delivery waits, and is applied once it ends.
func TestInboxLetsAcknowledgementsGoFirst(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	ib, _ := newInbox(db)
	ib.Gate = ackfirst.New(time.Hour)
	exit := ib.Gate.Enter()
	defer exit()
	if out, err := ib.Record(ctx, labeled("d1", time.Now(), "new-experiment")); err != nil || out != event.OutcomeAccepted {
		t.Fatalf("Record = %v, %v", out, err)
	}
	runInbox(t, ib)
	time.Sleep(ib.Gather + gatherFor + 200*time.Millisecond) // a wakeup's gathering and more
	if n, _ := db.InboxDepth(ctx); n != 1 {
		t.Fatalf("inbox depth %d while an acknowledgement was in flight, want 1 (not applied yet)", n)
	}
	exit()
	waitUntil(t, "the delivery is applied", func() bool { n, _ := db.InboxDepth(ctx); return n == 0 })
	if _, err := db.ExperimentByKey(ctx, store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, "issue:12"); err != nil {
		t.Fatalf("experiment after the acknowledgement: %v", err)
	}
}
