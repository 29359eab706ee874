package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/internal/pulumicli"
	"github.com/expbot/expbot/pipeline"
)

// The chaos tests: replicas on PostgreSQL behind a round-robin front, a
// forge that sends its webhooks again when they fail, an open-loop stream
// of requests, replicas and the database killed in the middle; afterwards
// every request is checked against the forge's state.

// chaosRetry is how the forge sends failed deliveries again: the same
// delivery (id, headers, body), as github.com's redelivery and GitLab's
// retries do (forgesim.RetryPolicy), long enough to outlast a replica or
// database restart. The retries are the forge's, not the front's: a front
// that retried inside one delivery would hide from the forge the failures
// its 10 s timeout is there to see.
var chaosRetry = forgesim.WithRetry(forgesim.RetryPolicy{Attempts: 40, Backoff: 250 * time.Millisecond, MaxBackoff: 2 * time.Second})

// Two sweep files at two commits: the same combinations (so the same
// branch names), different common params, so that a moved tag shows in
// the variant files.
const (
	chaosSweepA = "name: lr\nparams:\n  epochs: 1\nmatrix:\n  lr: [0.1, 0.01]\n"
	chaosSweepB = "name: lr\nparams:\n  epochs: 2\nmatrix:\n  lr: [0.1, 0.01]\n"
)

// workload is the repositories of a chaos run, what was made in them before
// the run, and the actions of the run.
type workload struct {
	repos   []chaosRepo
	actions []chaosAction
}

type chaosRepo struct {
	name, flavor string
	issues       []chaosIssue
	pull         chaosPull
	sweep        bool   // a sweep tag is pushed during the run
	commitA      string // main's first commit: sweep file A
	commitB      string // main's head: sweep file B
}

type chaosIssue struct {
	number int
	name   string
}

// chaosPull is a pull/merge request whose experiments come from commands:
// final maps each experiment to the lr of its last command.
type chaosPull struct {
	number int
	head   string
	final  map[string]string
	// ifRefused is an updated experiment's lr before its update: what it
	// keeps when the update reached the bot before the experiment's own
	// command (a delivery answered 503 and sent again later) and was
	// refused with a reply that says why; the user sees it and sends the
	// update again.
	ifRefused map[string]string
}

// chaosAction is one forge action of the run; it causes one delivery (a
// label, an edit, a command, a tag push) or, at times, two.
type chaosAction struct {
	what string
	do   func(f *state.Forge) error
}

