package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/pipeline/store/sqlite"
)

// testDB is a real SQLite store on a file of the test's own, plus the file's
// path for looking at the job table directly.
type testDB struct {
	*sqlite.Store
	path string
}

func openStore(t *testing.T) testDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "expbot.db")
	s, err := sqlite.Open(context.Background(), path,
		sqlite.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return testDB{Store: s, path: path}
}

// jobs lists the unfinished jobs as "kind args", sorted: the queue is never
// started in these tests, so what was enqueued stays there. A repository's
// report job shows as one "report" per experiment it has to report.
func (db testDB) jobs(t *testing.T) []string {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+db.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	rows, err := conn.Query(`SELECT kind, json(args) FROM river_job
		WHERE kind != 'report_repo' AND state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
		UNION ALL
		SELECT 'report', json_object('experiment_id', e.id) FROM experiments e
		WHERE e.report_due > 0 AND EXISTS (SELECT 1 FROM river_job j WHERE j.kind = 'report_repo'
			AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
			AND j.args ->> 'forge' = e.forge AND j.args ->> 'path' = e.repo_path)`)
	if err != nil {
		t.Fatalf("read jobs: %v", err)
	}
	defer func() { _ = rows.Close() }()
	var out []string
	for rows.Next() {
		var kind, args string
		if err := rows.Scan(&kind, &args); err != nil {
			t.Fatal(err)
		}
		out = append(out, kind+" "+args)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func (db testDB) queueDepth(t *testing.T) int {
	t.Helper()
	n, err := db.QueueDepth(context.Background())
	if err != nil {
		t.Fatalf("QueueDepth: %v", err)
	}
	return n
}

// fakeForge is an in-memory forge.Client that records the comment calls.
type fakeForge struct {
	kind event.Forge
	refs map[string]string // what ResolveRef knows; others are not found

	mu      sync.Mutex
	nextID  int64
	creates []fakeCall
	edits   []fakeCall
	failing error // returned by CreateComment, FindComment and EditComment when set
	finds   int   // FindComment calls
	// deleted comments make EditComment answer not found; threadGone
	// makes CreateComment answer not found.
	deleted    map[int64]bool
	threadGone bool

	// For commands: Access answers access[login] (Write when absent) or
	// accessErr; PullHead answers heads[number] (not found when absent);
	// React fails with reactErr. log names every call of these and of
	// CreateComment in order ("react eyes", "access bob", "head 7",
	// "comment"); reactions records the reactions added.
	access    map[string]forge.Access
	accessErr error
	heads     map[int][2]string // number -> branch, sha
	issues    map[int]forge.Issue
	reactErr  error
	log       []string
	reactions []fakeReaction
}

type fakeReaction struct {
	Repo      string
	Thread    event.Thread
	CommentID int64
	Reaction  string
}

type fakeCall struct {
	Repo    string
	Thread  event.Thread
	Comment forge.Comment // the edited comment (edits) or the one posted (creates)
	Body    string
}

var _ forge.Client = (*fakeForge)(nil)

func newFakeForge(kind event.Forge) *fakeForge { return &fakeForge{kind: kind, nextID: 1000} }

func (f *fakeForge) Forge() event.Forge { return f.kind }

func (f *fakeForge) ResolveRef(_ context.Context, repo, ref string) (string, error) {
	if sha, ok := f.refs[ref]; ok {
		return sha, nil
	}
	return "", fmt.Errorf("fake forge: %s has no ref %s: %w", repo, ref, forge.ErrNotFound)
}

func (f *fakeForge) DefaultBranch(context.Context, string) (string, error) { return "main", nil }

func (f *fakeForge) PullHead(_ context.Context, repo string, number int) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("head %d", number))
	if h, ok := f.heads[number]; ok {
		return h[0], h[1], nil
	}
	return "", "", fmt.Errorf("fake forge: %s has no request #%d: %w", repo, number, forge.ErrNotFound)
}

// Issue answers issues[number] (not found when absent) and logs "issue N".
func (f *fakeForge) Issue(_ context.Context, repo string, number int) (forge.Issue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, fmt.Sprintf("issue %d", number))
	if i, ok := f.issues[number]; ok {
		return i, nil
	}
	return forge.Issue{}, fmt.Errorf("fake forge: %s has no issue #%d: %w", repo, number, forge.ErrNotFound)
}

// TagTarget answers refs["refs/tags/"+tag] (not found when absent).
func (f *fakeForge) TagTarget(_ context.Context, repo, tag string) (string, error) {
	if sha, ok := f.refs["refs/tags/"+tag]; ok {
		return sha, nil
	}
	return "", fmt.Errorf("fake forge: %s has no tag %s: %w", repo, tag, forge.ErrNotFound)
}

