// Package inlineup runs `pulumi up` for a stack whose program is an inline Go
// function, as auto.Stack.Up does, but without the three CLI runs Up makes
// once the update is over: the stack's outputs (twice, plain and with
// secrets) and its last history entry. Each of those starts the CLI again
// and loads the stack's whole state; for a small stack they cost more CPU
// and time than the update itself (docs/performance.md), and the caller
// needs neither: the change counts come from the engine's own summary event.
package inlineup

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Result is what the engine reported of an update.
type Result struct {
	// Changes counts resources by what the update did to them ("create",
	// "same", ...), from the engine's summary event; nil if the CLI ended
	// before it sent one.
	Changes map[string]int
}

// Error is an update the CLI ended with a failure. Its text has the same
// shape as the Automation API's errors (the CLI's output included), so that
// what matched those still matches.
type Error struct {
	Code           int
	Stdout, Stderr string
	Err            error
}

func (e *Error) Error() string {
	return fmt.Sprintf("failed to run update: %v\ncode: %d\nstdout: %s\nstderr: %s\n", e.Err, e.Code, e.Stdout, e.Stderr)
}

func (e *Error) Unwrap() error { return e.Err }

// Locked reports whether err is an update refused because another one
// holds the stack (the texts auto.IsConcurrentUpdateError looks for).
func Locked(err error) bool {
	var e *Error
	return errors.As(err, &e) &&
		(strings.Contains(e.Stderr, "[409] Conflict: Another update is currently in progress.") ||
			strings.Contains(e.Stderr, "the stack is currently locked by"))
}

// EventLog is the file in the workspace's directory that the CLI writes an
// update's events to.
const EventLog = "update-events.jsonl"

// Up updates st with its workspace's inline program, passing flags (such as
// "--continue-on-error") to `pulumi up`. Once the CLI has ended, onEvent
// (if not nil) gets every engine event of the update in order. Updates of
// one workspace must not overlap (nor can they: the stack's lock).
func Up(ctx context.Context, st *auto.Stack, onEvent func(events.EngineEvent), flags ...string) (Result, error) {
	ws := st.Workspace()
	prog := ws.Program()
	if prog == nil {
		return Result{}, errors.New("inlineup: the stack's workspace has no inline program")
	}
	host, err := serve(prog)
	if err != nil {
		return Result{}, fmt.Errorf("start the program's language host: %w", err)
	}
	defer host.close()
	// In the work directory, so that the log of a process killed in the
	// middle is replaced by the next update's, not left to pile up; removed
	// first, or a CLI that fails before it opens the log would have that
	// update's events read as its own.
	eventLog := filepath.Join(ws.WorkDir(), EventLog)
	if err := os.Remove(eventLog); err != nil && !errors.Is(err, os.ErrNotExist) {
		return Result{}, fmt.Errorf("remove an earlier event log: %w", err)
	}
	defer os.Remove(eventLog)

	args := append([]string{"up", "--yes", "--skip-preview", "--suppress-progress",
		"--client=" + host.address, "--exec-kind=" + constant.ExecKindAutoInline,
		"--event-log", eventLog}, flags...)
	args = append(args, "--stack", st.Name())
	env := []string{"PULUMI_DEBUG_COMMANDS=true"}
	if home := ws.PulumiHome(); home != "" {
		env = append(env, "PULUMI_HOME="+home)
	}
	for k, v := range ws.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	stdout, stderr, code, runErr := ws.PulumiCommand().Run(ctx, ws.WorkDir(), nil, nil, nil, env, args...)

	var res Result
	if err := readEvents(eventLog, func(ev events.EngineEvent) {
		if s := ev.SummaryEvent; s != nil {
			res.Changes = make(map[string]int, len(s.ResourceChanges))
			for op, n := range s.ResourceChanges {
				res.Changes[string(op)] = n
			}
		}
		if onEvent != nil {
			onEvent(ev)
		}
	}); err != nil && runErr == nil {
		return res, fmt.Errorf("read the update's events: %w", err)
	}
	if runErr != nil {
		return res, &Error{Code: code, Stdout: stdout, Stderr: stderr, Err: runErr}
	}
	return res, nil
}

// readEvents calls fn for each event in the CLI's event log. A last line
// cut short (a CLI killed while writing it) is not an error; a missing log
// (a CLI that failed before it began the update) holds no events.
func readEvents(path string, fn func(events.EngineEvent)) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return nil // an unterminated last line is one the CLI did not finish
		}
		if err != nil {
			return err
		}
		var ev events.EngineEvent
		if err := json.Unmarshal(line, &ev.EngineEvent); err != nil {
			return fmt.Errorf("event %q: %w", clip(line), err)
		}
		fn(ev)
	}
}

func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}

// host is the language runtime the CLI calls to run the inline program,
// in this process (what the Automation API starts for Stack.Up).
type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	prog    pulumi.RunFunc
	address string
	cancel  chan bool
	done    <-chan error

	mu      sync.Mutex
	idle    *sync.Cond // signalled when running drops
	running int        // programs running
	closed  bool       // no program starts any more
}

func serve(prog pulumi.RunFunc) (*host, error) {
	h := &host{prog: prog, cancel: make(chan bool)}
	h.idle = sync.NewCond(&h.mu)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: h.cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.TracingServerInterceptorOptions(nil),
	})
	if err != nil {
		return nil, err
	}
	h.address, h.done = fmt.Sprintf("127.0.0.1:%d", handle.Port), handle.Done
	return h, nil
}

// close stops the server once a program it runs has returned (the CLI is
// gone by then, so the program's calls to it fail and it ends).
func (h *host) close() {
	h.mu.Lock()
	h.closed = true
	for h.running > 0 {
		h.idle.Wait()
	}
	h.mu.Unlock()
	close(h.cancel)
	<-h.done
}

// Run runs the program against the engine that asked.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errors.New("the update is over")
	}
	h.running++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.running--
		h.idle.Broadcast()
		h.mu.Unlock()
	}()
	var engine string
	if len(req.Args) > 0 {
		engine = req.Args[0]
	}
	pctx, err := pulumi.NewContext(ctx, pulumi.RunInfo{
		EngineAddr:       engine,
		MonitorAddr:      req.GetMonitorAddress(),
		Config:           req.GetConfig(),
		ConfigSecretKeys: req.GetConfigSecretKeys(),
		Project:          req.GetProject(),
		Stack:            req.GetStack(),
		Parallel:         req.GetParallel(),
		DryRun:           req.GetDryRun(),
		Organization:     req.GetOrganization(),
	})
	if err != nil {
		return nil, err
	}
	defer pctx.Close()
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("the program panicked: %v", r)
			}
		}()
		return pulumi.RunWithContext(pctx, h.prog)
	}()
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: "1.0.0"}, nil
}

func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest, pulumirpc.LanguageRuntime_InstallDependenciesServer) error {
	return nil
}
