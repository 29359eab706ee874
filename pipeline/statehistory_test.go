package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

func TestHistoryStamp(t *testing.T) {
	for _, tt := range []struct {
		name string
		want int64
		ok   bool
	}{
		{"github.o-r-1700000000000000001.history.json", 1700000000000000001, true},
		{"github.o-r-1700000000000000001.checkpoint.json.zst", 1700000000000000001, true},
		{"github.o-r-17.checkpoint.json.gz", 17, true},
		{"github.o-r-17.history.json.zst.attrs", 17, true},
		{"github.o-r2-17.history.json", 0, false}, // another stack's
		{"github.o-r-17.json", 0, false},          // not a history blob
		{"github.o-r-17.history.yaml", 0, false},  // not one the CLI writes
		{"github.o-r-x17.history.json", 0, false}, // no time
		{"github.o-r-0.history.json", 0, false},   // no time
		{"github.o-r-17.checkpoint.json.bak", 0, false},
		{"github.o-r.json.zst", 0, false}, // the stack's state itself
	} {
		got, ok := historyStamp("github.o-r", tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("historyStamp(%q) = %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStaleHistory(t *testing.T) {
	entry := func(at string) []string {
		return []string{"h/s-" + at + ".history.json.zst", "h/s-" + at + ".checkpoint.json.zst"}
	}
	three := slices.Concat(entry("30"), entry("100"), entry("20"), []string{"h/s-20.history.json.zst.attrs", "h/notes.txt"})
	for _, tt := range []struct {
		name string
		keys []string
		keep int
		want []string
	}{
		{"fewer than kept", three, 5, nil},
		{"as many as kept", three, 3, nil},
		{"oldest go, by time not by name", three, 2, []string{"h/s-20.checkpoint.json.zst", "h/s-20.history.json.zst", "h/s-20.history.json.zst.attrs"}},
		{"all but the newest", three, 1, slices.Concat([]string{"h/s-20.checkpoint.json.zst", "h/s-20.history.json.zst", "h/s-20.history.json.zst.attrs"}, []string{"h/s-30.checkpoint.json.zst", "h/s-30.history.json.zst"})},
		{"nothing", nil, 1, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := staleHistory("s", tt.keys, tt.keep); !slices.Equal(got, tt.want) {
				t.Errorf("staleHistory(keep %d) = %q, want %q", tt.keep, got, tt.want)
			}
		})
	}
}

// holdOn is a hold of stack in a backend, as a run has it when it ends.
func holdOn(backendURL, stack string) *hold {
	s := newStacks(PulumiEnv{BackendURL: backendURL}, nil, zerolog.Nop())
	return &hold{s: s, name: stack}
}

// A file:// backend: the stack's oldest entries go, with their sidecars;
// the stack's state, other stacks' history and unknown files stay.
func TestPruneFileHistory(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	dir := filepath.Join(root, ".pulumi", "history", "expbot", "github.o-r")
	other := filepath.Join(root, ".pulumi", "history", "expbot", "github.o-r2")
	state := filepath.Join(root, ".pulumi", "stacks", "expbot", "github.o-r.json.zst")
	var files []string
	gone := map[string]bool{}
	for _, d := range []string{dir, other} {
		for _, at := range []string{"10", "20", "30"} {
			for _, kind := range []string{".history.json.zst", ".checkpoint.json.zst"} {
				f := filepath.Join(d, filepath.Base(d)+"-"+at+kind)
				files = append(files, f, f+attrsSuffix)
				gone[f], gone[f+attrsSuffix] = d == dir && at != "30", d == dir && at != "30"
			}
		}
	}
	files = append(files, state, filepath.Join(dir, "README"))
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := holdOn("file://"+root, "github.o-r").pruneHistory(ctx, 1)
	if err != nil || n != 8 {
		t.Fatalf("pruneHistory = %d, %v; want 8 blobs and sidecars deleted", n, err)
	}
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		if _, err := os.Stat(f); (err == nil) == gone[f] {
			t.Errorf("%s exists = %v, want %v", rel, err == nil, !gone[f])
		}
	}
	// A stack with no history yet, in a backend with none at all.
	if n, err := holdOn("file://"+t.TempDir(), "github.o-r").pruneHistory(ctx, 1); n != 0 || err != nil {
		t.Errorf("no history: %d, %v", n, err)
	}
}

// The CLI's postgres:// backend: the stack's oldest entries go, nothing
// of another stack (one whose name starts the same) or database.
func TestPrunePostgresHistory(t *testing.T) {
	ctx := context.Background()
	dbURL, dbName := pgtest.NewDatabase(t)
	if n, err := holdOn(dbURL, "github.o-r").pruneHistory(ctx, 1); n != 0 || err != nil {
		t.Errorf("before the CLI made its table: %d, %v", n, err)
	}
	c := pgtest.Connect(t, dbURL)
	if _, err := c.Exec(ctx, `CREATE TABLE pulumi_state (key TEXT PRIMARY KEY, data JSON NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, prefix := range []string{dbName + "/.pulumi/history/expbot/github.o-r/github.o-r-", dbName + "/.pulumi/history/expbot/github.o-r2/github.o-r2-", "other_db/.pulumi/history/expbot/github.o-r/github.o-r-"} {
		for _, at := range []string{"10", "20", "30"} {
			keys = append(keys, prefix+at+".history.json.zst", prefix+at+".checkpoint.json.zst")
		}
	}
	keys = append(keys, dbName+"/.pulumi/stacks/expbot/github.o-r.json.zst")
	for _, k := range keys {
		if _, err := c.Exec(ctx, `INSERT INTO pulumi_state (key, data) VALUES ($1, '{}')`, k); err != nil {
			t.Fatal(err)
		}
	}
	n, err := holdOn(dbURL, "github.o-r").pruneHistory(ctx, 2)
	if err != nil || n != 2 {
		t.Fatalf("pruneHistory = %d, %v; want 2 blobs deleted", n, err)
	}
	rows, err := c.Query(ctx, `SELECT key FROM pulumi_state ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		left = append(left, k)
	}
	want := slices.DeleteFunc(slices.Clone(keys), func(k string) bool {
		return k == dbName+"/.pulumi/history/expbot/github.o-r/github.o-r-10.history.json.zst" ||
			k == dbName+"/.pulumi/history/expbot/github.o-r/github.o-r-10.checkpoint.json.zst"
	})
	slices.Sort(want)
	if !slices.Equal(left, want) {
		t.Errorf("left %q,\nwant %q", left, want)
	}
}
