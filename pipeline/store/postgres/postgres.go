// Package postgres is the store driver for PostgreSQL: the deliveries, the
// experiments, the runs and River's job tables in one database, so that a
// delivery, the state change it causes and the job it enqueues commit in one
// transaction, and several expbot processes can share it. The job queue's
// policy is the queue package's; this package holds only SQL.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/queue"
)

// Defaults for the Options below.
const (
	DefaultDeliveryRetention = 30 * 24 * time.Hour
	defaultPruneEvery        = time.Hour
	pruneBatch               = 1000
	// DefaultPollInterval: PostgreSQL tells idle workers of new jobs
	// (LISTEN/NOTIFY), so polling is only the fallback.
	DefaultPollInterval = time.Second
	// connectTimeout bounds a connection attempt unless the URL's
	// connect_timeout says otherwise.
	connectTimeout = 10 * time.Second
	// defaultMaxConns bounds the pool unless the URL's pool_max_conns
	// says otherwise. Run locks (TryLockRepo) use connections of their own.
	defaultMaxConns = 16
	// defaultMinIdleConns: connections kept open and idle unless the URL's
	// pool_min_idle_conns says otherwise.
	defaultMinIdleConns = 4
)

// Option adjusts Open.
type Option func(*config)

type config struct {
	q          queue.Config // the job queue's; Logger is the store's too
	logger     *slog.Logger
	retention  time.Duration // delivery ids older than this are pruned
	pruneEvery time.Duration
	lockConns  int            // WithLockConns
	gate       *ackfirst.Gate // WithAckGate
}

// WithPollInterval sets how often idle workers look for new jobs besides
// being told of them.
func WithPollInterval(d time.Duration) Option { return func(c *config) { c.q.PollInterval = d } }

// WithMaxAttempts sets how many times a failing job is tried before it is
// given up (discarded).
func WithMaxAttempts(n int) Option { return func(c *config) { c.q.MaxAttempts = n } }

// WithRetryBackoff sets the exponential retry backoff: base after the first
// failure, doubling, capped at maxDelay.
func WithRetryBackoff(base, maxDelay time.Duration) Option {
	return func(c *config) { c.q.RetryBase, c.q.RetryMax = base, maxDelay }
}

// WithJobTimeout bounds one handler call.
func WithJobTimeout(d time.Duration) Option { return func(c *config) { c.q.JobTimeout = d } }

// WithLull sets the lull before a reconcile run (queue.Config); quiet 0
// turns it off.
func WithLull(quiet, max time.Duration) Option {
	return func(c *config) { c.q.LullQuiet, c.q.LullMax = quiet, max }
}

// WithLease sets how long this process's lease on its running jobs lasts
// without a heartbeat (queue.Config's Lease).
func WithLease(d time.Duration) Option { return func(c *config) { c.q.Lease = d } }

// WithLostGrace sets how long a job may stay running under this process
// with no handler of its before it is made available again (queue.Config's
// LostGrace).
func WithLostGrace(d time.Duration) Option { return func(c *config) { c.q.LostGrace = d } }

// WithLockConns bounds the connections that hold advisory locks (the
// repositories' run locks, the status comments' locks): one per lock held.
// A process holds at most two per worker (a run's and a report's), the
// default for queue.DefaultWorkers; give it twice the workers Start gets.
func WithLockConns(n int) Option { return func(c *config) { c.lockConns = n } }

// WithLogger sets the logger for the store and River. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithDeliveryRetention sets how long delivery ids are kept for dedupe.
func WithDeliveryRetention(d time.Duration) Option { return func(c *config) { c.retention = d } }

