// Package sqlite is the embedded store driver: one SQLite file holds the
// deliveries, the experiments, the runs and River's job tables, so that a
// delivery, the state change it causes and the job it enqueues commit in one
// transaction.
//
// The file belongs to one process: SQLite serialises writers, River's SQLite
// driver wants a single write connection, and Start treats jobs left
// "running" in the file as orphans of a process that died. Scale-out uses the
// PostgreSQL driver instead.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river/riverdriver/riversqlite"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/queue"
)

// Defaults for the Options below.
const (
	DefaultBusyTimeout = 5 * time.Second

	// A checkpoint every second keeps the log to about a second of writes
	// (a few MB at 200 deliveries/s); see checkpoint.go.
	defaultCheckpointEvery = time.Second

	readConns = 4
)

// Option adjusts Open.
type Option func(*config)

type config struct {
	q           queue.Config // the job queue's; Logger is the store's too
	busyTimeout time.Duration
	logger      *slog.Logger
	// observeCommit, if set, is told of every commit; see WithCommitObserver.
	observeCommit func(synced bool, took time.Duration)
	synchronous   string        // FULL; tests on a slow disk may relax it
	checkpoint    time.Duration // how often; see checkpoint.go
	maxLog        int64         // log frames that make a checkpoint truncate
	retention     time.Duration // delivery ids older than this are pruned
	pruneEvery    time.Duration
}

// WithPollInterval sets how often idle workers look for new jobs. SQLite has
// no LISTEN/NOTIFY, so this bounds the delay between a commit and the start
// of its job.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.q.PollInterval = d } }

// WithMaxAttempts sets how many times a failing job is tried before it is
// given up (discarded).
func WithMaxAttempts(n int) Option { return func(c *config) { c.q.MaxAttempts = n } }

// WithRetryBackoff sets the exponential retry backoff: base after the first
// failure, doubling, capped at maxDelay.
func WithRetryBackoff(base, maxDelay time.Duration) Option {
	return func(c *config) { c.q.RetryBase, c.q.RetryMax = base, maxDelay }
}

// WithJobTimeout bounds one handler call; a Pulumi update of a large stack
// can take minutes, hence the generous default.
func WithJobTimeout(d time.Duration) Option { return func(c *config) { c.q.JobTimeout = d } }

// WithBusyTimeout sets how long a connection waits for a lock held by
// another connection (another process, a backup) before SQLITE_BUSY.
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithLull makes a reconcile job, once started, wait until no request for
// its repository came in for quiet (but no longer than max) before it runs:
// a burst of requests then makes one run rather than a run for its first
// few and a follow-up for the rest, and runs cost seconds. quiet 0 turns
// it off.
func WithLull(quiet, max time.Duration) Option {
	return func(c *config) { c.q.LullQuiet, c.q.LullMax = quiet, max }
}

// WithLogger sets the logger for the store and River. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithCommitObserver has f told how long each commit of the write
// connection took, and whether it waited for the disk (an fsync) or was
// lazy (see inLazyTx). Every acknowledgement waits for one commit that
// syncs, so their slow tail is the disk's. f runs with the write
// connection held: it must be quick.
func WithCommitObserver(f func(synced bool, took time.Duration)) Option {
	return func(c *config) { c.observeCommit = f }
}

// Store implements store.Store on one SQLite file.
type Store struct {
	cfg config
	// w is the only connection that writes: SQLite allows one writer at a
	// time, and queueing writers in database/sql's pool instead of in
	// SQLite's busy handler means no SQLITE_BUSY between our own goroutines.
	// River shares it.
	w *sql.DB
	// r serves reads from other connections (WAL lets them run alongside the
	// writer), so a read never waits for a transaction and a read made
	// inside InTx's fn cannot deadlock on the single write connection.
	r *sql.DB

	writes *writer       // groups write transactions (see writes.go)
	ckpt   *checkpointer // copies the log into the database (checkpoint.go)
	// stopPruner ends the pruner (prune.go); pruned closes once it has.
	stopPruner context.CancelFunc
	pruned     <-chan struct{}

	driver *riversqlite.Driver
	q      *queue.Queue[*sql.Tx]

	// lock is held open while the store is: the file belongs to one
	// process (see the package comment).
	lock *os.File

	repoLocks repoLocks

	mu     sync.Mutex
	closed bool
}

// errLocked says another process has the database open.
var errLocked = errors.New("another process (another expbot?) has this database open: stop it, or give this one its own data directory")

var (
	_ store.Store  = (*Store)(nil)
	_ queue.Losing = (*Store)(nil)
)