// newWorkload seeds nRepos repositories (alternately GitHub and GitLab)
// with their issues, pull requests and sweep files, then hooks to botURL,
// so that the seeding causes no delivery. The run's actions go through the
// repositories in waves of wave repositories: each repository's requests
// then fall within a few seconds, which its reconciles coalesce, as a burst
// in a real repository does; the waves follow each other without a pause.
func newWorkload(seed uint64, nRepos, issuesPerRepo, wave int) (*workload, func(f *state.Forge, botURL string) error) {
	w := &workload{}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := range nRepos {
		r := chaosRepo{name: fmt.Sprintf("acme/chaos-%02d", i), flavor: []string{"github", "gitlab"}[i%2], sweep: i%3 == 0}
		w.repos = append(w.repos, r)
	}
	seedFn := func(f *state.Forge, botURL string) error {
		f.AddOrg("acme")
		f.AddUser("alice", "Alice Example", "alice@example.com", "alice-token", false)
		f.AddUser("expbot", "expbot", "expbot@example.com", botToken, true)
		for i := range w.repos {
			r := &w.repos[i]
			files := map[string]string{"train.py": "print('train')\n", ".expbot/sweep.yaml": chaosSweepA}
			if _, err := f.CreateRepo(r.name, "main", files, state.Signature{Name: "Alice Example", Email: "alice@example.com"}); err != nil {
				return err
			}
			for login, lvl := range map[string]state.AccessLevel{"alice": state.Maintainer, "expbot": state.Developer} {
				if err := f.SetAccess(r.name, login, lvl); err != nil {
					return err
				}
			}
			if err := f.WithRepo(r.name, func(repo *state.Repo) error { r.commitA, _ = repo.Branch("main"); return nil }); err != nil {
				return err
			}
			c, _, err := f.PushFiles(r.name, "main", "alice", "sweep B", []state.FileChange{{Path: ".expbot/sweep.yaml", Content: []byte(chaosSweepB)}})
			if err != nil {
				return err
			}
			r.commitB = c.SHA
			for k := range issuesPerRepo {
				name := fmt.Sprintf("is-%d", k)
				is, _, err := f.OpenIssue(r.name, "alice", name, request(name, "0.5"), nil)
				if err != nil {
					return err
				}
				r.issues = append(r.issues, chaosIssue{number: is.Number, name: name})
			}
			head, _, err := f.PushFiles(r.name, "feature/loader", "alice", "new loader", []state.FileChange{{Path: "loader.py", Content: []byte("print('v2')\n")}})
			if err != nil {
				return err
			}
			pr, _, err := f.OpenPull(r.name, "alice", "New loader", "", "feature/loader", "")
			if err != nil {
				return err
			}
			r.pull = chaosPull{number: pr.Number, head: head.SHA, final: map[string]string{}, ifRefused: map[string]string{}}
			secret := githubSecret
			if r.flavor == "gitlab" {
				secret = gitlabToken
			}
			if _, err := f.AddHook(r.name, r.flavor, botURL+"/webhooks/"+r.flavor, secret); err != nil {
				return err
			}
		}
		w.plan(rng, wave)
		return nil
	}
	return w, seedFn
}

// plan makes the run's actions. Per issue: labelled, edited (each edit a
// new lr), and for some unlabelled, relabelled or unlabelled for good; per
// pull request: two experiments made by command, one updated later; per
// sweep repository: the tag pushed, and for some moved to the next commit.
func (w *workload) plan(rng *rand.Rand, wave int) {
	lr := 0
	// Distinct, and as the bot writes them back (no trailing zero).
	nextLR := func() string { lr++; return fmt.Sprintf("0.%d1", lr) }
	for start := 0; start < len(w.repos); start += wave {
		// Each thread's actions in order; the wave takes one action of each
		// thread in turn, so that one thread's actions are a second or
		// more apart and the forge sees them in order.
		var threads [][]chaosAction
		var late []chaosAction // commands that need an earlier one applied
		for i := start; i < min(start+wave, len(w.repos)); i++ {
			r := &w.repos[i]
			for _, is := range r.issues {
				threads = append(threads, issueActions(rng, r.name, is, nextLR))
			}
			p := &r.pull
			cmd := func(body string) chaosAction {
				return chaosAction{what: fmt.Sprintf("%s#%d %q", r.name, p.number, body), do: func(f *state.Forge) error {
					_, _, err := f.Comment(r.name, p.number, "", "alice", body)
					return err
				}}
			}
			a, b, c := nextLR(), nextLR(), nextLR()
			p.final["cmd-a"], p.final["cmd-b"] = c, b
			p.ifRefused["cmd-a"] = a
			threads = append(threads, []chaosAction{cmd("/experiment new cmd-a lr=" + a + " batch=32"), cmd("/experiment new cmd-b lr=" + b + " batch=32")})
			late = append(late, cmd("/experiment update cmd-a lr="+c))
			if r.sweep {
				tag := func(sha string) chaosAction {
					return chaosAction{what: fmt.Sprintf("%s tag sweep-1 at %s", r.name, sha[:8]), do: func(f *state.Forge) error {
						_, err := f.PushTag(r.name, "alice", "sweep-1", sha)
						return err
					}}
				}
				t := []chaosAction{tag(r.commitA)}
				if rng.IntN(2) == 0 {
					t = append(t, tag(r.commitB))
				}
				threads = append(threads, t)
			}
		}
		for more := true; more; {
			more = false
			for i, th := range threads {
				if len(th) > 0 {
					w.actions = append(w.actions, th[0])
					threads[i], more = th[1:], true
				}
			}
		}
		w.actions = append(w.actions, late...)
	}
}

