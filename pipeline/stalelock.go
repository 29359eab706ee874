package pipeline

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/expbot/expbot/pipeline/store"
)

// A CLI killed during an update (with its process: the guard sees to it)
// leaves the stack's lock in the state, and every later update of the stack
// fails as "currently locked" until it is removed. Whose a lock is, is told
// by the records of Pulumi runs (store.PulumiRun): a lock is a process's
// when the CLI wrote it from that process's host while the process held
// the stack. It is removed only when that process is gone (no live lease,
// docs/pulumi-state.md), or has recorded that its CLI runs then ended (a
// run whose database went away leaves its lock), or is this very process,
// with no CLI of it running on the stack. Locks with no record (someone's
// own `pulumi` run) and locks of live runs are left alone.

// lockOwner is what the CLI writes into a DIY backend's lock.
type lockOwner struct {
	Pid       int       `json:"pid"`
	Hostname  string    `json:"hostname"`
	Timestamp time.Time `json:"timestamp"`
}

// stackLock is one lock of a stack in a DIY backend.
type stackLock struct {
	key    string // a file's path (file://) or a blob's key (postgres://)
	owner  lockOwner
	parsed bool // owner was read
}

// lockJudge decides about the locks of one stack.
type lockJudge struct {
	runs []store.PulumiRun // the stack's records, this process's earlier ones too
	busy bool              // a CLI of this process may run on the stack
	host string            // this host
	// oneProcess: the store is this process's alone (SQLite), so a lock
	// written on this host by a process that no longer runs is stale
	// even without a record.
	oneProcess bool
}

// judge says whether l may be removed, and why (for the log).
func (j lockJudge) judge(l stackLock) (remove bool, why string) {
	if !l.parsed {
		return false, "unreadable lock"
	}
	matched, live := 0, ""
	for _, r := range j.runs {
		if !written(l, r) {
			continue
		}
		matched++
		switch {
		case r.Gone, !r.Self && !r.Ended.IsZero():
		case r.Self && !j.busy:
		case r.Self:
			live = "this process runs Pulumi on the stack"
		default:
			live = "its process " + r.Process + " holds a live lease"
		}
	}
	switch {
	case live != "":
		return false, live
	case matched > 0:
		return true, "its update is over (its process is gone, or ended its runs)"
	case j.oneProcess && l.owner.Hostname == j.host && l.owner.Pid > 0 && !processAlive(l.owner.Pid):
		return true, "its process no longer runs on this host"
	default:
		return false, "no expbot process ran Pulumi on the stack then (remove it with `pulumi cancel` if it is stale)"
	}
}

// written says whether l was written by a CLI of r's: from its host,
// while it held the stack.
func written(l stackLock, r store.PulumiRun) bool {
	return l.parsed && r.Host == l.owner.Hostname && !l.owner.Timestamp.Before(r.Started) &&
		(r.Ended.IsZero() || !l.owner.Timestamp.After(r.Ended))
}

// stateBackend lists and removes a stack's locks and history entries in a
// DIY backend.
type stateBackend interface {
	locks(ctx context.Context, stack string) ([]stackLock, error)
	remove(ctx context.Context, l stackLock) error
	history(ctx context.Context, project, stack string) ([]string, error)
	removeHistory(ctx context.Context, keys []string) error
	close()
}

// openStateBackend opens the backend at backendURL; ok is false for
// backends expbot does not read (s3://, the Pulumi Cloud).
func openStateBackend(ctx context.Context, backendURL string) (b stateBackend, ok bool, err error) {
	if root, ok := strings.CutPrefix(backendURL, "file://"); ok {
		return fileState{root: root}, true, nil
	}
	if strings.HasPrefix(backendURL, "postgres://") {
		b, err := openPostgresState(ctx, backendURL)
		return b, err == nil, err
	}
	return nil, false, nil
}

// decodeOwner reads a lock's content.
func decodeOwner(b []byte) (lockOwner, bool) {
	var o lockOwner
	if json.Unmarshal(b, &o) != nil || o.Hostname == "" || o.Timestamp.IsZero() {
		return lockOwner{}, false
	}
	return o, true
}

// fileState is a file:// backend: its locks are
// <root>/.pulumi/locks/<org>/<project>/<stack>/<id>.json, each with its
// attributes in a sidecar (gocloud's fileblob): <id>.json.attrs.
type fileState struct{ root string }

func (f fileState) close() {}

