// Package e2e drives a real `expbot serve` process over HTTP: webhooks come
// from the simulated forge, updates go through the real Pulumi CLI and the
// stand-in provider plugins, and every assertion reads the forge's state.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/demo"
	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/internal/pulumicli"
	"github.com/expbot/expbot/internal/standin/install"
	"github.com/expbot/expbot/internal/testnet"
	"github.com/expbot/expbot/pipeline"
)

// The demo seed's credentials (see internal/demo): the forge and the bot
// share them.
const (
	botToken     = "demo-bot-token"
	githubSecret = "demo-github-webhook-secret"
	gitlabToken  = "demo-gitlab-webhook-token"
	passphrase   = "e2e-passphrase"
	adminToken   = "e2e-admin-token-0123456789"
	waitLimit    = 2 * time.Minute
)

// repoFor maps a forge flavour to the seeded repository whose hook uses it.
var repoFor = map[string]string{"github": "acme/llm", "gitlab": "acme/vision"}

func TestMain(m *testing.M) {
	if os.Getenv(loadGenEnv) == "1" { // the benchmark's client (loadgen_test.go)
		os.Exit(loadGenMain(os.Stdin, os.Stdout))
	}
	code := m.Run()
	if buildOnce.bin != "" {
		_ = os.RemoveAll(filepath.Dir(buildOnce.bin))
	}
	os.Exit(code)
}

var buildOnce struct {
	sync.Once
	bin string
	err error
}

// expbotBinary builds cmd/bot once per test process.
func expbotBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "expbot-e2e-bin-")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.bin = filepath.Join(dir, "expbot")
		cmd := exec.Command("go", "build", "-o", buildOnce.bin, "github.com/expbot/expbot/cmd/bot")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatal(buildOnce.err)
	}
	return buildOnce.bin
}

// harness is a simulated forge plus an expbot process serving it.
type harness struct {
	t       testing.TB
	sim     *forgesim.Server
	forge   *state.Forge
	bin     string
	home    string
	dataDir string
	addr    string
	cmd     *exec.Cmd
	log     *os.File
	gate    atomic.Pointer[gate] // holds matching forge requests (holdRequests)
	// frozen, when set, stops the forge's clock (issue times, payloads).
	frozen atomic.Pointer[time.Time]
	// envSet replaces (or, when empty, removes) variables of the bot's
	// environment: the GitHub App variant swaps the token for the app's settings.
	envSet map[string]string
	fail   atomic.Pointer[outage] // fails matching forge requests (failRequests)
	simURL string
}

// outage makes the forge answer the requests it matches with 503, as a
// forge that is down does.
type outage struct {
	match func(*http.Request) bool
	hits  atomic.Int64
}

// failRequests makes the forge answer what match accepts with 503 until the
// returned function is called (at the latest when the test ends).
func (h *harness) failRequests(t testing.TB, match func(*http.Request) bool) (*outage, func()) {
	o := &outage{match: match}
	h.fail.Store(o)
	heal := func() { h.fail.CompareAndSwap(o, nil) }
	t.Cleanup(heal)
	return o, heal
}

// now is the forge's clock: the wall clock, unless frozen.
func (h *harness) now() time.Time {
	if t := h.frozen.Load(); t != nil {
		return *t
	}
	return time.Now()
}

// gate holds the forge requests it matches until opened.
type gate struct {
	match   func(*http.Request) bool
	arrived chan struct{} // closed when the first match arrives
	once    sync.Once
	opened  sync.Once
	release chan struct{}
	delay   time.Duration // slowRequests: hold each request this long only
}

// holdRequests makes the forge hold the requests match accepts, as a slow
// or unreachable server would, until the gate is opened (at the latest
// when the test ends); then they go through.
func (h *harness) holdRequests(t testing.TB, match func(*http.Request) bool) *gate {
	g := &gate{match: match, arrived: make(chan struct{}), release: make(chan struct{})}
	h.gate.Store(g)
	t.Cleanup(func() { h.open(g) })
	return g
}

// open stops holding requests and lets the held ones through.
func (h *harness) open(g *gate) {
	g.opened.Do(func() {
		h.gate.CompareAndSwap(g, nil)
		close(g.release)
	})
}

