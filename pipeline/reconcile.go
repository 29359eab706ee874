package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/spec"
	"github.com/expbot/expbot/pipeline/store"
)

// Forge is one configured forge: the client the bot uses itself and the
// provider settings the Pulumi program uses.
type Forge struct {
	Client   forge.Client
	Provider ProviderConfig
}

// Reconciler applies the whole desired state of one repository per run.
// It writes no comment itself: each outcome is recorded with a request for
// its report (the report job, Reporter, is the one writer of status
// comments, in whichever process runs it).
type Reconciler struct {
	Store   store.Store
	Forges  map[event.Forge]Forge
	Variant VariantFile
	Metrics *Metrics
	Log     zerolog.Logger
	Now     func() time.Time
	stacks  *stacks
}

// VariantFile says where the variant file goes and who commits it.
type VariantFile struct {
	Path        string // default config.DefaultVariantFile
	AuthorName  string
	AuthorEmail string
}

// NewReconciler wires a reconciler; env says how Pulumi runs.
func NewReconciler(st store.Store, forges map[event.Forge]Forge, env PulumiEnv, vf VariantFile, m *Metrics, log zerolog.Logger) *Reconciler {
	if vf.Path == "" {
		vf.Path = config.DefaultVariantFile
	}
	if vf.AuthorName == "" {
		vf.AuthorName, vf.AuthorEmail = config.DefaultAuthorName, config.DefaultAuthorEmail
	}
	return &Reconciler{Store: st, Forges: forges, Variant: vf, Metrics: m, Log: log, Now: time.Now, stacks: newStacks(env, st, log)}
}

// lockedRetry is how long a run waits when another run of the same
// repository holds it (in any process sharing the store: see
// store.Store.TryLockRepo); short, because runs take seconds.
const lockedRetry = 750 * time.Millisecond

// Reconcile runs one Pulumi update for all experiments of repo.
func (r *Reconciler) Reconcile(ctx context.Context, repo store.RepoKey) error {
	return r.run(ctx, repo, false)
}

