package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/expbot/expbot/handlers"
	"github.com/expbot/expbot/internal/command"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// recordComment stores a comment holding /experiment commands as a task:
// running them needs the forge API (access check, the request's head), and
// the webhook is acknowledged before any of that.
func (in *Intake) recordComment(ctx context.Context, d handlers.Delivery, c *event.CommentCreated) (handlers.Outcome, error) {
	if c.Actor.Bot || strings.Contains(c.Body, StatusMarker) {
		return handlers.Ignored, nil // never answer bots, ourselves included
	}
	if res := command.Parse(c.Body); len(res.Commands) == 0 && res.Reply == "" {
		return handlers.Ignored, nil
	}
	payload, err := json.Marshal(commandTask{
		Delivery: d.ID, Repo: store.RepoKey{Forge: c.Repo.Forge, Path: c.Repo.Path}, Thread: c.Thread,
		CommentID: c.CommentID, CommentURL: c.URL, Body: c.Body, Actor: c.Actor,
		HeadBranch: c.HeadBranch, HeadSHA: c.HeadSHA,
	})
	if err != nil {
		return 0, fmt.Errorf("encode command task: %w", err)
	}
	return in.inTx(ctx, d, func(ctx context.Context, tx store.Tx) error {
		return tx.EnqueueTask(ctx, TaskCommand, payload)
	})
}

// recordPull retires the experiments of a pull/merge request that was
// merged or closed.
func (in *Intake) recordPull(ctx context.Context, d handlers.Delivery, p *event.PullChange) (handlers.Outcome, error) {
	if p.Open || !p.WasOpen {
		return handlers.Ignored, nil
	}
	repo := store.RepoKey{Forge: p.Repo.Forge, Path: p.Repo.Path}
	all, err := in.Store.Experiments(ctx, repo)
	if err != nil {
		return 0, fmt.Errorf("load experiments of %s: %w", repo.Path, err)
	}
	var retire []store.Change
	for _, e := range all {
		if e.Desired == store.Active && strings.HasPrefix(e.Key, pullPrefix(p.Number)) {
			retire = append(retire, store.Change{
				Repo: repo, Key: e.Key, Desired: store.Retired, DeleteBranch: in.Cfg.DeleteOnRetire, Status: store.Pending,
				Name: e.Name, Branch: e.Branch, BaseRef: e.BaseRef, Request: e.Request,
				SourceURL: e.SourceURL, Requester: e.Requester, Thread: e.Thread,
			})
		}
	}
	if len(retire) == 0 {
		return handlers.Ignored, nil
	}
	return in.inTx(ctx, d, func(ctx context.Context, tx store.Tx) error {
		for _, ch := range retire {
			e, changed, err := tx.ApplyChange(ctx, ch)
			if err != nil {
				return err
			}
			if changed {
				if err := tx.EnqueueReport(ctx, e.ID); err != nil {
					return err
				}
			}
		}
		return tx.EnqueueReconcile(ctx, repo)
	})
}

// inTx records the delivery and, unless it is a duplicate, runs fn in the
// same transaction.
func (in *Intake) inTx(ctx context.Context, d handlers.Delivery, fn func(ctx context.Context, tx store.Tx) error) (handlers.Outcome, error) {
	outcome := handlers.Accepted
	err := in.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		dup, err := tx.RecordDelivery(ctx, d.Forge, d.ID, d.Event, d.ReceivedAt)
		if err != nil {
			return err
		}
		if dup {
			outcome = handlers.Duplicate
			return nil
		}
		return fn(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("record delivery %s: %w", d.ID, err)
	}
	return outcome, nil
}
