package e2e

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/demo"
	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// encoded is every form in which a provider's error may echo secret.
func encoded(secret string) map[string]string {
	js, _ := json.Marshal(secret)
	return map[string]string{
		"plain":                 secret,
		"query-escaped":         url.QueryEscape(secret),
		"path-escaped":          url.PathEscape(secret),
		"json":                  string(js[1 : len(js)-1]),
		"base64":                base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64url":             base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"base64 x-access-token": base64.StdEncoding.EncodeToString([]byte("x-access-token:" + secret)),
		"base64 oauth2":         base64.RawURLEncoding.EncodeToString([]byte("oauth2:" + secret)),
	}
}

// findSecrets reports every encoding of every configured secret in text.
func findSecrets(text string) []string {
	var found []string
	for _, s := range []string{botToken, githubSecret, gitlabToken, passphrase} {
		for name, enc := range encoded(s) {
			if strings.Contains(text, enc) {
				found = append(found, fmt.Sprintf("%s (%s)", s, name))
			}
		}
	}
	return found
}

// The forge answers the providers' branch-create call with a 422 whose
// message repeats the request's credentials (as sent, URL-escaped, base64
// of user:token). The experiment fails with that message, scrubbed: no
// encoding of any secret reaches the comments, the metrics, the database,
// the Pulumi state or the log.
func TestProviderErrorsEchoingCredentialsAreScrubbed(t *testing.T) {
	h := newHarness(t)
	for _, suffix := range []string{"/git/refs", "/repository/branches"} {
		if err := h.sim.AddFault(forgesim.Fault{Method: http.MethodPost, PathSuffix: suffix, EchoAuth: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, flavor := range []string{"github", "gitlab"} {
		t.Run(flavor, func(t *testing.T) {
			repo := repoFor[flavor]
			issue, _, err := h.forge.OpenIssue(repo, "alice", "echo", request("echo", "0.1"), []string{label})
			if err != nil {
				t.Fatal(err)
			}
			c := h.waitComment(t, repo, issue.Number, "failed")
			// The echo reached the comment, masked: the test would see a leak.
			if !strings.Contains(c.Body, "request had") || !strings.Contains(c.Body, "[REDACTED]") {
				t.Errorf("the status comment does not quote the forge's (masked) answer:\n%s", c.Body)
			}
			_ = h.forge.WithRepo(repo, func(r *state.Repo) error {
				for _, c := range r.Comments(issue.Number, "") {
					if found := findSecrets(c.Body); len(found) > 0 {
						t.Errorf("comment %d holds %v:\n%s", c.ID, found, c.Body)
					}
				}
				return nil
			})
		})
	}
	if found := findSecrets(h.scrape()); len(found) > 0 {
		t.Errorf("/metrics holds %v", found)
	}
	h.stop()
	files := 0
	for _, root := range []string{h.dataDir, h.log.Name()} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := readPlain(path)
			if err != nil {
				return err
			}
			files++
			if found := findSecrets(string(b)); len(found) > 0 {
				t.Errorf("%s holds %v", strings.TrimPrefix(path, root), found)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 5 {
		t.Fatalf("only %d files looked at: the walk missed the data directory", files)
	}
	if b, _ := os.ReadFile(h.log.Name()); !bytes.Contains(b, []byte("request had")) {
		t.Error("the log never mentions the forge's answer: the test did not exercise the log")
	}
}

// Twenty clients that send their body one byte every 2 s are answered 408
// and disconnected once body_timeout has passed, on both endpoints.
func TestSlowBodiesAreCutOff(t *testing.T) {
	const bound = 6 * time.Second
	h := newHarnessWith(t, demo.Seed, func(h *harness, _ string) {
		h.envSet = map[string]string{"EXPBOT_BODY_TIMEOUT": bound.String()}
	}, true)
	type result struct {
		status int
		took   time.Duration
		err    error
	}
	results := make(chan result, 20)
	for i := range 20 {
		go func() {
			hdr := "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: issues\r\nX-GitHub-Delivery: slow-" + strconv.Itoa(i) +
				"\r\nX-Hub-Signature-256: sha256=" + strings.Repeat("0", 64) + "\r\n"
			if i%2 == 1 { // GitLab with the right token: authenticated, still bounded
				hdr = "POST /webhooks/gitlab HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Issue Hook\r\nX-Gitlab-Token: " + gitlabToken + "\r\n"
			}
			hdr += "Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
			start := time.Now()
			conn, err := net.Dial("tcp", h.addr)
			if err != nil {
				results <- result{err: err}
				return
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, hdr); err != nil {
				results <- result{err: err}
				return
			}
			stop := make(chan struct{})
			go func() { // one byte every 2 s until the server hangs up
				for {
					select {
					case <-stop:
						return
					case <-time.After(2 * time.Second):
						if _, err := conn.Write([]byte("{")); err != nil {
							return
						}
					}
				}
			}()
			defer close(stop)
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
			br := bufio.NewReader(conn)
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				results <- result{err: err, took: time.Since(start)}
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			// After the answer the server closes the connection (EOF, or a
			// reset if a byte was on its way).
			_, err = br.ReadByte()
			var ne net.Error
			if err == nil || errors.As(err, &ne) && ne.Timeout() {
				results <- result{status: res.StatusCode, err: fmt.Errorf("connection still open after the answer: %v", err)}
				return
			}
			results <- result{status: res.StatusCode, took: time.Since(start)}
		}()
	}
	for range 20 {
		r := <-results
		switch {
		case r.err != nil:
			t.Errorf("slow client: %v (after %v)", r.err, r.took)
		case r.status != http.StatusRequestTimeout:
			t.Errorf("slow client got %d, want 408", r.status)
		case r.took > bound+20*time.Second:
			t.Errorf("slow client cut off only after %v (body_timeout %v)", r.took, bound)
		}
	}
}

// vmRSS reads the resident set size of pid, in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// A flood of large bodies with made-up signatures, all at once, keeps the
// bot's memory bounded by the unverified-body budget, and the memory goes
// back to about the idle footprint afterwards.
func TestFloodOfUnsignedBodiesKeepsMemoryBounded(t *testing.T) {
	const (
		bodies    = 12
		size      = 24 << 20
		peakLimit = 200 << 20 // over idle; unbounded, 12 bodies take well over twice that
		backLimit = 48 << 20  // over idle, once the flood is over
	)
	h := newHarness(t)
	pid := h.cmd.Process.Pid
	time.Sleep(2 * time.Second) // let start-up settle
	idle := vmRSS(t, pid)

	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				peak = max(peak, vmRSS(t, pid))
			}
		}
	}()
	body := bytes.Repeat([]byte("x"), size)
	statuses := make(chan int, bodies)
	var wg sync.WaitGroup
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, err := http.NewRequest(http.MethodPost, "http://"+h.addr+"/webhooks/github", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			req.Header.Set("X-GitHub-Event", "issues")
			req.Header.Set("X-GitHub-Delivery", "flood-"+strconv.Itoa(i))
			req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	close(statuses)
	counts := map[int]int{}
	for s := range statuses {
		counts[s]++
	}
	if counts[http.StatusUnauthorized] == 0 || counts[http.StatusUnauthorized]+counts[http.StatusServiceUnavailable] != bodies {
		t.Errorf("answers %v, want only 401 and 503 (and some 401)", counts)
	}
	t.Logf("idle %d MiB, peak %d MiB, answers %v", idle>>20, peak>>20, counts)
	if peak-idle > peakLimit {
		t.Errorf("memory rose by %d MiB during the flood, want at most %d MiB", (peak-idle)>>20, peakLimit>>20)
	}
	var now int64
	deadline := time.Now().Add(time.Minute)
	for now = vmRSS(t, pid); now-idle > backLimit && time.Now().Before(deadline); now = vmRSS(t, pid) {
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("after the flood: %d MiB", now>>20)
	if now-idle > backLimit {
		t.Errorf("a minute after the flood the bot holds %d MiB more than idle, want at most %d MiB", (now-idle)>>20, backLimit>>20)
	}
}

// GitHub's form content type works end to end: the signed form's payload
// field is the delivery. A form without one is refused with the reason.
func TestGitHubFormEncodedDelivery(t *testing.T) {
	h := newHarness(t)
	const repo = "acme/llm"
	issue, _, err := h.forge.OpenIssue(repo, "alice", "form", request("form", "0.3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The "opened" delivery the forge sent (ignored: no label), turned into
	// the "labeled" one GitHub would send.
	var payload map[string]any
	for _, d := range h.sim.Deliveries() {
		if d.Event == "issues" && strings.Contains(string(d.Payload), `"opened"`) && strings.Contains(string(d.Payload), `"title":"form"`) {
			if err := json.Unmarshal(d.Payload, &payload); err != nil {
				t.Fatal(err)
			}
		}
	}
	if payload == nil {
		t.Fatal("no opened delivery for the issue")
	}
	lbl := map[string]any{"id": 1, "name": label, "color": "ededed", "default": false}
	payload["action"] = "labeled"
	payload["label"] = lbl
	payload["issue"].(map[string]any)["labels"] = []any{lbl}
	js, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	send := func(id, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+h.addr+"/webhooks/github", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, []byte(githubSecret))
		mac.Write([]byte(body))
		req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		req.Header.Set("X-GitHub-Event", "issues")
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, body := send("form-missing", "zen=1"); st != http.StatusBadRequest || !strings.Contains(body, "payload field missing") {
		t.Errorf("form without payload: %d %s", st, body)
	}
	if st, body := send("form-ok", "payload="+url.QueryEscape(string(js))); st != http.StatusAccepted {
		t.Fatalf("form delivery: %d %s", st, body)
	}
	h.waitComment(t, repo, issue.Number, "is ready")
	if b := h.branch(repo, fmt.Sprintf("exp/%d-form", issue.Number)); !b.exists || !strings.Contains(b.file, "lr: 0.3") {
		t.Errorf("branch from the form delivery: %+v", b)
	}
}
