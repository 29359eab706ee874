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

type tx struct {
	s  *Store
	tx pgx.Tx
	// Repositories whose reconcile or report job this transaction asked
	// for already: a second request in one transaction (several
	// deliveries applied together) adds nothing to the first.
	reconciles, reports map[store.RepoKey]bool
}

func (t *tx) RecordDelivery(ctx context.Context, forge event.Forge, id, eventName string, at time.Time) (bool, error) {
	if at.IsZero() {
		at = t.s.now()
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO deliveries (forge, delivery_id, event, received_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (forge, delivery_id) DO NOTHING`,
		string(forge), id, eventName, at.UnixNano())
	if err != nil {
		return false, fmt.Errorf("postgres: record delivery: %w", err)
	}
	return tag.RowsAffected() == 0, nil
}

// lockKey holds a transaction-level advisory lock on one (repository, key)
// of a table until commit, so that concurrent transactions changing it go
// one after the other, as SQLite's single writer makes them go; a row lock
// alone cannot hold a row that does not exist yet.
func (t *tx) lockKey(ctx context.Context, table string, repo store.RepoKey, key string) error {
	_, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, lockName(table, repo, key))
	return err
}

// lockExperiment holds, until commit, the repository's experiments lock
// shared and the experiment's own lock exclusive: transactions changing
// different experiments of one repository commit together (their WAL
// flushes are shared), those changing the same one go one after the other,
// and a transaction listing all of them (Tx.Experiments: the repository's
// lock exclusive) waits for every change to commit and holds new ones off
// until it commits. Locks are taken in one order, sources, then the
// repository, then its keys; a transaction calls Experiments before
// ApplyChange (upgrading a shared lock can deadlock with another).
func (t *tx) lockExperiment(ctx context.Context, repo store.RepoKey, key string) error {
	// Target entries are evaluated in order: the repository's lock first.
	_, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0)),
		pg_advisory_xact_lock(hashtextextended($2, 0))`,
		lockName("experiments", repo, ""), lockName("experiments", repo, key))
	return err
}

// lockName names the advisory lock of (repository, key) of a table; key ""
// is the whole repository's.
func lockName(table string, repo store.RepoKey, key string) string {
	return table + "\x1f" + string(repo.Forge) + "\x1f" + repo.Path + "\x1f" + key
}

// ApplyChange upserts c by (Repo, Key) with the rules of the SQLite
// driver's ApplyChange (store.Tx; the conformance suite holds both to them).
func (t *tx) ApplyChange(ctx context.Context, c store.Change) (store.Experiment, bool, error) {
	e, changed, err := t.applyChange(ctx, c)
	if err != nil {
		return store.Experiment{}, false, fmt.Errorf("postgres: apply change %s %s %q: %w", c.Repo.Forge, c.Repo.Path, c.Key, err)
	}
	return e, changed, nil
}

func (t *tx) applyChange(ctx context.Context, c store.Change) (store.Experiment, bool, error) {
	if _, err := c.Check(); err != nil {
		return store.Experiment{}, false, err
	}
	// A transaction that lists the repository's experiments (Experiments)
	// to act on all of them must not miss one another transaction adds
	// meanwhile, as SQLite's single writer ensures: it takes the
	// repository's lock exclusive, this one shares it.
	if err := t.lockExperiment(ctx, c.Repo, c.Key); err != nil {
		return store.Experiment{}, false, err
	}

	old, err := scanExperiment(t.tx.QueryRow(ctx,
		`SELECT `+experimentColumns+` FROM experiments WHERE forge = $1 AND repo_path = $2 AND key = $3`,
		string(c.Repo.Forge), c.Repo.Path, c.Key))
	var stored *store.Experiment
	switch {
	case err == nil:
		stored = &old
	case !errors.Is(err, pgx.ErrNoRows):
		return store.Experiment{}, false, err
	}
	next, write, err := store.PlanChange(stored, c, t.s.now())
	if err != nil || !write {
		return next, false, err
	}
	if stored == nil {
		next.ID, err = t.insertExperiment(ctx, next)
		return next, err == nil, err
	}
	if err := t.updateExperiment(ctx, next); err != nil {
		return store.Experiment{}, false, err
	}
	return next, true, nil
}

func (t *tx) insertExperiment(ctx context.Context, e store.Experiment) (int64, error) {
	thread, err := json.Marshal(e.Thread)
	if err != nil {
		return 0, err
	}
	var id int64
	err = t.tx.QueryRow(ctx, `INSERT INTO experiments (
		forge, repo_path, key, desired, delete_branch, generation, applied, status, detail,
		name, branch, base_ref, base_sha, request, source_url, requester, thread,
		comment_id, comment_note, created_at, updated_at
	) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) RETURNING id`,
		string(e.Repo.Forge), e.Repo.Path, e.Key, string(e.Desired), e.DeleteBranch, e.Generation, e.Applied,
		string(e.Status), e.Detail, e.Name, e.Branch, e.BaseRef, e.BaseSHA, jsonText(e.Request),
		e.SourceURL, e.Requester, string(thread), e.CommentID, e.CommentNote,
		e.CreatedAt.UnixNano(), e.UpdatedAt.UnixNano(),
	).Scan(&id)
	return id, err
}

func (t *tx) updateExperiment(ctx context.Context, e store.Experiment) error {
	thread, err := json.Marshal(e.Thread)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `UPDATE experiments SET
		desired = $1, delete_branch = $2, generation = $3, status = $4, detail = $5,
		name = $6, branch = $7, base_ref = $8, base_sha = $9, request = $10,
		source_url = $11, requester = $12, thread = $13, updated_at = $14
		WHERE id = $15`,
		string(e.Desired), e.DeleteBranch, e.Generation, string(e.Status), e.Detail,
		e.Name, e.Branch, e.BaseRef, e.BaseSHA, jsonText(e.Request),
		e.SourceURL, e.Requester, string(thread), e.UpdatedAt.UnixNano(),
		e.ID)
	return err
}

