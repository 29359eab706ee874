package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/expbot/expbot/internal/demo"
	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/internal/pulumicli"
	"github.com/expbot/expbot/internal/standin/install"
	"github.com/expbot/expbot/internal/testnet"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

// replicaSet is n `expbot serve` processes sharing one PostgreSQL database
// (store_url) and so one Pulumi state (its postgres:// default), each with
// a data directory, a PULUMI_HOME, a port and a log of its own, as replicas
// on different hosts have. One simulated forge serves them all; its hooks
// point at a round-robin front that spreads the deliveries over the
// replicas, as a load balancer does.
//
// The embedded harness is replica 0 and the forge's side of the set: sim,
// forge, holdRequests/failRequests (on the forge's API), statusComments,
// branch... Each replica's process is driven through replicas[i] (start,
// crash, stop, restart, metric, snapshot).
type replicaSet struct {
	*harness
	replicas []*harness
	storeURL string
	front    *front
	frontURL string // the URL the forge's hooks use, + /webhooks/{github,gitlab}
	writes   *commentWrites
}

// replicaConfig says how newReplicas sets up; the zero value is a fresh
// database on the shared PostgreSQL and the demo's forge.
type replicaConfig struct {
	// StoreURL is the database; empty makes one on the shared PostgreSQL
	// (pgtest.NewDatabase), dropped when the test ends.
	StoreURL string
	// Seed seeds the forge with hooks to botURL (the front); nil is demo.Seed.
	Seed func(f *state.Forge, botURL string) error
	// Env is added to (or, empty values, removed from) every replica's
	// environment.
	Env map[string]string
	// Forge options, e.g. forgesim.WithRetry; the forge keeps every delivery.
	Forge []forgesim.Option
	// NoStart leaves the replicas stopped: call startAll.
	NoStart bool
}

// newReplicas starts n replicas (in parallel, so that their migrations race
// as they would in a deployment) and waits until all are ready. They are
// stopped with SIGTERM when the test ends, before the database is dropped.
func newReplicas(t testing.TB, n int, cfg replicaConfig) *replicaSet {
	t.Helper()
	ctx := context.Background()
	if _, err := pulumicli.Locate(ctx, ""); err != nil {
		t.Fatalf("end-to-end tests need the Pulumi CLI (run `make pulumi`): %v", err)
	}
	if n < 1 {
		t.Fatalf("newReplicas: %d replicas", n)
	}
	if cfg.StoreURL == "" {
		cfg.StoreURL, _ = pgtest.NewDatabase(t)
	}
	if cfg.Seed == nil {
		cfg.Seed = demo.Seed
	}
	dir := t.TempDir()
	bin := expbotBinary(t)
	rs := &replicaSet{storeURL: cfg.StoreURL, writes: &commentWrites{}}
	var addrs []string
	for i := range n {
		rdir := filepath.Join(dir, fmt.Sprintf("replica-%d", i))
		h := &harness{t: t, bin: bin, home: filepath.Join(rdir, "pulumi-home"), dataDir: filepath.Join(rdir, "data")}
		if err := install.Install(ctx, h.home); err != nil {
			t.Fatal(err)
		}
		h.addr = testnet.Addr(t)
		addrs = append(addrs, h.addr)
		log, err := os.Create(filepath.Join(rdir, "expbot.log"))
		if err != nil {
			t.Fatal(err)
		}
		h.log = log
		h.envSet = map[string]string{"EXPBOT_STORE_URL": cfg.StoreURL}
		for k, v := range cfg.Env {
			h.envSet[k] = v
		}
		rs.replicas = append(rs.replicas, h)
	}
	rs.harness = rs.replicas[0]

	opts := append([]forgesim.Option{forgesim.WithClock(rs.now), forgesim.WithMaxDeliveries(1 << 20)}, cfg.Forge...)
	sim := forgesim.New(opts...)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(rs.writes.tap(rs.gated(sim.Handler())))
	t.Cleanup(srv.Close)
	sim.SetBaseURL(srv.URL)
	for _, h := range rs.replicas {
		h.sim, h.forge, h.simURL = sim, sim.Forge(), srv.URL
	}
	rs.front = newFront(addrs)
	fsrv := httptest.NewServer(rs.front)
	t.Cleanup(fsrv.Close)
	rs.frontURL = fsrv.URL
	if err := cfg.Seed(rs.forge, rs.frontURL); err != nil {
		t.Fatal(err)
	}
	// Registered last, so it runs first: the replicas end before the
	// forge, the front and the database go away.
	t.Cleanup(func() {
		rs.stopAll()
		for i, h := range rs.replicas {
			_ = h.log.Close()
			if t.Failed() {
				b, _ := os.ReadFile(h.log.Name())
				t.Logf("replica %d (%s) log:\n%s", i, h.addr, tail(string(b), 40))
			}
		}
	})
	if !cfg.NoStart {
		rs.startAll()
	}
	return rs
}

