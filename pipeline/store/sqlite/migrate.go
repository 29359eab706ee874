package sqlite

import (
	"context"
	"embed"
	"fmt"

	"github.com/riverqueue/river/rivermigrate"

	"github.com/expbot/expbot/pipeline/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

func migrations() ([]store.Migration, error) {
	return store.LoadMigrations(migrationFS, "migrations")
}

// migrate brings River's tables and ours up to date. Each of our steps runs
// in its own transaction together with its bookkeeping row, so a crash
// leaves the schema at a whole version and reopening resumes from there.
func (s *Store) migrate(ctx context.Context) error {
	m, err := rivermigrate.New(s.driver, &rivermigrate.Config{Logger: s.cfg.logger})
	if err != nil {
		return fmt.Errorf("sqlite: river migrator: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("sqlite: migrate river: %w", err)
	}

	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("sqlite: read migrations: %w", err)
	}
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS expbot_migration (
		version    INTEGER PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("sqlite: create migration table: %w", err)
	}
	for _, mg := range ms {
		if err := s.migrateOne(ctx, mg); err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", mg.Name, err)
		}
	}
	return nil
}

func (s *Store) migrateOne(ctx context.Context, mg store.Migration) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM expbot_migration WHERE version = ?`, mg.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, mg.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO expbot_migration (version, name, applied_at) VALUES (?, ?, ?)`,
		mg.Version, mg.Name, s.now().UnixNano()); err != nil {
		return err
	}
	return tx.Commit()
}
