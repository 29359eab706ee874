package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/spec"
	"github.com/expbot/expbot/pipeline/store"
)

// IntakeConfig is what turns issue changes into desired state.
type IntakeConfig struct {
	Label          string // trigger label; default config.DefaultLabel
	BranchTemplate string // default config.DefaultBranchTemplate
	DeleteOnRetire bool   // retire deletes the branch instead of keeping it
}

// Intake records deliveries and their effect on desired state, in one
// transaction per delivery. It implements handlers.Recorder.
type Intake struct {
	Store store.Store
	Cfg   IntakeConfig
	// Allow says which repositories expbot serves; outside it expbot does
	// nothing and says nothing. Nil allows every repository.
	Allow interface{ Allows(host, path string) bool }
	// Sweep says which pushed tags start sweeps.
	Sweep SweepConfig
	// Forges are for queued work only (Reread): Record never calls them.
	Forges map[event.Forge]forge.Client
	// Installations, with GitHub App authentication, says which GitHub
	// repositories the app is installed on: outside, as outside Allow,
	// expbot does and says nothing. Nil serves every repository.
	Installations Installations
}

// Installations is what the intake needs of a GitHub App's installations.
type Installations interface {
	Installed(ctx context.Context, repo string) (bool, error)
	Observe(installationID int64, added, removed []string, deleted bool)
}

// installed reports whether a GitHub App (if any) is installed on r; an
// error means it could not be told and the delivery should come again.
func (in *Intake) installed(ctx context.Context, r event.Repo) (bool, error) {
	if in.Installations == nil || r.Forge != event.GitHub || !in.allowed(r) {
		return true, nil
	}
	ok, err := in.Installations.Installed(ctx, r.Path)
	if err != nil {
		return false, fmt.Errorf("is the GitHub App installed on %s: %w", r.Path, err)
	}
	return ok, nil
}

// eventRepo is the repository an event is about, if any.
func eventRepo(p event.Event) (event.Repo, bool) {
	switch p := p.(type) {
	case *event.IssueChange:
		return p.Repo, true
	case *event.CommentCreated:
		return p.Repo, true
	case *event.PullChange:
		return p.Repo, true
	case *event.TagPush:
		return p.Repo, true
	}
	return event.Repo{}, false
}

// Record implements handlers.Recorder: it applies d at once, in one
// transaction (Inbox applies later what it acknowledged).
func (in *Intake) Record(ctx context.Context, d event.Delivery) (event.Outcome, error) {
	return in.applyWithin(ctx, in.Store.InTx, d)
}

// applyWithin screens d and applies it in a transaction run by within.
func (in *Intake) applyWithin(ctx context.Context, within runTx, d event.Delivery) (event.Outcome, error) {
	if !in.Screen(d) {
		return event.OutcomeIgnored, nil
	}
	return in.apply(ctx, within, d)
}

// runTx runs fn in a transaction: one of its own (Store.InTx), or one that
// several deliveries share (Inbox's batches).
type runTx func(ctx context.Context, fn func(ctx context.Context, tx store.Tx) error) error

// Screen does what needs no database and tells whether d may change
// anything: false means d is acknowledged and nothing else happens (an
// unserved repository, an issue change that neither triggers nor retires,
// a comment without commands, a tag that is not a sweep's). An
// installation change is observed here, by the replica it reaches, and
// needs nothing else.
func (in *Intake) Screen(d event.Delivery) bool {
	switch p := d.Payload.(type) {
	case *event.InstallationChange:
		if in.Installations != nil {
			in.Installations.Observe(p.InstallationID, p.Added, p.Removed, p.Deleted)
		}
		return false
	case *event.IssueChange:
		return in.allowed(p.Repo) && p.TriggerFor(in.label()) != event.NoTrigger
	case *event.CommentCreated:
		return in.allowed(p.Repo) && wantsComment(p)
	case *event.PullChange:
		return in.allowed(p.Repo) // kept for order, whatever it says
	case *event.TagPush:
		return in.allowed(p.Repo) && in.wantsTag(p)
	default:
		return false
	}
}

// apply records a delivery that passed Screen and its effect on desired
// state in one transaction, run by within.
func (in *Intake) apply(ctx context.Context, within runTx, d event.Delivery) (event.Outcome, error) {
	if r, ok := eventRepo(d.Payload); ok {
		served, err := in.installed(ctx, r)
		if err != nil {
			return 0, err
		}
		if !served {
			return event.OutcomeIgnored, nil
		}
	}
	switch p := d.Payload.(type) {
	case *event.IssueChange:
		return in.recordIssue(ctx, within, d, p)
	case *event.CommentCreated:
		return in.recordComment(ctx, within, d, p)
	case *event.PullChange:
		return in.recordPull(ctx, within, d, p)
	case *event.TagPush:
		return in.recordTag(ctx, within, d, p)
	default:
		return event.OutcomeIgnored, nil
	}
}

