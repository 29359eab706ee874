//go:build imagetest

package imagetest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

// The demo seed's credentials (internal/demo): the forge and the bot share
// them.
const (
	botToken     = "demo-bot-token"
	githubSecret = "demo-github-webhook-secret"
	gitlabToken  = "demo-gitlab-webhook-token"
	passphrase   = "imagetest-passphrase"

	imageTag  = "expbot:imagetest"
	imageUID  = "10001" // the image's user (deploy/image/passwd)
	waitLimit = 3 * time.Minute
)

// docker is the Docker client; EXPBOT_DOCKER names another one (one that
// can build with BuildKit).
func docker() string {
	if d := os.Getenv("EXPBOT_DOCKER"); d != "" {
		return d
	}
	return "docker"
}

// run runs the docker client and returns its standard output.
func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := tryRun(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryRun(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, docker(), args...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s", docker(), strings.Join(args, " "), err, tail(stderr.String(), 40))
	}
	return stdout.String(), nil
}

// TestImage builds the image, then runs it as a deployment would: read-only
// root, one volume, signals. Each step needs the one before.
func TestImage(t *testing.T) {
	if _, err := tryRun("info"); err != nil {
		t.Fatalf("the image test needs a running Docker engine: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	stageInputs(t, root)
	run(t, "build", "-f", filepath.Join(root, "Dockerfile"),
		"--build-arg", "INPUTS=local", "--build-arg", "PLUGINS=test-standins",
		"--build-arg", "VERSION=imagetest", "-t", imageTag, root)
	checkImageConfig(t)

	sim := forgesim.New()
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	sim.SetBaseURL(srv.URL)
	forge := sim.Forge()
	addr := testnet.Addr(t)
	if err := demo.Seed(forge, "http://"+addr); err != nil {
		t.Fatal(err)
	}
	volume := fmt.Sprintf("expbot-imagetest-%d", os.Getpid())
	run(t, "volume", "create", volume)
	t.Cleanup(func() { _, _ = tryRun("volume", "rm", "-f", volume) })
	b := &bot{t: t, addr: addr, forgeURL: srv.URL, volume: volume}

	b.start("first")
	if ro := run(t, "inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", b.container); strings.TrimSpace(ro) != "true" {
		t.Fatalf("the container's root file system is not read-only (%s)", ro)
	}
	if uid := processUID(t, b.container); uid != imageUID {
		t.Errorf("the bot runs as uid %s, want %s (non-root)", uid, imageUID)
	}
	b.waitFor("Docker to call the container healthy", func() bool {
		out, _ := tryRun("inspect", "-f", "{{.State.Health.Status}}", b.container)
		return strings.TrimSpace(out) == "healthy"
	})

	// A labeled issue on each forge gets its branch and its comment.
	heads := map[string]string{}
	for _, tc := range []struct{ repo, name string }{{"acme/llm", "lr-github"}, {"acme/vision", "lr-gitlab"}} {
		n := openLabeled(t, forge, tc.repo, tc.name, "0.01")
		b.waitComment(forge, tc.repo, n, "is ready")
		head, file := branch(forge, tc.repo, fmt.Sprintf("exp/%d-%s", n, tc.name))
		if !strings.Contains(file, "lr: 0.01") {
			t.Fatalf("%s: experiment.yaml = %q, want lr 0.01", tc.repo, file)
		}
		heads[tc.repo] = head
	}

	// SIGTERM right after a request was acknowledged: the bot ends cleanly,
	// and whatever it had not done yet is done after the restart.
	late := openLabeled(t, forge, "acme/llm", "late", "0.2")
	b.stop()

	b.start("second")
	b.waitComment(forge, "acme/llm", late, "is ready")
	if _, file := branch(forge, "acme/llm", fmt.Sprintf("exp/%d-late", late)); !strings.Contains(file, "lr: 0.2") {
		t.Errorf("the request acknowledged before SIGTERM made experiment.yaml %q", file)
	}

	// The restart lost nothing: the first experiment's branch is updated in
	// place (Pulumi state kept) and its one status comment edited (database
	// kept).
	body := request("lr-github", "0.03")
	if _, err := forge.EditIssue("acme/llm", 1, "alice", nil, &body); err != nil {
		t.Fatal(err)
	}
	b.waitFor("the first experiment's update", func() bool {
		_, file := branch(forge, "acme/llm", "exp/1-lr-github")
		return strings.Contains(file, "lr: 0.03")
	})
	if parent := parentOf(forge, "acme/llm", "exp/1-lr-github"); parent != heads["acme/llm"] {
		t.Errorf("after the restart the update made a commit on %s, want one on the old head %s", parent, heads["acme/llm"])
	}
	b.waitComment(forge, "acme/llm", 1, "`0.03`")
	if n := len(statusComments(forge, "acme/llm", 1)); n != 1 {
		t.Errorf("acme/llm#1 has %d status comments after the restart, want the one edited", n)
	}
	b.waitFor("an empty job queue", func() bool { return b.metric("expbot_queue_depth ") == "0" })
	b.stop()
}

// checkImageConfig checks what `docker run` takes from the image: a non-root
// user, the health check, the labels, a volume for the data.
func checkImageConfig(t *testing.T) {
	t.Helper()
	var img []struct {
		Size   int64
		Config struct {
			User        string
			Healthcheck *struct{ Test []string }
			Labels      map[string]string
			Volumes     map[string]struct{}
			Entrypoint  []string
			Cmd         []string
		}
	}
	if err := json.Unmarshal([]byte(run(t, "image", "inspect", imageTag)), &img); err != nil || len(img) != 1 {
		t.Fatalf("docker image inspect: %v", err)
	}
	c := img[0].Config
	t.Logf("image %s: %.1f MB", imageTag, float64(img[0].Size)/1e6)
	if c.User != imageUID+":"+imageUID {
		t.Errorf("image user = %q, want %s:%s", c.User, imageUID, imageUID)
	}
	if c.Healthcheck == nil || !strings.Contains(strings.Join(c.Healthcheck.Test, " "), "expbot healthcheck") {
		t.Errorf("image health check = %+v, want expbot healthcheck", c.Healthcheck)
	}
	if _, ok := c.Volumes["/data"]; !ok {
		t.Errorf("image volumes = %v, want /data", c.Volumes)
	}
	if got := strings.Join(append(c.Entrypoint, c.Cmd...), " "); got != "/usr/local/bin/expbot serve" {
		t.Errorf("image runs %q, want expbot serve", got)
	}
	for _, k := range []string{"org.opencontainers.image.title", "org.opencontainers.image.version", "org.opencontainers.image.source"} {
		if c.Labels[k] == "" {
			t.Errorf("image lacks the label %s", k)
		}
	}
	if c.Labels["io.expbot.plugins"] != "test-standins" {
		t.Errorf("a test build is labeled plugins=%q, want test-standins", c.Labels["io.expbot.plugins"])
	}
}

// bot is the expbot container, started and stopped on one volume.
type bot struct {
	t         *testing.T
	addr      string // host networking: the bot listens on the host
	forgeURL  string
	volume    string
	container string
}

func (b *bot) start(name string) {
	b.t.Helper()
	b.container = fmt.Sprintf("expbot-imagetest-%d-%s", os.Getpid(), name)
	c := b.container
	b.t.Cleanup(func() {
		if b.t.Failed() {
			logs, _ := exec.Command(docker(), "logs", "--tail", "80", c).CombinedOutput()
			b.t.Logf("%s log:\n%s", c, logs)
		}
		_, _ = tryRun("rm", "-f", c)
	})
	args := []string{"run", "-d", "--name", c,
		"--network", "host", "--read-only", "-v", b.volume + ":/data",
		"--health-interval", "2s", "--health-start-period", "2s",
	}
	for _, kv := range []string{
		"EXPBOT_LISTEN=" + b.addr,
		"EXPBOT_PULUMI_PASSPHRASE=" + passphrase,
		"EXPBOT_GITHUB_ENABLED=true",
		"EXPBOT_GITHUB_API_URL=" + b.forgeURL + "/",
		"EXPBOT_GITHUB_WRITE_DELAY_MS=1",
		"EXPBOT_GITHUB_TOKEN=" + botToken,
		"EXPBOT_GITHUB_WEBHOOK_SECRETS=" + githubSecret,
		"EXPBOT_GITLAB_ENABLED=true",
		"EXPBOT_GITLAB_API_URL=" + b.forgeURL + "/api/v4/",
		"EXPBOT_GITLAB_TOKEN=" + botToken,
		"EXPBOT_GITLAB_WEBHOOK_TOKENS=" + gitlabToken,
		"EXPBOT_LOG_LEVEL=debug",
	} {
		args = append(args, "-e", kv)
	}
	run(b.t, append(args, imageTag)...)
	b.waitFor(c+" to be ready", func() bool {
		resp, err := http.Get("http://" + b.addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// stop sends SIGTERM (docker stop) and checks the bot ended by itself
// within its grace period, with status 0.
func (b *bot) stop() {
	b.t.Helper()
	run(b.t, "stop", "--time", "90", b.container)
	out := run(b.t, "inspect", "-f", "{{.State.ExitCode}} {{.State.OOMKilled}}", b.container)
	if strings.TrimSpace(out) != "0 false" {
		b.t.Fatalf("after SIGTERM %s exited with (status, OOM-killed) %q, want 0 false", b.container, strings.TrimSpace(out))
	}
	logs, _ := exec.Command(docker(), "logs", b.container).CombinedOutput()
	if !bytes.Contains(logs, []byte("shutting down")) {
		b.t.Errorf("%s did not log its shutdown", b.container)
	}
	// Docker's default seccomp profile, a user without privileges: the
	// bot still gets its short CPU slices (internal/cpuslice).
	if bytes.Contains(logs, []byte("short CPU slices unavailable")) {
		b.t.Errorf("%s runs without short CPU slices:\n%s", b.container, logs)
	}
}

func (b *bot) waitFor(what string, ok func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !ok() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out after %v waiting for %s", waitLimit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (b *bot) waitComment(f *state.Forge, repo string, number int, want string) {
	b.t.Helper()
	var last string
	b.waitFor(fmt.Sprintf("a status comment on %s#%d saying %q", repo, number, want), func() bool {
		cs := statusComments(f, repo, number)
		if len(cs) == 0 {
			return false
		}
		last = cs[len(cs)-1]
		return strings.Contains(last, want)
	})
}

// metric reads one sample of the bot's /metrics by its text prefix.
func (b *bot) metric(prefix string) string {
	resp, err := http.Get("http://" + b.addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// processUID is the real user id of the container's main process, read from
// the host's /proc.
func processUID(t *testing.T, container string) string {
	t.Helper()
	pid := strings.TrimSpace(run(t, "inspect", "-f", "{{.State.Pid}}", container))
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
			return f[1]
		}
	}
	t.Fatalf("no Uid line in /proc/%s/status", pid)
	return ""
}

func openLabeled(t *testing.T, f *state.Forge, repo, name, lr string) int {
	t.Helper()
	issue, _, err := f.OpenIssue(repo, "alice", "try "+name, request(name, lr), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Deliveries are synchronous: this returns once the bot has answered.
	if _, err := f.LabelIssue(repo, issue.Number, "alice", []string{"new-experiment"}, nil); err != nil {
		t.Fatal(err)
	}
	return issue.Number
}

func request(name, lr string) string {
	return fmt.Sprintf("Please run this.\n\n```yaml\nname: %s\nparams:\n  lr: %s\n```\n", name, lr)
}

func statusComments(f *state.Forge, repo string, number int) []string {
	var out []string
	_ = f.WithRepo(repo, func(r *state.Repo) error {
		for _, c := range r.Comments(number, "") {
			if strings.Contains(c.Body, pipeline.StatusMarker) {
				out = append(out, c.Body)
			}
		}
		return nil
	})
	return out
}

// branch returns a branch's head and its experiment.yaml ("" when missing).
func branch(f *state.Forge, repo, name string) (head, file string) {
	_ = f.WithRepo(repo, func(r *state.Repo) error {
		sha, ok := r.Branch(name)
		if !ok {
			return nil
		}
		c, _ := r.Commit(sha)
		b, _, _ := r.File(c, "experiment.yaml")
		head, file = sha, string(b)
		return nil
	})
	return head, file
}

func parentOf(f *state.Forge, repo, name string) string {
	var parent string
	_ = f.WithRepo(repo, func(r *state.Repo) error {
		if sha, ok := r.Branch(name); ok {
			if c, _ := r.Commit(sha); len(c.Parents) > 0 {
				parent = c.Parents[0]
			}
		}
		return nil
	})
	return parent
}

// stageInputs puts the local inputs where the Dockerfile's INPUTS=local and
// PLUGINS=test-standins stages read them: a root file system with static
// binaries built here, the Pulumi CLI (with its libraries when it is linked
// dynamically), the CA bundle, and a PULUMI_HOME with the stand-ins.
func stageInputs(t *testing.T, root string) {
	t.Helper()
	dir := filepath.Join(root, "build", "image-inputs")
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	rootfs := filepath.Join(dir, "rootfs")
	bin := filepath.Join(rootfs, "usr", "local", "bin")
	goBuild(t, root, filepath.Join(bin, "expbot"), "./cmd/bot")
	for _, p := range install.Plugins() {
		goBuild(t, root, filepath.Join(dir, "test-standins", p.Dir(), p.Binary()), "./cmd/"+p.Binary())
	}

	cli, err := pulumicli.Locate(context.Background(), "")
	if err != nil {
		t.Fatalf("the image test needs the Pulumi CLI (run `make pulumi`): %v", err)
	}
	copyFile(t, cli.Path, filepath.Join(bin, "pulumi"))
	for _, lib := range sharedLibraries(t, cli.Path) {
		copyFile(t, lib, filepath.Join(rootfs, lib))
	}
	for _, ca := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"} {
		if _, err := os.Stat(ca); err == nil {
			copyFile(t, ca, filepath.Join(rootfs, "etc", "ssl", "certs", "ca-certificates.crt"))
			return
		}
	}
	t.Fatal("no CA bundle found on this machine to put into the image")
}

// goBuild builds a static binary, as the image's empty base needs.
func goBuild(t *testing.T, root, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// sharedLibraries lists the files a dynamically linked binary loads (its
// interpreter included), as ldd resolves them here; none for a static one.
func sharedLibraries(t *testing.T, path string) []string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	if !dynamic {
		return nil
	}
	out, err := exec.Command("ldd", path).Output()
	if err != nil {
		t.Fatalf("%s is linked dynamically and ldd could not list its libraries: %v", path, err)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		for _, f := range strings.Fields(line) {
			if strings.HasPrefix(f, "/") {
				libs = append(libs, f)
			}
		}
	}
	return libs
}

// copyFile copies src (following links) to dst with src's mode.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, st.Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