// issueActions is one issue's requests: label, edits, and maybe an unlabel
// (for good, or followed by a relabel and an edit).
func issueActions(rng *rand.Rand, repo string, is chaosIssue, nextLR func() string) []chaosAction {
	label := func(add bool) chaosAction {
		what := fmt.Sprintf("%s#%d label=%v", repo, is.number, add)
		return chaosAction{what: what, do: func(f *state.Forge) error {
			if add {
				_, err := f.LabelIssue(repo, is.number, "alice", []string{label}, nil)
				return err
			}
			_, err := f.LabelIssue(repo, is.number, "alice", nil, []string{label})
			return err
		}}
	}
	edit := func() chaosAction {
		body := request(is.name, nextLR())
		return chaosAction{what: fmt.Sprintf("%s#%d edit", repo, is.number), do: func(f *state.Forge) error {
			_, err := f.EditIssue(repo, is.number, "alice", nil, &body)
			return err
		}}
	}
	out := []chaosAction{label(true), edit(), edit(), edit()}
	switch rng.IntN(4) {
	case 0:
		out = append(out, label(false))
	case 1:
		out = append(out, label(false), label(true), edit())
	default:
		out = append(out, edit())
	}
	return out
}

// runOpenLoop starts one action every interval, each in its own goroutine,
// whatever happened to the earlier ones (the forge's action returns when
// the first attempt of its delivery is answered); during runs between
// actions. It returns when every action has been made, with their errors.
func (w *workload) runOpenLoop(f *state.Forge, interval time.Duration) <-chan []error {
	done := make(chan []error, 1)
	go func() {
		var mu sync.Mutex
		var errs []error
		var wg sync.WaitGroup
		start := time.Now()
		for i, a := range w.actions {
			time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
			wg.Go(func() {
				if err := a.do(f); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", a.what, err))
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		done <- errs
	}()
	return done
}

var lrRE = regexp.MustCompile(`(?m)^  lr: (\S+)$`)

// problems compares the forge's state with what every request asks for
// now, and says what is wrong, one line per experiment.
func (w *workload) problems(rs *replicaSet) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, r := range w.repos {
		var branches []string
		issues := map[int]state.Issue{}
		_ = rs.forge.WithRepo(r.name, func(repo *state.Repo) error {
			branches = repo.Branches()
			for _, is := range r.issues {
				if i, ok := repo.Issue(is.number); ok {
					issues[is.number] = *i
				}
			}
			return nil
		})
		for _, is := range r.issues {
			i := issues[is.number]
			prefix := fmt.Sprintf("exp/%d-", is.number)
			var mine []string
			for _, b := range branches {
				if strings.HasPrefix(b, prefix) {
					mine = append(mine, b)
				}
			}
			cs := rs.statusComments(r.name, is.number)
			where := fmt.Sprintf("%s#%d (%s)", r.name, is.number, is.name)
			if len(cs) != 1 {
				bad("%s: %d status comments, want 1", where, len(cs))
			}
			if !slices.Contains(i.Labels, label) {
				// Every issue was labelled once: retired now, its branch
				// (if it was made) kept.
				if len(mine) > 1 {
					bad("%s (retired): branches %v, want at most one", where, mine)
				}
				if len(cs) > 0 && !strings.Contains(lastBody(cs), "retired") {
					bad("%s: unlabelled, but its status comment says %q", where, headline(lastBody(cs)))
				}
				continue
			}
			m := lrRE.FindStringSubmatch(i.Body)
			if m == nil {
				bad("%s: no lr in the issue's body (a bug of the test)", where)
				continue
			}
			want := fmt.Sprintf("exp/%d-%s", is.number, is.name)
			if len(mine) != 1 || mine[0] != want {
				bad("%s: branches %v, want [%s]", where, mine, want)
			}
			if b := rs.branch(r.name, want); !strings.Contains(b.file, "lr: "+m[1]+"\n") {
				bad("%s: %s's experiment.yaml has %q, want lr %s", where, want, lrRE.FindString(b.file), m[1])
			}
			if len(cs) > 0 && (!strings.Contains(lastBody(cs), "is ready") || !strings.Contains(lastBody(cs), "`"+m[1]+"`")) {
				bad("%s: status comment says %q, want ready with lr %s", where, headline(lastBody(cs)), m[1])
			}
		}
		out = append(out, w.pullProblems(rs, r, branches)...)
		if r.sweep {
			out = append(out, w.sweepProblems(rs, r, branches)...)
		}
	}
	return out
}

func (w *workload) pullProblems(rs *replicaSet, r chaosRepo, branches []string) []string {
	var out []string
	p := r.pull
	cs := rs.statusComments(r.name, p.number)
	var mine []string
	for _, b := range branches {
		if strings.HasPrefix(b, fmt.Sprintf("exp/mr-%d-", p.number)) {
			mine = append(mine, b)
		}
	}
	if len(mine) != len(p.final) {
		out = append(out, fmt.Sprintf("%s!%d: branches %v, want %d", r.name, p.number, mine, len(p.final)))
	}
	refused := map[string]bool{}
	for _, c := range cs {
		for name := range p.ifRefused {
			if strings.Contains(c.Body, "There is no experiment `"+name+"` in this request") {
				refused[name] = true
			}
		}
	}
	for name, lr := range p.final {
		if refused[name] {
			lr = p.ifRefused[name]
		}
		where := fmt.Sprintf("%s!%d %s", r.name, p.number, name)
		marker := "<!-- expbot:experiment " + url.QueryEscape(fmt.Sprintf("pull:%d:%s", p.number, name)) + " -->"
		var its []state.Comment
		for _, c := range cs {
			if strings.Contains(c.Body, marker) {
				its = append(its, c)
			}
		}
		if len(its) != 1 {
			out = append(out, fmt.Sprintf("%s: %d status comments, want 1", where, len(its)))
		} else if !strings.Contains(its[0].Body, "is ready") || !strings.Contains(its[0].Body, "`"+lr+"`") {
			out = append(out, fmt.Sprintf("%s: status comment says %q, want ready with lr %s", where, headline(its[0].Body), lr))
		}
		// Each command is a commit of the variant file on the branch,
		// made on the request's head.
		b := rs.branch(r.name, fmt.Sprintf("exp/mr-%d-%s", p.number, name))
		if !b.exists || !descends(rs, r.name, b.head, p.head) || !strings.Contains(b.file, "lr: "+lr+"\n") {
			out = append(out, fmt.Sprintf("%s: branch exists=%v head %.8s (want on %.8s), %q (want lr %s)", where, b.exists, b.head, p.head, lrRE.FindString(b.file), lr))
		}
	}
	// Commands that need no reply got none (a reply here is a problem
	// the bot had with one).
	for _, c := range cs {
		if !strings.Contains(c.Body, "<!-- expbot:experiment ") && !refusal(c.Body, refused) {
			out = append(out, fmt.Sprintf("%s!%d: unexpected reply %q", r.name, p.number, headline(c.Body)))
		}
	}
	return out
}

// refusal tells a reply refusing an update of an experiment not made yet.
func refusal(body string, refused map[string]bool) bool {
	for name := range refused {
		if strings.Contains(body, "There is no experiment `"+name+"` in this request") {
			return true
		}
	}
	return false
}

func (w *workload) sweepProblems(rs *replicaSet, r chaosRepo, branches []string) []string {
	var out []string
	var tagged string
	_ = rs.forge.WithRepo(r.name, func(repo *state.Repo) error { tagged, _ = repo.Tag("sweep-1"); return nil })
	if tagged == "" {
		return []string{r.name + ": tag sweep-1 was never pushed (a bug of the test)"}
	}
	epochs := map[string]string{r.commitA: "epochs: 1", r.commitB: "epochs: 2"}[tagged]
	var mine []string
	for _, b := range branches {
		if strings.HasPrefix(b, "exp/sweep-1/") {
			mine = append(mine, b)
			if bi := rs.branch(r.name, b); bi.parent != tagged || !strings.Contains(bi.file, epochs) {
				out = append(out, fmt.Sprintf("%s: sweep branch %s on %.8s (want %.8s), file lacks %q", r.name, b, bi.parent, tagged, epochs))
			}
		}
	}
	if len(mine) != 2 {
		out = append(out, fmt.Sprintf("%s: sweep branches %v, want 2", r.name, mine))
	}
	var cs []state.Comment
	_ = rs.forge.WithRepo(r.name, func(repo *state.Repo) error {
		for _, c := range repo.Comments(0, tagged) {
			if strings.Contains(c.Body, pipeline.StatusMarker) {
				cs = append(cs, *c)
			}
		}
		return nil
	})
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "all 2 branches ready") {
		out = append(out, fmt.Sprintf("%s: %d comments on the tagged commit %.8s, last %q; want 1, all 2 branches ready", r.name, len(cs), tagged, headline(lastBody(cs))))
	}
	return out
}

// descends tells whether commit head has ancestor as its first parent's
// ancestor (or is it).
func descends(rs *replicaSet, repo, head, ancestor string) bool {
	found := false
	_ = rs.forge.WithRepo(repo, func(r *state.Repo) error {
		for sha, i := head, 0; sha != "" && i < 100; i++ {
			if sha == ancestor {
				found = true
				return nil
			}
			c, ok := r.Commit(sha)
			if !ok || len(c.Parents) == 0 {
				return nil
			}
			sha = c.Parents[0]
		}
		return nil
	})
	return found
}

// headline is a comment's first heading, to name it in a diagnosis.
func headline(body string) string {
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "#") {
			return l
		}
	}
	return tail(body, 2)
}

