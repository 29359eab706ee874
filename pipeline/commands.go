package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/command"
	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/spec"
	"github.com/expbot/expbot/pipeline/store"
)

// TaskCommand is the task kind of a comment holding /experiment commands.
const TaskCommand = "command"

// commandTask is what intake stores for a comment with commands: enough to
// run them later, when the forge API may be called.
type commandTask struct {
	Delivery   string        `json:"delivery"`
	Repo       store.RepoKey `json:"repo"`
	Thread     event.Thread  `json:"thread"`
	CommentID  int64         `json:"comment_id"`
	CommentURL string        `json:"comment_url"`
	Body       string        `json:"body"`
	Actor      event.Actor   `json:"actor"`
	HeadBranch string        `json:"head_branch,omitempty"`
	HeadSHA    string        `json:"head_sha,omitempty"`
	// When the comment was written, and whether the request was closed or
	// merged by then, as the payload says (docs/ordering.md).
	At         time.Time `json:"at,omitzero"`
	PullClosed bool      `json:"pull_closed,omitempty"`
}

func (commandTask) TaskKind() string { return TaskCommand }

// CommandConfig rules who may run commands and how branches are named.
type CommandConfig struct {
	MinAccess      forge.Access // for commands that change or preview; default Write
	BranchTemplate string       // default config.DefaultPullBranchTemplate
	DeleteOnRetire bool         // delete branches when a request ends or on delete
}

// Commands runs /experiment commands from pull/merge request comments.
type Commands struct {
	Store      store.Store
	Forges     map[event.Forge]forge.Client
	Reconciler *Reconciler
	Cfg        CommandConfig
	Log        zerolog.Logger
}

// pullKey keys an experiment made from a pull/merge request.
func pullKey(number int, name string) string { return "pull:" + strconv.Itoa(number) + ":" + name }

func pullPrefix(number int) string { return "pull:" + strconv.Itoa(number) + ":" }

// Run handles one command task; it is the store's Task handler for
// TaskCommand.
func (c *Commands) Run(ctx context.Context, payload json.RawMessage) error {
	var t commandTask
	if err := json.Unmarshal(payload, &t); err != nil {
		return store.Permanent(fmt.Errorf("command task: %w", err))
	}
	client, ok := c.Forges[t.Repo.Forge]
	if !ok {
		return store.Permanent(fmt.Errorf("forge %s is not configured", t.Repo.Forge))
	}
	log := c.Log.With().Str("forge", string(t.Repo.Forge)).Str("repo", t.Repo.Path).Int("pull", t.Thread.Number).Str("delivery", t.Delivery).Logger()
	if err := client.React(ctx, t.Repo.Path, t.Thread, t.CommentID, "eyes"); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		if forge.IsTransient(err) {
			return err
		}
		log.Warn().Err(err).Msg("react to the command comment")
	}
	res := command.Parse(t.Body)
	if res.Reply != "" {
		return c.reply(ctx, client, t, res.Reply)
	}
	if len(res.Commands) == 0 {
		return nil
	}
	if needsAccess(res.Commands) {
		lvl, err := client.Access(ctx, t.Repo.Path, t.Actor)
		if err != nil {
			return fmt.Errorf("check access of %s: %w", t.Actor.Login, err)
		}
		if lvl < c.minAccess() {
			log.Info().Str("actor", t.Actor.Login).Msg("command refused: not enough access")
			return c.reply(ctx, client, t, fmt.Sprintf("Sorry %s, `/experiment` commands that change or preview experiments need %s access to this repository. Nothing was done.", mention(t.Actor.Login), accessName(c.minAccess(), t.Repo.Forge)))
		}
	}
	if t.HeadSHA == "" {
		branch, sha, err := client.PullHead(ctx, t.Repo.Path, t.Thread.Number)
		if err != nil {
			return fmt.Errorf("head of #%d: %w", t.Thread.Number, err)
		}
		t.HeadBranch, t.HeadSHA = branch, sha
	}
	all, err := c.Store.Experiments(ctx, t.Repo)
	if err != nil {
		return fmt.Errorf("load experiments: %w", err)
	}
	mine := map[string]store.Experiment{}
	for _, e := range all {
		if strings.HasPrefix(e.Key, pullPrefix(t.Thread.Number)) {
			mine[e.Name] = e
		}
	}

	var changes []store.Change
	var replies []string
	sync := false
	for _, cmd := range res.Commands {
		switch {
		case cmd.Verb == command.List:
			replies = append(replies, c.list(client, t, mine))
		case cmd.Verb == command.Sync:
			if !sync {
				replies = append(replies, "### Drift check queued\n\nexpbot checks this repository's experiment branches against what it made and repairs deleted branches and changed variant files; each repair shows in the experiment's status comment. Commits pushed on top of a branch are left alone.")
			}
			sync = true
		case cmd.Preview:
			ch, problem := c.changeFor(t, cmd, mine)
			if problem != "" {
				replies = append(replies, problem)
				continue
			}
			replies = append(replies, c.preview(ctx, t, all, ch))
		default:
			if e, ok := mine[cmd.Name]; ok && cmd.Verb == command.New && e.Desired == store.Active &&
				t.CommentURL != "" && e.SourceURL == t.CommentURL {
				// This comment made it: the job runs again (its end was not
				// recorded, e.g. the database went away), and what it did
				// stands. Not "already exists".
				continue
			}
			ch, problem := c.changeFor(t, cmd, mine)
			if problem != "" {
				replies = append(replies, problem)
				continue
			}
			changes = append(changes, ch)
			mine[ch.Name] = pretend(mine[ch.Name], ch)
		}
	}
	if len(changes) > 0 {
		why, err := c.apply(ctx, t, changes)
		if err != nil {
			return err
		}
		replies = append(replies, why...)
	}
	if sync { // a check of the whole repository, whatever the request's state
		if err := c.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error { return EnqueueDrift(ctx, tx, t.Repo) }); err != nil {
			return fmt.Errorf("queue a drift check: %w", err)
		}
	}
	if len(replies) > 0 {
		return c.reply(ctx, client, t, strings.Join(replies, "\n\n---\n\n"))
	}
	return nil
}