// Store implements store.Store on a PostgreSQL database.
type Store struct {
	cfg     config
	pool    *pgxpool.Pool
	locks   *pgxpool.Pool // one connection per advisory lock held (repolock.go)
	accepts *acceptors    // AcceptDelivery's writers, on connections of their own (accept.go)
	driver  *riverpgxv5.Driver
	q       *queue.Queue[pgx.Tx]

	stopPruner context.CancelFunc
	pruned     <-chan struct{}

	mu     sync.Mutex
	closed bool
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://...), migrates River's
// tables and ours under an advisory lock, and returns a Store whose job
// queue is not yet started (see Start). A database that cannot be reached
// is an error at once, naming the host but never the password.
func Open(ctx context.Context, dbURL string, opts ...Option) (*Store, error) {
	cfg := config{
		q: queue.Config{
			PollInterval: DefaultPollInterval,
			MaxAttempts:  queue.DefaultMaxAttempts,
			RetryBase:    queue.DefaultRetryBase,
			RetryMax:     queue.DefaultRetryMax,
			JobTimeout:   queue.DefaultJobTimeout,
			LullQuiet:    queue.DefaultLullQuiet,
			LullMax:      queue.DefaultLullMax,
		},
		retention:  DefaultDeliveryRetention,
		pruneEvery: defaultPruneEvery,
		lockConns:  2 * queue.DefaultWorkers,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	cfg.q.Logger = cfg.logger
	if cfg.retention <= 0 || cfg.pruneEvery <= 0 {
		return nil, errors.New("postgres: open: durations must be positive")
	}
	if cfg.lockConns < 1 {
		return nil, errors.New("postgres: open: lock connections must be at least 1")
	}
	if err := cfg.q.Validate(); err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	where := Redact(dbURL)
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		// pgx's parse errors may quote the URL, password included.
		return nil, fmt.Errorf("postgres: open %s: not a valid connection URL", where)
	}
	if !strings.Contains(dbURL, "pool_max_conns=") {
		// pgx's default (the CPU count, at least 4) is too few beside
		// River's listener, fetcher and completer on a small machine.
		pcfg.MaxConns = defaultMaxConns
	}
	if !strings.Contains(dbURL, "pool_min_idle_conns=") {
		// Connections opened at start and kept ready: work that has to
		// open one waits for it (tens of ms on a busy machine).
		pcfg.MinIdleConns = min(defaultMinIdleConns, pcfg.MaxConns)
	}
	if pcfg.ConnConfig.ConnectTimeout == 0 {
		// An unreachable host must not hold the start (or /readyz) for the
		// system's TCP timeout.
		pcfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if cfg.gate != nil {
		pcfg.ConnConfig.Tracer = gateTracer{cfg.gate}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	s := &Store{cfg: cfg, pool: pool, driver: riverpgxv5.New(pool)}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach the database at %s: %w", where, err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if s.locks, err = newLockPool(ctx, pcfg, cfg.lockConns); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	if s.accepts, err = startAcceptors(ctx, pcfg); err != nil {
		s.locks.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where, err)
	}
	if s.q, err = queue.New(s.driver, queueSQL{s}, cfg.q); err != nil {
		s.accepts.close()
		s.locks.Close()
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pctx, stop := context.WithCancel(context.Background())
	s.stopPruner, s.pruned = stop, s.startPruner(pctx, cfg.pruneEvery)
	return s, nil
}

// Redact returns dbURL without its password, for messages.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.Host == "" {
		return "(the configured database)"
	}
	u.User = nil
	u.RawQuery = ""
	return u.Redacted()
}

func (s *Store) now() time.Time { return time.Now().UTC() }

// Ping checks the database answers on a connection.
func (s *Store) Ping(ctx context.Context) error {
	err := s.pool.Ping(ctx)
	if err != nil && ctx.Err() == nil {
		// Pooled connections that the server closed (a restart, a
		// failover) each fail once: drop them all, and ask on a new one.
		s.pool.Reset()
		s.accepts.pool.Reset()
		err = s.pool.Ping(ctx)
	}
	if err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
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
		return 0, fmt.Errorf("postgres: %w", err)
	}
	return n, nil
}

// Close stops the job queue if Stop was not called (cancelling running jobs)
// and closes the connections. Calling it again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.q.Close()
	s.stopPruner()
	<-s.pruned
	closeLocks(s.locks)
	s.accepts.close()
	s.pool.Close()
	if err != nil {
		return fmt.Errorf("postgres: close: %w", err)
	}
	return nil
}

// InTx runs fn in one transaction; fn's error (or panic) rolls it back.
func (s *Store) InTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.inTx(ctx, func(ctx context.Context, t pgx.Tx) error { return fn(ctx, &tx{s: s, tx: t}) })
}

func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(t pgx.Tx) error { return fn(ctx, t) })
}

// InKeptTx is InTx whose commit does not wait for the disk (see store.Store).
func (s *Store) InKeptTx(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.inLazyTx(ctx, func(ctx context.Context, t pgx.Tx) error { return fn(ctx, &tx{s: s, tx: t}) })
}

// lazyBegin begins a transaction whose commit does not wait for the WAL to
// reach the disk, in the one round trip of a plain BEGIN.
var lazyBegin = pgx.TxOptions{BeginQuery: "BEGIN; SET LOCAL synchronous_commit = off"}

// inLazyTx is inTx for writes that may be lost in a crash of the database
// server (not of expbot) shortly after they return: its commit does not
// wait for the disk. A later commit that does wait makes it durable too,
// since the server writes its log in order.
func (s *Store) inLazyTx(ctx context.Context, fn func(ctx context.Context, tx pgx.Tx) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, lazyBegin, func(t pgx.Tx) error { return fn(ctx, t) })
}
