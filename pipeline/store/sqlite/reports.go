package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/expbot/expbot/pipeline/store"
)

// EnqueueReport counts a report due for the experiment and asks for its
// repository's report job (queue.ReportRepoArgs).
func (t *tx) EnqueueReport(ctx context.Context, experimentID int64) error {
	var repo store.RepoKey
	err := t.tx.QueryRowContext(ctx, `UPDATE experiments SET report_due = report_due + 1 WHERE id = ?
		RETURNING forge, repo_path`, experimentID).Scan(&repo.Forge, &repo.Path)
	if errors.Is(err, sql.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err == nil {
		err = t.s.q.EnqueueReports(ctx, t.tx, repo)
	}
	if err != nil {
		return fmt.Errorf("sqlite: enqueue report %d: %w", experimentID, err)
	}
	return nil
}

func (t *tx) EnqueueReconcile(ctx context.Context, repo store.RepoKey) error {
	if err := t.s.q.EnqueueReconcile(ctx, t.tx, repo); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

func (t *tx) EnqueueTask(ctx context.Context, task store.Task) error {
	if err := t.s.q.EnqueueTask(ctx, t.tx, task); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return nil
}

// Start runs h's handlers on the queue's workers (see queue.Queue.Start).
func (s *Store) Start(ctx context.Context, h store.Handlers) error { return s.q.Start(ctx, h) }

// Stop stops the queue's workers (see queue.Queue.Stop).
func (s *Store) Stop(ctx context.Context) error { return s.q.Stop(ctx) }

// QueueDepth counts jobs not yet finished (for metrics).
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	n, err := s.q.QueueDepth(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	return n, nil
}