func needsAccess(cmds []command.Command) bool {
	for _, c := range cmds {
		if c.Verb != command.List {
			return true
		}
	}
	return false
}

func (c *Commands) minAccess() forge.Access {
	if c.Cfg.MinAccess == forge.NoAccess {
		return forge.Write
	}
	return c.Cfg.MinAccess
}

// changeFor turns one command into a desired-state change, or explains in
// problem why it cannot be done.
func (c *Commands) changeFor(t commandTask, cmd command.Command, mine map[string]store.Experiment) (store.Change, string) {
	old, exists := mine[cmd.Name]
	active := exists && old.Desired == store.Active
	ch := store.Change{
		Repo: t.Repo, Key: pullKey(t.Thread.Number, cmd.Name), Name: cmd.Name,
		SourceURL: t.CommentURL, Requester: t.Actor.Login, Thread: t.Thread,
		Status: store.Pending, Desired: store.Active,
	}
	switch cmd.Verb {
	case command.New:
		if active {
			return ch, fmt.Sprintf("Experiment %s already exists in this request: use `/experiment update %s key=value ...` to change it.", codeSpan(cmd.Name), cmd.Name)
		}
		tmpl := c.Cfg.BranchTemplate
		if tmpl == "" {
			tmpl = config.DefaultPullBranchTemplate
		}
		branch, err := spec.BranchName(tmpl, spec.BranchVars{Number: t.Thread.Number, Name: cmd.Name, Forge: string(t.Repo.Forge)})
		if err != nil {
			return ch, fmt.Sprintf("Experiment %s: the branch name would be invalid: %s", codeSpan(cmd.Name), err)
		}
		req := spec.Request{Name: cmd.Name, Params: map[string]any{}}
		if cmd.Request != nil {
			req = *cmd.Request
		}
		maps.Copy(req.Params, cmd.Params)
		base := cmd.Base
		if base == "" {
			base = req.Base
		}
		if base == "" {
			base = t.HeadSHA // the request's head, pinned now
		}
		if exists && old.Branch == branch && branchExists(old) {
			// A retired experiment of the same name whose branch was kept
			// comes back on it rather than moving it.
			base = old.BaseRef
		}
		req.Base = base
		raw, err := encodeRequest(req)
		if err != nil {
			return ch, "internal error encoding the request"
		}
		ch.Branch, ch.BaseRef, ch.Request = branch, base, raw
		return ch, ""
	case command.Update:
		if !active {
			return ch, fmt.Sprintf("There is no experiment %s in this request: create it with `/experiment new %s ...`.", codeSpan(cmd.Name), cmd.Name)
		}
		if cmd.Base != "" && cmd.Base != old.BaseRef {
			return ch, fmt.Sprintf("The base of %s cannot change once its branch exists (that would delete the branch): start a new experiment with `base=` instead.", codeSpan(cmd.Name))
		}
		req, err := decodeRequest(old.Request)
		if err != nil {
			return ch, "internal error reading the stored request"
		}
		if cmd.Request != nil {
			mergeRequest(&req, *cmd.Request)
		}
		mergeParams(req.Params, cmd.Params)
		raw, err := encodeRequest(req)
		if err != nil {
			return ch, "internal error encoding the request"
		}
		ch.Branch, ch.BaseRef, ch.Request = old.Branch, old.BaseRef, raw
		return ch, ""
	case command.Delete:
		if !active {
			return ch, fmt.Sprintf("There is no experiment %s in this request to delete.", codeSpan(cmd.Name))
		}
		ch.Desired, ch.DeleteBranch = store.Retired, cmd.DeleteBranch || c.Cfg.DeleteOnRetire
		ch.Branch, ch.BaseRef, ch.Request = old.Branch, old.BaseRef, old.Request
		return ch, ""
	default:
		return ch, fmt.Sprintf("Unsupported command %q.", cmd.Verb)
	}
}

