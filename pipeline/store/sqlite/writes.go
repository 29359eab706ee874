package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// Group commit. Every write transaction runs on the one write connection,
// and with synchronous=FULL every commit waits for an fsync, so under
// concurrent webhooks each delivery would wait for the others' fsyncs one
// after the other. Instead, write transactions that queue up share one
// SQLite transaction: each runs in a savepoint of its own, so that its
// failure undoes only its own writes, and the last of the group commits for
// all. Each caller returns only after that commit: nil still means durable,
// an error still means none of it happened.
//
// Callers run their fn in turn on their own goroutines, so a panic or
// runtime.Goexit (t.Fatal) unwinds as it always did, leaving the group in
// order on the way.

// A group takes new members while it is younger than the last commit took,
// within [minGroupWindow, maxGroupWindow]: waiting for others pays off only
// while it costs less than a commit of one's own, and one slow fsync must
// not make every member after it wait long. maxGroup bounds it besides, so
// that a steady stream of writes still commits and lets River's own
// statements have the connection.
const (
	maxGroup       = 64
	minGroupWindow = time.Millisecond
	maxGroupWindow = 5 * time.Millisecond
)

// writer serialises and groups write transactions.
type writer struct {
	// token is held while running a member's fn or committing; a channel
	// rather than a mutex, because blocked senders are served in order.
	token chan struct{}
	// waiting counts callers blocked on token: anyone waiting joins the
	// open group, so the holder leaves committing to them.
	waiting atomic.Int32

	// Guarded by token:
	cur        *group        // the open group, if any
	lastCommit time.Duration // how long the last commit took

	commits atomic.Int64                          // groups committed, for tests
	observe func(synced bool, took time.Duration) // WithCommitObserver
	syncs   bool                                  // the configured synchronous setting fsyncs every commit

	// lazy is the write connection's synchronous setting: lazySynchronous
	// or the configured one. Guarded by token. SQLite refuses to change it
	// inside a transaction, so it is set before a group begins and left as
	// it is until a group of the other kind: River's own statements in
	// between run at either, which is safe, see inLazyTx. A connection
	// reopened by database/sql starts at the configured setting; the error
	// is then on the safe side (an fsync too many).
	lazy bool
}

// lazySynchronous is the setting lazy groups commit at: in WAL mode, a
// commit without an fsync, which a crash of the process cannot undo.
const lazySynchronous = "NORMAL"

// setLazy switches the write connection between the configured synchronous
// setting and lazySynchronous. Guarded by token.
func (s *Store) setLazy(lazy bool) error {
	if s.writes.lazy == lazy {
		return nil
	}
	level := s.cfg.synchronous
	if lazy {
		level = lazySynchronous
	}
	if _, err := s.w.Exec(`PRAGMA synchronous = ` + level); err != nil {
		return fmt.Errorf("sqlite: synchronous %s: %w", level, err)
	}
	s.writes.lazy = lazy
	return nil
}

// group is one SQLite transaction shared by several write transactions.
type group struct {
	tx      *sql.Tx
	began   time.Time
	members int           // fns run in it, failed ones included
	writes  int           // fns whose writes it holds
	done    chan struct{} // closed once committed or rolled back
	err     error         // why the writes are not durable; read after done
	lazy    bool          // committed without an fsync (inLazyTx)
}

// errNoReturn stands for the outcome of a fn that panicked or called
// runtime.Goexit.
var errNoReturn = errors.New("sqlite: transaction function did not return")

func newWriter(cfg config) *writer {
	return &writer{token: make(chan struct{}, 1), observe: cfg.observeCommit, syncs: syncsEveryCommit(cfg.synchronous)}
}

// syncsEveryCommit tells whether a synchronous setting has every commit in
// WAL mode wait for an fsync: FULL and EXTRA do, NORMAL and OFF do not.
func syncsEveryCommit(synchronous string) bool {
	return synchronous == "FULL" || synchronous == "EXTRA"
}

// inTx runs fn as one write transaction, grouped with concurrent ones. fn's
// ctx carries ctx's values but not its cancellation: once fn runs it runs
// to the end, because SQLite answers a statement interrupted halfway by
// rolling back the whole transaction, the other members' writes included.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.write(ctx, true, fn)
}