// run is a reconcile; with drift it is a drift check first: the settled
// experiments' resources are refreshed from the forge, and those that
// drifted are repaired by the same update (docs/drift.md).
func (r *Reconciler) run(ctx context.Context, repo store.RepoKey, drift bool) (err error) {
	unlock, ok, err := r.Store.TryLockRepo(ctx, repo)
	if err != nil {
		return fmt.Errorf("lock %s: %w", repo.Path, err)
	}
	if !ok {
		return store.Snooze(lockedRetry)
	}
	held := r.stacks.hold(repo, unlock)
	defer held.release()
	log := r.Log.With().Str("forge", string(repo.Forge)).Str("repo", repo.Path).Logger()
	fg, ok := r.Forges[repo.Forge]
	if !ok {
		return store.Permanent(fmt.Errorf("forge %s is not configured", repo.Forge))
	}

	exps, err := r.Store.Experiments(ctx, repo)
	if err != nil {
		return fmt.Errorf("load experiments of %s: %w", repo.Path, err)
	}
	started := r.Now()
	run, err := r.Store.StartRun(ctx, repo, started)
	if err != nil {
		return fmt.Errorf("start run: %w", err)
	}
	// ctx ends on shutdown: it bounds the forge reads and the update, but
	// what the run learnt is recorded whatever happens to ctx, or an
	// experiment would stay "running" with nothing left to finish it.
	rec := context.WithoutCancel(ctx)
	// Outcomes are recorded in batches, each in one transaction with the
	// reports it asks for: before the update (so that "running" shows
	// while it runs) and when the run ends, whichever way it ends.
	var (
		decided []decision
		recErr  error // outcomes that could not be recorded: the run goes again
	)
	outcome := func(e store.Experiment, s store.Status, detail, baseSHA string) {
		decided = append(decided, decision{e, s, detail, baseSHA})
	}
	record := func() {
		recErr = errors.Join(recErr, r.record(rec, decided))
		decided = nil
	}
	// The outcomes decided are recorded before the run is.
	finish := func(result, summary string, err error) error {
		record()
		return r.finish(rec, run, result, summary, err)
	}
	interrupted := func() error {
		record()
		return r.interrupted(rec, ctx, run, repo)
	}
	// retry ends a run that failed transiently, for the queue to run it
	// again. On the job's last attempt it fails the experiments the run
	// was to change instead, so that their comments say so rather than
	// "Making branch…" for ever; the repository's next run tries them
	// again.
	retry := func(summary string, err error) error {
		if !store.LastAttempt(ctx) {
			return finish("retrying", summary, err)
		}
		done := map[int64]bool{}
		for _, d := range decided {
			if d.status != store.Running {
				done[d.exp.ID] = true
			}
		}
		for _, e := range exps {
			if needsRun(e) && !done[e.ID] {
				outcome(e, store.Failed, "gave up after repeated failures: "+err.Error(), e.BaseSHA)
			}
		}
		return finish("failed", summary, store.Permanent(err))
	}
	defer func() {
		switch {
		case recErr == nil:
		case err == nil:
			err = recErr
		default:
			// Not wrapped: a snooze or a permanent error must not hide
			// that the run has to go again.
			err = fmt.Errorf("%w (and the run ended with: %v)", recErr, err)
		}
	}()

	var specs []BranchSpec
	var touched []store.Experiment // experiments whose outcome this run decides
	var settled []store.Experiment // active and in sync when last applied: what drift checks look at
	needUp := false
	for _, e := range exps {
		if e.Desired == store.Retired {
			if needsRun(e) {
				touched = append(touched, e)
				needUp = needUp || e.DeleteBranch
			}
			// A kept branch stays in the stack, frozen as last applied: the
			// stack remains the inventory and a return is a plain update.
			if !e.DeleteBranch && e.Applied > 0 && e.BaseSHA != "" {
				if spec, err := r.branchSpec(e); err == nil {
					specs = append(specs, spec)
				}
			}
			continue
		}
		if e.Branch == "" { // never had a valid request: nothing to apply
			continue
		}
		if e.BaseSHA == "" {
			sha, err := r.resolveBase(ctx, fg.Client, repo, e)
			if err != nil {
				if ctx.Err() != nil {
					return interrupted()
				}
				if forge.IsTransient(err) {
					return retry(err.Error(), err)
				}
				outcome(e, store.Failed, err.Error(), "")
				continue
			}
			e.BaseSHA = sha
		}
		spec, err := r.branchSpec(e)
		if err != nil {
			outcome(e, store.Failed, err.Error(), "")
			continue
		}
		specs = append(specs, spec)
		// An invalid edit keeps the last valid branch as it is and keeps
		// its error on display until the next edit.
		if needsRun(e) {
			touched = append(touched, e)
			needUp = true
			outcome(e, store.Running, "", e.BaseSHA)
		} else if e.Status == store.Applied {
			settled = append(settled, e)
		}
	}
	if len(touched) == 0 && (!drift || len(settled) == 0) {
		return finish("succeeded", "nothing to change", nil)
	}
	record()

	prog := Program(fg.Provider, repo, specs)
	// openStack opens the stack for prog; when it cannot, ok is false and
	// ret is what the run returns.
	openStack := func() (st *auto.Stack, ret error, ok bool) {
		st, err := held.stack(ctx, prog)
		switch {
		case err == nil:
			return st, nil, true
		case ctx.Err() != nil:
			return nil, interrupted(), false
		case errors.Is(err, errStackLocked):
			log.Warn().Err(err).Msg("stack locked while making it; retrying")
			_ = finish("retrying", "stack locked", nil)
			return nil, store.Snooze(lockedRetry), false
		default:
			return nil, retry(err.Error(), err), false
		}
	}
	var repairs []repair
	driftOutcome := "" // of a drift check, counted when it has ended
	if drift && len(settled) > 0 {
		st, ret, ok := openStack()
		if !ok {
			return ret
		}
		found, unsafe, err := r.findDrift(ctx, st, repo, settled)
		if err != nil && ctx.Err() != nil {
			r.stacks.forget(repo)
			return interrupted()
		}
		if err != nil {
			// Nothing was changed on the forge; the queue retries with
			// backoff (a forge that is down, a token that was revoked).
			r.stacks.forget(repo)
			r.Metrics.observeDriftCheck(repo.Forge, "failed")
			log.Warn().Err(err).Msg("drift check failed; it is retried")
			return finish("retrying", "drift check: "+err.Error(), err)
		}
		switch {
		case len(unsafe) > 0:
			// A repair only makes and commits; an update that would
			// delete or replace is not run, and left for people to look at.
			r.Metrics.observeDriftCheck(repo.Forge, "refused")
			log.Error().Strs("steps", unsafe).Msg("drift check: the repair would delete or replace resources; nothing was changed")
			return finish("failed", "drift check refused: the repair would delete or replace "+strings.Join(unsafe, ", "),
				store.Permanent(errors.New("drift check refused: the repair would delete or replace resources")))
		case len(found) > 0:
			driftOutcome, repairs, needUp = "repaired", found, true
		default:
			driftOutcome = "clean"
		}
		if len(touched) == 0 && len(repairs) == 0 {
			r.Metrics.observeDriftCheck(repo.Forge, driftOutcome)
			return finish("succeeded", "no drift", nil)
		}
	}

	var res upResult
	var upErr error
	if needUp { // retiring with "keep" alone changes nothing on the forge
		st, ret, ok := openStack()
		if !ok {
			return ret
		}
		res, upErr = up(ctx, st)
	}
	took := r.Now().Sub(started)
	if upErr != nil {
		r.stacks.forget(repo) // it may have been interrupted: look again next time
	}
	if upErr != nil && ctx.Err() != nil {
		// Shutdown interrupted the update (the CLI got SIGINT, ended it
		// and released the stack): its outcome is unknown, not failed.
		return interrupted()
	}
	if upErr != nil && res.locked {
		if _, err := held.removeStaleLocks(rec); err != nil {
			log.Warn().Err(err).Msg("check for stale stack locks")
		}
		log.Warn().Msg("stack locked by another update; retrying")
		_ = finish("retrying", "stack locked", nil)
		return store.Snooze(lockedRetry)
	}
	if upErr != nil && res.transient {
		if len(repairs) > 0 {
			r.Metrics.observeDriftCheck(repo.Forge, "failed")
		}
		log.Warn().Err(upErr).Msg("update failed transiently; retrying")
		return retry(upErr.Error(), upErr)
	}

	summary := formatSummary(res.summary, took)
	for _, e := range touched {
		if e.Desired == store.Retired {
			if upErr != nil {
				outcome(e, store.Failed, "retiring failed: "+failureFor(e.Key, res, upErr), "")
				continue
			}
			outcome(e, store.Released, summary, "")
			continue
		}
		if msg, failed := failedFor(e.Key, res); failed || (upErr != nil && len(res.failed) == 0) {
			if !failed {
				msg = upErr.Error()
			}
			outcome(e, store.Failed, msg, e.BaseSHA)
			continue
		}
		outcome(e, store.Applied, summary, e.BaseSHA)
	}
	for _, rp := range repairs {
		e := rp.exp
		if msg, failed := failedFor(e.Key, res); failed || (upErr != nil && len(res.failed) == 0) {
			if !failed {
				msg = upErr.Error()
			}
			outcome(e, store.Failed, "repairing the branch failed: "+msg, e.BaseSHA)
			continue
		}
		r.Metrics.observeRepair(repo.Forge, rp.kind)
		log.Info().Str("experiment", e.Key).Str("branch", e.Branch).Str("kind", rp.kind).Msg("drift repaired")
		outcome(e, store.Applied, repairNote(rp, r.Variant.Path, r.Now())+" ("+summary+")", e.BaseSHA)
	}
	if driftOutcome != "" {
		if upErr != nil && driftOutcome == "repaired" {
			driftOutcome = "failed"
		}
		r.Metrics.observeDriftCheck(repo.Forge, driftOutcome)
	}
	result := "succeeded"
	if upErr != nil {
		result = "failed"
	}
	// The error quotes the providers; the log's writer scrubs it.
	log.Info().Str("outcome", result).Dur("took", took).Int("experiments", len(specs)).Err(upErr).Msg("reconciled")
	return finish(result, summary, nil)
}