func (f *fakeForge) ReadFile(context.Context, string, string, string) ([]byte, error) {
	return nil, forge.ErrNotFound
}

func (f *fakeForge) CreateComment(_ context.Context, repo string, th event.Thread, body string) (forge.Comment, error) {
	// Give other goroutines every chance to interleave here: without the
	// reporter's lock, concurrent first reports would all get this far.
	for range 10 {
		runtime.Gosched()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing != nil {
		return forge.Comment{}, f.failing
	}
	if f.threadGone {
		return forge.Comment{}, fmt.Errorf("fake forge: %s has no thread %v: %w", repo, th, forge.ErrNotFound)
	}
	f.log = append(f.log, "comment")
	f.nextID++
	c := forge.Comment{ID: f.nextID, Note: fmt.Sprintf("note-%d", f.nextID), URL: fmt.Sprintf("https://forge.test/%s/comments/%d", repo, f.nextID)}
	f.creates = append(f.creates, fakeCall{Repo: repo, Thread: th, Comment: c, Body: body})
	return c, nil
}

// FindComment finds a comment this fake posted, as the bot's own, in the
// thread; a deleted one is gone.
func (f *fakeForge) FindComment(_ context.Context, repo string, th event.Thread, marker string) (forge.Comment, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds++
	if f.failing != nil {
		return forge.Comment{}, false, f.failing
	}
	for _, c := range f.creates {
		if c.Repo == repo && c.Thread == th && !f.deleted[c.Comment.ID] && strings.Contains(c.Body, marker) {
			return c.Comment, true, nil
		}
	}
	return forge.Comment{}, false, nil
}

func (f *fakeForge) EditComment(_ context.Context, repo string, th event.Thread, c forge.Comment, body string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failing != nil {
		return f.failing
	}
	if f.deleted[c.ID] {
		return fmt.Errorf("fake forge: %s has no comment %d: %w", repo, c.ID, forge.ErrNotFound)
	}
	f.edits = append(f.edits, fakeCall{Repo: repo, Thread: th, Comment: c, Body: body})
	return nil
}

func (f *fakeForge) Access(_ context.Context, _ string, user event.Actor) (forge.Access, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "access "+user.Login)
	if f.accessErr != nil {
		return forge.NoAccess, f.accessErr
	}
	if a, ok := f.access[user.Login]; ok {
		return a, nil
	}
	return forge.Write, nil
}

func (f *fakeForge) React(_ context.Context, repo string, th event.Thread, commentID int64, reaction string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log = append(f.log, "react "+reaction)
	if f.reactErr != nil {
		return f.reactErr
	}
	f.reactions = append(f.reactions, fakeReaction{Repo: repo, Thread: th, CommentID: commentID, Reaction: reaction})
	return nil
}

func (f *fakeForge) BranchURL(repo, branch string) string {
	return "https://forge.test/" + repo + "/tree/" + branch
}

func (f *fakeForge) CommitURL(repo, sha string) string {
	return "https://forge.test/" + repo + "/commit/" + sha
}

// calledLog returns the calls logged so far and forgets them.
func (f *fakeForge) calledLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.log
	f.log = nil
	return out
}

func (f *fakeForge) calls() (creates, edits []fakeCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeCall(nil), f.creates...), append([]fakeCall(nil), f.edits...)
}

// outsideCodeSpans returns md with every CommonMark code span removed: a
// run of n backticks opens a span that the next run of exactly n closes.
// What remains is what a forge renders as Markdown: links, HTML, mentions.
func outsideCodeSpans(md string) string {
	var b strings.Builder
	i := 0
	for i < len(md) {
		if md[i] == '\\' && i+1 < len(md) { // a backslash escape is literal text
			b.WriteString(md[i : i+2])
			i += 2
			continue
		}
		if md[i] != '`' {
			b.WriteByte(md[i])
			i++
			continue
		}
		n := runLen(md, i)
		closeAt := -1
		for j := i + n; j < len(md); {
			if md[j] != '`' {
				j++
				continue
			}
			m := runLen(md, j)
			if m == n {
				closeAt = j
				break
			}
			j += m
		}
		if closeAt < 0 { // an unmatched run is literal backticks
			b.WriteString(md[i : i+n])
			i += n
			continue
		}
		b.WriteString("<code/>")
		i = closeAt + n
	}
	return b.String()
}

func runLen(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	return n
}

// testTime is a fixed clock value for deliveries.
var testTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
