package postgres

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

const (
	leaseChildEnv  = "EXPBOT_TEST_LEASE_CHILD_DB"
	leaseChildLine = "lease-child-running"
	testLease      = 2 * time.Second
)

// TestLeaseChildProcess is the process that dies in TestLeaseTakeover: it
// runs the queued reconcile and holds it until killed. Without the
// environment variable it does nothing.
func TestLeaseChildProcess(t *testing.T) {
	dbURL := os.Getenv(leaseChildEnv)
	if dbURL == "" {
		return
	}
	s := openAt(t, dbURL, WithLease(testLease))
	ctx := context.Background()
	err := s.Start(ctx, store.Handlers{
		Workers: 1,
		Reconcile: func(ctx context.Context, _ store.RepoKey) error {
			fmt.Println(leaseChildLine)
			<-ctx.Done()
			return ctx.Err()
		},
		Report: func(context.Context, int64) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Minute) // killed long before
}

// TestLeaseTakeover: a process killed while it runs a job (no cleanup) has
// the job taken over by another process sharing the database once its lease
// runs out, and not before while it lives. Without leases the job would stay
// running until River's rescuer, an hour and a half later.
func TestLeaseTakeover(t *testing.T) {
	ctx := context.Background()
	dbURL, _ := pgtest.NewDatabase(t)
	s := openAt(t, dbURL, WithLease(testLease))
	repo := store.RepoKey{Forge: "github", Path: "o/r"}
	if err := s.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return tx.EnqueueReconcile(ctx, repo) }); err != nil {
		t.Fatal(err)
	}

	child := exec.Command(os.Args[0], "-test.run", "^TestLeaseChildProcess$", "-test.count=1")
	child.Env = append(os.Environ(), leaseChildEnv+"="+dbURL)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	running := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == leaseChildLine {
				close(running)
				break
			}
		}
		for sc.Scan() { // keep the pipe drained
		}
	}()
	select {
	case <-running:
	case <-time.After(2 * time.Minute):
		t.Fatal("the child process never ran the job")
	}

	var (
		mu      sync.Mutex
		calls   int
		retried bool
	)
	err = s.Start(ctx, store.Handlers{
		Reconcile: func(ctx context.Context, r store.RepoKey) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			retried = store.Retried(ctx)
			return nil
		},
		Report: func(context.Context, int64) error { return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	// The child lives and renews its lease: its job is left to it.
	time.Sleep(3 * testLease)
	mu.Lock()
	early := calls
	mu.Unlock()
	if early != 0 {
		t.Fatalf("the job of a live process was taken over (%d runs here)", early)
	}

	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_ = child.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		n, r := calls, retried
		mu.Unlock()
		if n > 0 {
			if !r {
				t.Error("the job taken over does not say it was started before (store.Retried)")
			}
			t.Logf("taken over %s after the kill (lease %s)", time.Since(killed).Round(time.Millisecond), testLease)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the killed process's job was not taken over")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