// Open opens (creating if needed) the database file at path, migrates our
// tables and River's, and returns a Store whose job queue is not yet
// started (see Start). path must name a file: the store opens several
// connections to it, which an in-memory database cannot share.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	cfg := config{
		q: queue.Config{
			// Poll-only: SQLite has no LISTEN, and polling the job table
			// every poll interval is as prompt as polling River's
			// notification table.
			PollOnly:     true,
			PollInterval: queue.DefaultPollInterval,
			MaxAttempts:  queue.DefaultMaxAttempts,
			RetryBase:    queue.DefaultRetryBase,
			RetryMax:     queue.DefaultRetryMax,
			JobTimeout:   queue.DefaultJobTimeout,
			LullQuiet:    queue.DefaultLullQuiet,
			LullMax:      queue.DefaultLullMax,
		},
		busyTimeout: DefaultBusyTimeout,
		synchronous: "FULL",
		checkpoint:  defaultCheckpointEvery,
		maxLog:      defaultMaxLogFrames,
		retention:   DefaultDeliveryRetention,
		pruneEvery:  defaultPruneEvery,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	cfg.q.Logger = cfg.logger
	if err := validate(path, cfg); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{cfg: cfg, writes: newWriter(cfg), lock: lock}
	opened := false
	defer func() {
		if !opened {
			_ = lock.Close()
		}
	}()
	// synchronous=FULL: in WAL mode NORMAL may lose the last commits on a
	// power cut, and those commits are deliveries we already answered 202
	// to. FULL syncs the WAL on every commit: one fsync per commit, which
	// concurrent transactions share (see writes.go).
	// _txlock=immediate takes the write lock at BEGIN, so a transaction never
	// fails halfway when it upgrades from reading to writing.
	// wal_autocheckpoint=0: checkpoints happen off the write path (see
	// checkpoint.go).
	s.w, err = openDB(dsn(path, cfg, "_journal_mode=WAL", "_pragma=wal_autocheckpoint(0)",
		"_synchronous="+cfg.synchronous, "_foreign_keys=1", "_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	// Keep the one connection open: reopening it would cost a file open and
	// the pragmas on every transaction.
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)

	s.driver = riversqlite.New(s.w)
	if err := s.migrate(ctx); err != nil {
		_ = s.w.Close()
		return nil, err
	}

	// Opened after migrating, so the file is already in WAL mode.
	s.r, err = openDB(dsn(path, cfg, "_query_only=1", "_foreign_keys=1"))
	if err != nil {
		_ = s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	s.r.SetMaxOpenConns(readConns)
	s.r.SetMaxIdleConns(readConns)

	s.q, err = queue.New(s.driver, queueSQL{s}, cfg.q)
	if err != nil {
		_ = s.r.Close()
		_ = s.w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}

	ck, err := openDB(dsn(path, cfg, "_synchronous="+cfg.synchronous))
	if err != nil {
		_ = s.r.Close()
		_ = s.w.Close()
		return nil, fmt.Errorf("sqlite: open %s for checkpoints: %w", path, err)
	}
	ck.SetMaxOpenConns(1)
	s.ckpt = startCheckpointer(ck, cfg.checkpoint, cfg.maxLog, func(msg string, args ...any) { s.cfg.logger.Warn(msg, args...) })
	pctx, stop := context.WithCancel(context.Background())
	s.stopPruner, s.pruned = stop, s.startPruner(pctx, cfg.pruneEvery)
	opened = true
	return s, nil
}

func validate(path string, cfg config) error {
	switch {
	case path == "":
		return errors.New("empty path")
	case path == ":memory:" || strings.HasPrefix(path, "file:") || strings.Contains(path, "?"):
		return fmt.Errorf("path %q: want a plain file name (no :memory:, URI or query)", path)
	case cfg.busyTimeout < 0, cfg.retention <= 0, cfg.pruneEvery <= 0:
		return errors.New("durations must be positive")
	}
	return cfg.q.Validate()
}

// openDB opens a pool of connections that cache their statements (see
// stmtcache.go).
func openDB(dsn string) (*sql.DB, error) {
	c, err := newConnector(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c), nil
}

func dsn(path string, cfg config, params ...string) string {
	params = append(params, fmt.Sprintf("_busy_timeout=%d", cfg.busyTimeout.Milliseconds()))
	return path + "?" + strings.Join(params, "&")
}

func (s *Store) now() time.Time { return time.Now().UTC() }

// Ping checks both connection pools answer.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range []*sql.DB{s.w, s.r} {
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("sqlite: ping: %w", err)
		}
	}
	return nil
}

// Close stops the job queue if Stop was not called (cancelling running jobs)
// and closes the database. Calling it again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if err := s.q.Close(); err != nil {
		errs = append(errs, err)
	}
	s.stopPruner()
	<-s.pruned
	if err := s.ckpt.close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.r.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.w.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.lock.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}
