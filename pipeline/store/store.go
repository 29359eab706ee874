// Package store is the pipeline's durable state behind one interface:
// webhook deliveries (for dedupe), experiments (desired state and what was
// last applied), reconcile runs, and the job queue (River) that shares the
// database so that a delivery, its state change and its job commit together.
//
// Drivers: store/sqlite (embedded, zero set-up) and store/postgres (a
// database several processes share). They hold only SQL: the job queue's
// policy is store/queue's, over River, and both run the same conformance
// suite (storetest.Exercise), the way River layers and tests its own
// drivers.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/expbot/expbot/internal/event"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// RepoKey names one repository on one forge; it is also the unit of
// reconciliation (one Pulumi stack per RepoKey).
type RepoKey struct {
	Forge event.Forge `json:"forge"`
	Path  string      `json:"path"` // "owner/name" or "group/sub/project"
}

// Desired says whether an experiment should exist.
type Desired string

const (
	Active  Desired = "active"
	Retired Desired = "retired"
)

// Status is where an experiment stands with its forge.
type Status string

const (
	Pending  Status = "pending"  // desired state changed, not applied yet
	Running  Status = "running"  // a reconcile run is applying it
	Applied  Status = "applied"  // the forge matches the desired generation
	Failed   Status = "failed"   // the last run failed permanently for it
	Invalid  Status = "invalid"  // the request could not be parsed; nothing to apply
	Released Status = "released" // retired and no longer in the stack
)

