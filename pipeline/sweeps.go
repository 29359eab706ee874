package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/sweep"
	"github.com/expbot/expbot/pipeline/store"
)

// TaskSweep is the task kind of a pushed tag whose sweep file must be read.
const TaskSweep = "sweep"

// SweepConfig says which tags start sweeps and where their definition is.
type SweepConfig struct {
	TagPattern     string // glob on the tag name; default config.DefaultTagPattern
	File           string // default config.DefaultSweepFile
	Limit          int    // default config.DefaultSweepLimit
	DeleteOnRetire bool
}

func (c SweepConfig) pattern() string {
	if c.TagPattern == "" {
		return config.DefaultTagPattern
	}
	return c.TagPattern
}

// sweepTask is a tag created or moved, to be expanded once the forge API may
// be called.
type sweepTask struct {
	Delivery string        `json:"delivery"`
	Repo     store.RepoKey `json:"repo"`
	Tag      string        `json:"tag"`
	SHA      string        `json:"sha"`
	Actor    event.Actor   `json:"actor"`
}

func (sweepTask) TaskKind() string { return TaskSweep }

func tagPrefix(tag string) string { return "tag:" + tag + ":" }

// recordTag turns a tag push into a task: a created or moved tag's sweep
// file must be read, and whether the push is still the tag's newest is
// known only by reading the tag (GitLab's tag push hooks carry no time), so
// a deleted tag is queued as well (SHA "").
func (in *Intake) recordTag(ctx context.Context, within runTx, d event.Delivery, p *event.TagPush) (event.Outcome, error) {
	repo := store.RepoKey{Forge: p.Repo.Forge, Path: p.Repo.Path}
	return in.inTx(ctx, within, d, func(ctx context.Context, tx store.Tx) error {
		return tx.EnqueueTask(ctx, sweepTask{Delivery: d.ID, Repo: repo, Tag: p.Tag, SHA: p.After, Actor: p.Actor})
	})
}

// wantsTag tells whether a pushed tag is a sweep's.
func (in *Intake) wantsTag(p *event.TagPush) bool {
	ok, _ := path.Match(in.Sweep.pattern(), p.Tag)
	return ok
}

// retireChanges retires the active experiments under prefix, except those
// whose key is in keep.
func retireChanges(all []store.Experiment, prefix string, deleteBranch bool, keep map[string]bool) []store.Change {
	var out []store.Change
	for _, e := range all {
		if e.Desired != store.Active || !strings.HasPrefix(e.Key, prefix) || keep[e.Key] {
			continue
		}
		out = append(out, store.Change{
			Repo: e.Repo, Key: e.Key, Desired: store.Retired, DeleteBranch: deleteBranch, Status: store.Pending,
			Name: e.Name, Branch: e.Branch, BaseRef: e.BaseRef, Request: e.Request,
			SourceURL: e.SourceURL, Requester: e.Requester, Thread: e.Thread,
		})
	}
	return out
}

// applyAndQueue applies changes and queues one report for each comment of
// the changed experiments (one per sweep: its comment is shared) and one
// reconcile of the repository.
func applyAndQueue(ctx context.Context, tx store.Tx, repo store.RepoKey, changes []store.Change) error {
	any := false
	reported := map[string]bool{}
	for _, ch := range changes {
		e, changed, err := tx.ApplyChange(ctx, ch)
		if err != nil {
			return fmt.Errorf("apply %s: %w", ch.Key, err)
		}
		if !changed {
			continue
		}
		any = true
		if key := commentKey(e); !reported[key] {
			reported[key] = true
			if err := tx.EnqueueReport(ctx, e.ID); err != nil {
				return err
			}
		}
	}
	if !any {
		return nil
	}
	return tx.EnqueueReconcile(ctx, repo)
}

// Sweeps expands pushed tags into experiments.
type Sweeps struct {
	Store  store.Store
	Forges map[event.Forge]forge.Client
	Cfg    SweepConfig
	Log    zerolog.Logger
}