// internalErrorRE finds what only an internal error would put in a
// comment: a failure, a lock, the database, a timeout, a 5xx status (a
// number followed by its text: "503 Service Unavailable"; lr values such
// as 0.501 are not statuses).
var internalErrorRE = regexp.MustCompile(`(?i)❌|⚠️|fail|error|lock|cannot|sqlstate|postgres|connection|context|deadline|refused|internal|panic|timeout|\b50[0-9]\s+[a-z]`)

// commentErrors lists every comment write (create or edit) that carried an
// internal error.
func commentErrors(rs *replicaSet) []string {
	var out []string
	for _, c := range rs.writes.all() {
		if m := internalErrorRE.FindString(c.Body); m != "" {
			out = append(out, fmt.Sprintf("%s %s: %q in %s", c.Method, c.Path, m, strings.ReplaceAll(c.Body, `\n`, " ")))
		}
	}
	return out
}

// lostDeliveries lists the deliveries never answered with a 2xx, and
// counts the deliveries (ids) and the failed attempts.
func lostDeliveries(sim *forgesim.Server) (lost []string, ids, failed int) {
	ok := map[string]bool{}
	var order []string
	last := map[string]forgesim.Delivery{}
	for _, d := range sim.Deliveries() {
		if _, seen := ok[d.ID]; !seen {
			order = append(order, d.ID)
			ok[d.ID] = false
		}
		if d.Status >= 200 && d.Status < 300 {
			ok[d.ID] = true
		} else {
			failed++
		}
		last[d.ID] = d
	}
	for _, id := range order {
		if !ok[id] {
			d := last[id]
			lost = append(lost, fmt.Sprintf("%s %s %s: last answer %d %s %s", id, d.Repo, d.Event, d.Status, d.Error, strings.TrimSpace(d.ResponseBody)))
		}
	}
	return lost, len(order), failed
}

