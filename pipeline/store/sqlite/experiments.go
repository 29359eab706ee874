package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

const experimentColumns = `id, forge, repo_path, key, desired, delete_branch, generation, applied,
	status, detail, name, branch, base_ref, base_sha, request, source_url, requester, thread,
	comment_id, comment_note, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanExperiment(row scanner) (store.Experiment, error) {
	var (
		e                    store.Experiment
		forge, desired, st   string
		request              sql.NullString
		thread               string
		createdAt, updatedAt int64
	)
	if err := row.Scan(&e.ID, &forge, &e.Repo.Path, &e.Key, &desired, &e.DeleteBranch, &e.Generation, &e.Applied,
		&st, &e.Detail, &e.Name, &e.Branch, &e.BaseRef, &e.BaseSHA, &request, &e.SourceURL, &e.Requester, &thread,
		&e.CommentID, &e.CommentNote, &createdAt, &updatedAt); err != nil {
		return store.Experiment{}, err
	}
	e.Repo.Forge, e.Desired, e.Status = event.Forge(forge), store.Desired(desired), store.Status(st)
	if request.Valid && request.String != "" {
		e.Request = json.RawMessage(request.String)
	}
	if err := json.Unmarshal([]byte(thread), &e.Thread); err != nil {
		return store.Experiment{}, fmt.Errorf("experiment %d: thread: %w", e.ID, err)
	}
	e.CreatedAt, e.UpdatedAt = fromNanos(createdAt), fromNanos(updatedAt)
	return e, nil
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

// Repos lists the repositories that have experiments.
func (s *Store) Repos(ctx context.Context) ([]store.RepoKey, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT DISTINCT forge, repo_path FROM experiments ORDER BY forge, repo_path`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: repositories: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var out []store.RepoKey
	for rows.Next() {
		var forge, path string
		if err := rows.Scan(&forge, &path); err != nil {
			return nil, fmt.Errorf("sqlite: repositories: %w", err)
		}
		out = append(out, store.RepoKey{Forge: event.Forge(forge), Path: path})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: repositories: %w", err)
	}
	return out, nil
}

// Experiments lists repo's experiments that are active or retired but not
// yet released, in creation order.
func (s *Store) Experiments(ctx context.Context, repo store.RepoKey) ([]store.Experiment, error) {
	return experimentsOf(ctx, s.r, repo)
}

// Experiments implements store.Tx: on the transaction's connection, so the
// writes of the group commit's earlier members are seen.
func (t *tx) Experiments(ctx context.Context, repo store.RepoKey) ([]store.Experiment, error) {
	return experimentsOf(ctx, t.tx, repo)
}

func experimentsOf(ctx context.Context, q interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}, repo store.RepoKey) ([]store.Experiment, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+experimentColumns+` FROM experiments
		WHERE forge = ? AND repo_path = ?
		ORDER BY id`, string(repo.Forge), repo.Path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: experiments of %s %s: %w", repo.Forge, repo.Path, err)
	}
	defer func() { _ = rows.Close() }()
	var es []store.Experiment
	for rows.Next() {
		e, err := scanExperiment(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: experiments of %s %s: %w", repo.Forge, repo.Path, err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: experiments of %s %s: %w", repo.Forge, repo.Path, err)
	}
	return es, nil
}

