package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The acknowledgement benchmark's client runs in a process of its own: in
// the test process it would share a heap, a garbage collector and a
// scheduler with the simulated forge, which answers the bot's Pulumi runs
// and comments meanwhile, and the client's own delays would count as the
// bot's.

// loadGenEnv, set to 1, makes the test binary a load generator: it reads a
// loadPlan on stdin and writes a loadResult on stdout.
const loadGenEnv = "EXPBOT_E2E_LOADGEN"

// ackReq is one signed GitHub delivery.
type ackReq struct {
	ID   string `json:"id"`
	Body []byte `json:"body"`
	Sig  string `json:"sig"`
}

// loadPlan: WarmUp first (not measured, to every URL), then Requests,
// request i to URLs[i % len(URLs)] (a round-robin load balancer's
// spread). Open loop (Interval > 0): request i leaves at start + i*Interval
// whatever happened to the others. Closed loop (Concurrency > 0 instead):
// that many clients send the next request as soon as their last was
// answered, saturating the bot.
type loadPlan struct {
	URLs        []string      `json:"urls"`
	Interval    time.Duration `json:"interval"`
	Concurrency int           `json:"concurrency"`
	WarmUp      ackReq        `json:"warm_up"`
	Requests    []ackReq      `json:"requests"`
}

// loadResult holds, per request, its latency from its scheduled time (open
// loop) or from when it was sent (closed loop), how late the client sent it
// (open loop; included in the latency), the status and the transport error
// ("" for none); and the time from the first request sent to the last
// answered.
type loadResult struct {
	Latency []time.Duration `json:"latency"`
	Lag     []time.Duration `json:"lag"`
	Status  []int           `json:"status"`
	Err     []string        `json:"err"`
	Elapsed time.Duration   `json:"elapsed"`
	// ClientCPU is the load generator's own CPU time (set by
	// runLoadGenerator, from the finished process).
	ClientCPU time.Duration `json:"-"`
}

func loadGenMain(in io.Reader, out io.Writer) int {
	var plan loadPlan
	if err := json.NewDecoder(in).Decode(&plan); err != nil {
		fmt.Fprintln(os.Stderr, "load generator: read plan:", err)
		return 2
	}
	res, err := sendOpenLoop(plan)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load generator:", err)
		return 1
	}
	if err := json.NewEncoder(out).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "load generator: write result:", err)
		return 1
	}
	return 0
}

func sendOpenLoop(plan loadPlan) (loadResult, error) {
	client := &http.Client{
		Timeout: 30 * time.Second,
		// Enough idle connections that a run of slow answers does not make
		// the next requests open new ones.
		Transport: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute},
	}
	defer client.CloseIdleConnections()
	if len(plan.URLs) == 0 {
		return loadResult{}, errors.New("no URL to send to")
	}
	// The first request pays for a connection and a cold database, on
	// each bot; the first is new, the others are duplicates.
	for _, u := range plan.URLs {
		if code, err := postDelivery(client, u, plan.WarmUp); err != nil || code != http.StatusAccepted {
			return loadResult{}, fmt.Errorf("warm-up delivery to %s: %d %v", u, code, err)
		}
	}
	n := len(plan.Requests)
	res := loadResult{Latency: make([]time.Duration, n), Lag: make([]time.Duration, n), Status: make([]int, n), Err: make([]string, n)}
	if plan.Concurrency > 0 {
		return sendClosedLoop(client, plan, res), nil
	}
	var wg sync.WaitGroup
	// The dispatcher has a thread of its own and sleeps to absolute times
	// (sleepUntil): time.Sleep wakes up to a millisecond late under load,
	// and that delay would count as the bot's.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := time.Now().Add(20 * time.Millisecond)
	for i, req := range plan.Requests {
		at := start.Add(time.Duration(i) * plan.Interval)
		sleepUntil(at)
		wg.Go(func() {
			res.Lag[i] = time.Since(at)
			code, err := postDelivery(client, plan.URLs[i%len(plan.URLs)], req)
			res.Latency[i], res.Status[i] = time.Since(at), code
			if err != nil {
				res.Err[i] = err.Error()
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res, nil
}

// sendClosedLoop sends plan's requests from plan.Concurrency clients, each
// taking the next request as soon as its last was answered.
func sendClosedLoop(client *http.Client, plan loadPlan, res loadResult) loadResult {
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range plan.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(plan.Requests) {
					return
				}
				sent := time.Now()
				code, err := postDelivery(client, plan.URLs[i%len(plan.URLs)], plan.Requests[i])
				res.Latency[i], res.Status[i] = time.Since(sent), code
				if err != nil {
					res.Err[i] = err.Error()
				}
			}
		})
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	return res
}

// runLoadGenerator runs plan in a child process (this test binary as the
// load generator).
func runLoadGenerator(b *testing.B, plan loadPlan) loadResult {
	b.Helper()
	in, err := json.Marshal(plan)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), loadGenEnv+"=1")
	var out, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &out, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("load generator: %v\n%s", err, stderr.Bytes())
	}
	var res loadResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		b.Fatalf("load generator result: %v", err)
	}
	if len(res.Latency) != len(plan.Requests) {
		b.Fatalf("load generator answered for %d requests, sent %d", len(res.Latency), len(plan.Requests))
	}
	res.ClientCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res
}

func postDelivery(c *http.Client, url string, r ackReq) (int, error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(r.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "GitHub-Hookshot/bench")
	req.Header.Set("X-GitHub-Event", "issues")
	req.Header.Set("X-GitHub-Delivery", r.ID)
	req.Header.Set("X-Hub-Signature-256", r.Sig)
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body) // to the end, so the connection is reused
	return resp.StatusCode, nil
}
