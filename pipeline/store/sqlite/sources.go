package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/expbot/expbot/pipeline/store"
)

// AdvanceSource implements store.Tx. The read and the write run in the
// one write transaction, which SQLite holds alone, so no other delivery of
// the same source comes between them.
func (t *tx) AdvanceSource(ctx context.Context, s store.Source, settled bool) (store.Order, error) {
	if s.Repo.Forge == "" || s.Repo.Path == "" || s.Key == "" {
		return 0, errors.New("sqlite: advance source: repository and key are required")
	}
	stored, err := t.source(ctx, s.Repo, s.Key)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	o := store.Compare(stored, found, s, settled)
	if o != store.Newer {
		return o, nil
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO sources (forge, repo_path, key, at, state) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (forge, repo_path, key) DO UPDATE SET at = excluded.at, state = excluded.state`,
		string(s.Repo.Forge), s.Repo.Path, s.Key, sourceNanos(s.At), s.State)
	if err != nil {
		return 0, fmt.Errorf("sqlite: advance source %s: %w", s.Key, err)
	}
	return o, nil
}

// Source implements store.Tx.
func (t *tx) Source(ctx context.Context, repo store.RepoKey, key string) (store.Source, error) {
	return t.source(ctx, repo, key)
}

func (t *tx) source(ctx context.Context, repo store.RepoKey, key string) (store.Source, error) {
	var at int64
	var state string
	err := t.tx.QueryRowContext(ctx, `SELECT at, state FROM sources WHERE forge = ? AND repo_path = ? AND key = ?`,
		string(repo.Forge), repo.Path, key).Scan(&at, &state)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Source{}, fmt.Errorf("sqlite: source %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.Source{}, fmt.Errorf("sqlite: source %s: %w", key, err)
	}
	s := store.Source{Repo: repo, Key: key, State: state}
	if at != 0 {
		s.At = fromNanos(at)
	}
	return s, nil
}

// sourceNanos stores an unknown time as 0.
func sourceNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
