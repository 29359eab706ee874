package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

// A fetch whose answer never arrives (the network between the process and
// the database broke after the database committed it) leaves jobs marked
// "running" under a live process that never ran them, and whose lease
// keeps other processes off them: River would rescue them only an hour
// after the job timeout, and their repositories' requests would wait
// behind them. The process finds them once it reaches the database again
// and makes them available (queue's lost jobs); here the job then runs.
func TestLostFetchRunsLater(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := pgtest.NewDatabase(t)
	p := newCutProxy(t, dbURL)
	// The lease's ticks (lease/6) look for lost jobs: every half second.
	s := openAt(t, p.url, WithLease(3*time.Second), WithLostGrace(time.Second))
	direct := openAt(t, dbURL) // another process, on a network that works
	var (
		mu  sync.Mutex
		ran = map[string]bool{}
	)
	hasRun := func(repo string) bool { mu.Lock(); defer mu.Unlock(); return ran[repo] }
	err := s.Start(ctx, store.Handlers{
		Workers: 1,
		Reconcile: func(_ context.Context, repo store.RepoKey) error {
			mu.Lock()
			ran[repo.Path] = true
			mu.Unlock()
			return nil
		},
		Report: func(context.Context, int64) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	fetchedUnder := func(repo string) bool {
		var running bool
		if err := direct.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job
			WHERE state = 'running' AND args->>'path' = $1 AND attempted_by[1] = $2)`, repo, s.ProcessID()).Scan(&running); err != nil {
			t.Fatal(err)
		}
		return running
	}
	// lostFetch makes repo's job appear while s's fetch waits on the
	// table's lock, and drops the fetch's answer; it reports whether s
	// fetched the job so. (s's fetch may not be the one waiting then: the
	// test tries again.)
	lostFetch := func(repo string) bool {
		time.Sleep(200 * time.Millisecond) // s polls
		ptx, err := direct.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = ptx.Rollback(ctx) }()
		if _, err := ptx.Exec(ctx, `LOCK TABLE river_job IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		if err := (&tx{s: direct, tx: ptx}).EnqueueReconcile(ctx, store.RepoKey{Forge: "github", Path: repo}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // s's next fetch waits for the lock
		p.silence(true)
		if err := ptx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if fetchedUnder(repo) {
				return true
			}
		}
		return false
	}
	waitRun := func(repo string) bool {
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if hasRun(repo) {
				return true
			}
		}
		return false
	}

	for try := 1; ; try++ {
		repo := fmt.Sprintf("o/r%d", try)
		lost := lostFetch(repo)
		if lost && hasRun(repo) {
			t.Fatal("the job ran although its fetch was never answered: nothing to check")
		}
		p.cut() // the broken connections end; new ones work
		p.silence(false)
		if lost {
			if !waitRun(repo) {
				t.Fatal("the job whose fetch was lost never ran")
			}
			return
		}
		if try == 5 {
			t.Fatal("in 5 tries, the job was never fetched while the answers were dropped: nothing checked")
		}
		if !waitRun(repo) {
			t.Fatalf("try %d: the job never ran once the network healed", try)
		}
	}
}

// cutProxy forwards TCP connections to the database. Silenced, it drops
// what the database answers; cut, it closes every connection: the network
// of a process that breaks, then heals.
type cutProxy struct {
	url    string
	target string
	l      net.Listener

	mu     sync.Mutex
	silent bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, dbURL string) *cutProxy {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{target: u.Host, l: l, conns: map[net.Conn]bool{}}
	u.Host = l.Addr().String()
	p.url = u.String()
	t.Cleanup(func() { _ = l.Close(); p.cut() })
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.l.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		go p.forward(c)
	}
}

func (p *cutProxy) forward(c net.Conn) {
	d, err := net.Dial("tcp", p.target)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[d] = true, true
	p.mu.Unlock()
	go func() { p.pipe(d, c, false); _ = d.Close() }()
	p.pipe(c, d, true)
	_ = c.Close()
}

// pipe copies from src to dst; answers (from the database) are dropped
// while the proxy is silenced.
func (p *cutProxy) pipe(dst, src net.Conn, answers bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := answers && p.silent
			p.mu.Unlock()
			if !drop {
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *cutProxy) silence(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.silent = on
}

// cut closes every connection made so far.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}
