package config

import "testing"

func TestPostgresStateURL(t *testing.T) {
	tests := []struct {
		name, store, sslEnv, want string
	}{
		{"plain", "postgres://bot@db:5432/expbot?sslmode=verify-full", "",
			"postgres://bot@db:5432/expbot?sslmode=verify-full&table=pulumi_state"},
		{"postgresql scheme, pgx-only parameters dropped", "postgresql://bot@db/expbot?sslmode=disable&pool_max_conns=4&pool_min_conns=1&statement_cache_capacity=0&connect_timeout=5", "",
			"postgres://bot@db/expbot?connect_timeout=5&sslmode=disable&table=pulumi_state"},
		{"no sslmode: pgx's prefer", "postgres://bot@db/expbot", "",
			"postgres://bot@db/expbot?sslmode=prefer&table=pulumi_state"},
		{"no sslmode but PGSSLMODE: left to it", "postgres://bot@db/expbot", "verify-full",
			"postgres://bot@db/expbot?table=pulumi_state"},
		{"a table in the URL is ours", "postgres://bot@db/expbot?sslmode=disable&table=other", "",
			"postgres://bot@db/expbot?sslmode=disable&table=pulumi_state"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := postgresStateURL(tc.store, tc.sslEnv)
			if err != nil || got != tc.want {
				t.Errorf("postgresStateURL(%q) = %q, %v; want %q", tc.store, got, err, tc.want)
			}
		})
	}
	if _, err := postgresStateURL("mysql://x:secret@h/db", ""); err == nil {
		t.Error("a non-postgres URL was accepted")
	}
}

func TestBackendURLDefaults(t *testing.T) {
	c := Config{DataDir: "/data", StoreURL: "postgres://bot@db/expbot?sslmode=disable"}
	if got, err := c.BackendURL(); err != nil || got != "postgres://bot@db/expbot?sslmode=disable&table=pulumi_state" {
		t.Errorf("with a store URL: %q, %v", got, err)
	}
	c.Pulumi.BackendURL = "s3://bucket"
	if got, _ := c.BackendURL(); got != "s3://bucket" {
		t.Errorf("backend_url set: %q, want it kept", got)
	}
	c = Config{DataDir: "/data"}
	if got, _ := c.BackendURL(); got != "file:///data/pulumi/state" {
		t.Errorf("SQLite: %q, want the data directory", got)
	}
}