func (f fileState) locks(_ context.Context, stack string) ([]stackLock, error) {
	var out []stackLock
	err := filepath.WalkDir(filepath.Join(f.root, ".pulumi", "locks"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || filepath.Base(filepath.Dir(p)) != stack {
			return nil
		}
		if lock, ok := strings.CutSuffix(p, ".json"+attrsSuffix); ok {
			return removeOrphanAttrs(lock+".json", p, d)
		}
		if filepath.Ext(p) != ".json" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		o, ok := decodeOwner(b)
		out = append(out, stackLock{key: p, owner: o, parsed: ok})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look for locks of %s: %w", stack, err)
	}
	return out, nil
}

// remove deletes the sidecar first: a lock whose attributes are gone is
// still a lock, but a sidecar whose lock is gone is litter.
func (f fileState) remove(_ context.Context, l stackLock) error {
	if err := os.Remove(l.key + attrsSuffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Remove(l.key)
}

// attrsSuffix names the sidecar in which the file backend (gocloud's
// fileblob) keeps each blob's attributes: a lock is <id>.json plus
// <id>.json.attrs.
const attrsSuffix = ".attrs"

// orphanAge is how old a sidecar without its lock must be before it is
// litter: the file backend writes the sidecar just before the lock itself.
const orphanAge = time.Minute

// removeOrphanAttrs removes the sidecar at path when its lock is gone: left
// by a removal that predates sidecar handling, or interrupted between the
// two files.
func removeOrphanAttrs(lock, path string, d fs.DirEntry) error {
	if _, err := os.Stat(lock); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	info, err := d.Info()
	if err != nil || time.Since(info.ModTime()) < orphanAge {
		return nil
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// postgresState is the CLI's postgres:// backend: rows of its table (the
// URL's "table", default pulumi_state) keyed by the path below the
// database's name, e.g. <database>/.pulumi/locks/<org>/<project>/<stack>/<id>.json,
// each blob as JSON {"data": base64}.
type postgresState struct {
	conn  *pgx.Conn
	table string // quoted
	root  string // of every key: "<database>/.pulumi/"
}

func openPostgresState(ctx context.Context, backendURL string) (*postgresState, error) {
	u, err := url.Parse(backendURL)
	if err != nil {
		return nil, errors.New("the Pulumi backend URL does not parse") // it may quote the password
	}
	q := u.Query()
	table := q.Get("table")
	if table == "" {
		table = "pulumi_state"
	}
	q.Del("table")
	u.RawQuery = q.Encode()
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return nil, fmt.Errorf("connect to the Pulumi state's database: %w", err)
	}
	root := ".pulumi/"
	if db := strings.Trim(u.Path, "/"); db != "" {
		root = db + "/" + root
	}
	return &postgresState{conn: conn, table: pgx.Identifier(strings.Split(table, ".")).Sanitize(), root: root}, nil
}

func (p *postgresState) close() { _ = p.conn.Close(context.Background()) }

func (p *postgresState) locks(ctx context.Context, stack string) ([]stackLock, error) {
	rows, err := p.conn.Query(ctx, `SELECT key, data::text FROM `+p.table+` WHERE key LIKE $1`, likePrefix(p.root+"locks/"))
	if err != nil {
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42P01" {
			return nil, nil // no table yet: the CLI has not run
		}
		return nil, fmt.Errorf("look for locks of %s: %w", stack, err)
	}
	var out []stackLock
	for rows.Next() {
		var key, data string
		if err := rows.Scan(&key, &data); err != nil {
			return nil, fmt.Errorf("look for locks of %s: %w", stack, err)
		}
		if path.Base(path.Dir(key)) != stack || path.Ext(key) != ".json" {
			continue
		}
		var blob struct {
			Data string `json:"data"`
		}
		l := stackLock{key: key}
		if json.Unmarshal([]byte(data), &blob) == nil {
			if b, err := base64.StdEncoding.DecodeString(blob.Data); err == nil {
				l.owner, l.parsed = decodeOwner(b)
			}
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look for locks of %s: %w", stack, err)
	}
	return out, nil
}

func (p *postgresState) remove(ctx context.Context, l stackLock) error {
	_, err := p.conn.Exec(ctx, `DELETE FROM `+p.table+` WHERE key = $1`, l.key)
	return err
}

// processAlive tells whether pid runs. A process killed with its parent is
// a zombie until init reaps it, and some inits take their time: where
// /proc tells, a zombie counts as gone.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc here, or it raced away: trust kill
	}
	// "pid (comm) state ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}