// branchExists reports whether an experiment's branch was made and not
// deleted since (as Intake.refuseRebase reads it).
func branchExists(e store.Experiment) bool {
	return e.Branch != "" && e.BaseSHA != "" && !(e.Desired == store.Retired && e.DeleteBranch && e.Status == store.Released)
}

// mergeRequest lets a yaml block in an update replace the descriptive
// fields it sets; its params are merged key by key.
func mergeRequest(dst *spec.Request, src spec.Request) {
	for _, f := range []struct {
		to   *string
		from string
	}{
		{&dst.Description, src.Description}, {&dst.Model, src.Model}, {&dst.Dataset, src.Dataset},
	} {
		if f.from != "" {
			*f.to = f.from
		}
	}
	mergeParams(dst.Params, src.Params)
}

// mergeParams sets src's values over dst's, descending into nested maps.
func mergeParams(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if into, ok := dst[k].(map[string]any); ok {
				mergeParams(into, sub)
				continue
			}
		}
		dst[k] = v
	}
}

// pretend applies a change to a copy of an experiment, so that later
// commands in the same comment see the earlier ones' effect.
func pretend(e store.Experiment, ch store.Change) store.Experiment {
	if e.BaseRef != ch.BaseRef { // as ApplyChange: a new base is resolved anew
		e.BaseSHA = ""
	}
	e.Repo, e.Key, e.Name, e.Desired, e.Branch, e.BaseRef, e.Request = ch.Repo, ch.Key, ch.Name, ch.Desired, ch.Branch, ch.BaseRef, ch.Request
	e.DeleteBranch, e.Status = ch.DeleteBranch, ch.Status
	return e
}

// apply records the changes in one transaction and queues their work,
// unless the request was closed or merged when the comment was written or
// since, or a newer command on the same experiment was applied already: a
// late command never undoes newer state (docs/ordering.md). why explains
// what was not done.
func (c *Commands) apply(ctx context.Context, t commandTask, changes []store.Change) (why []string, err error) {
	if t.PullClosed {
		return []string{"This request is closed or merged: commands that change experiments run only while it is open. Nothing was changed."}, nil
	}
	err = c.Store.InTx(ctx, func(ctx context.Context, tx store.Tx) error {
		why = nil
		pull, err := tx.Source(ctx, t.Repo, pullSourceKey(t.Thread.Number))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && pull.State != pullOpen && !t.At.IsZero() && !pull.At.Before(t.At) {
			why = append(why, "This request was closed or merged after this comment was written. Nothing was changed.")
			return nil
		}
		var apply []store.Change
		for _, ch := range changes {
			ok, err := commandIsNewest(ctx, tx, t, ch.Key)
			if err != nil {
				return err
			}
			if !ok {
				why = append(why, fmt.Sprintf("A newer command for %s was applied before this one arrived, so this one was not.", codeSpan(ch.Name)))
				continue
			}
			apply = append(apply, ch)
		}
		return applyAndQueue(ctx, tx, t.Repo, apply)
	})
	return why, err
}