// startAll launches every stopped replica at once, then waits for each to
// be ready.
func (rs *replicaSet) startAll() {
	rs.t.Helper()
	for _, h := range rs.replicas {
		if h.cmd == nil {
			h.launch(h.simURL)
		}
	}
	for _, h := range rs.replicas {
		h.waitReady()
	}
}

// stopAll ends every replica with SIGTERM at once (a kill after 30 s).
func (rs *replicaSet) stopAll() {
	var wg sync.WaitGroup
	for _, h := range rs.replicas {
		wg.Go(h.stop)
	}
	wg.Wait()
}

// front spreads requests over the replicas in turn, as a round-robin load
// balancer does. It never retries: a replica that cannot answer (down,
// killed mid-request) is a 502 to the forge, and sending again is the
// forge's business (forgesim.WithRetry).
type front struct {
	addrs    []string
	next     atomic.Uint64
	proxy    *httputil.ReverseProxy
	mu       sync.Mutex
	answered map[string]map[int]int // replica address -> status -> count
}

func newFront(addrs []string) *front {
	f := &front{addrs: addrs, answered: map[string]map[int]int{}}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", f.addrs[int(f.next.Add(1)-1)%len(f.addrs)]
		},
		ModifyResponse: func(resp *http.Response) error {
			f.count(resp.Request.URL.Host, resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			f.count(r.URL.Host, http.StatusBadGateway)
			http.Error(w, "replica unreachable: "+err.Error(), http.StatusBadGateway)
		},
	}
	return f
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) { f.proxy.ServeHTTP(w, r) }

func (f *front) count(addr string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.answered[addr] == nil {
		f.answered[addr] = map[int]int{}
	}
	f.answered[addr][status]++
}

// answers returns, per replica address, how many requests got each status
// through the front (502: the replica could not be reached).
func (f *front) answers() map[string]map[int]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]map[int]int{}
	for a, m := range f.answered {
		out[a] = map[int]int{}
		for s, n := range m {
			out[a][s] = n
		}
	}
	return out
}

// commentWrites keeps the body of every comment write the forge receives
// (creates and edits, on issues, pull/merge requests and commits): the
// forge keeps only a comment's last body, and a test that no internal
// error ever reached a comment must see the edits in between.
type commentWrites struct {
	mu     sync.Mutex
	bodies []commentWrite
}

type commentWrite struct {
	Method, Path string
	Body         string // the request's JSON as sent
}

// commentPath tells a comment create or edit of either forge's API.
func commentPath(r *http.Request) bool {
	if r.Method != http.MethodPost && r.Method != http.MethodPatch && r.Method != http.MethodPut {
		return false
	}
	p := r.URL.Path
	return strings.HasSuffix(p, "/comments") || strings.Contains(p, "/comments/") ||
		strings.HasSuffix(p, "/notes") || strings.Contains(p, "/notes/")
}

func (c *commentWrites) tap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if commentPath(r) {
			b, err := io.ReadAll(r.Body)
			_ = r.Body.Close()
			r.Body = io.NopCloser(bytes.NewReader(b))
			if err == nil {
				c.mu.Lock()
				c.bodies = append(c.bodies, commentWrite{Method: r.Method, Path: r.URL.Path, Body: string(b)})
				c.mu.Unlock()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// all returns every comment write so far, oldest first.
func (c *commentWrites) all() []commentWrite {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]commentWrite(nil), c.bodies...)
}

// The helper itself: three replicas on one database behind the front, each
// answering deliveries; every labeled issue of either forge gets its branch
// and exactly one status comment.
func TestReplicasShareOneDatabase(t *testing.T) {
	rs := newReplicas(t, 3, replicaConfig{})
	issues := map[string][]int{}
	for _, flavor := range []string{"github", "gitlab"} {
		issues[flavor] = rs.labeledIssues(t, repoFor[flavor], "rep", 3)
	}
	for flavor, ns := range issues {
		rs.requireReady(t, repoFor[flavor], "rep", ns)
	}
	answers := rs.front.answers()
	for _, h := range rs.replicas {
		if answers[h.addr][http.StatusAccepted] == 0 {
			t.Errorf("replica %s accepted no delivery: %v", h.addr, answers)
		}
	}
}
