package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/storetest"
)

// adminURL is the PostgreSQL the tests make their databases on:
// EXPBOT_TEST_POSTGRES_URL, or the local server CI runs.
func adminURL() string {
	if u := os.Getenv("EXPBOT_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// newDatabase makes an empty database for t and drops it when t ends. No
// PostgreSQL fails the test: it is part of what CI proves.
func newDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, adminURL())
	if err != nil {
		t.Fatalf("PostgreSQL is required for this test (EXPBOT_TEST_POSTGRES_URL or %s): %v", Redact(adminURL()), err)
	}
	defer func() { _ = admin.Close(context.Background()) }()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "expbot_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, adminURL())
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer func() { _ = admin.Close(context.Background()) }()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(adminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func testOptions(extra ...Option) []Option {
	return append([]Option{
		WithPollInterval(10 * time.Millisecond),
		WithLull(5*time.Millisecond, 50*time.Millisecond),
		WithRetryBackoff(10*time.Millisecond, 50*time.Millisecond),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}, extra...)
}

func openAt(t testing.TB, dbURL string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(context.Background(), dbURL, testOptions(opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestConformance runs the drivers' shared suite on PostgreSQL, one
// database per test (a test that reopens its store finds its data).
func TestConformance(t *testing.T) {
	var (
		mu  sync.Mutex
		dbs = map[*testing.T]string{}
	)
	storetest.Exercise(context.Background(), t, func(t *testing.T) store.Store {
		mu.Lock()
		u, ok := dbs[t]
		mu.Unlock()
		if !ok {
			u = newDatabase(t)
			mu.Lock()
			dbs[t] = u
			mu.Unlock()
		}
		return openAt(t, u)
	})
}
