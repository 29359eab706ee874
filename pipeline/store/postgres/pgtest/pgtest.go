// Package pgtest makes throw-away PostgreSQL databases for tests. It is
// test support: nothing on the production path imports it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// AdminURL is the PostgreSQL server the tests make their databases on:
// EXPBOT_TEST_POSTGRES_URL, or the local server that CI runs (trust
// authentication for the postgres user).
func AdminURL() string {
	if u := os.Getenv("EXPBOT_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// Admin connects to AdminURL's database for t, failing t (never skipping
// it) when PostgreSQL cannot be reached: it is part of what CI proves.
func Admin(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		t.Fatalf("this test needs PostgreSQL (set EXPBOT_TEST_POSTGRES_URL, or run one on 127.0.0.1:5432): %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// NewDatabase makes an empty database for t, drops it (closing the
// connections left to it) when t ends, and returns its URL and name.
func NewDatabase(t testing.TB) (dbURL, name string) {
	t.Helper()
	admin := Admin(t)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name = "expbot_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer func() { _ = c.Close(context.Background()) }()
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String(), name
}

// Connect connects to dbURL for t, closing the connection when t ends.
func Connect(t testing.TB, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect to the test database: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}