// Run handles one sweep task; it is the store's Task handler for TaskSweep.
func (s *Sweeps) Run(ctx context.Context, payload json.RawMessage) error {
	var t sweepTask
	if err := json.Unmarshal(payload, &t); err != nil {
		return store.Permanent(fmt.Errorf("sweep task: %w", err))
	}
	client, ok := s.Forges[t.Repo.Forge]
	if !ok {
		return store.Permanent(fmt.Errorf("forge %s is not configured", t.Repo.Forge))
	}
	// Pushes of one tag arrive in any order: act only on the one that is
	// the tag's state now; the push that made it so has a task of its own.
	// The time of the read orders tasks that race (docs/ordering.md).
	readAt := time.Now()
	now, err := client.TagTarget(ctx, t.Repo.Path, t.Tag)
	if errors.Is(err, forge.ErrNotFound) {
		now, err = "", nil
	}
	if err != nil {
		return fmt.Errorf("read tag %s: %w", t.Tag, err)
	}
	if now != t.SHA {
		s.Log.Info().Str("forge", string(t.Repo.Forge)).Str("repo", t.Repo.Path).Str("tag", t.Tag).Str("delivery", t.Delivery).
			Msg("tag push superseded: the tag has moved or gone since")
		return nil
	}
	src := store.Source{Repo: t.Repo, Key: "tag:" + t.Tag, At: readAt, State: now}
	if t.SHA == "" {
		all, err := s.Store.Experiments(ctx, t.Repo)
		if err != nil {
			return fmt.Errorf("load experiments: %w", err)
		}
		return s.apply(ctx, src, retireChanges(all, tagPrefix(t.Tag), s.Cfg.DeleteOnRetire, nil))
	}
	thread := event.Thread{Kind: event.CommitThread, SHA: t.SHA}
	file := s.Cfg.File
	if file == "" {
		file = config.DefaultSweepFile
	}
	data, err := client.ReadFile(ctx, t.Repo.Path, t.SHA, file)
	if errors.Is(err, forge.ErrNotFound) {
		return s.say(ctx, client, t, thread, fmt.Sprintf("### ⚠️ No sweep for tag %s\n\nThere is no %s at %s. Add a sweep definition there (see the sweep documentation) and push the tag again.", codeSpan(t.Tag), codeSpan(file), codeSpan(short(t.SHA))))
	}
	if err != nil {
		return fmt.Errorf("read %s at %s: %w", file, t.SHA, err)
	}
	limit := s.Cfg.Limit
	if limit <= 0 {
		limit = config.DefaultSweepLimit
	}
	def, err := sweep.Parse(data)
	var combos []sweep.Combination
	if err == nil {
		combos, err = def.Expand(limit)
	}
	if err != nil {
		return s.say(ctx, client, t, thread, fmt.Sprintf("### ⚠️ Sweep %s refused\n\nThe sweep definition %s at %s cannot be used; nothing was made.\n\n%s\n\nFix the file, then push the tag again.", codeSpan(t.Tag), codeSpan(file), codeSpan(short(t.SHA)), problemsText(err)))
	}

	all, err := s.Store.Experiments(ctx, t.Repo)
	if err != nil {
		return fmt.Errorf("load experiments: %w", err)
	}
	var changes []store.Change
	keep := map[string]bool{}
	for _, c := range combos {
		branch, err := sweep.BranchName(def.Branch, t.Tag, c.Name, string(t.Repo.Forge))
		if err != nil {
			return s.say(ctx, client, t, thread, fmt.Sprintf("### ⚠️ Sweep %s refused\n\nThe branch name for %s would be invalid: %s", codeSpan(t.Tag), codeSpan(c.Name), codeSpan(err.Error())))
		}
		req := c.Request
		req.Base = t.SHA
		raw, err := encodeRequest(req)
		if err != nil {
			return store.Permanent(err)
		}
		key := tagPrefix(t.Tag) + c.Name
		keep[key] = true
		changes = append(changes, store.Change{
			Repo: t.Repo, Key: key, Desired: store.Active, Status: store.Pending,
			Name: c.Name, Branch: branch, BaseRef: t.SHA, Request: raw,
			SourceURL: client.CommitURL(t.Repo.Path, t.SHA), Requester: t.Actor.Login, Thread: thread,
		})
	}
	changes = append(changes, retireChanges(all, tagPrefix(t.Tag), s.Cfg.DeleteOnRetire, keep)...)
	return s.apply(ctx, src, changes)
}

// apply records the tag's state and applies changes, unless a task that
// read the tag later applied its own already.
func (s *Sweeps) apply(ctx context.Context, src store.Source, changes []store.Change) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		o, err := tx.AdvanceSource(ctx, src, true)
		if err != nil || o == store.Older {
			return err
		}
		return applyAndQueue(ctx, tx, src.Repo, changes)
	})
}

// say posts a one-off comment on the tagged commit.
func (s *Sweeps) say(ctx context.Context, client forge.Client, t sweepTask, th event.Thread, body string) error {
	marker := replyMarker("tag "+t.Tag+" "+t.SHA, t.Delivery)
	if err := postOnce(ctx, client, t.Repo.Path, th, marker, body); err != nil {
		return fmt.Errorf("comment on %s: %w", t.SHA, err)
	}
	return nil
}