// commandIsNewest records the command's comment as the newest source of an
// experiment, unless a comment written later was applied to it already.
// Comments written in the same second are ordered by id: both forges
// number comments in the order they are made.
func commandIsNewest(ctx context.Context, tx store.Tx, t commandTask, key string) (bool, error) {
	src := store.Source{Repo: t.Repo, Key: key, At: t.At, State: strconv.FormatInt(t.CommentID, 10)}
	stored, err := tx.Source(ctx, t.Repo, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	settled := t.At.IsZero() // no time to order by: as before, apply
	if err == nil && stored.At.Equal(t.At) {
		id, _ := strconv.ParseInt(stored.State, 10, 64)
		settled = t.CommentID >= id
	}
	o, err := tx.AdvanceSource(ctx, src, settled)
	return o == store.Newer || o == store.Same, err
}

func (c *Commands) reply(ctx context.Context, client forge.Client, t commandTask, body string) error {
	marker := replyMarker("command "+strconv.FormatInt(t.CommentID, 10), t.Delivery)
	if err := postOnce(ctx, client, t.Repo.Path, t.Thread, marker, body); err != nil {
		return fmt.Errorf("reply to the command: %w", err)
	}
	return nil
}

// list answers /experiment list: one row per experiment, then the params
// side by side.
func (c *Commands) list(client forge.Client, t commandTask, mine map[string]store.Experiment) string {
	if len(mine) == 0 {
		return "No experiments in this request yet. Start one with `/experiment new <name> key=value ...`."
	}
	names := make([]string, 0, len(mine))
	for n := range mine {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString("### Experiments of this request\n\n| Name | Branch | Base | State |\n|---|---|---|---|\n")
	var params []map[string]any
	for _, n := range names {
		e := mine[n]
		branch := codeSpan(e.Branch)
		// Link only a branch that exists: applied, or kept on retire after
		// it was made once.
		if e.Status == store.Applied || e.Desired == store.Retired && !e.DeleteBranch && e.Applied > 0 {
			branch = fmt.Sprintf("[%s](%s)", branch, client.BranchURL(t.Repo.Path, e.Branch))
		}
		base := codeSpan(short(e.BaseSHA))
		if e.BaseSHA == "" {
			base = codeSpan(e.BaseRef)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", codeSpan(n), branch, base, stateWord(e))
		req, _ := decodeRequest(e.Request)
		params = append(params, req.Params)
	}
	b.WriteString("\n**Parameters**\n\n" + command.ParamsComparison(names, params))
	return b.String()
}

func stateWord(e store.Experiment) string {
	if e.Desired == store.Retired {
		return "retired"
	}
	return string(e.Status)
}

// preview answers /experiment preview: what an update would do with the
// change applied, without applying it.
func (c *Commands) preview(ctx context.Context, t commandTask, all []store.Experiment, ch store.Change) string {
	hypothetical := make([]store.Experiment, 0, len(all)+1)
	var previous json.RawMessage // the params of an active experiment before the change
	found := false
	for _, e := range all {
		if e.Key == ch.Key {
			if e.Desired == store.Active {
				previous = e.Request
			}
			e = pretend(e, ch)
			e.Status, e.BaseSHA = store.Pending, ""
			found = true
		}
		hypothetical = append(hypothetical, e)
	}
	if !found {
		hypothetical = append(hypothetical, pretend(store.Experiment{Status: store.Pending}, ch))
	}
	out, err := c.Reconciler.Preview(ctx, t.Repo, hypothetical)
	if err != nil {
		return fmt.Sprintf("### Preview of %s\n\nThe preview failed: %s", codeSpan(ch.Name), err)
	}
	reply := fmt.Sprintf("### Preview of %s\n\nNothing was changed. An update would do:\n\n%s", codeSpan(ch.Name), out)
	if previous != nil && ch.Desired == store.Active {
		if changes := paramChanges(previous, ch.Request); changes != "" {
			reply += "\n\n**Parameters that would change**\n\n" + changes
		}
	}
	return reply
}

// paramChanges shows how an update's params differ from the stored ones.
func paramChanges(old, new json.RawMessage) string {
	before, err := decodeRequest(old)
	if err != nil {
		return ""
	}
	after, err := decodeRequest(new)
	if err != nil {
		return ""
	}
	return command.ParamChanges(before.Params, after.Params)
}

func mention(login string) string { return "@" + login }

func accessName(a forge.Access, f event.Forge) string {
	names := map[forge.Access][2]string{
		forge.Read: {"read", "Guest"}, forge.Triage: {"triage", "Reporter"}, forge.Write: {"write", "Developer"},
		forge.Maintain: {"maintain", "Maintainer"}, forge.Admin: {"admin", "Owner"},
	}
	n := names[a]
	if f == event.GitLab {
		return "at least " + n[1]
	}
	return "at least " + n[0]
}