// Experiment reads one experiment; store.ErrNotFound if there is none.
func (s *Store) Experiment(ctx context.Context, id int64) (store.Experiment, error) {
	e, err := scanExperiment(s.r.QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE id = ?`, id))
	if err != nil {
		return store.Experiment{}, fmt.Errorf("sqlite: experiment %d: %w", id, notFound(err))
	}
	return e, nil
}

// ExperimentByKey reads one experiment; store.ErrNotFound if there is none.
func (s *Store) ExperimentByKey(ctx context.Context, repo store.RepoKey, key string) (store.Experiment, error) {
	e, err := scanExperiment(s.r.QueryRowContext(ctx, `SELECT `+experimentColumns+` FROM experiments
		WHERE forge = ? AND repo_path = ? AND key = ?`, string(repo.Forge), repo.Path, key))
	if err != nil {
		return store.Experiment{}, fmt.Errorf("sqlite: experiment %s %s %q: %w", repo.Forge, repo.Path, key, notFound(err))
	}
	return e, nil
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// SetOutcome records a run's result for generation gen of experiment id. If
// the experiment has moved to a later generation it does nothing and returns
// nil: the run that applies the later generation records its own outcome.
// Applied becomes gen when status is Applied or Released; baseSHA is kept
// when non-empty. store.ErrNotFound if the experiment does not exist.
func (t *tx) SetOutcome(ctx context.Context, id, gen int64, status store.Status, detail string, baseSHA string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE experiments SET
		status = ?, detail = ?,
		applied = CASE WHEN ? IN ('applied', 'released') THEN generation ELSE applied END,
		base_sha = CASE WHEN ? <> '' THEN ? ELSE base_sha END,
		updated_at = ?
		WHERE id = ? AND generation = ?`,
		string(status), detail, string(status), baseSHA, baseSHA, t.s.now().UnixNano(), id, gen)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = exists(ctx, t.tx, id)
		}
	}
	if err != nil {
		return fmt.Errorf("sqlite: set outcome of experiment %d: %w", id, err)
	}
	return nil
}

// SetComment remembers the status comment of experiment id.
func (s *Store) SetComment(ctx context.Context, id, commentID int64, note string) error {
	err := s.inLazyTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE experiments SET comment_id = ?, comment_note = ?, updated_at = ? WHERE id = ?`,
			commentID, note, s.now().UnixNano(), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		return store.ErrNotFound
	})
	if err != nil {
		return fmt.Errorf("sqlite: set comment of experiment %d: %w", id, err)
	}
	return nil
}

func exists(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1 FROM experiments WHERE id = ?`, id).Scan(&one)
	return notFound(err)
}

// StartRun records the start of a reconcile of repo.
func (s *Store) StartRun(ctx context.Context, repo store.RepoKey, at time.Time) (store.Run, error) {
	if at.IsZero() {
		at = s.now()
	}
	r := store.Run{Repo: repo, StartedAt: at.UTC()}
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `INSERT INTO runs (forge, repo_path, started_at) VALUES (?, ?, ?) RETURNING id`,
			string(repo.Forge), repo.Path, at.UnixNano()).Scan(&r.ID)
	})
	if err != nil {
		return store.Run{}, fmt.Errorf("sqlite: start run of %s %s: %w", repo.Forge, repo.Path, err)
	}
	return r, nil
}

// FinishRun stores run's FinishedAt, Outcome and Summary.
func (s *Store) FinishRun(ctx context.Context, run store.Run) error {
	err := s.inTx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE runs SET finished_at = ?, outcome = ?, summary = ? WHERE id = ?`,
			nullNanos(run.FinishedAt), run.Outcome, run.Summary, run.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return err
		}
		return store.ErrNotFound
	})
	if err != nil {
		return fmt.Errorf("sqlite: finish run %d: %w", run.ID, err)
	}
	return nil
}

// Runs lists repo's runs, newest first, at most limit of them (all when
// limit <= 0).
func (s *Store) Runs(ctx context.Context, repo store.RepoKey, limit int) ([]store.Run, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, started_at, finished_at, outcome, summary FROM runs
		WHERE forge = ? AND repo_path = ? ORDER BY id DESC LIMIT ?`, string(repo.Forge), repo.Path, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: runs of %s %s: %w", repo.Forge, repo.Path, err)
	}
	defer func() { _ = rows.Close() }()
	var runs []store.Run
	for rows.Next() {
		r := store.Run{Repo: repo}
		var started int64
		var finished sql.NullInt64
		if err := rows.Scan(&r.ID, &started, &finished, &r.Outcome, &r.Summary); err != nil {
			return nil, fmt.Errorf("sqlite: runs of %s %s: %w", repo.Forge, repo.Path, err)
		}
		r.StartedAt = fromNanos(started)
		if finished.Valid {
			r.FinishedAt = fromNanos(finished.Int64)
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: runs of %s %s: %w", repo.Forge, repo.Path, err)
	}
	return runs, nil
}

func nullNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}
