package inlineup

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/pulumitest"
)

// An update is one CLI run, and what it reports agrees with the history
// entry the Automation API would have read for it. It leaves no event log
// behind.
func TestUpRunsTheCLIOnce(t *testing.T) {
	ctx := context.Background()
	env := pulumitest.New(t)
	cli := env.Record()
	st := env.Stack(ctx, t, "expbot", "github.o-r", func(ctx *pulumi.Context) error {
		ctx.Export("plain", pulumi.String("shown"))
		ctx.Export("token", pulumi.ToSecret(pulumi.String("not shown")))
		return nil
	})
	cli.Runs() // making the stack
	for i, want := range []map[string]int{{"create": 1}, {"same": 1}} {
		var kinds []string
		res, err := Up(ctx, &st, func(ev events.EngineEvent) {
			switch {
			case ev.PreludeEvent != nil:
				kinds = append(kinds, "prelude")
			case ev.SummaryEvent != nil:
				kinds = append(kinds, "summary")
			}
		})
		if err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		if !maps.Equal(res.Changes, want) {
			t.Errorf("update %d: changes %v, want %v", i, res.Changes, want)
		}
		if !slices.Equal(kinds, []string{"prelude", "summary"}) {
			t.Errorf("update %d: events %v, want the prelude, then the summary", i, kinds)
		}
		runs := cli.Runs()
		if len(runs) != 1 || !slices.Contains(runs[0], "up") {
			t.Errorf("update %d: CLI runs %q, want the update alone", i, runs)
		}
		hist, err := st.History(ctx, 1, 1)
		if err != nil || len(hist) != 1 || hist[0].ResourceChanges == nil {
			t.Fatalf("history: %v, %v", hist, err)
		}
		if !maps.Equal(*hist[0].ResourceChanges, res.Changes) {
			t.Errorf("update %d: history says %v, the update %v", i, *hist[0].ResourceChanges, res.Changes)
		}
		cli.Runs()
	}
	if _, err := os.Stat(filepath.Join(st.Workspace().WorkDir(), EventLog)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("event log left after the updates: %v", err)
	}
	out, err := st.Outputs(ctx)
	if err != nil || out["plain"].Value != "shown" || out["token"].Value != "not shown" || !out["token"].Secret {
		t.Errorf("outputs after the updates: %v, %v", out, err)
	}
}

// A program that fails makes a failed update: the CLI's exit code and
// output in the error, the engine's diagnostic among the events, and the
// program's message in both.
func TestUpReportsAFailingProgram(t *testing.T) {
	ctx := context.Background()
	env := pulumitest.New(t)
	st := env.Stack(ctx, t, "expbot", "github.o-r", func(*pulumi.Context) error {
		return errors.New("the request cannot be met")
	})
	var diags []string
	res, err := Up(ctx, &st, func(ev events.EngineEvent) {
		if d := ev.DiagnosticEvent; d != nil && d.Severity == "error" {
			diags = append(diags, d.Message)
		}
	})
	var upErr *Error
	if !errors.As(err, &upErr) || upErr.Code == 0 {
		t.Fatalf("Up = %v, want an *Error with the CLI's exit code", err)
	}
	if !strings.Contains(err.Error(), "the request cannot be met") {
		t.Errorf("error text misses the program's message: %v", err)
	}
	if !slices.ContainsFunc(diags, func(m string) bool { return strings.Contains(m, "the request cannot be met") }) {
		t.Errorf("error diagnostics %q miss the program's message", diags)
	}
	if Locked(err) {
		t.Error("a failed program reported as a locked stack")
	}
	if res.Changes == nil {
		t.Error("no summary from the engine of a failed update")
	}
}

// A CLI that cannot start the update (here: a stack that does not exist)
// writes no event log; its error is the CLI's, and the log an earlier
// process left (killed in the middle of an update) is not taken for this
// update's.
func TestUpWithoutAnEventLog(t *testing.T) {
	ctx := context.Background()
	env := pulumitest.New(t)
	st := env.Stack(ctx, t, "expbot", "github.o-r", func(*pulumi.Context) error { return nil })
	if err := st.Workspace().RemoveStack(ctx, st.Name()); err != nil {
		t.Fatal(err)
	}
	stale := `{"sequence":1,"timestamp":1,"diagnosticEvent":{"severity":"error","message":"an earlier update's"}}` + "\n"
	if err := os.WriteFile(filepath.Join(st.Workspace().WorkDir(), EventLog), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	var seen int
	_, err := Up(ctx, &st, func(events.EngineEvent) { seen++ })
	var upErr *Error
	if !errors.As(err, &upErr) || !strings.Contains(upErr.Stderr, "github.o-r") {
		t.Fatalf("Up = %v, want the CLI's complaint about the missing stack", err)
	}
	if seen != 0 {
		t.Errorf("%d events of an earlier update reported", seen)
	}
}

func TestLocked(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"diy backend", &Error{Code: 255, Stderr: "error: the stack is currently locked by 1 lock(s)."}, true},
		{"service", &Error{Code: 255, Stderr: "error: [409] Conflict: Another update is currently in progress."}, true},
		{"wrapped", errors.Join(errors.New("run"), &Error{Stderr: "the stack is currently locked by 1 lock(s)"}), true},
		{"other failure", &Error{Code: 255, Stderr: "error: update failed"}, false},
		{"text alone", errors.New("the stack is currently locked by 1 lock(s)"), false},
		{"nil", nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Locked(c.err); got != c.want {
				t.Errorf("Locked = %v, want %v", got, c.want)
			}
		})
	}
}

func TestReadEvents(t *testing.T) {
	for _, c := range []struct {
		name    string
		log     *string // nil: no file
		want    []int   // sequence numbers
		wantErr bool
	}{
		{"no log", nil, nil, false},
		{"empty", ptr(""), nil, false},
		{"whole lines", ptr(`{"sequence":1,"timestamp":1}` + "\n" + `{"sequence":2,"timestamp":1}` + "\n"), []int{1, 2}, false},
		{"last line cut short", ptr(`{"sequence":1,"timestamp":1}` + "\n" + `{"sequence":2,"time`), []int{1}, false},
		{"not an event", ptr(`{"sequence":1,"timestamp":1}` + "\nnot json\n"), []int{1}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "events.jsonl")
			if c.log != nil {
				if err := os.WriteFile(path, []byte(*c.log), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var got []int
			err := readEvents(path, func(ev events.EngineEvent) { got = append(got, ev.Sequence) })
			if (err != nil) != c.wantErr || !slices.Equal(got, c.want) {
				t.Errorf("readEvents = %v, %v; want %v, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
}

// The event log is the CLI's output: whatever it holds, reading it ends
// without a panic and yields at most one event per line.
func FuzzReadEvents(f *testing.F) {
	f.Add(`{"sequence":1,"timestamp":1,"summaryEvent":{"resourceChanges":{"create":1}}}` + "\n")
	f.Add(`{"diagnosticEvent":{"severity":"error","message":"x"}}` + "\n{")
	f.Fuzz(func(t *testing.T, log string) {
		path := filepath.Join(t.TempDir(), "events.jsonl")
		if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
			t.Fatal(err)
		}
		n := 0
		_ = readEvents(path, func(events.EngineEvent) { n++ })
		if lines := strings.Count(log, "\n"); n > lines {
			t.Errorf("%d events from %d lines", n, lines)
		}
	})
}

func ptr(s string) *string { return &s }
