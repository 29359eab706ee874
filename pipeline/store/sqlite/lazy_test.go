package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// syncLevel is the synchronous setting a write transaction runs (and so
// commits) at: 2 is FULL, an fsync per commit; 1 is NORMAL, none.
func syncLevel(t *testing.T, tx *sql.Tx) int {
	t.Helper()
	var n int
	if err := tx.QueryRow(`PRAGMA synchronous`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLazyWritesSkipTheFsync(t *testing.T) {
	for _, c := range []struct {
		configured string
		durable    bool
		want       int
	}{
		{"FULL", true, 2},
		{"FULL", false, 1},
		{"NORMAL", true, 1},
		{"NORMAL", false, 1},
		{"OFF", false, 0}, // never made stricter than configured
	} {
		name := c.configured + "/lazy"
		if c.durable {
			name = c.configured + "/durable"
		}
		t.Run(name, func(t *testing.T) {
			s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), withSynchronous(c.configured))
			// Alternate, so that each switch of the connection is seen.
			for i := range 3 {
				got := -1
				err := s.write(context.Background(), c.durable, func(ctx context.Context, tx *sql.Tx) error {
					got = syncLevel(t, tx)
					_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (forge, delivery_id, event, received_at) VALUES ('github', ?, 'issues', 0)`, name+string(rune('a'+i)))
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if got != c.want {
					t.Errorf("run %d: synchronous = %d, want %d", i, got, c.want)
				}
				inTxSync(t, s, !c.durable)
			}
			if n := len(deliveryIDs(t, s)); n != 3 {
				t.Errorf("%d rows committed, want 3", n)
			}
		})
	}
}

// inTxSync runs an empty transaction of the given kind in between.
func inTxSync(t *testing.T, s *Store, durable bool) {
	t.Helper()
	if err := s.write(context.Background(), durable, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE deliveries SET event = event WHERE 0`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// A write that must be durable never rides in a lazy group: when one is
// open it is committed first. A lazy write may join a durable group (it is
// then durable too). The first member holds its group open until the
// second waits, so that the second finds it open.
func TestGroupsOfMixedDurability(t *testing.T) {
	level := map[bool]int{true: 2, false: 1} // durable or not, at FULL
	for _, c := range []struct {
		name          string
		first, second bool // durable?
	}{
		{"durable after lazy", false, true},
		{"lazy after durable", true, false},
		{"lazy after lazy", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), withSynchronous("FULL"))
			// Whether the second finds the group still open depends on
			// timing: try at least 20 times, and on a busy machine until it
			// has joined once (or could have, 500 times).
			wantJoin := c.first || !c.second
			joined := 0
			for i := 0; i < 20 || (wantJoin && joined == 0 && i < 500); i++ {
				var (
					wg      sync.WaitGroup
					second  = -1
					members int
				)
				wg.Add(2)
				go func() {
					defer wg.Done()
					err := s.write(context.Background(), c.first, func(ctx context.Context, tx *sql.Tx) error {
						go func() {
							defer wg.Done()
							err := s.write(context.Background(), c.second, func(ctx context.Context, tx *sql.Tx) error {
								second, members = syncLevel(t, tx), s.writes.cur.members
								return nil
							})
							if err != nil {
								t.Error(err)
							}
						}()
						for s.writes.waiting.Load() == 0 {
							time.Sleep(10 * time.Microsecond)
						}
						return nil
					})
					if err != nil {
						t.Error(err)
					}
				}()
				wg.Wait()
				want := level[c.second]
				if members > 1 {
					joined++
					want = level[c.first]
				}
				if second != want {
					t.Fatalf("second transaction ran at synchronous %d in a group of %d, want %d", second, members, want)
				}
			}
			if wantJoin && joined == 0 {
				t.Error("the second transaction never joined the first one's group")
			} else if !wantJoin && joined > 0 {
				t.Errorf("a durable transaction joined a lazy group %d times", joined)
			}
		})
	}
}

// The commit observer hears of every commit, and whether it synced.
func TestCommitObserver(t *testing.T) {
	for _, c := range []struct {
		configured string
		want       []bool // durable, then lazy
	}{
		{"FULL", []bool{true, false}},
		{"NORMAL", []bool{false, false}},
	} {
		t.Run(c.configured, func(t *testing.T) {
			var (
				mu  sync.Mutex
				got []bool
			)
			s := openAt(t, filepath.Join(t.TempDir(), "expbot.db"), withSynchronous(c.configured),
				WithCommitObserver(func(synced bool, took time.Duration) {
					if took <= 0 {
						t.Errorf("commit took %v", took)
					}
					mu.Lock()
					defer mu.Unlock()
					got = append(got, synced)
				}))
			inTxSync(t, s, true)
			inTxSync(t, s, false)
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(got, c.want) {
				t.Errorf("commits seen: %v, want %v", got, c.want)
			}
		})
	}
}
