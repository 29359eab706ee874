package pipeline

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/expbot/expbot/pipeline/store"
	"github.com/expbot/expbot/pipeline/store/postgres/pgtest"
)

func writeLock(t *testing.T, root, stack, name string, owner lockOwner) string {
	t.Helper()
	dir := filepath.Join(root, ".pulumi", "locks", "organization", "expbot", stack)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(owner)
	p := filepath.Join(dir, name+".json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// The file backend keeps each blob's attributes beside it.
	if err := os.WriteFile(p+attrsSuffix, []byte(`{"user.cache_control":""}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeOrphanAttrs writes a sidecar whose lock is gone, aged by age.
func writeOrphanAttrs(t *testing.T, root, stack, name string, age time.Duration) string {
	t.Helper()
	p := filepath.Join(root, ".pulumi", "locks", "organization", "expbot", stack, name+".json"+attrsSuffix)
	if err := os.WriteFile(p, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	then := time.Now().Add(-age)
	if err := os.Chtimes(p, then, then); err != nil {
		t.Fatal(err)
	}
	return p
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestLockJudge(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	lock := func(host string, s int) stackLock {
		return stackLock{key: "k", owner: lockOwner{Pid: 1 << 22, Hostname: host, Timestamp: at(s)}, parsed: true}
	}
	gone := store.PulumiRun{Process: "p-dead", Host: "a", Started: at(0), Gone: true}
	live := store.PulumiRun{Process: "p-live", Host: "a", Started: at(0)}
	ended := store.PulumiRun{Process: "p-ended", Host: "a", Started: at(0), Ended: at(10)}
	self := store.PulumiRun{Process: "p-self", Host: "a", Started: at(0), Ended: at(10), Self: true}
	host, _ := os.Hostname()
	tests := []struct {
		name       string
		lock       stackLock
		runs       []store.PulumiRun
		busy, one  bool
		wantRemove bool
	}{
		{"its process's lease ran out", lock("a", 5), []store.PulumiRun{gone}, false, false, true},
		{"its process's lease lives", lock("a", 5), []store.PulumiRun{live}, false, false, false},
		{"its process lives, its runs ended", lock("a", 5), []store.PulumiRun{ended}, false, false, true},
		{"one of two processes on the host lives, the other's runs ended", lock("a", 5), []store.PulumiRun{ended, live}, false, false, false},
		{"one of two processes on the host lives", lock("a", 5), []store.PulumiRun{gone, live}, false, false, false},
		{"another host's", lock("b", 5), []store.PulumiRun{gone}, false, false, false},
		{"written before the process held the stack", lock("a", -1), []store.PulumiRun{gone}, false, false, false},
		{"written after the process's runs ended", lock("a", 11), []store.PulumiRun{{Process: "p", Host: "a", Started: at(0), Ended: at(10), Gone: true}}, false, false, false},
		{"this process's, no CLI of it running", lock("a", 5), []store.PulumiRun{self}, false, false, true},
		{"this process's, a CLI of it may run", lock("a", 5), []store.PulumiRun{self}, true, false, false},
		{"no record: someone's own pulumi run", lock("a", 5), nil, false, false, false},
		{"unreadable", stackLock{key: "k"}, []store.PulumiRun{gone}, false, false, false},
		{"no record, one process, a dead pid on this host", stackLock{owner: lockOwner{Pid: deadPID(t), Hostname: host, Timestamp: at(5)}, parsed: true}, nil, false, true, true},
		{"no record, one process, a live pid on this host", stackLock{owner: lockOwner{Pid: os.Getpid(), Hostname: host, Timestamp: at(5)}, parsed: true}, nil, false, true, false},
		{"no record, shared store, a dead pid on this host", stackLock{owner: lockOwner{Pid: deadPID(t), Hostname: host, Timestamp: at(5)}, parsed: true}, nil, false, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := lockJudge{runs: tc.runs, busy: tc.busy, host: host, oneProcess: tc.one}
			if got, why := j.judge(tc.lock); got != tc.wantRemove || why == "" {
				t.Errorf("judge = %v (%q), want %v", got, why, tc.wantRemove)
			}
		})
	}
}

func TestFileLocks(t *testing.T) {
	ctx := context.Background()
	ts := time.Now().UTC().Truncate(time.Second)
	root := t.TempDir()
	a := writeLock(t, root, "s1", "a", lockOwner{Pid: 7, Hostname: "h", Timestamp: ts})
	b := writeLock(t, root, "s1", "b", lockOwner{Pid: 8, Hostname: "h", Timestamp: ts})
	otherStack := writeLock(t, root, "s2", "c", lockOwner{Pid: 9, Hostname: "h", Timestamp: ts})
	oldOrphan := writeOrphanAttrs(t, root, "s1", "e", 2*orphanAge)
	newOrphan := writeOrphanAttrs(t, root, "s1", "f", 0) // its lock may be being written

	fl := fileState{root: root}
	locks, err := fl.locks(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, l := range locks {
		if !l.parsed || l.owner.Hostname != "h" || !l.owner.Timestamp.Equal(ts) {
			t.Errorf("lock %s read as %+v", l.key, l)
		}
		keys = append(keys, l.key)
	}
	if slices.Sort(keys); !slices.Equal(keys, []string{a, b}) {
		t.Errorf("locks of s1 = %q, want %q", keys, []string{a, b})
	}
	if err := fl.remove(ctx, locks[0]); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{
		locks[0].key: false, locks[0].key + attrsSuffix: false,
		locks[1].key: true, locks[1].key + attrsSuffix: true,
		otherStack: true, otherStack + attrsSuffix: true,
		oldOrphan: false, newOrphan: true,
	} {
		if _, err := os.Stat(path); (err == nil) != want {
			t.Errorf("%s exists = %v, want %v", filepath.Base(path), err == nil, want)
		}
	}
	if locks, err := (fileState{root: filepath.Join(root, "missing")}).locks(ctx, "s1"); len(locks) != 0 || err != nil {
		t.Errorf("no locks dir: %v, %v", locks, err)
	}
}

// The CLI's postgres:// backend, in the layout the CLI writes (its key
// prefixed by the database's name, each blob JSON with its bytes in
// base64): the locks of one stack are read and removed, nothing else.
func TestPostgresLocks(t *testing.T) {
	ctx := context.Background()
	dbURL, dbName := pgtest.NewDatabase(t)
	backend := dbURL + "&table=pulumi_state"
	if pl, err := openPostgresState(ctx, backend); err != nil {
		t.Fatal(err)
	} else if locks, err := pl.locks(ctx, "github.o-r"); len(locks) != 0 || err != nil {
		t.Errorf("before the CLI made its table: %v, %v", locks, err)
	} else {
		pl.close()
	}
	c := pgtest.Connect(t, dbURL)
	if _, err := c.Exec(ctx, `CREATE TABLE pulumi_state (key TEXT PRIMARY KEY, data JSON NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	ts := time.Now().UTC().Truncate(time.Microsecond)
	blob := func(v any) string {
		b, _ := json.Marshal(v)
		j, _ := json.Marshal(map[string]string{"data": base64.StdEncoding.EncodeToString(b)})
		return string(j)
	}
	owner := map[string]any{"pid": 7, "username": "root", "hostname": "h", "timestamp": ts}
	rows := map[string]string{
		dbName + "/.pulumi/locks/organization/expbot/github.o-r/1.json":   blob(owner),
		dbName + "/.pulumi/locks/organization/expbot/github.o-r/2.json":   `{"data":"bm90IGpzb24="}`,
		dbName + "/.pulumi/locks/organization/expbot/github.o-r2/3.json":  blob(owner),
		dbName + "/.pulumi/stacks/expbot/github.o-r.json":                 blob(map[string]any{"version": 3}),
		"other_db/.pulumi/locks/organization/expbot/github.o-r/4.json":    blob(owner),
		dbName + "/.pulumi/locks/organization/expbot/github.o-r/5.json.x": blob(owner),
	}
	for k, v := range rows {
		if _, err := c.Exec(ctx, `INSERT INTO pulumi_state (key, data) VALUES ($1, $2)`, k, v); err != nil {
			t.Fatal(err)
		}
	}
	pl, err := openPostgresState(ctx, backend)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.close()
	locks, err := pl.locks(ctx, "github.o-r")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]stackLock{}
	for _, l := range locks {
		got[l.key] = l
	}
	one, two := dbName+"/.pulumi/locks/organization/expbot/github.o-r/1.json", dbName+"/.pulumi/locks/organization/expbot/github.o-r/2.json"
	if len(got) != 2 || !got[one].parsed || got[one].owner.Hostname != "h" || got[one].owner.Pid != 7 ||
		!got[one].owner.Timestamp.Equal(ts) || got[two].key != two || got[two].parsed {
		t.Fatalf("locks = %+v, want %s read and %s unreadable", locks, one, two)
	}
	if err := pl.remove(ctx, got[one]); err != nil {
		t.Fatal(err)
	}
	var left []string
	r, err := c.Query(ctx, `SELECT key FROM pulumi_state ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var k string
		if err := r.Scan(&k); err != nil {
			t.Fatal(err)
		}
		left = append(left, k)
	}
	if len(left) != len(rows)-1 || slices.Contains(left, one) {
		t.Errorf("rows left %q, want all but %s", left, one)
	}
}