// pulumiLeft lists the processes still running for the replicas: the
// Pulumi CLI and plugins carry the replica's data directory in
// pulumicli.OwnerEnv, whatever became of the replica.
func pulumiLeft(rs *replicaSet) []string {
	var dirs []string
	for _, h := range rs.replicas {
		abs, _ := filepath.Abs(h.dataDir)
		dirs = append(dirs, abs)
	}
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			v, ok := bytes.CutPrefix(kv, []byte(pulumicli.OwnerEnv+"="))
			if !ok {
				continue
			}
			st, _, alive := procStat(pid)
			if !alive || st == 'Z' || st == 'X' {
				continue
			}
			for _, d := range dirs {
				if strings.HasSuffix(string(v), ":"+d) {
					cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
					out = append(out, fmt.Sprintf("pid %d (%s): %s", pid, d, strings.ReplaceAll(string(cmd), "\x00", " ")))
				}
			}
		}
	}
	return out
}

// converge waits until the forge shows every request done and every
// delivery answered, at the latest until deadline; then it fails t with
// what is still wrong.
func (w *workload) converge(t *testing.T, rs *replicaSet, deadline time.Time) {
	t.Helper()
	var probs, lost []string
	for {
		probs = w.problems(rs)
		lost, _, _ = lostDeliveries(rs.sim)
		if len(probs) == 0 && len(lost) == 0 && rs.sim.PendingRetries() == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	t.Errorf("not converged by the deadline: %d experiments wrong, %d deliveries never accepted (%d waiting to be sent again)", len(probs), len(lost), rs.sim.PendingRetries())
	for i, p := range probs {
		if i == 60 {
			t.Errorf("... and %d more", len(probs)-i)
			break
		}
		t.Error(p)
	}
	for i, l := range lost {
		if i == 20 {
			t.Errorf("... and %d more lost", len(lost)-i)
			break
		}
		t.Error("delivery never accepted: " + l)
	}
	for _, j := range jobsInFlight(rs.storeURL) {
		t.Error("job still in flight: " + j)
	}
	t.FailNow()
}

// jobsInFlight describes the queue's unfinished jobs, to tell a stuck job
// from slow work when a run did not converge.
func jobsInFlight(storeURL string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, storeURL)
	if err != nil {
		return []string{"(cannot read the queue: " + err.Error() + ")"}
	}
	defer func() { _ = c.Close(context.Background()) }()
	rows, err := c.Query(ctx, `SELECT id, kind, state::text, args::text, attempt, coalesce(array_to_string(attempted_by, ','), ''),
			coalesce(to_char(attempted_at, 'HH24:MI:SS.MS'), ''), coalesce(errors[array_upper(errors, 1)]->>'error', '')
		FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded') ORDER BY id`)
	if err != nil {
		return []string{"(cannot read the queue: " + err.Error() + ")"}
	}
	var out []string
	for rows.Next() {
		var (
			id, attempt                     int64
			kind, state, args, by, at, errs string
		)
		if err := rows.Scan(&id, &kind, &state, &args, &attempt, &by, &at, &errs); err != nil {
			return append(out, "(cannot read the queue: "+err.Error()+")")
		}
		out = append(out, fmt.Sprintf("%d %s %s %s attempt %d by %s at %s, last error: %.1500s", id, kind, state, args, attempt, by, at, errs))
	}
	return out
}

// budget is the time this test may take: until the test binary's deadline
// less a margin for cleanup, and no more than max.
func budget(t *testing.T, max time.Duration) time.Time {
	end := time.Now().Add(max)
	if d, ok := t.Deadline(); ok && d.Add(-30*time.Second).Before(end) {
		end = d.Add(-30 * time.Second)
	}
	return end
}

// runsPulumi tells whether ps holds a Pulumi CLI run (through its guard).
func runsPulumi(ps []proc) bool {
	for _, p := range ps {
		if strings.Contains(p.cmdline, pulumicli.GuardArg) {
			return true
		}
	}
	return false
}

// alive tells whether a replica's process runs (not exited, not a zombie).
func alive(h *harness) bool {
	if h.cmd == nil {
		return false
	}
	st, _, ok := procStat(h.cmd.Process.Pid)
	return ok && st != 'Z' && st != 'X'
}
