package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/pipeline/store"
)

func TestFormatSummary(t *testing.T) {
	tests := []struct {
		changes map[string]int
		took    time.Duration
		want    string
	}{
		{map[string]int{"create": 2}, 1500 * time.Millisecond, "2 create in 1.5 s"},
		{map[string]int{"update": 1, "create": 2, "same": 3}, 2 * time.Second, "2 create, 3 same, 1 update in 2.0 s"},
		{map[string]int{"delete": 1}, 40 * time.Millisecond, "1 delete in 0.0 s"},
		{map[string]int{}, 1 * time.Second, "no changes in 1.0 s"},
		{nil, 250 * time.Millisecond, "no changes in 0.2 s"},
	}
	for _, tt := range tests {
		if got := formatSummary(tt.changes, tt.took); got != tt.want {
			t.Errorf("formatSummary(%v, %v) = %q, want %q", tt.changes, tt.took, got, tt.want)
		}
	}
}

func TestFailedFor(t *testing.T) {
	// "issue:1" and "issue/1" sanitise alike, and "issue:1" is a text
	// prefix of "issue:12": attribution must still tell them apart.
	res := upResult{failed: map[string]string{
		resourceName("issue:12", "branch"): "422 Reference already exists",
		resourceName("issue/1", "file"):    "409 conflict",
	}}
	tests := []struct {
		key    string
		msg    string
		failed bool
	}{
		{"issue:12", "422 Reference already exists", true},
		{"issue/1", "409 conflict", true},
		{"issue:1", "", false},
		{"issue:2", "", false},
		{"mr:12", "", false},
	}
	for _, tt := range tests {
		msg, failed := failedFor(tt.key, res)
		if msg != tt.msg || failed != tt.failed {
			t.Errorf("failedFor(%q) = %q, %v; want %q, %v", tt.key, msg, failed, tt.msg, tt.failed)
		}
	}
	if _, failed := failedFor("issue:12", upResult{}); failed {
		t.Error("failedFor on a result without failures reported one")
	}

	upErr := errors.New("update failed")
	if got := failureFor("issue:12", res, upErr); got != "422 Reference already exists" {
		t.Errorf("failureFor an attributed key = %q", got)
	}
	if got := failureFor("issue:1", res, upErr); got != "update failed" {
		t.Errorf("failureFor an unattributed key = %q, want the update's error", got)
	}
}

