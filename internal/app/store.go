package app

import (
	"context"
	"net/url"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/postgres"
	"github.com/expbot/expbot/pipeline/store/sqlite"
)

// openStore opens the store cfg.StoreURL chooses: PostgreSQL when set, the
// embedded SQLite database in the data directory otherwise. On PostgreSQL
// every statement but an acknowledgement's waits at acks.
func openStore(ctx context.Context, cfg config.Config, reg *prometheus.Registry, acks *ackfirst.Gate) (store.Store, error) {
	if cfg.StoreURL != "" {
		// A run's lock and a report's per worker (postgres.WithLockConns).
		return postgres.Open(ctx, cfg.StoreURL, postgres.WithDeliveryRetention(cfg.DeliveryRetention),
			postgres.WithLockConns(2*cfg.Workers), postgres.WithAckGate(acks))
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "expbot.db"),
		sqlite.WithDeliveryRetention(cfg.DeliveryRetention), sqlite.WithCommitObserver(commitMetric(reg)))
}

// storePassword is the password written into the store's URL, if any, to
// be scrubbed from output like the other secrets.
func storePassword(storeURL string) string {
	u, err := url.Parse(storeURL)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}
