package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/expbot/expbot/pipeline/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

func migrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrationFS, "migrations")
}

// migrateLockKey is the advisory lock that replicas starting together take
// in turn to migrate: River's migrator and ours check what is applied and
// then apply the rest, which two processes must not do at once.
const migrateLockKey int64 = 0x6578_7062_6f74_6d67 // "expbotmg"

// migrate brings River's tables and ours up to date under migrateLockKey,
// held by one connection for the whole of it. Each of our steps runs in
// its own transaction together with its bookkeeping row, so a crash leaves
// the schema at a whole version and the next start resumes from there.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLockKey); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	defer func() {
		// A connection whose unlock failed is closed, which unlocks too.
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLockKey); err != nil {
			_ = conn.Conn().Close(context.WithoutCancel(ctx))
		}
	}()

	m, err := rivermigrate.New(s.driver, &rivermigrate.Config{Logger: s.cfg.logger})
	if err != nil {
		return fmt.Errorf("postgres: river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("postgres: migrate river: %w", err)
	}

	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("postgres: read migrations: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS expbot_migration (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at BIGINT  NOT NULL
	)`); err != nil {
		return fmt.Errorf("postgres: create migration table: %w", err)
	}
	for _, mg := range ms {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM expbot_migration WHERE version = $1`, mg.Version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.Exec(ctx, mg.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO expbot_migration (version, name, applied_at) VALUES ($1, $2, $3)`,
				mg.Version, mg.Name, s.now().UnixNano())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", mg.Name, err)
		}
	}
	return nil
}