func (in *Intake) allowed(r event.Repo) bool {
	return in.Allow == nil || in.Allow.Allows(r.Host, r.Path)
}

func (in *Intake) recordIssue(ctx context.Context, within runTx, d event.Delivery, ch *event.IssueChange) (event.Outcome, error) {
	change, ok, err := in.issueChange(ctx, ch)
	if err != nil {
		return 0, err
	}
	if !ok {
		return event.OutcomeIgnored, nil
	}
	var old bool
	out, err := in.inTx(ctx, within, d, func(ctx context.Context, tx store.Tx) error {
		var err error
		old, err = applyIssue(ctx, tx, change, ch, d.ID, false)
		return err
	})
	return stale(out, old), err
}

// changeFor computes the desired-state change an issue change asks for.
func (in *Intake) changeFor(ch *event.IssueChange) (store.Change, bool) {
	label := in.label()
	c := store.Change{
		Repo:      store.RepoKey{Forge: ch.Repo.Forge, Path: ch.Repo.Path},
		Key:       "issue:" + strconv.Itoa(ch.Number),
		SourceURL: ch.URL,
		Requester: ch.Actor.Login,
		Thread:    event.Thread{Kind: event.IssueThread, Number: ch.Number},
	}
	switch ch.TriggerFor(label) {
	case event.Retire:
		c.Desired, c.DeleteBranch, c.Status = store.Retired, in.Cfg.DeleteOnRetire, store.Pending
		return c, true
	case event.Apply:
		c.Desired, c.DeleteBranch = store.Active, in.Cfg.DeleteOnRetire
	default:
		return store.Change{}, false
	}
	if ch.Confidential {
		c.Status, c.Detail = store.Invalid, confidentialText
		return c, true
	}
	req, err := spec.ParseIssueBody(ch.Body)
	if err != nil {
		c.Status, c.Detail = store.Invalid, problemsText(err)
		return c, true
	}
	tmpl := in.Cfg.BranchTemplate
	if tmpl == "" {
		tmpl = config.DefaultBranchTemplate
	}
	branch, err := spec.BranchName(tmpl, spec.BranchVars{Number: ch.Number, Name: req.Name, Forge: string(ch.Repo.Forge)})
	if err != nil {
		c.Status, c.Detail = store.Invalid, "The branch name would be invalid: "+err.Error()
		return c, true
	}
	raw, err := encodeRequest(req)
	if err != nil { // a parsed request always encodes; keep the error visible anyway
		c.Status, c.Detail = store.Invalid, "internal error encoding the request"
		return c, true
	}
	base := req.Base
	if base == "" { // pin the default branch by name, so the variant file says what was meant
		base = ch.Repo.DefaultBranch
	}
	c.Status, c.Name, c.Branch, c.BaseRef, c.Request = store.Pending, req.Name, branch, base, raw
	return c, true
}

// confidentialText explains why a confidential issue makes no experiment:
// its branch, variant file and link back would show the request to everyone
// who can read the repository.
const confidentialText = "This issue is confidential, and an experiment branch would not be: its variant file (parameters, who asked, a link back here) would be visible to everyone who can read the repository. To run it, turn confidentiality off, or ask again in an issue that is not confidential."

// problemsText lists parse problems as a markdown list for the comment.
func problemsText(err error) string {
	var p *spec.Problems
	if !errors.As(err, &p) {
		return err.Error()
	}
	return p.Markdown()
}

// refuseRebase turns an edit that would move a live experiment to another
// base or branch into an explanation: either would mean deleting a branch
// people may have pushed to. A new request makes a new branch instead.
func (in *Intake) refuseRebase(ctx context.Context, c *store.Change) error {
	if c.Desired != store.Active || c.Status != store.Pending {
		return nil
	}
	old, err := in.Store.ExperimentByKey(ctx, c.Repo, c.Key)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load experiment %s: %w", c.Key, err)
	}
	if old.Branch == "" || old.BaseSHA == "" {
		return nil // never made: anything may change
	}
	if old.Desired == store.Retired && old.DeleteBranch && old.Status == store.Released {
		return nil // its branch is gone: a new one may have another name or base
	}
	var why string
	switch {
	case old.Branch != c.Branch:
		why = fmt.Sprintf("The experiment's name cannot change once its branch exists (it is %s, the edit asks for %s). Put the old name back, or open a new issue for a new experiment.", codeSpan(old.Name), codeSpan(c.Name))
	case old.BaseRef != c.BaseRef:
		why = fmt.Sprintf("The base of an experiment cannot change once its branch exists (it is %s, the edit asks for %s). Put the old base back, or open a new issue for a new experiment.", codeSpan(old.BaseRef), codeSpan(c.BaseRef))
	default:
		return nil
	}
	c.Status, c.Detail = store.Invalid, why
	return nil
}