// Experiment is one variant branch: what was asked (the request, as the
// spec package parsed it), where it stands, and the thread to answer in.
type Experiment struct {
	ID   int64   `json:"id"`
	Repo RepoKey `json:"repo"`
	// Key is unique within the repository and stable for the experiment's
	// life, e.g. "issue:12"; it names the Pulumi resources.
	Key string `json:"key"`

	Desired      Desired `json:"desired"`
	DeleteBranch bool    `json:"delete_branch"` // on retire: delete instead of keep
	Generation   int64   `json:"generation"`    // bumped by every change of desired state
	Applied      int64   `json:"applied"`       // generation last applied successfully
	Status       Status  `json:"status"`
	Detail       string  `json:"detail"` // last outcome in words (error to fix, change summary)

	Name    string          `json:"name"`
	Branch  string          `json:"branch"`
	BaseRef string          `json:"base_ref"` // as asked; "" = default branch
	BaseSHA string          `json:"base_sha"` // resolved once, then pinned
	Request json.RawMessage `json:"request"`  // the parsed request (spec.Request as JSON)

	// Where the request came from and where the bot answers.
	SourceURL   string       `json:"source_url"`
	Requester   string       `json:"requester"`
	Thread      event.Thread `json:"thread"`
	CommentID   int64        `json:"comment_id"`   // status comment, 0 until posted
	CommentNote string       `json:"comment_note"` // forge-specific handle (GitLab discussion id)

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Change is a request to change an experiment's desired state, keyed by
// (Repo, Key). Fields other than Desired/DeleteBranch replace the stored ones
// when the experiment becomes or stays active. A Change with Status Invalid
// records only Desired, Status and Detail (and the source fields): the last
// valid request (Name, Branch, BaseRef, Request) stays, so a bad edit never
// disturbs a branch that exists. Retiring keeps the request fields too.
type Change struct {
	Repo         RepoKey
	Key          string
	Desired      Desired
	DeleteBranch bool
	Status       Status // Pending for work to do, Invalid for a rejected request
	Detail       string
	Name         string
	Branch       string
	BaseRef      string
	Request      json.RawMessage
	SourceURL    string
	Requester    string
	Thread       event.Thread
}

// Run is one reconcile of one repository.
type Run struct {
	ID         int64     `json:"id"`
	Repo       RepoKey   `json:"repo"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	Outcome    string    `json:"outcome"` // succeeded, failed, retrying
	Summary    string    `json:"summary"` // Pulumi's change summary or the error
}

// Store is implemented by every driver.
type Store interface {
	// InTx runs fn in one transaction. Everything fn does through tx,
	// including enqueued jobs, commits or rolls back together.
	InTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error

	// Experiments lists all of a repository's experiments, oldest first:
	// retired ones too, since a kept branch stays in the stack's inventory.
	Experiments(ctx context.Context, repo RepoKey) ([]Experiment, error)
	// Repos lists the repositories that have experiments, ordered by forge
	// and path: those the scheduled drift checks visit.
	Repos(ctx context.Context) ([]RepoKey, error)
	// Experiment reads one experiment by id.
	Experiment(ctx context.Context, id int64) (Experiment, error)
	// ExperimentByKey reads one experiment by repository and key.
	ExperimentByKey(ctx context.Context, repo RepoKey, key string) (Experiment, error)
	// SetComment remembers the status comment of an experiment. It may be
	// lost in a power cut shortly after it returns (not in a crash of the
	// process): a driver need not wait for its own flush to disk, as the
	// comment's id is already lost if the bot dies between posting the
	// comment and this call. Losing it means one comment posted twice.
	SetComment(ctx context.Context, id, commentID int64, note string) error

	StartRun(ctx context.Context, repo RepoKey, at time.Time) (Run, error)
	FinishRun(ctx context.Context, run Run) error
	// Runs lists a repository's runs, newest first; limit <= 0 means all.
	Runs(ctx context.Context, repo RepoKey, limit int) ([]Run, error)

	// Start runs the job queue's workers with h until Stop; jobs inserted in
	// committed transactions reach h at least once. Cancelling ctx is a
	// hard stop; Stop is the graceful one.
	Start(ctx context.Context, h Handlers) error
	// Stop waits for running jobs to finish until ctx ends, then cancels
	// those still running and waits (briefly) for them to return; a job
	// cancelled so runs again at the next Start. It returns an error when
	// it had to cancel jobs.
	Stop(ctx context.Context) error
	// QueueDepth counts jobs not yet finished (for metrics).
	QueueDepth(ctx context.Context) (int, error)

	// The inbox: deliveries acknowledged before they are applied
	// (pipeline.Inbox). Applying one records it (Tx.RecordDelivery), which
	// is what keeps it from having a second effect; the inbox only keeps
	// it until then.
	//
	// InKeptTx is InTx for applying kept deliveries, whose commit may be
	// lost in a crash of the database server (not of expbot) shortly after
	// it returns. Nothing is lost with it: the deliveries stay in the inbox
	// until DropInbound, which commits after it, and anything the
	// transaction starts (a job, a comment) waits for a commit that does
	// reach the disk, after it.
	InKeptTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
	// AcceptDelivery keeps d to be applied; it is durable when this
	// returns. dup reports that d's id was accepted or recorded before.
	AcceptDelivery(ctx context.Context, d Inbound) (dup bool, err error)
	// ClaimInbound returns up to n accepted deliveries due at now, oldest
	// first, and makes them due again at now+ttl: until then no other claim
	// returns them, after that they come again (their claimer died).
	ClaimInbound(ctx context.Context, now time.Time, ttl time.Duration, n int) ([]Inbound, error)
	// RetryInbound counts a failed application of the delivery seq and
	// makes it due again at at.
	RetryInbound(ctx context.Context, seq int64, at time.Time) error
	// DropInbound removes applied deliveries.
	DropInbound(ctx context.Context, seqs []int64) error
	// InboxDepth counts accepted deliveries not yet applied (for metrics).
	InboxDepth(ctx context.Context) (int, error)

	// TryLockRepo takes repo's run lock, without waiting, for one Pulumi
	// operation on its stack (a reconcile, a drift check, a preview): at
	// most one holder across every process sharing the store. ok is false
	// while another holds it. unlock releases it; so does the end of the
	// holder's process (or, on PostgreSQL, of its database session).
	TryLockRepo(ctx context.Context, repo RepoKey) (unlock func(), ok bool, err error)
	// TryLockComment takes the lock of one status comment (key names it:
	// an experiment's, a sweep's), without waiting, for the reporter that
	// finds, posts or edits it: at most one holder across every process
	// sharing the store, or two replicas could both post a first comment.
	// It is apart from the repositories' run locks, and released like them.
	TryLockComment(ctx context.Context, key string) (unlock func(), ok bool, err error)
	// BeginPulumi records, before this process runs the Pulumi CLI on
	// stack (a Pulumi stack's name) from host, that it does so from at
	// on, and returns the stack's records as they were before (this
	// process's earlier one too): what tells whose a lock the CLI left in
	// the state is (PulumiRun). Callers hold the stack's repository's run
	// lock (TryLockRepo).
	BeginPulumi(ctx context.Context, stack, host string, at time.Time) ([]PulumiRun, error)
	// EndPulumi records that this process's CLI runs on stack ended at at.
	EndPulumi(ctx context.Context, stack string, at time.Time) error
	// PulumiRuns lists the records of stack, oldest first.
	PulumiRuns(ctx context.Context, stack string) ([]PulumiRun, error)
	// ForgetPulumi deletes the record of process on stack: a gone process
	// whose leftovers were dealt with.
	ForgetPulumi(ctx context.Context, stack, process string) error
	// Ping checks the database is reachable (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// Inbound is a delivery acknowledged and not yet applied (Store's inbox).
type Inbound struct {
	Seq        int64 // the order deliveries were accepted in
	Forge      event.Forge
	ID         string
	Event      string
	ReceivedAt time.Time
	Payload    []byte // the event, event.Encode
	Attempts   int    // failed applications so far
}

// PulumiRun records that a process ran, or runs, the Pulumi CLI on a stack
// (Store.BeginPulumi): a lock that the CLI left in the state is that
// process's when it was written from Host between Started and Ended, and
// may be removed once the process is Gone (docs/pulumi-state.md).
type PulumiRun struct {
	Stack   string
	Process string    // the process's id in the job queue (its lease's)
	Host    string    // where the CLI ran: the hostname it writes in its locks
	Started time.Time // before the CLI started, by Host's clock
	Ended   time.Time // after the CLI ended; zero while it may run
	// Self: this process's record. Gone: the process has no live lease
	// (on a database of one process, SQLite: it is not this process), so
	// a CLI it ran is dead too: the CLI dies with its process.
	Self, Gone bool
}

// Tx is what one transaction can do.
type Tx interface {
	// RecordDelivery stores a delivery id; duplicate reports that the same
	// (forge, id) was recorded before, in which case nothing else should be
	// done in this transaction.
	RecordDelivery(ctx context.Context, forge event.Forge, id, eventName string, at time.Time) (duplicate bool, err error)
	// ApplyChange upserts desired state. It bumps the generation only when
	// something that matters changed and reports whether it did.
	ApplyChange(ctx context.Context, c Change) (e Experiment, changed bool, err error)
	// EnqueueReconcile asks for a reconcile run of repo; a run already
	// queued (not yet started) absorbs the request, so bursts coalesce.
	EnqueueReconcile(ctx context.Context, repo RepoKey) error
	// SetOutcome records a run's result for an experiment, unless the
	// experiment's generation moved past gen meanwhile (then a later run
	// owns it). Status Applied or Released marks gen as applied; a
	// non-empty baseSHA is kept. ErrNotFound if the experiment is gone.
	// It is a Tx's so that the outcome and its report (EnqueueReport)
	// commit together: the report job is the one writer of status
	// comments, and no outcome is left without one.
	SetOutcome(ctx context.Context, id, gen int64, status Status, detail string, baseSHA string) error
	// EnqueueReport asks for the status comment of an experiment to be
	// posted or brought up to date. Requests for the experiments of one
	// repository share one queued job, as reconciles do: a burst of
	// deliveries makes one job, not one per experiment.
	EnqueueReport(ctx context.Context, experimentID int64) error
	// EnqueueTask asks for t to run once, by the handler of its kind
	// (Handlers.Tasks): work that needs the forge's API and so must not
	// delay the acknowledgement. The handler gets t as JSON: the same
	// value, not necessarily the same bytes (PostgreSQL keeps it as jsonb).
	// The same task enqueued again while it waits or runs is absorbed.
	EnqueueTask(ctx context.Context, t Task) error
	// AdvanceSource orders s against the stored source of (s.Repo, s.Key)
	// by Compare and records s when it is Newer; otherwise it writes
	// nothing. Drivers hold the row against concurrent transactions until
	// commit, so two deliveries of one source are ordered one after the
	// other.
	AdvanceSource(ctx context.Context, s Source, settled bool) (Order, error)
	// Source reads the stored source of (repo, key), or ErrNotFound.
	Source(ctx context.Context, repo RepoKey, key string) (Source, error)
	// Experiments is Store.Experiments as this transaction sees it: what
	// committed before it, and what it (or a transaction it shares a commit
	// with) wrote, so that a decision over all of a repository's
	// experiments misses none written concurrently.
	Experiments(ctx context.Context, repo RepoKey) ([]Experiment, error)
}

// Source is the state of a request's source that expbot last acted on (an
// issue, a pull/merge request, one command-made experiment, a tag) and the
// forge's time of that state. Deliveries arrive out of order; comparing
// their times with the stored one tells a late, older delivery from a new
// one, so that desired state only moves forward (docs/ordering.md).
type Source struct {
	Repo RepoKey
	Key  string // "issue:12", "pull:3", "pull:3:lr-low", "tag:sweep-1"
	// At is the forge's time of the state (updated_at, whole seconds on
	// both forges), or when expbot read it from the forge; zero when
	// unknown.
	At time.Time
	// State is a digest of what the source asked for, to tell a repeat
	// from another change made in the same second.
	State string
}

// Order is how a source state stands against the stored one.
type Order int

const (
	// Newer: later than the stored state, or nothing stored; recorded.
	Newer Order = iota + 1
	// Same: the stored time and state again (a repeat); nothing to do.
	Same
	// Tied: another state at the same time, or without a time to compare:
	// which came last is unknown. Read the source from the forge and apply
	// what it says now (settled).
	Tied
	// Older: before the stored state: a late delivery, to be ignored.
	Older
)

func (o Order) String() string {
	switch o {
	case Newer:
		return "newer"
	case Same:
		return "same"
	case Tied:
		return "tied"
	case Older:
		return "older"
	}
	return "unknown"
}

// Compare orders s against stored (found false: nothing stored). A settled
// s, read from the forge when applied, is the newest state known: it wins a
// tie. Drivers call it, so that every driver orders alike.
func Compare(stored Source, found bool, s Source, settled bool) Order {
	if !found {
		return Newer
	}
	if !s.At.IsZero() && !stored.At.IsZero() {
		switch {
		case s.At.Before(stored.At):
			return Older
		case s.At.After(stored.At):
			return Newer
		}
	}
	switch {
	case s.State == stored.State && stored.At.IsZero() && !s.At.IsZero():
		return Newer // the same state, now with a time to order by
	case s.State == stored.State:
		return Same
	case settled:
		return Newer
	default:
		return Tied
	}
}

// Handlers do the queued work. A returned error is retried with backoff;
// wrap it with Snooze to retry after a set delay without counting an attempt
// (a lock held by a live run), or with Permanent to give up at once.
type Handlers struct {
	Reconcile func(ctx context.Context, repo RepoKey) error
	Report    func(ctx context.Context, experimentID int64) error
	// Tasks runs the tasks of each kind (Task.TaskKind), given as JSON; a
	// task of a kind without a handler fails for good.
	Tasks map[string]func(ctx context.Context, payload json.RawMessage) error
	// Workers bounds the reconciles and tasks run at once by this process;
	// status comments' reports have as many workers of their own, so that
	// they never wait for runs to end.
	Workers int
}

// retriedKey marks the context of a job that was started before.
type retriedKey struct{}

// WithRetried marks ctx as a job's context whose job was started before
// (it failed, or its process died or stopped while it ran): what the
// earlier start did with the forge may have happened without being
// recorded. The queue sets it; handlers read it with Retried.
func WithRetried(ctx context.Context) context.Context {
	return context.WithValue(ctx, retriedKey{}, true)
}

// Retried reports whether ctx is a job's context whose job was started
// before (WithRetried).
func Retried(ctx context.Context) bool {
	v, _ := ctx.Value(retriedKey{}).(bool)
	return v
}

// lastAttemptKey marks the context of a job's last attempt.
type lastAttemptKey struct{}

// WithLastAttempt marks ctx as the context of a job's last attempt: if it
// fails, even transiently, it is not tried again. The queue sets it;
// handlers read it with LastAttempt, to leave a failure where people see
// it rather than a job given up in silence.
func WithLastAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, lastAttemptKey{}, true)
}

// LastAttempt reports whether ctx is the context of a job's last attempt
// (WithLastAttempt).
func LastAttempt(ctx context.Context) bool {
	v, _ := ctx.Value(lastAttemptKey{}).(bool)
	return v
}

// Task is the arguments of a one-off job (Tx.EnqueueTask): a value that
// encodes as JSON, whose kind picks its handler.
type Task interface{ TaskKind() string }

// RawTask is a task already encoded, e.g. by a decorator that rewrites
// the JSON of the tasks it passes on.
type RawTask struct {
	Kind    string
	Payload json.RawMessage
}

func (t RawTask) TaskKind() string { return t.Kind }

// MarshalJSON returns the payload, which must be JSON.
func (t RawTask) MarshalJSON() ([]byte, error) { return t.Payload, nil }

// SnoozeError asks for the job to run again after Delay.
type SnoozeError struct{ Delay time.Duration }

func (e *SnoozeError) Error() string { return "retry in " + e.Delay.String() }

// Snooze retries the job after d without using up an attempt.
func Snooze(d time.Duration) error { return &SnoozeError{Delay: d} }

// PermanentError wraps an error that retrying cannot fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &PermanentError{Err: err} }