// interrupted records a run that shutdown cut short and returns an error
// that wraps ctx's, so that the queue keeps the job to run again (at the
// next start) instead of settling it.
func (r *Reconciler) interrupted(rec, ctx context.Context, run store.Run, repo store.RepoKey) error {
	r.Log.Warn().Str("forge", string(repo.Forge)).Str("repo", repo.Path).
		Msg("run interrupted by shutdown; it runs again at the next start")
	return r.finish(rec, run, "interrupted", "interrupted by shutdown", fmt.Errorf("reconcile %s: %w", repo.Path, ctx.Err()))
}

// finish records the run; err (if any) is returned for the queue to retry.
func (r *Reconciler) finish(ctx context.Context, run store.Run, outcome, summary string, err error) error {
	run.FinishedAt, run.Outcome, run.Summary = r.Now(), outcome, summary
	if ferr := r.Store.FinishRun(ctx, run); ferr != nil {
		r.Log.Error().Err(ferr).Msg("record run")
	}
	if r.Metrics != nil {
		r.Metrics.observeRun(outcome, run.FinishedAt.Sub(run.StartedAt))
	}
	return err
}

// needsRun tells whether a run is to change e on the forge: a retirement
// not yet done, or a valid request not yet applied as it stands. (An
// invalid edit keeps the last valid branch as it is.)
func needsRun(e store.Experiment) bool {
	if e.Desired == store.Retired {
		return e.Status != store.Released
	}
	return e.Branch != "" && e.Status != store.Invalid && (e.Applied < e.Generation || e.Status != store.Applied)
}

