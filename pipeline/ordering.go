package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/pipeline/store"
)

// Late deliveries: each issue, pull/merge request and tag keeps the state
// expbot last acted on and the forge's time of it (store.Source); a
// delivery older than that changes nothing, and two changes of one issue
// in the same second are told apart by reading the issue from the forge.
// docs/ordering.md says why.

// TaskIssue is the task kind that reads an issue from the forge, when two
// deliveries of it carry the same time and differ.
const TaskIssue = "issue"

// issueTask names the issue to read.
type issueTask struct {
	Delivery string     `json:"delivery"`
	Repo     event.Repo `json:"repo"`
	Number   int        `json:"number"`
}

func (issueTask) TaskKind() string { return TaskIssue }

// digest sums what a change asks for, so that a repeat of the state stored
// for a source is told from another change made in the same second.
func digest(c store.Change) string {
	h := sha256.New()
	for _, s := range []string{string(c.Desired), strconv.FormatBool(c.DeleteBranch), string(c.Status), c.Detail, c.Name, c.Branch, c.BaseRef, string(c.Request)} {
		fmt.Fprintf(h, "%d:%s;", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// issueChange is the change an issue change asks for, if any.
func (in *Intake) issueChange(ctx context.Context, ch *event.IssueChange) (store.Change, bool, error) {
	change, ok := in.changeFor(ch)
	if !ok {
		return store.Change{}, false, nil
	}
	if err := in.refuseRebase(ctx, &change); err != nil {
		return store.Change{}, false, err
	}
	return change, true, nil
}

// applyIssue applies change unless an issue state as new or newer was
// applied already (stale), or which came last cannot be told: then the
// issue is queued to be read from the forge (settled applies that read).
func applyIssue(ctx context.Context, tx store.Tx, change store.Change, ch *event.IssueChange, delivery string, settled bool) (stale bool, err error) {
	src := store.Source{Repo: change.Repo, Key: change.Key, At: ch.At, State: digest(change)}
	o, err := tx.AdvanceSource(ctx, src, settled)
	if err != nil {
		return false, err
	}
	switch o {
	case store.Older:
		return true, nil
	case store.Same:
		return false, nil
	case store.Tied:
		return false, tx.EnqueueTask(ctx, issueTask{Delivery: delivery, Repo: ch.Repo, Number: ch.Number})
	}
	e, changed, err := tx.ApplyChange(ctx, change)
	if err != nil || !changed {
		return false, err
	}
	if e.Status != store.Invalid {
		if err := tx.EnqueueReconcile(ctx, change.Repo); err != nil {
			return false, err
		}
	}
	return false, tx.EnqueueReport(ctx, e.ID)
}

// Reread is the Task handler for TaskIssue: it reads the issue from the
// forge and applies what it shows now, as the newest state known.
func (in *Intake) Reread(ctx context.Context, payload json.RawMessage) error {
	var t issueTask
	if err := json.Unmarshal(payload, &t); err != nil {
		return store.Permanent(fmt.Errorf("issue task: %w", err))
	}
	client, ok := in.Forges[t.Repo.Forge]
	if !ok {
		return store.Permanent(fmt.Errorf("forge %s is not configured", t.Repo.Forge))
	}
	i, err := client.Issue(ctx, t.Repo.Path, t.Number)
	gone := errors.Is(err, forge.ErrNotFound)
	if err != nil && !gone {
		return fmt.Errorf("read issue #%d of %s: %w", t.Number, t.Repo.Path, err)
	}
	repo := store.RepoKey{Forge: t.Repo.Forge, Path: t.Repo.Path}
	key := "issue:" + strconv.Itoa(t.Number)
	var requester string
	if old, err := in.Store.ExperimentByKey(ctx, repo, key); err == nil {
		requester, i.URL = old.Requester, firstOf(i.URL, old.SourceURL)
	}
	// Read as "was active, and everything may have changed": the trigger
	// then says apply when the issue is active now, retire when not.
	ch := &event.IssueChange{
		Repo: t.Repo, Number: t.Number, Title: i.Title, Body: i.Body, URL: i.URL,
		Open: i.Open && !gone, WasOpen: true, Labels: i.Labels, PrevLabels: []string{in.label()},
		BodyChanged: true, Confidential: i.Confidential, Actor: event.Actor{Login: requester},
		// Webhooks time issues in whole seconds; the API may say
		// milliseconds (GitLab). Compared at the payloads' resolution, a
		// delivery from later in the same second is a tie (read again),
		// never older than this read.
		At: i.UpdatedAt.Truncate(time.Second),
	}
	change, ok, err := in.issueChange(ctx, ch)
	if err != nil || !ok {
		return err
	}
	var older bool
	err = in.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		var err error
		older, err = applyIssue(ctx, tx, change, ch, t.Delivery, true)
		return err
	})
	if err != nil {
		return err
	}
	if older { // the API answered from before a delivery applied already
		return fmt.Errorf("issue #%d of %s: the forge showed a state older than one already applied; reading again later", t.Number, t.Repo.Path)
	}
	return nil
}

func (in *Intake) label() string {
	if in.Cfg.Label == "" {
		return config.DefaultLabel
	}
	return in.Cfg.Label
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stale turns Accepted into Stale when the delivery was older than what was
// applied.
func stale(out event.Outcome, old bool) event.Outcome {
	if out == event.OutcomeAccepted && old {
		return event.OutcomeStale
	}
	return out
}