func (h *harness) gated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g := h.gate.Load(); g != nil && g.match(r) {
			g.once.Do(func() { close(g.arrived) })
			if g.delay > 0 {
				select {
				case <-time.After(g.delay):
				case <-g.release:
				}
			} else {
				<-g.release
			}
		}
		if o := h.fail.Load(); o != nil && o.match(r) {
			o.hits.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"message":"Service Unavailable"}`))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// slowRequests makes the forge answer the requests match accepts only
// after d, as a slow server would, until the gate is opened.
func (h *harness) slowRequests(t testing.TB, match func(*http.Request) bool, d time.Duration) *gate {
	g := &gate{match: match, arrived: make(chan struct{}), release: make(chan struct{}), delay: d}
	h.gate.Store(g)
	t.Cleanup(func() { h.open(g) })
	return g
}

// newHarness starts expbot with the demo forge's settings.
func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessSeeded(t, demo.Seed)
}

// newHarnessEnv starts expbot with some variables of its environment
// replaced, e.g. EXPBOT_DRIFT_INTERVAL.
func newHarnessEnv(t testing.TB, env map[string]string) *harness {
	t.Helper()
	return newHarnessWith(t, demo.Seed, func(h *harness, _ string) { h.envSet = env }, true)
}

// newHarnessSeeded is newHarness with another seed of the forge, which
// gets the bot's URL.
func newHarnessSeeded(t testing.TB, seed func(f *state.Forge, botURL string) error) *harness {
	t.Helper()
	return newHarnessWith(t, seed, nil, true)
}

// newHarnessWith is newHarnessSeeded with prepare run on the seeded forge
// before the bot starts (if start).
func newHarnessWith(t testing.TB, seed func(f *state.Forge, botURL string) error, prepare func(h *harness, dir string), start bool) *harness {
	t.Helper()
	ctx := context.Background()
	if _, err := pulumicli.Locate(ctx, ""); err != nil {
		t.Fatalf("end-to-end tests need the Pulumi CLI (run `make pulumi`): %v", err)
	}
	dir := t.TempDir()
	h := &harness{t: t, bin: expbotBinary(t), home: filepath.Join(dir, "pulumi-home"), dataDir: filepath.Join(dir, "data")}
	if err := install.Install(ctx, h.home); err != nil {
		t.Fatal(err)
	}
	h.sim = forgesim.New(forgesim.WithClock(h.now))
	srv := httptest.NewServer(h.gated(h.sim.Handler()))
	t.Cleanup(srv.Close)
	h.sim.SetBaseURL(srv.URL)
	h.simURL = srv.URL
	h.forge = h.sim.Forge()

	h.addr = testnet.Addr(t) // restarts reuse it, as a real deployment keeps its URL
	if err := seed(h.forge, "http://"+h.addr); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "expbot.log"))
	if err != nil {
		t.Fatal(err)
	}
	h.log = log
	t.Cleanup(func() {
		h.stop()
		if t.Failed() {
			b, _ := os.ReadFile(log.Name())
			t.Logf("expbot log:\n%s", tail(string(b), 60))
		}
	})
	if prepare != nil {
		prepare(h, dir)
	}
	forgeURLs.Store(h, srv.URL)
	if start {
		h.start(srv.URL)
	}
	return h
}

func (h *harness) env(forgeURL string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"EXPBOT_LISTEN=" + h.addr,
		"EXPBOT_DATA_DIR=" + h.dataDir,
		"EXPBOT_PULUMI_HOME=" + h.home,
		"EXPBOT_PULUMI_PASSPHRASE=" + passphrase,
		"EXPBOT_GITHUB_ENABLED=true",
		"EXPBOT_GITHUB_API_URL=" + forgeURL + "/",
		"EXPBOT_GITHUB_WRITE_DELAY_MS=1",
		"EXPBOT_GITHUB_TOKEN=" + botToken,
		"EXPBOT_GITHUB_WEBHOOK_SECRETS=" + githubSecret,
		"EXPBOT_GITLAB_ENABLED=true",
		"EXPBOT_GITLAB_API_URL=" + forgeURL + "/api/v4/",
		"EXPBOT_GITLAB_TOKEN=" + botToken,
		"EXPBOT_GITLAB_WEBHOOK_TOKENS=" + gitlabToken,
		"EXPBOT_LOG_LEVEL=debug",
		"EXPBOT_ADMIN_TOKEN=" + adminToken,
		"EXPBOT_DRIFT_INTERVAL=0", // the drift tests turn the schedule on
		"PULUMI_IGNORE_AMBIENT_PLUGINS=true",
	}
	if len(h.envSet) > 0 {
		kept := env[:0]
		for _, kv := range env {
			if k, _, _ := strings.Cut(kv, "="); !hasKey(h.envSet, k) {
				kept = append(kept, kv)
			}
		}
		env = kept
		for k, v := range h.envSet {
			if v != "" {
				env = append(env, k+"="+v)
			}
		}
	}
	// EXPBOT_PULUMI_IDLE passes so that the benchmarks can measure both
	// CPU priorities (docs/performance.md).
	for _, k := range []string{"EXPBOT_PULUMI", "EXPBOT_PULUMI_IDLE", "EXPBOT_CACHE_DIR", "XDG_CACHE_HOME", "GOCACHE", "GOPATH", "GOMODCACHE"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

var forgeURLs sync.Map // harness -> forge URL, for restarts

// start launches expbot serve and waits until /readyz answers 200.
func (h *harness) start(forgeURL string) {
	h.t.Helper()
	h.launch(forgeURL)
	h.waitReady()
}

// launch starts expbot serve without waiting for it.
func (h *harness) launch(forgeURL string) {
	h.t.Helper()
	forgeURLs.Store(h, forgeURL)
	cmd := exec.Command(h.bin, "serve")
	cmd.Env = h.env(forgeURL)
	cmd.Stdout, cmd.Stderr = h.log, h.log
	// Its own process group, so a crash can take the Pulumi CLI it runs with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.cmd = cmd
}

// waitReady waits until /readyz answers 200.
func (h *harness) waitReady() {
	h.t.Helper()
	h.waitFor(h.t, "expbot to be ready", func() bool {
		resp, err := http.Get("http://" + h.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// crash kills expbot and everything it started, as a power cut would: its
// process group, and the Pulumi CLI and plugins, which run in groups of
// their own.
func (h *harness) crash() {
	if h.cmd == nil {
		return
	}
	// Freeze the tree first, so that nothing in it starts a process
	// between the listing and the kill.
	pid := h.cmd.Process.Pid
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	stopped := map[int]bool{}
	for {
		fresh := 0
		for _, p := range descendants(pid) {
			if !stopped[p] {
				_ = syscall.Kill(p, syscall.SIGSTOP)
				stopped[p] = true
				fresh++
			}
		}
		if fresh == 0 {
			break
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for p := range stopped {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	_ = h.cmd.Wait()
	h.cmd = nil
}

// descendants lists the processes below pid, read from /proc; none where
// there is no /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if i < 0 || len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	for queue := []int{pid}; len(queue) > 0; queue = queue[1:] {
		out = append(out, children[queue[0]]...)
		queue = append(queue, children[queue[0]]...)
	}
	return out
}

// restart brings expbot back on the same port and data directory.
func (h *harness) restart() {
	u, _ := forgeURLs.Load(h)
	h.start(u.(string))
}

// stop ends expbot gracefully (SIGTERM), falling back to a kill.
func (h *harness) stop() {
	if h.cmd == nil {
		return
	}
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		h.crash()
	}
	h.cmd = nil
}

func (h *harness) waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statusComments returns the bot's status comments on an issue.
func (h *harness) statusComments(repo string, number int) []state.Comment {
	var out []state.Comment
	_ = h.forge.WithRepo(repo, func(r *state.Repo) error {
		for _, c := range r.Comments(number, "") {
			if strings.Contains(c.Body, pipeline.StatusMarker) {
				out = append(out, *c)
			}
		}
		return nil
	})
	return out
}

// waitComment waits for the status comment to contain want.
// labelRequest opens an issue in repo asking for experiment lr-high at
// lr 0.01, labels it, and returns its number.
func (h *harness) labelRequest(t testing.TB, repo string) int {
	t.Helper()
	issue, _, err := h.forge.OpenIssue(repo, "alice", "lr sweep", request("lr-high", "0.01"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.forge.LabelIssue(repo, issue.Number, "alice", []string{label}, nil); err != nil {
		t.Fatal(err)
	}
	return issue.Number
}

func (h *harness) waitComment(t testing.TB, repo string, number int, want string) state.Comment {
	t.Helper()
	var last state.Comment
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last status comment on %s#%d:\n%s", repo, number, last.Body)
		}
	})
	h.waitFor(t, fmt.Sprintf("a status comment on %s#%d saying %q", repo, number, want), func() bool {
		cs := h.statusComments(repo, number)
		if len(cs) == 0 {
			return false
		}
		last = cs[len(cs)-1]
		return strings.Contains(last.Body, want)
	})
	return last
}

type branchInfo struct {
	exists       bool
	head, parent string
	file         string
}

func (h *harness) branch(repo, name string) branchInfo {
	var bi branchInfo
	_ = h.forge.WithRepo(repo, func(r *state.Repo) error {
		sha, ok := r.Branch(name)
		if !ok {
			return nil
		}
		c, _ := r.Commit(sha)
		bi = branchInfo{exists: true, head: sha}
		if len(c.Parents) > 0 {
			bi.parent = c.Parents[0]
		}
		if b, _, ok := r.File(c, "experiment.yaml"); ok {
			bi.file = string(b)
		}
		return nil
	})
	return bi
}

func (h *harness) branches(repo string) []string {
	var out []string
	_ = h.forge.WithRepo(repo, func(r *state.Repo) error { out = r.Branches(); return nil })
	return out
}

// metric reads one sample of expbot's /metrics by its full text prefix.
func (h *harness) metric(prefix string) string {
	h.t.Helper()
	return sample(h.scrape(), prefix)
}

// scrape reads the bot's /metrics once: values that must agree with each
// other (a histogram's count and its buckets) come from one scrape.
func (h *harness) scrape() string {
	h.t.Helper()
	resp, err := http.Get("http://" + h.addr + "/metrics")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// sample returns the value of the first line of a scrape that starts with
// prefix, or "".
func sample(scrape, prefix string) string {
	for _, line := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(line, prefix) {
			return strings.TrimSpace(strings.TrimPrefix(line, prefix))
		}
	}
	return ""
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func request(name, lr string) string {
	return fmt.Sprintf("Please run this.\n\n```yaml\nname: %s\nparams:\n  lr: %s\n  batch_size: 32\n```\n", name, lr)
}