// decision is an outcome a run decided for an experiment.
type decision struct {
	exp             store.Experiment
	status          store.Status
	detail, baseSHA string
}

// record stores outcomes in one transaction with the reports they ask
// for, so that none is left without its report. A sweep's experiments
// share one comment: one report brings it up to date for all of them.
func (r *Reconciler) record(ctx context.Context, ds []decision) error {
	if len(ds) == 0 {
		return nil
	}
	err := r.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		reported := map[string]bool{}
		for _, d := range ds {
			e := d.exp
			err := tx.SetOutcome(ctx, e.ID, e.Generation, d.status, d.detail, d.baseSHA)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile: nothing to finish
			}
			if err != nil {
				return err
			}
			if key := commentKey(e); !reported[key] {
				reported[key] = true
				if err := tx.EnqueueReport(ctx, e.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		r.Log.Error().Err(err).Int("experiments", len(ds)).Msg("record outcomes")
		return fmt.Errorf("record outcomes: %w", err)
	}
	return nil
}

func (r *Reconciler) resolveBase(ctx context.Context, c forge.Client, repo store.RepoKey, e store.Experiment) (string, error) {
	ref := e.BaseRef
	if ref == "" {
		def, err := c.DefaultBranch(ctx, repo.Path)
		if err != nil {
			return "", fmt.Errorf("find the default branch of %s: %w", repo.Path, err)
		}
		ref = def
	}
	sha, err := c.ResolveRef(ctx, repo.Path, ref)
	if errors.Is(err, forge.ErrNotFound) {
		return "", fmt.Errorf("base %s was not found in %s: use an existing branch, tag or commit SHA", codeSpan(ref), repo.Path)
	}
	if err != nil {
		return "", fmt.Errorf("resolve base %s: %w", codeSpan(ref), err)
	}
	return sha, nil
}

func failedFor(key string, res upResult) (string, bool) {
	prefix := resourcePrefix(key)
	for name, msg := range res.failed {
		if strings.HasPrefix(name, prefix) {
			return msg, true
		}
	}
	return "", false
}

func failureFor(key string, res upResult, upErr error) string {
	if msg, ok := failedFor(key, res); ok {
		return msg
	}
	return upErr.Error()
}

func formatSummary(changes map[string]int, took time.Duration) string {
	var parts []string
	ops := make([]string, 0, len(changes))
	for op := range changes {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		parts = append(parts, fmt.Sprintf("%d %s", changes[op], op))
	}
	if len(parts) == 0 {
		parts = append(parts, "no changes")
	}
	return fmt.Sprintf("%s in %.1f s", strings.Join(parts, ", "), took.Seconds())
}

// branchSpec renders what the stack holds for an active experiment.
func (r *Reconciler) branchSpec(e store.Experiment) (BranchSpec, error) {
	req, err := decodeRequest(e.Request)
	if err != nil {
		return BranchSpec{}, fmt.Errorf("stored request of %s is unreadable: %w", e.Key, err)
	}
	content, err := spec.RenderVariantFile(spec.Variant{
		Name:        req.Name,
		Description: req.Description,
		Model:       req.Model,
		Dataset:     req.Dataset,
		BaseRef:     e.BaseRef,
		BaseSHA:     e.BaseSHA,
		Params:      req.Params,
		RequestedBy: e.Requester,
		Source:      e.SourceURL,
		Origin:      originOf(e.Thread.Kind),
		Forge:       string(e.Repo.Forge),
	})
	if err != nil {
		return BranchSpec{}, fmt.Errorf("render %s: %w", r.Variant.Path, err)
	}
	return BranchSpec{
		Key:      e.Key,
		Branch:   e.Branch,
		BaseSHA:  e.BaseSHA,
		FilePath: r.Variant.Path,
		Content:  string(content),
		Message:  fmt.Sprintf("expbot: experiment %s from %s", e.Name, short(e.BaseSHA)),
		Author:   r.Variant.AuthorName,
		Email:    r.Variant.AuthorEmail,
	}, nil
}

// originOf tells the variant file's header where an experiment came from.
func originOf(k event.ThreadKind) spec.Origin {
	switch k {
	case event.PullThread:
		return spec.FromComment
	case event.CommitThread:
		return spec.FromSweep
	}
	return spec.FromIssue
}