func (t *tx) EnqueueReconcile(ctx context.Context, repo store.RepoKey) error {
	if t.reconciles[repo] {
		return nil
	}
	if err := t.s.q.EnqueueReconcile(ctx, t.tx, repo); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	t.reconciles = remember(t.reconciles, repo)
	return nil
}

func remember(m map[store.RepoKey]bool, repo store.RepoKey) map[store.RepoKey]bool {
	if m == nil {
		m = map[store.RepoKey]bool{}
	}
	m[repo] = true
	return m
}

// EnqueueReport counts a report due for the experiment and asks for its
// repository's report job (queue.ReportRepoArgs).
func (t *tx) EnqueueReport(ctx context.Context, experimentID int64) error {
	var repo store.RepoKey
	err := t.tx.QueryRow(ctx, `UPDATE experiments SET report_due = report_due + 1 WHERE id = $1
		RETURNING forge, repo_path`, experimentID).Scan(&repo.Forge, &repo.Path)
	if errors.Is(err, pgx.ErrNoRows) {
		err = store.ErrNotFound
	}
	if err == nil && !t.reports[repo] {
		err = t.s.q.EnqueueReports(ctx, t.tx, repo)
	}
	if err != nil {
		return fmt.Errorf("postgres: enqueue report %d: %w", experimentID, err)
	}
	t.reports = remember(t.reports, repo)
	return nil
}

func (t *tx) EnqueueTask(ctx context.Context, task store.Task) error {
	if err := t.s.q.EnqueueTask(ctx, t.tx, task); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// AdvanceSource orders s against the stored source (store.Compare) and
// records it when newer. The advisory lock on the key holds concurrent
// transactions of the same source until this one commits.
func (t *tx) AdvanceSource(ctx context.Context, s store.Source, settled bool) (store.Order, error) {
	if s.Repo.Forge == "" || s.Repo.Path == "" || s.Key == "" {
		return 0, errors.New("postgres: advance source: repository and key are required")
	}
	if err := t.lockKey(ctx, "sources", s.Repo, s.Key); err != nil {
		return 0, fmt.Errorf("postgres: advance source %s: %w", s.Key, err)
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
	_, err = t.tx.Exec(ctx, `INSERT INTO sources (forge, repo_path, key, at, state) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (forge, repo_path, key) DO UPDATE SET at = excluded.at, state = excluded.state`,
		string(s.Repo.Forge), s.Repo.Path, s.Key, sourceNanos(s.At), s.State)
	if err != nil {
		return 0, fmt.Errorf("postgres: advance source %s: %w", s.Key, err)
	}
	return o, nil
}

func (t *tx) Source(ctx context.Context, repo store.RepoKey, key string) (store.Source, error) {
	return t.source(ctx, repo, key)
}

func (t *tx) source(ctx context.Context, repo store.RepoKey, key string) (store.Source, error) {
	var at int64
	var state string
	err := t.tx.QueryRow(ctx, `SELECT at, state FROM sources WHERE forge = $1 AND repo_path = $2 AND key = $3`,
		string(repo.Forge), repo.Path, key).Scan(&at, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Source{}, fmt.Errorf("postgres: source %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return store.Source{}, fmt.Errorf("postgres: source %s: %w", key, err)
	}
	s := store.Source{Repo: repo, Key: key, State: state}
	if at != 0 {
		s.At = fromNanos(at)
	}
	return s, nil
}

func sourceNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// jsonText stores an absent JSON value as NULL rather than "".
func jsonText(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
