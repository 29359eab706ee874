package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// Inbox acknowledges a delivery as soon as it is kept (Store.AcceptDelivery:
// one write) and applies it right after, through Intake, in the
// background. On PostgreSQL the intake's transaction is a dozen round trips
// to the server, each waiting on two busy processes; the inbox takes them
// off the acknowledgement, which then waits for one statement and its
// commit. Nothing is lost between the two: the kept delivery is applied by
// this process or, when it dies first, by any other sharing the store; an
// application recorded once (Tx.RecordDelivery) has no second effect.
//
// What the forge is told changes with it: every kept delivery is answered
// "accepted" (202); a late one is found stale when it is applied, and a
// failed application is tried again here rather than by the forge.
type Inbox struct {
	Store  store.Store
	Intake *Intake
	Log    zerolog.Logger
	// Metrics counts applications by outcome; nil counts nothing.
	Metrics *InboxMetrics
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Gather is how long a wakeup waits for more deliveries before it
	// claims; zero means gatherFor.
	Gather time.Duration
	// Gate lets acknowledgements in flight go before each delivery is
	// applied; nil waits for none.
	Gate *ackfirst.Gate

	wakeOnce sync.Once
	wake     chan struct{}
}

// The inbox's pace. Woken by a delivery it kept, it gathers for
// gatherFor before it claims, so that a steady stream is applied in
// batches: a batch's transaction, commit and job requests serve all its
// deliveries, and on PostgreSQL every statement saved is a round trip
// saved on both sides. Up to batchAppliers batches of up to claimBatch
// deliveries are applied at once, each in one transaction per repository,
// applyParallel repositories at a time. A claim hides its deliveries from
// other claims for claimTTL, longer than an application may take
// (applyTimeout), after which a claimer that died is taken over. Idle, the
// inbox looks every inboxPoll for deliveries that other processes accepted
// and did not apply; it is woken at once for those it accepts itself.
const (
	gatherFor     = 50 * time.Millisecond
	claimBatch    = 16
	batchAppliers = 2
	claimTTL      = 30 * time.Second
	applyTimeout  = 20 * time.Second
	inboxPoll     = time.Second
	applyParallel = 4
	retryBase     = time.Second
	retryMax      = time.Minute
)

// Record implements handlers.Recorder: what Intake.Screen lets through is
// kept and acknowledged, then applied by Run.
func (ib *Inbox) Record(ctx context.Context, d event.Delivery) (event.Outcome, error) {
	if !ib.Intake.Screen(d) {
		return event.OutcomeIgnored, nil
	}
	payload, err := event.Encode(d.Payload)
	if err != nil {
		return 0, fmt.Errorf("keep delivery %s: %w", d.ID, err)
	}
	dup, err := ib.Store.AcceptDelivery(ctx, store.Inbound{Forge: d.Forge, ID: d.ID, Event: d.Event, ReceivedAt: d.ReceivedAt, Payload: payload})
	if err != nil {
		return 0, fmt.Errorf("keep delivery %s: %w", d.ID, err)
	}
	if dup {
		return event.OutcomeDuplicate, nil
	}
	select {
	case ib.wakeup() <- struct{}{}:
	default: // Run is awake already
	}
	return event.OutcomeAccepted, nil
}

func (ib *Inbox) wakeup() chan struct{} {
	ib.wakeOnce.Do(func() { ib.wake = make(chan struct{}, 1) })
	return ib.wake
}

func (ib *Inbox) now() time.Time {
	if ib.Now != nil {
		return ib.Now()
	}
	return time.Now()
}

// Run applies kept deliveries until ctx ends: it claims batches while one
// of its batchAppliers is free, and each applies its batch. A batch claimed
// is applied to the end, so that a shutdown leaves nothing claimed for
// others to wait for.
func (ib *Inbox) Run(ctx context.Context) {
	wake := ib.wakeup()
	free := make(chan struct{}, batchAppliers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case free <- struct{}{}:
		}
		batch, err := ib.Store.ClaimInbound(ctx, ib.now(), claimTTL, claimBatch)
		if err != nil && ctx.Err() == nil {
			ib.Log.Warn().Err(err).Msg("inbox: claiming deliveries failed; trying again")
		}
		if len(batch) > 0 {
			wg.Go(func() {
				defer func() { <-free }()
				ib.applyBatch(context.WithoutCancel(ctx), batch)
			})
			if len(batch) == claimBatch {
				continue // more may wait
			}
		} else {
			<-free
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
			select {
			case <-ctx.Done():
				return
			case <-time.After(cmp.Or(ib.Gather, gatherFor)):
			}
		case <-time.After(inboxPoll):
		}
	}
}

