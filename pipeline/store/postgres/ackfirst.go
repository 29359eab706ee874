package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/expbot/expbot/internal/ackfirst"
)

// WithAckGate makes every statement but an acknowledgement's
// (AcceptDelivery, on connections of their own) wait at g before it is sent:
// the server's backends then serve an acknowledgement first, as the
// process does. Default: no gate.
func WithAckGate(g *ackfirst.Gate) Option { return func(c *config) { c.gate = g } }

// gateTracer holds back a connection's statements at the gate (pgx calls a
// tracer's start in the statement's goroutine, before sending it).
type gateTracer struct{ g *ackfirst.Gate }

func (t gateTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	t.g.Wait(ctx)
	return ctx
}

func (gateTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (t gateTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	t.g.Wait(ctx)
	return ctx
}

func (gateTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (gateTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}