func TestLooksTransient(t *testing.T) {
	tests := []struct {
		msg  string
		want bool
	}{
		{"GET https://api.github.com/repos/acme/model/git/ref/heads/main: 503 Service Unavailable []", true},
		{"POST https://api.github.com/repos/acme/model/git/refs: 502 Bad Gateway []", true},
		{"PUT https://gitlab.example.com/api/v4/projects/acme%2Fmodel/repository/files/experiment.yaml: 500 {message: 500 Internal Server Error}", true},
		{"GET https://api.github.com/repos/acme/model: 429 Too Many Requests", true},
		{"unexpected status code 504", true},
		{"HTTP 503: Service Unavailable", true},
		{"request failed (502)", true},
		{"status=429, retry later", true},
		{"GET https://forge.test/api: 500", true},
		{"API rate limit exceeded for installation ID 1234.", true},
		{"dial tcp 127.0.0.1:443: connect: connection refused", true},
		{"read tcp 10.0.0.1:5000->10.0.0.2:443: read: connection reset by peer", true},
		{"net/http: timeout awaiting response headers", true},
		{"read tcp 10.0.0.1:5000->10.0.0.2:443: i/o timeout", true},
		{"context deadline exceeded", true},
		{"Post \"https://api.github.com/graphql\": unexpected EOF", true},
		{"dial tcp: lookup api.github.com: no such host", true},
		{"resource temporarily unavailable", true},
		// The CLI's postgres:// state backend, down or out of connections.
		{`error: unable to open state database "postgres://expbot@db:5432/expbot?table=pulumi_state": failed to ping PostgreSQL: pq: sorry, too many clients already (53300)`, true},
		{"error: could not list bucket: blob (code=Unknown): pq: sorry, too many clients already (53300)", true},
		{"blob (code=Unknown): pq: the database system is shutting down (57P03)", true},
		{"pq: terminating connection due to administrator command (57P01)", true},
		{"FATAL: remaining connection slots are reserved (SQLSTATE 53300)", true},
		{"write checkpoint: pq: could not receive data from server (08006)", true},
		{"pq: duplicate key value violates unique constraint (23505)", false},
		{"POST https://api.github.com/repos/acme/model/git/refs: 422 Reference refs/heads/exp/53300-lr already exists []", false},

		{"GET https://api.github.com/repos/acme/model/git/ref/heads/nope: 404 Not Found []", false},
		{"POST https://api.github.com/repos/acme/model/git/refs: 422 Reference already exists []", false},
		{"PUT https://api.github.com/repos/acme/model/contents/experiment.yaml: 422 Invalid request. \"sha\" wasn't supplied. []", false},
		{"422 Validation Failed [{Resource:Branch Field:name Code:invalid Message:}]", false},
		{"POST https://gitlab.example.com/api/v4/projects/acme%2Fmodel/repository/branches: 400 {message: Branch name is invalid}", false},
		{"GET https://api.github.com/repos/acme/model: 401 Bad credentials []", false},
		{"403 Resource not accessible by integration", false},
		// Numbers and words of the request are not the forge's status:
		// issue #500's resources, branches and ids must not make a
		// permanent error look transient (it would be retried forever).
		{"github:index/branch:Branch issue-500-0a1b2c3d-branch creating failed: 422 Reference already exists", false},
		{"POST https://api.github.com/repos/acme/model/git/refs: 422 Reference refs/heads/exp/503-lr-sweep already exists []", false},
		{"POST https://gitlab.example.com/api/v4/projects/429/repository/branches: 400 {message: Branch already exists}", false},
		{"GET https://api.github.com/repos/geoffrey/model: 404 Not Found []", false},
		{"GET https://api.github.com/repos/acme/eof-tools: 404 Not Found []", false},
	}
	for _, tt := range tests {
		if got := looksTransient(tt.msg); got != tt.want {
			t.Errorf("looksTransient(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	const secret = "s3cr3tVALUE"
	tests := []struct {
		in   string
		keep []string // must survive
	}{
		{"request failed:\r\nAuthorization: Bearer " + secret + "\r\nAccept: */*", []string{"request failed", "Authorization: Bearer [redacted]", "Accept: */*"}},
		{"authorization: token " + secret, []string{"authorization: token [redacted]"}},
		{"headers map[Authorization:[Bearer " + secret + "]] sent", []string{"headers map[Authorization:[Bearer [redacted]", " sent"}},
		{"PRIVATE-TOKEN: glpat-" + secret + "\nnext line", []string{"PRIVATE-TOKEN: [redacted]", "next line"}},
		{"Private-Token:" + secret, []string{"Private-Token:[redacted]"}},
		{"GET https://forge.test/api?token=" + secret + "&page=2: 500", []string{"token=[redacted]&page=2: 500"}},
		{"GET https://forge.test/api/v4/projects?private_token=" + secret + " failed", []string{"private_token=[redacted] failed"}},
		{"clone https://x-access-token:" + secret + "@github.com/acme/model.git: exit 128", []string{"clone https://x-access-token:[redacted]", "exit 128"}},
		{"https://oauth2:" + secret + "@gitlab.example.com/acme/model", []string{"https://oauth2:[redacted]"}},
		{"422 Reference already exists (token " + "name ok)", []string{"422 Reference already exists (token name ok)"}},
	}
	for _, tt := range tests {
		err := redact(fmt.Errorf("wrapped: %w", errors.New(tt.in)))
		if err == nil {
			t.Fatalf("redact(%q) = nil", tt.in)
		}
		got := err.Error()
		if strings.Contains(got, secret) {
			t.Errorf("redact(%q) = %q: the secret is still there", tt.in, got)
		}
		for _, k := range tt.keep {
			if !strings.Contains(got, k) {
				t.Errorf("redact(%q) = %q, want it to contain %q", tt.in, got, k)
			}
		}
	}
	if redact(nil) != nil {
		t.Error("redact(nil) != nil")
	}
	plain := "POST https://api.github.com/repos/acme/model/git/refs: 422 Reference already exists []"
	if got := redact(errors.New(plain)).Error(); got != plain {
		t.Errorf("redact changed a message without secrets: %q", got)
	}
}

func TestResolveBase(t *testing.T) {
	ctx := context.Background()
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	fg := newFakeForge(event.GitHub)
	fg.refs = map[string]string{"main": testSHA, "v1": "fedcba9876543210fedcba9876543210fedcba98"}
	r := &Reconciler{}

	for _, tt := range []struct {
		base, want string
	}{
		{"v1", "fedcba9876543210fedcba9876543210fedcba98"},
		{"", testSHA}, // the default branch
	} {
		got, err := r.resolveBase(ctx, fg, repo, store.Experiment{BaseRef: tt.base})
		if err != nil || got != tt.want {
			t.Errorf("resolveBase(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
		}
	}

	// A base that does not exist is the request's fault; the message is
	// shown in the status comment as it is, so the base stays in a code span.
	for _, base := range []string{"no-such-branch", "x`@someone`<img", "@someone"} {
		_, err := r.resolveBase(ctx, fg, repo, store.Experiment{BaseRef: base})
		if err == nil {
			t.Fatalf("resolveBase(%q) succeeded", base)
		}
		msg := err.Error()
		if !strings.Contains(msg, "was not found in acme/model") || !strings.Contains(msg, codeSpan(base)) {
			t.Errorf("resolveBase(%q) = %q", base, msg)
		}
		if out := outsideCodeSpans(msg); strings.Contains(out, "@") || strings.Contains(out, "<img") {
			t.Errorf("resolveBase(%q): request text outside code spans in %q", base, msg)
		}
	}
}

func TestCodeSpan(t *testing.T) {
	for _, s := range []string{"main", "a`b", "``x``", "`lead", "trail`", "a``b```c", " sp "} {
		got := codeSpan(s)
		if out := outsideCodeSpans(got); out != "<code/>" {
			t.Errorf("codeSpan(%q) = %q does not parse as one code span (%q)", s, got, out)
		}
		// The content, once the renderer strips one padding space per side.
		n := runLen(got, 0)
		inner := got[n : len(got)-n]
		if strings.HasPrefix(inner, " ") && strings.HasSuffix(inner, " ") && strings.Trim(inner, " ") != "" {
			inner = inner[1 : len(inner)-1]
		}
		if inner != s {
			t.Errorf("codeSpan(%q) = %q renders as %q", s, got, inner)
		}
	}
}

// stallingForge resolves no ref until its caller gives up, as a forge that
// stopped answering would.
type stallingForge struct {
	*fakeForge
	entered chan struct{}
}

func (f stallingForge) ResolveRef(ctx context.Context, _, _ string) (string, error) {
	close(f.entered)
	<-ctx.Done()
	return "", ctx.Err()
}

// unreachableForge answers every ref lookup with a transient error, as a
// forge that is down does.
type unreachableForge struct{ *fakeForge }

func (unreachableForge) ResolveRef(context.Context, string, string) (string, error) {
	return "", &forge.TransientError{Err: errors.New("503 Service Unavailable")}
}

// A run that fails transiently is retried by the queue and leaves the
// experiment as it was; on the job's last attempt it fails the experiment
// instead, with a report, so that its comment does not say "Making
// branch…" for ever.
func TestReconcileGivesUpVisiblyOnTheLastAttempt(t *testing.T) {
	db := openStore(t)
	in := &Intake{Store: db}
	deliverIssue(t, in, "d-1", issueChange(event.GitHub, validBody, nil, []string{"new-experiment"}))
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	rec := NewReconciler(db, map[event.Forge]Forge{event.GitHub: {Client: unreachableForge{newFakeForge(event.GitHub)}}},
		PulumiEnv{}, VariantFile{}, nil, zerolog.Nop())
	experiment := func() store.Experiment {
		t.Helper()
		e, err := db.ExperimentByKey(context.Background(), repo, "issue:12")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	// Reports asked for and not yet made (the report job is not running).
	reportsDue := func() int {
		t.Helper()
		conn, err := sql.Open("sqlite", "file:"+db.path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		var n int
		if err := conn.QueryRow(`SELECT report_due FROM experiments WHERE key = 'issue:12'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := experiment()

	var perm *store.PermanentError
	err := rec.Reconcile(context.Background(), repo)
	if err == nil || errors.As(err, &perm) {
		t.Fatalf("Reconcile with the forge down = %v, want an error to retry", err)
	}
	if e := experiment(); e.Status != before.Status {
		t.Errorf("after a transient failure the experiment is %s (%q), want %s as before", e.Status, e.Detail, before.Status)
	}
	reportsBefore := reportsDue()

	err = rec.Reconcile(store.WithLastAttempt(context.Background()), repo)
	if !errors.As(err, &perm) {
		t.Fatalf("Reconcile on the last attempt = %v, want a permanent error (nothing left to retry)", err)
	}
	e := experiment()
	if e.Status != store.Failed || !strings.Contains(e.Detail, "gave up") || !strings.Contains(e.Detail, "503 Service Unavailable") {
		t.Errorf("after the last attempt the experiment is %s (%q), want failed, saying it was given up and why", e.Status, e.Detail)
	}
	if got := reportsDue(); got <= reportsBefore {
		t.Errorf("reports due %d, want more than the %d before: the failure must be reported", got, reportsBefore)
	}
	runs, err := db.Runs(context.Background(), repo, 0)
	if err != nil || len(runs) != 2 || runs[0].Outcome == runs[1].Outcome {
		t.Errorf("runs = %+v, %v; want one retrying, one failed", runs, err)
	}
}

// A run that shutdown cuts short hands its job back (an error wrapping the
// cancellation) and records the run, with a context of its own: nothing is
// marked failed, and nothing is settled as done.
func TestReconcileInterruptedByShutdown(t *testing.T) {
	db := openStore(t)
	in := &Intake{Store: db}
	deliverIssue(t, in, "d-1", issueChange(event.GitHub, validBody, nil, []string{"new-experiment"}))
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	fg := stallingForge{fakeForge: newFakeForge(event.GitHub), entered: make(chan struct{})}
	rec := NewReconciler(db, map[event.Forge]Forge{event.GitHub: {Client: fg}}, PulumiEnv{}, VariantFile{}, nil, zerolog.Nop())

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-fg.entered
		cancel() // SIGTERM's grace is over
	}()
	err := rec.Reconcile(ctx, repo)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Reconcile = %v, want an error wrapping context.Canceled (the job runs again)", err)
	}
	e, err := db.ExperimentByKey(context.Background(), repo, "issue:12")
	if err != nil {
		t.Fatal(err)
	}
	if e.Status == store.Failed {
		t.Errorf("the interrupted experiment was marked failed: %q", e.Detail)
	}
	runs, err := db.Runs(context.Background(), repo, 0)
	if err != nil || len(runs) != 1 || runs[0].Outcome != "interrupted" || runs[0].FinishedAt.IsZero() {
		t.Errorf("runs = %+v, %v; want one finished run, interrupted", runs, err)
	}
}

// A run waits (snoozes) while the store's lock of its repository is held
// elsewhere (another process sharing the store), and touches nothing.
func TestReconcileWaitsForTheStoresRepoLock(t *testing.T) {
	db := openStore(t)
	in := &Intake{Store: db}
	deliverIssue(t, in, "d-1", issueChange(event.GitHub, validBody, nil, []string{"new-experiment"}))
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	fg := stallingForge{fakeForge: newFakeForge(event.GitHub), entered: make(chan struct{})}
	rec := NewReconciler(db, map[event.Forge]Forge{event.GitHub: {Client: fg}}, PulumiEnv{}, VariantFile{}, nil, zerolog.Nop())
	unlock, ok, err := db.TryLockRepo(context.Background(), repo)
	if err != nil || !ok {
		t.Fatalf("TryLockRepo = %v, %v", ok, err)
	}
	defer unlock()
	// Bounded: a run that ignored the lock would stall in the forge.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var snooze *store.SnoozeError
	if err := rec.Reconcile(ctx, repo); !errors.As(err, &snooze) {
		t.Fatalf("Reconcile with the repository locked = %v, want a snooze", err)
	}
	if runs, err := db.Runs(context.Background(), repo, 0); err != nil || len(runs) != 0 {
		t.Errorf("runs = %+v, %v; want none", runs, err)
	}
}

// reportJobKey marks the context of the report job's handler.
type reportJobKey struct{}

// jobOnlyForge records status comments written outside the report job.
type jobOnlyForge struct {
	*fakeForge
	mu      sync.Mutex
	outside []string
}

func (f *jobOnlyForge) check(ctx context.Context, call string) {
	if ctx.Value(reportJobKey{}) == nil {
		f.mu.Lock()
		f.outside = append(f.outside, call)
		f.mu.Unlock()
	}
}

func (f *jobOnlyForge) CreateComment(ctx context.Context, repo string, th event.Thread, body string) (forge.Comment, error) {
	f.check(ctx, "create")
	return f.fakeForge.CreateComment(ctx, repo, th, body)
}

func (f *jobOnlyForge) EditComment(ctx context.Context, repo string, th event.Thread, c forge.Comment, body string) error {
	f.check(ctx, "edit")
	return f.fakeForge.EditComment(ctx, repo, th, c, body)
}

// A run writes no status comment itself: it records its outcome with a
// report request, and the report job brings the comment up to date. Fails
// when a run (or anything but the report job's handler) posts or edits.
func TestOnlyTheReportJobWritesStatusComments(t *testing.T) {
	ctx := context.Background()
	db := openStore(t)
	fg := &jobOnlyForge{fakeForge: newFakeForge(event.GitHub)} // knows no ref: the run fails the experiment
	rec := NewReconciler(db, map[event.Forge]Forge{event.GitHub: {Client: fg}}, PulumiEnv{}, VariantFile{}, nil, zerolog.Nop())
	rep := &Reporter{Store: db, Forges: map[event.Forge]forge.Client{event.GitHub: fg}}
	err := db.Start(ctx, store.Handlers{
		Reconcile: rec.Reconcile,
		Report: func(ctx context.Context, id int64) error {
			return rep.Report(context.WithValue(ctx, reportJobKey{}, true), id)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Stop(ctx) })

	deliverIssue(t, &Intake{Store: db}, "d-1", issueChange(event.GitHub, validBody, nil, []string{"new-experiment"}))
	deadline := time.Now().Add(20 * time.Second) // a bound, not an expected duration
	for {
		creates, edits := fg.calls()
		if written := append(creates, edits...); len(written) > 0 && strings.Contains(written[len(written)-1].Body, "failed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the status comment does not say the experiment failed; posted %+v, edits %+v", creates, edits)
		}
		time.Sleep(10 * time.Millisecond)
	}
	e, err := db.ExperimentByKey(ctx, store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, "issue:12")
	if err != nil || e.Status != store.Failed {
		t.Fatalf("experiment = %+v, %v; want it failed", e, err)
	}
	creates, _ := fg.calls()
	if len(creates) != 1 {
		t.Errorf("%d status comments posted, want 1", len(creates))
	}
	fg.mu.Lock()
	defer fg.mu.Unlock()
	if len(fg.outside) > 0 {
		t.Errorf("status comments written outside the report job: %v", fg.outside)
	}
}
