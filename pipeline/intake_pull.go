package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/command"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// recordComment stores a comment holding /experiment commands as a task:
// running them needs the forge API (access check, the request's head), and
// the webhook is acknowledged before any of that.
func (in *Intake) recordComment(ctx context.Context, within runTx, d event.Delivery, c *event.CommentCreated) (event.Outcome, error) {
	task := commandTask{
		Delivery: d.ID, Repo: store.RepoKey{Forge: c.Repo.Forge, Path: c.Repo.Path}, Thread: c.Thread,
		CommentID: c.CommentID, CommentURL: c.URL, Body: c.Body, Actor: c.Actor,
		HeadBranch: c.HeadBranch, HeadSHA: c.HeadSHA, At: c.At, PullClosed: c.PullClosed,
	}
	return in.inTx(ctx, within, d, func(ctx context.Context, tx store.Tx) error {
		return tx.EnqueueTask(ctx, task)
	})
}

// wantsComment tells whether a comment asks something of the bot.
func wantsComment(c *event.CommentCreated) bool {
	if c.Actor.Bot || strings.Contains(c.Body, StatusMarker) {
		return false // never answer bots, ourselves included
	}
	res := command.Parse(c.Body)
	return len(res.Commands) > 0 || res.Reply != ""
}

// The states of a pull/merge request kept as its source.
const (
	pullOpen   = "open"
	pullClosed = "closed"
)

func pullSourceKey(number int) string { return "pull:" + strconv.Itoa(number) }

// recordPull keeps the request's state with its time, and retires its
// experiments when it was merged or closed. A late delivery (older than the
// stored state) changes nothing; experiments made by commands written after
// the close are not retired by it. A close and a reopen in the same second
// cannot be ordered from their payloads: the close wins, as experiments on
// a closed request would be the worse mistake (docs/ordering.md).
func (in *Intake) recordPull(ctx context.Context, within runTx, d event.Delivery, p *event.PullChange) (event.Outcome, error) {
	repo := store.RepoKey{Forge: p.Repo.Forge, Path: p.Repo.Path}
	src := store.Source{Repo: repo, Key: pullSourceKey(p.Number), At: p.At, State: pullOpen}
	if !p.Open {
		src.State = pullClosed
	}
	var old, retired bool
	out, err := in.inTx(ctx, within, d, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.AdvanceSource(ctx, src, !p.Open)
		if err != nil {
			return err
		}
		if o == store.Older || o == store.Tied {
			old = true
			return nil
		}
		if p.Open || !p.WasOpen || o == store.Same {
			return nil
		}
		all, err := tx.Experiments(ctx, repo)
		if err != nil {
			return fmt.Errorf("load experiments of %s: %w", repo.Path, err)
		}
		var retire []store.Change
		for _, e := range all {
			if e.Desired != store.Active || !strings.HasPrefix(e.Key, pullPrefix(p.Number)) {
				continue
			}
			made, err := tx.Source(ctx, repo, e.Key)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err == nil && !p.At.IsZero() && made.At.After(p.At) {
				continue // asked for after this close, while reopened
			}
			retire = append(retire, store.Change{
				Repo: repo, Key: e.Key, Desired: store.Retired, DeleteBranch: in.Cfg.DeleteOnRetire, Status: store.Pending,
				Name: e.Name, Branch: e.Branch, BaseRef: e.BaseRef, Request: e.Request,
				SourceURL: e.SourceURL, Requester: e.Requester, Thread: e.Thread,
			})
		}
		retired = len(retire) > 0
		return applyAndQueue(ctx, tx, repo, retire)
	})
	if out == event.OutcomeAccepted && !old && !retired {
		out = event.OutcomeIgnored // recorded, for order and dedupe; nothing to do
	}
	return stale(out, old), err
}

// inTx records the delivery and, unless it is a duplicate, runs fn in the
// same transaction.
func (in *Intake) inTx(ctx context.Context, within runTx, d event.Delivery, fn func(ctx context.Context, tx store.Tx) error) (event.Outcome, error) {
	outcome := event.OutcomeAccepted
	err := within(ctx, func(ctx context.Context, tx store.Tx) error {
		dup, err := tx.RecordDelivery(ctx, d.Forge, d.ID, d.Event, d.ReceivedAt)
		if err != nil {
			return err
		}
		if dup {
			outcome = event.OutcomeDuplicate
			return nil
		}
		return fn(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("record delivery %s: %w", d.ID, err)
	}
	return outcome, nil
}
