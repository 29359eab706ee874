package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"time"
)

// Checkpoints. In WAL mode SQLite copies the log back into the database
// file (a checkpoint) inside the commit that takes the log past 1000
// pages; that commit then also writes and fsyncs the database file, tens
// of milliseconds during which every other write, and so every webhook
// waiting to be acknowledged, waits too. So the write connection never
// checkpoints (wal_autocheckpoint=0): a goroutine does it, on a connection
// of its own, which SQLite lets run alongside the writer. Durability is
// unchanged: a commit is durable once its log frames are synced.

// checkpointer runs passive checkpoints every interval until stopped.
type checkpointer struct {
	db        *sql.DB
	maxFrames int64
	stop      context.CancelFunc
	done      <-chan struct{}
	frames    atomic.Int64 // log frames copied back so far, for tests
	restarts  atomic.Int64 // times the log was made to start over, for tests
}

func startCheckpointer(db *sql.DB, every time.Duration, maxFrames int64, warn func(msg string, args ...any)) *checkpointer {
	ctx, stop := context.WithCancel(context.Background())
	c := &checkpointer{db: db, maxFrames: maxFrames, stop: stop}
	c.done = runEvery(ctx, every, func(ctx context.Context) {
		if err := c.checkpoint(ctx); err != nil && ctx.Err() == nil {
			warn("sqlite: checkpoint failed; the log grows until one succeeds", "error", err.Error())
		}
	})
	return c
}

// defaultMaxLogFrames bounds the log. A passive checkpoint copies what was in the
// log when it began, and the log starts over only when a writer finds all
// of it copied; under a steady stream of writes that may not happen for a
// while. Past this size (64 MB of 4 KB pages, some seconds of a heavy
// load) the checkpoint waits for the writer, copies the rest and makes the
// log start over (RESTART): a short stall for the writes of that moment
// rather than a log without bound. The file keeps its size and is
// rewritten in place; TRUNCATE would free its blocks and have the next
// writes allocate them again, which made that stall 20-40 ms instead
// (docs/performance.md).
const defaultMaxLogFrames = 16384

// checkpoint copies what it can of the log into the database without
// waiting for readers or the writer (PASSIVE), or, when the log has grown
// past maxFrames, all of it, and makes the log start over (RESTART).
func (c *checkpointer) checkpoint(ctx context.Context) error {
	var busy, logFrames, copied int64
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &copied); err != nil {
		return fmt.Errorf("wal_checkpoint: %w", err)
	}
	c.frames.Add(max(copied, 0))
	if logFrames <= c.maxFrames {
		return nil
	}
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logFrames, &copied); err != nil {
		return fmt.Errorf("wal_checkpoint(RESTART) of a log of %d frames: %w", logFrames, err)
	}
	c.frames.Add(max(copied, 0))
	if busy == 0 {
		c.restarts.Add(1)
	}
	return nil
}

// close stops the goroutine, then closes its connection.
func (c *checkpointer) close() error {
	c.stop()
	<-c.done
	return c.db.Close()
}