// applyBatch applies a claimed batch, one transaction per repository
// (applyParallel at a time): transactions of different repositories touch
// different rows and jobs, so they never wait for each other's commits.
// Within a repository, deliveries are applied in the order they were
// accepted.
func (ib *Inbox) applyBatch(ctx context.Context, batch []store.Inbound) {
	var (
		byRepo = map[string][]kept{}
		order  []string
	)
	for _, in := range batch {
		k := kept{Inbound: in}
		k.ev, k.err = event.Decode(in.Payload)
		repo := k.repo()
		if _, ok := byRepo[repo]; !ok {
			order = append(order, repo)
		}
		byRepo[repo] = append(byRepo[repo], k)
	}
	var (
		wg    sync.WaitGroup
		slots = make(chan struct{}, applyParallel)
	)
	for _, repo := range order {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			ib.applyRepo(ctx, byRepo[repo])
		})
	}
	wg.Wait()
}

// applyRepo applies a repository's deliveries of a batch in one
// transaction: one commit for all, and the repository's jobs asked for
// once. When any of them fails, none is applied by it, and they are
// applied one by one instead, so that a delivery that cannot be applied
// holds up no other.
func (ib *Inbox) applyRepo(ctx context.Context, ks []kept) {
	var applied []int64
	if len(ks) > 1 {
		var outs []event.Outcome
		tctx, cancel := context.WithTimeout(ctx, applyTimeout)
		err := ib.Store.InKeptTx(tctx, func(ctx context.Context, tx store.Tx) error {
			outs, applied = outs[:0], applied[:0]
			shared := func(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error { return fn(ctx, tx) }
			for _, k := range ks {
				ib.Gate.Wait(ctx)
				if k.err != nil {
					return k.err
				}
				out, err := ib.Intake.applyWithin(ctx, shared, k.delivery())
				if err != nil {
					return fmt.Errorf("delivery %s: %w", k.ID, err)
				}
				outs, applied = append(outs, out), append(applied, k.Seq)
			}
			return nil
		})
		cancel()
		if err == nil {
			for _, out := range outs {
				ib.Metrics.observe(out.String())
			}
			ib.drop(ctx, applied)
			return
		}
		ib.Log.Info().Err(err).Int("deliveries", len(ks)).Msg("inbox: applying deliveries together failed; applying them one by one")
		applied = applied[:0]
	}
	for _, k := range ks {
		if ib.apply(ctx, k) {
			applied = append(applied, k.Seq)
		}
	}
	ib.drop(ctx, applied)
}

func (ib *Inbox) drop(ctx context.Context, applied []int64) {
	if len(applied) == 0 {
		return
	}
	if err := ib.Store.DropInbound(ctx, applied); err != nil {
		// They come again once the claim ends, and are found recorded.
		ib.Log.Warn().Err(err).Int("deliveries", len(applied)).Msg("inbox: dropping applied deliveries failed")
	}
}

// kept is a claimed delivery and its event, read.
type kept struct {
	store.Inbound
	ev  event.Event
	err error // why the event could not be read
}

func (k kept) delivery() event.Delivery {
	return event.Delivery{Forge: k.Forge, ID: k.ID, Event: k.Event, ReceivedAt: k.ReceivedAt, Payload: k.ev}
}

// repo names the repository a kept delivery is about; one whose event
// cannot be read is its own.
func (k kept) repo() string {
	if r, ok := eventRepo(k.ev); ok {
		return string(r.Forge) + "\x1f" + r.Path
	}
	return "seq:" + strconv.FormatInt(k.Seq, 10)
}

// apply applies one kept delivery; false leaves it for a later try.
func (ib *Inbox) apply(ctx context.Context, in kept) bool {
	ctx, cancel := context.WithTimeout(ctx, applyTimeout)
	defer cancel()
	log := ib.Log.With().Str("forge", string(in.Forge)).Str("delivery", in.ID).Str("event", in.Event).Logger()
	err := in.err
	if err == nil {
		ib.Gate.Wait(ctx)
		var out event.Outcome
		out, err = ib.Intake.applyWithin(ctx, ib.Store.InKeptTx, in.delivery())
		if err == nil {
			ib.Metrics.observe(out.String())
			log.Debug().Str("outcome", out.String()).Dur("waited", ib.now().Sub(in.ReceivedAt)).Msg("delivery applied")
			return true
		}
	}
	ib.Metrics.observe("retrying")
	wait := retryDelay(in.Attempts)
	log.Warn().Err(err).Int("attempt", in.Attempts+1).Dur("retry_in", wait).Msg("applying a delivery failed; it will be tried again")
	if err := ib.Store.RetryInbound(ctx, in.Seq, ib.now().Add(wait)); err != nil {
		log.Warn().Err(err).Msg("inbox: postponing a delivery failed; it comes again when its claim ends")
	}
	return false
}

// retryDelay backs off from retryBase, doubling, up to retryMax.
func retryDelay(attempts int) time.Duration {
	d := retryBase
	for range attempts {
		if d *= 2; d >= retryMax {
			return retryMax
		}
	}
	return d
}
