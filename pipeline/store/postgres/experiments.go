package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

const experimentColumns = `id, forge, repo_path, key, desired, delete_branch, generation, applied,
	status, detail, name, branch, base_ref, base_sha, request, source_url, requester, thread,
	comment_id, comment_note, created_at, updated_at`

func scanExperiment(row pgx.Row) (store.Experiment, error) {
	var (
		e                    store.Experiment
		forge, desired, st   string
		request              *string
		thread               string
		createdAt, updatedAt int64
	)
	if err := row.Scan(&e.ID, &forge, &e.Repo.Path, &e.Key, &desired, &e.DeleteBranch, &e.Generation, &e.Applied,
		&st, &e.Detail, &e.Name, &e.Branch, &e.BaseRef, &e.BaseSHA, &request, &e.SourceURL, &e.Requester, &thread,
		&e.CommentID, &e.CommentNote, &createdAt, &updatedAt); err != nil {
		return store.Experiment{}, err
	}
	e.Repo.Forge, e.Desired, e.Status = event.Forge(forge), store.Desired(desired), store.Status(st)
	if request != nil && *request != "" {
		e.Request = json.RawMessage(*request)
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
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT forge, repo_path FROM experiments ORDER BY forge, repo_path`)
	if err != nil {
		return nil, fmt.Errorf("postgres: repositories: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.RepoKey, error) {
		var k store.RepoKey
		err := r.Scan(&k.Forge, &k.Path)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: repositories: %w", err)
	}
	return out, nil
}

// Experiments lists repo's experiments in creation order.
func (s *Store) Experiments(ctx context.Context, repo store.RepoKey) ([]store.Experiment, error) {
	return experimentsOf(ctx, s.pool, repo)
}

// Experiments implements store.Tx: as the transaction sees them, holding
// the repository's experiments against other transactions' changes until
// commit: its lock exclusive waits for the changes that share it
// (lockExperiment) and holds new ones off.
func (t *tx) Experiments(ctx context.Context, repo store.RepoKey) ([]store.Experiment, error) {
	if err := t.lockKey(ctx, "experiments", repo, ""); err != nil {
		return nil, fmt.Errorf("postgres: experiments of %s %s: %w", repo.Forge, repo.Path, err)
	}
	return experimentsOf(ctx, t.tx, repo)
}

func experimentsOf(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, repo store.RepoKey,
) ([]store.Experiment, error) {
	rows, err := q.Query(ctx, `SELECT `+experimentColumns+` FROM experiments
		WHERE forge = $1 AND repo_path = $2 ORDER BY id`, string(repo.Forge), repo.Path)
	if err != nil {
		return nil, fmt.Errorf("postgres: experiments of %s %s: %w", repo.Forge, repo.Path, err)
	}
	es, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Experiment, error) { return scanExperiment(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: experiments of %s %s: %w", repo.Forge, repo.Path, err)
	}
	return es, nil
}

func (s *Store) Experiment(ctx context.Context, id int64) (store.Experiment, error) {
	e, err := scanExperiment(s.pool.QueryRow(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE id = $1`, id))
	if err != nil {
		return store.Experiment{}, fmt.Errorf("postgres: experiment %d: %w", id, notFound(err))
	}
	return e, nil
}

func (s *Store) ExperimentByKey(ctx context.Context, repo store.RepoKey, key string) (store.Experiment, error) {
	e, err := scanExperiment(s.pool.QueryRow(ctx, `SELECT `+experimentColumns+` FROM experiments
		WHERE forge = $1 AND repo_path = $2 AND key = $3`, string(repo.Forge), repo.Path, key))
	if err != nil {
		return store.Experiment{}, fmt.Errorf("postgres: experiment %s %s %q: %w", repo.Forge, repo.Path, key, notFound(err))
	}
	return e, nil
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// SetOutcome records a run's result unless the generation moved on; see
// store.Tx.
func (t *tx) SetOutcome(ctx context.Context, id, gen int64, status store.Status, detail string, baseSHA string) error {
	tag, err := t.tx.Exec(ctx, `UPDATE experiments SET
		status = $1, detail = $2,
		applied = CASE WHEN $1 IN ('applied', 'released') THEN generation ELSE applied END,
		base_sha = CASE WHEN $3 <> '' THEN $3 ELSE base_sha END,
		updated_at = $4
		WHERE id = $5 AND generation = $6`,
		string(status), detail, baseSHA, t.s.now().UnixNano(), id, gen)
	if err == nil && tag.RowsAffected() == 0 {
		var one int
		err = notFound(t.tx.QueryRow(ctx, `SELECT 1 FROM experiments WHERE id = $1`, id).Scan(&one))
	}
	if err != nil {
		return fmt.Errorf("postgres: set outcome of experiment %d: %w", id, err)
	}
	return nil
}

// SetComment remembers the status comment; its commit does not wait for
// the disk (see store.Store).
func (s *Store) SetComment(ctx context.Context, id, commentID int64, note string) error {
	err := s.inLazyTx(ctx, func(ctx context.Context, tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE experiments SET comment_id = $1, comment_note = $2, updated_at = $3 WHERE id = $4`,
			commentID, note, s.now().UnixNano(), id)
		if err != nil || tag.RowsAffected() > 0 {
			return err
		}
		return store.ErrNotFound
	})
	if err != nil {
		return fmt.Errorf("postgres: set comment of experiment %d: %w", id, err)
	}
	return nil
}

func (s *Store) StartRun(ctx context.Context, repo store.RepoKey, at time.Time) (store.Run, error) {
	if at.IsZero() {
		at = s.now()
	}
	r := store.Run{Repo: repo, StartedAt: at.UTC()}
	err := s.pool.QueryRow(ctx, `INSERT INTO runs (forge, repo_path, started_at) VALUES ($1, $2, $3) RETURNING id`,
		string(repo.Forge), repo.Path, at.UnixNano()).Scan(&r.ID)
	if err != nil {
		return store.Run{}, fmt.Errorf("postgres: start run of %s %s: %w", repo.Forge, repo.Path, err)
	}
	return r, nil
}

func (s *Store) FinishRun(ctx context.Context, run store.Run) error {
	var finished *int64
	if !run.FinishedAt.IsZero() {
		n := run.FinishedAt.UnixNano()
		finished = &n
	}
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET finished_at = $1, outcome = $2, summary = $3 WHERE id = $4`,
		finished, run.Outcome, run.Summary, run.ID)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("postgres: finish run %d: %w", run.ID, err)
	}
	return nil
}

func (s *Store) Runs(ctx context.Context, repo store.RepoKey, limit int) ([]store.Run, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := s.pool.Query(ctx, `SELECT id, started_at, finished_at, outcome, summary FROM runs
		WHERE forge = $1 AND repo_path = $2 ORDER BY id DESC LIMIT $3`, string(repo.Forge), repo.Path, lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: runs of %s %s: %w", repo.Forge, repo.Path, err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Run, error) {
		r := store.Run{Repo: repo}
		var started int64
		var finished *int64
		if err := row.Scan(&r.ID, &started, &finished, &r.Outcome, &r.Summary); err != nil {
			return r, err
		}
		r.StartedAt = fromNanos(started)
		if finished != nil {
			r.FinishedAt = fromNanos(*finished)
		}
		return r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: runs of %s %s: %w", repo.Forge, repo.Path, err)
	}
	return runs, nil
}