// renderSweep writes the one status comment of a sweep (all experiments on
// one tagged commit): a headline and a table of branches with their params.
func renderSweep(exps []store.Experiment, links forge.Client) string {
	var b strings.Builder
	b.WriteString(StatusMarker + "\n" + sweepMarker(sweepPrefix(exps[0].Key)) + "\n")
	tag := strings.TrimPrefix(exps[0].Key, "tag:")
	tag = tag[:strings.LastIndex(tag, ":")]
	counts := map[store.Status]int{}
	retired := 0
	for _, e := range exps {
		counts[e.Status]++
		if e.Desired == store.Retired {
			retired++
		}
	}
	switch {
	case retired == len(exps):
		fmt.Fprintf(&b, "### 📦 Sweep %s retired\n\n", codeSpan(tag))
	case counts[store.Failed] > 0:
		fmt.Fprintf(&b, "### ❌ Sweep %s: %d of %d branches failed\n\n", codeSpan(tag), counts[store.Failed], len(exps))
	case counts[store.Applied] == len(exps):
		fmt.Fprintf(&b, "### ✅ Sweep %s: all %d branches ready\n\n", codeSpan(tag), len(exps))
	default:
		fmt.Fprintf(&b, "### 🔄 Sweep %s: making %d branches (%d done)\n\n", codeSpan(tag), len(exps), counts[store.Applied])
	}
	combos := make([]sweep.Combination, 0, len(exps))
	branches := map[string]string{}
	for _, e := range exps {
		req, _ := decodeRequest(e.Request)
		combos = append(combos, sweep.Combination{Name: e.Name, Params: req.Params, Request: req})
		branches[e.Name] = e.Branch
	}
	b.WriteString(sweep.MarkdownTable(combos, func(name string) string {
		return links.BranchURL(exps[0].Repo.Path, branches[name])
	}))
	for _, e := range exps {
		if e.Status == store.Failed {
			fmt.Fprintf(&b, "\n- %s failed: %s", codeSpan(e.Name), e.Detail)
		}
		if e.Status == store.Applied && strings.HasPrefix(e.Detail, repairedPrefix) { // said once: the next change replaces it
			fmt.Fprintf(&b, "\n- %s: %s", codeSpan(e.Name), e.Detail)
		}
	}
	b.WriteString("\n")
	return b.String()
}

// sweepPrefix is the part of a sweep experiment's key that the sweep's
// experiments share ("tag:sweep-1:").
func sweepPrefix(key string) string { return key[:strings.LastIndex(key, ":")+1] }

// sweepMarker follows StatusMarker in a sweep's comment; prefix is the
// keys' common part. See experimentMarker.
func sweepMarker(prefix string) string {
	return "<!-- expbot:sweep " + url.QueryEscape(prefix) + " -->"
}

// reportSweep posts or edits the one comment of the sweep that e belongs
// to: every experiment on the same tagged commit. The comment's handle is
// kept on each of them with the commit it is on, so a tag moved to another
// commit gets a comment there rather than an edit of the old one.
func (r *Reporter) reportSweep(ctx context.Context, c forge.Client, e store.Experiment) error {
	unlock, err := r.lock(ctx, commentKey(e))
	if err != nil {
		return err
	}
	defer unlock()
	all, err := r.Store.Experiments(ctx, e.Repo)
	if err != nil {
		return fmt.Errorf("load sweep of %s: %w", e.Key, err)
	}
	prefix := sweepPrefix(e.Key)
	var group []store.Experiment
	var posted forge.Comment
	for _, x := range all {
		if x.Thread != e.Thread || !strings.HasPrefix(x.Key, prefix) {
			continue
		}
		group = append(group, x)
		if sha, note, ok := strings.Cut(x.CommentNote, "|"); ok && sha == e.Thread.SHA && x.CommentID != 0 {
			posted = forge.Comment{ID: x.CommentID, Note: note}
		}
	}
	if len(group) == 0 {
		return nil
	}
	body := renderSweep(group, c)
	if posted.ID == 0 {
		// As for an experiment's comment (Report): posted by a run that
		// died before it recorded the id?
		found, ok, err := c.FindComment(ctx, e.Repo.Path, e.Thread, sweepMarker(prefix))
		if errors.Is(err, forge.ErrNotFound) {
			return store.Permanent(fmt.Errorf("look for the sweep comment: the commit is gone: %w", err))
		}
		if err != nil {
			return fmt.Errorf("look for the sweep comment: %w", err)
		}
		if ok {
			for _, x := range group {
				if err := r.Store.SetComment(ctx, x.ID, found.ID, e.Thread.SHA+"|"+found.Note); err != nil {
					return fmt.Errorf("remember sweep comment: %w", err)
				}
			}
			posted = found
		}
	}
	if posted.ID != 0 {
		// Edited whether or not the body changed, as an experiment's
		// comment is: a cache of the body last written, kept by one
		// process, goes stale when another replica edits the comment. And
		// a cache is not worth a table: a sweep's experiments ask for one
		// report between them (commentKey), so a report seldom renders a
		// body that is already there.
		err := c.EditComment(ctx, e.Repo.Path, e.Thread, posted, body)
		if err == nil {
			return nil
		}
		if !errors.Is(err, forge.ErrNotFound) {
			return fmt.Errorf("edit sweep comment: %w", err)
		}
		// Someone deleted the sweep's comment: post it again.
	}
	p, err := c.CreateComment(ctx, e.Repo.Path, e.Thread, body)
	if errors.Is(err, forge.ErrNotFound) {
		return store.Permanent(fmt.Errorf("post sweep comment: the commit is gone: %w", err))
	}
	if err != nil {
		return fmt.Errorf("post sweep comment: %w", err)
	}
	for _, x := range group {
		if err := r.Store.SetComment(ctx, x.ID, p.ID, e.Thread.SHA+"|"+p.Note); err != nil {
			return fmt.Errorf("remember sweep comment: %w", err)
		}
	}
	return nil
}
