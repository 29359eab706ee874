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

// InTx runs fn in one write transaction. fn's error is returned as is, after
// rolling back; so is a panic, re-raised after rolling back. Concurrent
// transactions share one commit (see writes.go), and InTx returns after it.
// Cancelling ctx keeps fn from starting, but does not interrupt it.
//
// fn must not start another write (InTx, SetOutcome, ...) with its ctx: the
// one write connection is fn's, so it would wait for itself; it gets an
// error instead. Reads (Experiment, ...) use other connections and see what
// was committed before fn's transaction, not fn's own writes.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.inTx(ctx, func(ctx context.Context, sqlTx *sql.Tx) error {
		return fn(ctx, &tx{s: s, tx: sqlTx})
	})
}

// InKeptTx is InTx: its commit is shared with the others (see writes.go),
// and waiting for the disk costs a kept delivery nothing more.
func (s *Store) InKeptTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	return s.InTx(ctx, fn)
}

// inTxKey marks the context of a transaction's fn, to refuse nested writes.
type inTxKey struct{}

var errNested = errors.New("sqlite: a write inside a transaction of the same store would wait for itself")

type tx struct {
	s  *Store
	tx *sql.Tx
}

func (t *tx) RecordDelivery(ctx context.Context, forge event.Forge, id, eventName string, at time.Time) (bool, error) {
	if at.IsZero() {
		at = t.s.now()
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO deliveries (forge, delivery_id, event, received_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (forge, delivery_id) DO NOTHING`,
		string(forge), id, eventName, at.UnixNano())
	if err != nil {
		return false, fmt.Errorf("sqlite: record delivery: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("sqlite: record delivery: %w", err)
	}
	return n == 0, nil
}

// ApplyChange upserts c by (Repo, Key); see store.Tx. The rules, in order:
//
//   - Retiring a key that was never stored does nothing: changed is false
//     and the Experiment is the zero value (there is no branch to retire).
//   - Desired and DeleteBranch are always taken from c.
//   - An active, valid (Status Pending) change replaces Name, Branch,
//     BaseRef and Request; a new BaseRef clears BaseSHA, to be resolved
//     again. An Invalid change keeps the stored ones, so that a bad edit of
//     a request leaves its last valid variant (and branch) in place; on a
//     new key it stores what c carries.
//   - Only when Desired, DeleteBranch, Name, Branch, BaseRef or the Request
//     bytes change, or an Invalid change brings a new Status or Detail, or a
//     valid change follows an Invalid one, is the change a change: the
//     Generation is bumped, Status and Detail are set from c, and SourceURL,
//     Requester and Thread are replaced (for active changes). Otherwise
//     nothing is written and changed is false, so a redelivery is a no-op.
//   - Applied, BaseSHA (unless cleared above), CommentID, CommentNote and
//     CreatedAt survive every change.
func (t *tx) ApplyChange(ctx context.Context, c store.Change) (store.Experiment, bool, error) {
	e, changed, err := t.applyChange(ctx, c)
	if err != nil {
		return store.Experiment{}, false, fmt.Errorf("sqlite: apply change %s %s %q: %w", c.Repo.Forge, c.Repo.Path, c.Key, err)
	}
	return e, changed, nil
}

func (t *tx) applyChange(ctx context.Context, c store.Change) (store.Experiment, bool, error) {
	if _, err := c.Check(); err != nil {
		return store.Experiment{}, false, err
	}
	old, err := scanExperiment(t.tx.QueryRowContext(ctx,
		`SELECT `+experimentColumns+` FROM experiments WHERE forge = ? AND repo_path = ? AND key = ?`,
		string(c.Repo.Forge), c.Repo.Path, c.Key))
	var stored *store.Experiment
	switch {
	case err == nil:
		stored = &old
	case !errors.Is(err, sql.ErrNoRows):
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
	err = t.tx.QueryRowContext(ctx, `INSERT INTO experiments (
		forge, repo_path, key, desired, delete_branch, generation, applied, status, detail,
		name, branch, base_ref, base_sha, request, source_url, requester, thread,
		comment_id, comment_note, created_at, updated_at
	) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
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
	_, err = t.tx.ExecContext(ctx, `UPDATE experiments SET
		desired = ?, delete_branch = ?, generation = ?, status = ?, detail = ?,
		name = ?, branch = ?, base_ref = ?, base_sha = ?, request = ?,
		source_url = ?, requester = ?, thread = ?, updated_at = ?
		WHERE id = ?`,
		string(e.Desired), e.DeleteBranch, e.Generation, string(e.Status), e.Detail,
		e.Name, e.Branch, e.BaseRef, e.BaseSHA, jsonText(e.Request),
		e.SourceURL, e.Requester, string(thread), e.UpdatedAt.UnixNano(),
		e.ID)
	return err
}

// jsonText stores an absent JSON value as NULL rather than "".
func jsonText(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}
