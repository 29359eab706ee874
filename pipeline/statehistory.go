package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Every update and refresh adds to its stack's history in a DIY backend
// its summary and a full copy of the stack's state
// (<root>/.pulumi/history/<project>/<stack>/<stack>-<unix nanos>.history.json
// and .checkpoint.json, compressed here), and the CLI deletes none: a stack
// holding every experiment of a busy repository would grow its history by
// its whole size with every run. When a run of the stack ends, entries
// beyond the newest PulumiEnv.HistoryKeep are deleted.

// historyTimeout bounds the pruning at the end of a run.
const historyTimeout = 30 * time.Second

// pruneHistory deletes the stack's history entries beyond the newest keep
// (keep > 0) and says how many blobs it deleted.
func (h *hold) pruneHistory(ctx context.Context, keep int) (int, error) {
	b, ok, err := openStateBackend(ctx, h.s.env.BackendURL)
	if err != nil || !ok {
		return 0, err
	}
	defer b.close()
	keys, err := b.history(ctx, h.s.env.project(), h.name)
	if err != nil {
		return 0, fmt.Errorf("list the history of %s: %w", h.name, err)
	}
	stale := staleHistory(h.name, keys, keep)
	if len(stale) == 0 {
		return 0, nil
	}
	if err := b.removeHistory(ctx, stale); err != nil {
		return 0, fmt.Errorf("delete old history of %s: %w", h.name, err)
	}
	return len(stale), nil
}

// staleHistory returns, sorted, the keys of stack's history entries older
// than its newest keep. Keys not named as the CLI names history blobs are
// left alone.
func staleHistory(stack string, keys []string, keep int) []string {
	entries := map[int64][]string{}
	for _, k := range keys {
		if at, ok := historyStamp(stack, path.Base(filepath.ToSlash(k))); ok {
			entries[at] = append(entries[at], k)
		}
	}
	if len(entries) <= keep {
		return nil
	}
	stamps := slices.Sorted(maps.Keys(entries))
	var out []string
	for _, at := range stamps[:len(stamps)-keep] {
		out = append(out, entries[at]...)
	}
	slices.Sort(out) // a blob before its sidecar (<name>.attrs)
	return out
}

// historyStamp reads the update time in the name of one of stack's history
// blobs: <stack>-<unix nanos>.history.json or .checkpoint.json, maybe
// compressed (.gz, .zst), maybe the file backend's sidecar (.attrs).
func historyStamp(stack, name string) (int64, bool) {
	rest, ok := strings.CutPrefix(name, stack+"-")
	if !ok {
		return 0, false
	}
	digits, kind, _ := strings.Cut(rest, ".")
	kind = strings.TrimSuffix(kind, attrsSuffix)
	kind = strings.TrimSuffix(strings.TrimSuffix(kind, ".gz"), ".zst")
	if kind != "history.json" && kind != "checkpoint.json" {
		return 0, false
	}
	at, err := strconv.ParseInt(digits, 10, 64)
	return at, err == nil && at > 0
}

func (f fileState) history(_ context.Context, project, stack string) ([]string, error) {
	dir := filepath.Join(f.root, ".pulumi", "history", project, stack)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out, nil
}

func (f fileState) removeHistory(_ context.Context, keys []string) error {
	for _, k := range keys {
		if err := os.Remove(k); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

func (p *postgresState) history(ctx context.Context, project, stack string) ([]string, error) {
	rows, err := p.conn.Query(ctx, `SELECT key FROM `+p.table+` WHERE key LIKE $1`,
		likePrefix(p.root+"history/"+project+"/"+stack+"/"))
	if err != nil {
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42P01" {
			return nil, nil // no table yet: the CLI has not run
		}
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (p *postgresState) removeHistory(ctx context.Context, keys []string) error {
	_, err := p.conn.Exec(ctx, `DELETE FROM `+p.table+` WHERE key = ANY($1)`, keys)
	return err
}

// likePrefix is a LIKE pattern matching the strings that start with prefix.
func likePrefix(prefix string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(prefix) + "%"
}
