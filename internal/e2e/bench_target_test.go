package e2e

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

// benchTarget is what a benchmark sends its deliveries to: one expbot on
// SQLite, or n replicas sharing one PostgreSQL database (the chaos tests'
// replicaSet), each with its own port, data directory and log.
type benchTarget struct {
	name     string
	h        *harness   // the forge (sim, forge) and the first bot
	bots     []*harness // every bot process
	storeURL string     // "" for SQLite in h.dataDir
}

// storeKind names the store a target runs on.
type storeKind string

const (
	onSQLite   storeKind = "sqlite"
	onPostgres storeKind = "postgres"
)

// newTarget starts n bots on store with env added to their environment;
// on PostgreSQL, each with a pool of pool connections (0: the default).
// SQLite takes one process per data directory: n must be 1.
func newTarget(b *testing.B, store storeKind, n, pool int, env map[string]string) benchTarget {
	b.Helper()
	switch store {
	case onSQLite:
		if n != 1 {
			b.Fatalf("%d bots on SQLite: it takes one", n)
		}
		var h *harness
		if len(env) > 0 {
			h = newHarnessEnv(b, env)
		} else {
			h = newHarness(b)
		}
		return benchTarget{name: "sqlite", h: h, bots: []*harness{h}}
	case onPostgres:
		dbURL, _ := pgtest.NewDatabase(b)
		cfg := replicaConfig{StoreURL: dbURL, Env: env}
		if pool > 0 {
			cfg.StoreURL += "&pool_max_conns=" + strconv.Itoa(pool)
		}
		rs := newReplicas(b, n, cfg)
		return benchTarget{name: fmt.Sprintf("postgres-%d", n), h: rs.harness, bots: rs.replicas, storeURL: dbURL}
	}
	b.Fatalf("unknown store %q", store)
	return benchTarget{}
}

// webhookURLs are the bots' GitHub endpoints, for a round-robin client.
func (t benchTarget) webhookURLs() []string {
	var out []string
	for _, h := range t.bots {
		out = append(out, "http://"+h.addr+"/webhooks/github")
	}
	return out
}

// crash kills every bot and what it started, as a power cut would.
func (t benchTarget) crash() {
	for _, h := range t.bots {
		h.crash()
	}
}

// counters sums the bots' counters.
func (t benchTarget) counters(b *testing.B) botCounters {
	var c botCounters
	for _, h := range t.bots {
		c = c.plus(readBotCounters(b, h))
	}
	return c
}

// accepted sums the bots' accepted GitHub issues deliveries.
func (t benchTarget) accepted(b *testing.B) int {
	b.Helper()
	total := 0
	for _, h := range t.bots {
		v := h.metric(`expbot_webhook_deliveries_total{event="issues",forge="github",outcome="accepted"}`)
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatalf("accepted deliveries of %s: %q", h.addr, v)
		}
		total += n
	}
	return total
}

// logs are the bots' log files.
func (t benchTarget) logs() []string {
	var out []string
	for _, h := range t.bots {
		out = append(out, h.log.Name())
	}
	return out
}

// checkRecorded looks for every delivery id in the store; the bots must be
// stopped (crash) first, so that nothing could be written late.
func (t benchTarget) checkRecorded(b *testing.B, reqs []ackReq) {
	b.Helper()
	if t.storeURL == "" {
		checkRecorded(b, filepath.Join(t.h.dataDir, "expbot.db"), reqs)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, t.storeURL)
	if err != nil {
		b.Fatalf("read deliveries: %v", err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	rows, err := c.Query(ctx, deliveryIDs)
	if err != nil {
		b.Fatalf("read deliveries: %v", err)
	}
	defer rows.Close()
	wantRecorded(b, rows, reqs)
}

// drained waits until every delivery the bots kept to apply later (the
// inbox, on PostgreSQL) is applied, and returns when that was; at once on
// SQLite, which applies before it answers.
func (t benchTarget) drained(b *testing.B) time.Time {
	b.Helper()
	if t.storeURL == "" {
		return time.Now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, t.storeURL)
	if err != nil {
		b.Fatalf("read the inbox: %v", err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	for {
		var n int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM inbox`).Scan(&n); err != nil {
			b.Fatalf("read the inbox (%d left): %v", n, err)
		}
		if n == 0 {
			return time.Now()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pgBackends are the PostgreSQL server processes serving the target's
// database (they live as long as the bots' pooled connections), for their
// CPU time; none on SQLite. The server runs on this machine.
func (t benchTarget) pgBackends(b *testing.B) []int {
	b.Helper()
	if t.storeURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, t.storeURL)
	if err != nil {
		b.Fatalf("list the database's backends: %v", err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	rows, err := c.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		b.Fatalf("list the database's backends: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatalf("list the database's backends: %v", err)
	}
	out := make([]int, len(pids))
	for i, p := range pids {
		out[i] = int(p)
	}
	return out
}

// cpuSeconds sums the user and system CPU time of pids from /proc (gone
// ones count nothing).
func cpuSeconds(pids []int) float64 {
	const ticks = 100 // USER_HZ on Linux
	var total float64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(stat), ')')
		f := strings.Fields(string(stat[i+1:]))
		if i < 0 || len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		total += (u + s) / ticks
	}
	return total
}

// machineCPU reads /proc/stat: CPU seconds busy and in all, over every
// CPU, so that a run can say how busy the whole machine was.
func machineCPU() (busy, all float64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	for i, v := range f[1:] {
		x, _ := strconv.ParseFloat(v, 64)
		if i < 8 {
			all += x / 100
			if i != 3 && i != 4 {
				busy += x / 100
			}
		}
	}
	return busy, all
}

// loadAverage is the machine's one-minute load average, as text.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// countLines counts the lines of a file that contain s.
func countLines(file, s string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return -1
	}
	return strings.Count(string(data), s) // one per line: s is a JSON field and value
}

// selfCPU is this process's CPU seconds: in a benchmark, mostly the
// simulated forge answering the bots.
func selfCPU() float64 {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano()).Seconds()
}

// sampleWaits samples, every 20 ms until stop is called, what the
// PostgreSQL backends serving the target's database are doing
// (pg_stat_activity: active or idle in a transaction, and what they wait
// for), and returns the counts, most frequent first: where the database
// side of a load spends its time. Nothing on SQLite.
func (t benchTarget) sampleWaits(b *testing.B) (stop func() []string) {
	b.Helper()
	if t.storeURL == "" {
		return func() []string { return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := pgx.Connect(ctx, t.storeURL)
	if err != nil {
		cancel()
		b.Fatalf("sample the database's backends: %v", err)
	}
	counts := map[string]int{}
	samples := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rows, err := c.Query(ctx, `SELECT state || ' ' || coalesce(wait_event_type || ':' || wait_event, 'on CPU')
				FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`)
			if err != nil {
				return
			}
			what, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return
			}
			samples++
			for _, w := range what {
				counts[w]++
			}
		}
	}()
	return func() []string {
		cancel()
		<-done
		_ = c.Close(context.Background())
		var out []string
		for w, n := range counts {
			out = append(out, fmt.Sprintf("%.1f %s", float64(n)/float64(max(samples, 1)), w))
		}
		slices.SortFunc(out, func(a, b string) int {
			x, _ := strconv.ParseFloat(strings.Fields(a)[0], 64)
			y, _ := strconv.ParseFloat(strings.Fields(b)[0], 64)
			return cmp.Compare(y, x)
		})
		return out
	}
}
