package store

import (
	"context"
	"encoding/json"
	"fmt"
)

// Scrubber removes secrets from text (internal/scrub implements it).
type Scrubber interface {
	String(string) string
	Bytes([]byte) []byte
	Error(error) error
}

// Scrubbed returns st with every text that comes from outside the process
// (an experiment's outcome, a run's summary, requests and their errors,
// task payloads, the errors jobs fail with, which the queue keeps) scrubbed
// by sc before it is written.
func Scrubbed(st Store, sc Scrubber) Store { return &scrubbed{Store: st, sc: sc} }

type scrubbed struct {
	Store
	sc Scrubber
}

func (s *scrubbed) InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx Tx) error { return fn(ctx, &scrubbedTx{Tx: tx, sc: s.sc}) })
}

func (s *scrubbed) InKeptTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.Store.InKeptTx(ctx, func(ctx context.Context, tx Tx) error { return fn(ctx, &scrubbedTx{Tx: tx, sc: s.sc}) })
}

func (s *scrubbed) FinishRun(ctx context.Context, run Run) error {
	run.Summary = s.sc.String(run.Summary)
	return s.Store.FinishRun(ctx, run)
}

// Start scrubs the errors of jobs: the queue records them.
func (s *scrubbed) Start(ctx context.Context, h Handlers) error {
	if f := h.Reconcile; f != nil {
		h.Reconcile = func(ctx context.Context, repo RepoKey) error { return s.sc.Error(f(ctx, repo)) }
	}
	if f := h.Report; f != nil {
		h.Report = func(ctx context.Context, id int64) error { return s.sc.Error(f(ctx, id)) }
	}
	if len(h.Tasks) > 0 {
		tasks := make(map[string]func(context.Context, json.RawMessage) error, len(h.Tasks))
		for kind, f := range h.Tasks {
			tasks[kind] = func(ctx context.Context, payload json.RawMessage) error { return s.sc.Error(f(ctx, payload)) }
		}
		h.Tasks = tasks
	}
	return s.Store.Start(ctx, h)
}

// AcceptDelivery scrubs the event kept: its text comes from outside.
func (s *scrubbed) AcceptDelivery(ctx context.Context, d Inbound) (bool, error) {
	d.Payload = s.sc.Bytes(d.Payload)
	return s.Store.AcceptDelivery(ctx, d)
}

type scrubbedTx struct {
	Tx
	sc Scrubber
}

func (t *scrubbedTx) ApplyChange(ctx context.Context, c Change) (Experiment, bool, error) {
	c.Detail = t.sc.String(c.Detail)
	c.Request = t.sc.Bytes(c.Request)
	c.Name, c.Branch, c.BaseRef = t.sc.String(c.Name), t.sc.String(c.Branch), t.sc.String(c.BaseRef)
	c.SourceURL, c.Requester = t.sc.String(c.SourceURL), t.sc.String(c.Requester)
	return t.Tx.ApplyChange(ctx, c)
}

func (t *scrubbedTx) SetOutcome(ctx context.Context, id, gen int64, status Status, detail string, baseSHA string) error {
	return t.Tx.SetOutcome(ctx, id, gen, status, t.sc.String(detail), baseSHA)
}

func (t *scrubbedTx) EnqueueTask(ctx context.Context, task Task) error {
	payload, err := json.Marshal(task)
	if err != nil {
		return fmt.Errorf("encode %s task: %w", task.TaskKind(), err)
	}
	return t.Tx.EnqueueTask(ctx, RawTask{Kind: task.TaskKind(), Payload: t.sc.Bytes(payload)})
}

// Unwrap returns the store below the scrubbing, for what only its driver
// offers (queue.Leasing).
func (s *scrubbed) Unwrap() Store { return s.Store }