// inLazyTx is inTx for writes that a power cut may undo, but not a crash of
// the process: they commit without an fsync of their own and are made
// durable by the next commit that has one, or the next checkpoint (within
// a second, see checkpoint.go). For bookkeeping whose loss costs a repeat,
// not a lost request: a status comment's id is already lost if the process
// dies between posting the comment and recording it. Order is kept: the
// log's frames are chained by checksums and recovery stops at the first
// that is not on disk, so what survives a power cut is always a prefix of
// the commits, and a durable commit makes every commit before it durable.
//
// Under load this halves the fsyncs: every status comment posted would
// otherwise cost one, on the connection every acknowledgement waits for.
func (s *Store) inLazyTx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	return s.write(ctx, false, fn)
}

func (s *Store) write(ctx context.Context, durable bool, fn func(ctx context.Context, tx *sql.Tx) error) (err error) {
	if ctx.Value(inTxKey{}) == s {
		return errNested
	}
	w := s.writes
	w.waiting.Add(1)
	w.token <- struct{}{}
	w.waiting.Add(-1)
	if err := ctx.Err(); err != nil {
		w.leave()
		return err
	}
	if durable && w.cur != nil && w.cur.lazy {
		w.commit() // no fsync, and a durable group starts at once
	}
	if w.cur == nil {
		lazy := !durable && w.syncs // else there is no fsync to skip
		if err := s.setLazy(lazy); err != nil {
			<-w.token
			return err
		}
		tx, err := s.w.BeginTx(context.Background(), nil)
		if err != nil {
			<-w.token
			return fmt.Errorf("sqlite: begin: %w", err)
		}
		w.cur = &group{tx: tx, began: time.Now(), done: make(chan struct{}), lazy: lazy}
	}
	g := w.cur
	g.members++
	if _, err := g.tx.Exec(`SAVEPOINT expbot_member`); err != nil {
		w.fail(err)
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}

	// Set when fn returns; a panic or Goexit leaves it, and its writes are
	// undone like those of a failed fn.
	fnErr := errNoReturn
	defer func() {
		if txErr := endMember(g.tx, fnErr); txErr != nil {
			w.fail(txErr)
			if fnErr == nil {
				err = fmt.Errorf("sqlite: transaction lost: %w", txErr)
			}
			return
		}
		if fnErr != nil {
			w.leave()
			return
		}
		g.writes++
		w.leave()
		<-g.done
		err = g.err
	}()
	fnErr = fn(context.WithValue(context.WithoutCancel(ctx), inTxKey{}, s), g.tx)
	return fnErr
}

// endMember keeps a member's writes (fnErr nil) or undoes them. An error
// means the transaction itself is gone: SQLite rolls it back by itself on
// some errors (a full disk, an I/O error), and the savepoint with it.
func endMember(tx *sql.Tx, fnErr error) error {
	if fnErr == nil {
		_, err := tx.Exec(`RELEASE expbot_member`)
		return err
	}
	if _, err := tx.Exec(`ROLLBACK TO expbot_member`); err != nil {
		return err
	}
	_, err := tx.Exec(`RELEASE expbot_member`)
	return err
}

// leave releases the token, committing the open group first unless
// someone waits to join it and it is still young and small.
func (w *writer) leave() {
	g := w.cur
	if g == nil {
		<-w.token
		return
	}
	window := min(max(w.lastCommit, minGroupWindow), maxGroupWindow)
	if w.waiting.Load() == 0 || g.members >= maxGroup || time.Since(g.began) >= window {
		w.commit()
	}
	<-w.token
}

// commit ends the open group. Guarded by token.
func (w *writer) commit() {
	g := w.cur
	w.cur = nil
	if g.writes > 0 {
		start := time.Now()
		if err := g.tx.Commit(); err != nil {
			g.err = fmt.Errorf("sqlite: commit: %w", err)
		}
		took := time.Since(start)
		if !g.lazy { // the window is about what an fsync costs
			w.lastCommit = took
		}
		w.commits.Add(1)
		if w.observe != nil {
			w.observe(w.syncs && !g.lazy, took)
		}
	} else {
		_ = g.tx.Rollback()
	}
	close(g.done)
}

// fail ends the open group, whose transaction broke: every member waiting
// for its commit learns that its writes are lost.
func (w *writer) fail(err error) {
	g := w.cur
	w.cur = nil
	_ = g.tx.Rollback()
	g.err = fmt.Errorf("sqlite: transaction lost: %w", err)
	close(g.done)
	<-w.token
}
