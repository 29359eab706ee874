package sqlite

import (
	"container/list"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"

	"modernc.org/sqlite"
)

// stmtCacheSize bounds the prepared statements kept per connection; the
// store and River use a few dozen distinct ones.
const stmtCacheSize = 128

// Statement cache. database/sql prepares every statement run outside a
// *sql.Stmt afresh, and SQLite takes longer to parse a statement like
// River's job insert than to run it: parsing was a third of the CPU time of
// an accepted webhook. These connections keep the statements they prepare,
// by SQL text, for River's queries and ours alike.

// newConnector opens connections to dsn that cache their statements.
func newConnector(dsn string) (driver.Connector, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, err
	}
	return cachingConnector{c}, nil
}

type cachingConnector struct{ driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

// inner is what a modernc connection implements, as database/sql uses it.
type inner interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// cachingConn is used by one goroutine at a time: database/sql holds the
// connection's lock around every call, rows included.
type cachingConn struct {
	inner
	lru   *list.List // of *cachedStmt, most recently used first
	stmts map[string]*list.Element
}

type cachedStmt struct {
	query string
	stmt  driver.Stmt
	busy  bool // its rows are open: a second use needs a statement of its own
	gone  bool // evicted while busy: close it when its rows close
}

func newCachingConn(c driver.Conn) (*cachingConn, error) {
	in, ok := c.(inner)
	if !ok {
		_ = c.Close()
		return nil, fmt.Errorf("sqlite: connection %T lacks the methods the statement cache needs", c)
	}
	return &cachingConn{inner: in, lru: list.New(), stmts: map[string]*list.Element{}}, nil
}

// Unwrap lets the driver's helpers (sqlite.Limit...) reach its connection.
func (c *cachingConn) Unwrap() driver.Conn { return c.inner }

// get returns the cached statement for query, preparing it if needed; nil
// when it is busy, and then the caller runs query uncached.
func (c *cachingConn) get(ctx context.Context, query string) (*cachedStmt, error) {
	if e, ok := c.stmts[query]; ok {
		c.lru.MoveToFront(e)
		cs := e.Value.(*cachedStmt)
		if cs.busy {
			return nil, nil
		}
		return cs, nil
	}
	st, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	cs := &cachedStmt{query: query, stmt: st}
	c.stmts[query] = c.lru.PushFront(cs)
	for c.lru.Len() > stmtCacheSize {
		old := c.lru.Remove(c.lru.Back()).(*cachedStmt)
		delete(c.stmts, old.query)
		if old.busy {
			old.gone = true
		} else {
			_ = old.stmt.Close()
		}
	}
	return cs, nil
}

func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner.ExecContext(ctx, query, args)
	}
	return cs.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cs, err := c.get(ctx, query)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return c.inner.QueryContext(ctx, query, args)
	}
	rows, err := cs.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		return nil, err
	}
	mr, ok := rows.(modernRows)
	if !ok {
		_ = rows.Close()
		return nil, fmt.Errorf("sqlite: rows %T lack the methods the statement cache passes on", rows)
	}
	cs.busy = true
	return &cachedRows{rows: mr, cs: cs}, nil
}

// Close closes the cached statements, then the connection.
func (c *cachingConn) Close() error {
	var errs []error
	for e := c.lru.Front(); e != nil; e = e.Next() {
		if cs := e.Value.(*cachedStmt); !cs.busy {
			errs = append(errs, cs.stmt.Close())
		}
	}
	c.lru.Init()
	clear(c.stmts)
	errs = append(errs, c.inner.Close())
	return errors.Join(errs...)
}

// modernRows is what a modernc result set implements.
type modernRows interface {
	driver.Rows
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypeNullable
	driver.RowsColumnTypePrecisionScale
	driver.RowsColumnTypeScanType
}

// cachedRows frees its statement for the next use when closed.
type cachedRows struct {
	rows modernRows
	cs   *cachedStmt
}

func (r *cachedRows) Close() error {
	err := r.rows.Close()
	if r.cs != nil {
		r.cs.busy = false
		if r.cs.gone {
			err = errors.Join(err, r.cs.stmt.Close())
		}
		r.cs = nil
	}
	return err
}

func (r *cachedRows) Columns() []string              { return r.rows.Columns() }
func (r *cachedRows) Next(dest []driver.Value) error { return r.rows.Next(dest) }
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.rows.ColumnTypeDatabaseTypeName(i)
}
func (r *cachedRows) ColumnTypeLength(i int) (int64, bool)  { return r.rows.ColumnTypeLength(i) }
func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) { return r.rows.ColumnTypeNullable(i) }
func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.rows.ColumnTypePrecisionScale(i)
}
func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type { return r.rows.ColumnTypeScanType(i) }
