package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/spec"
	"github.com/expbot/expbot/pipeline/store"
)

// StatusMarker starts every status comment, so the bot can recognise (and
// ignore) its own comments whichever account it posts as.
const StatusMarker = "<!-- expbot:status -->"

// experimentMarker follows StatusMarker in an experiment's status comment.
// A crash between posting the comment and recording its id leaves the
// comment unknown to the store; the marker finds it again (FindComment), so
// it is adopted rather than posted twice.
func experimentMarker(key string) string {
	return "<!-- expbot:experiment " + url.QueryEscape(key) + " -->"
}

// replyMarker identifies a one-off comment by the job that posts it: what
// it answers (a command's comment, a tag push) and the delivery that
// queued the job.
func replyMarker(what, delivery string) string {
	return "<!-- expbot:reply " + url.QueryEscape(what) + " " + url.QueryEscape(delivery) + " -->"
}

// postOnce posts a one-off comment carrying marker. A job that was started
// before may have posted it already, its process dying before the job was
// recorded as done: then the marker finds it (one lookup of the thread,
// only on such a retry) and nothing is posted again. Such replies (to a
// command, a tag push) are not status comments and do not go through the
// report job: each has one writer already, the one task job of its
// delivery, and is never edited.
func postOnce(ctx context.Context, c forge.Client, repo string, th event.Thread, marker, body string) error {
	if store.Retried(ctx) {
		_, ok, err := c.FindComment(ctx, repo, th, marker)
		if err != nil {
			return fmt.Errorf("look for an earlier post: %w", err)
		}
		if ok {
			return nil
		}
	}
	_, err := c.CreateComment(ctx, repo, th, StatusMarker+"\n"+marker+"\n"+body)
	return err
}

// Reporter posts and edits the one status comment of each experiment.
type Reporter struct {
	Store  store.Store
	Forges map[event.Forge]forge.Client
	// VariantFile is the configured variant_file, named where the params
	// table is cut short.
	VariantFile string
	// Gate lets acknowledgements in flight go before a comment is written;
	// nil waits for none.
	Gate *ackfirst.Gate
}

// Report brings the status comment of an experiment up to date with the
// store: it posts the comment the first time and edits it afterwards.
func (r *Reporter) Report(ctx context.Context, id int64) error {
	// One writer per comment across every process sharing the store, or
	// two reports could both post a first comment. The report job is the
	// only writer, and one job per repository runs at a time, so this is
	// defence: against a job run twice (by a replica whose lease ran out
	// while it still ran) and report jobs of earlier versions (queue's
	// ReportArgs). An experiment's comment is locked by its id, before
	// the experiment is read, so that one read under the lock does; a
	// sweep's experiments share the sweep's comment and its lock instead.
	unlock, err := r.lock(ctx, experimentCommentKey(id))
	if err != nil {
		return err
	}
	locked := true
	defer func() {
		if locked {
			unlock()
		}
	}()
	e, err := r.Store.Experiment(ctx, id)
	if err != nil {
		return fmt.Errorf("load experiment %d: %w", id, err)
	}
	c, ok := r.Forges[e.Repo.Forge]
	if !ok {
		return store.Permanent(fmt.Errorf("forge %s is not configured", e.Repo.Forge))
	}
	if e.Thread.Kind == event.CommitThread {
		// One comment lock at a time (a worker's lock connections are
		// counted that way on PostgreSQL).
		locked = false
		unlock()
		return r.reportSweep(ctx, c, e)
	}
	r.Gate.Wait(ctx)
	body := RenderStatus(e, c, r.VariantFile)
	if e.CommentID == 0 {
		// Only now, so that the usual report costs no extra call: the
		// comment may have been posted by a run that died before it could
		// record the id.
		found, ok, err := c.FindComment(ctx, e.Repo.Path, e.Thread, experimentMarker(e.Key))
		if errors.Is(err, forge.ErrNotFound) {
			return store.Permanent(fmt.Errorf("look for the status comment: the thread is gone: %w", err))
		}
		if err != nil {
			return fmt.Errorf("look for the status comment: %w", err)
		}
		if ok {
			e.CommentID, e.CommentNote = found.ID, found.Note
			if err := r.Store.SetComment(ctx, e.ID, found.ID, found.Note); err != nil {
				return fmt.Errorf("remember status comment: %w", err)
			}
		}
	}
	if e.CommentID != 0 {
		err := c.EditComment(ctx, e.Repo.Path, e.Thread, forge.Comment{ID: e.CommentID, Note: e.CommentNote}, body)
		if !errors.Is(err, forge.ErrNotFound) {
			if err != nil {
				return fmt.Errorf("edit status comment: %w", err)
			}
			return nil
		}
		// Someone deleted the status comment: post it again.
	}
	posted, err := c.CreateComment(ctx, e.Repo.Path, e.Thread, body)
	if errors.Is(err, forge.ErrNotFound) {
		// The issue or request was deleted (or moved): nowhere to answer.
		return store.Permanent(fmt.Errorf("post status comment: the thread is gone: %w", err))
	}
	if err != nil {
		return fmt.Errorf("post status comment: %w", err)
	}
	if err := r.Store.SetComment(ctx, e.ID, posted.ID, posted.Note); err != nil {
		return fmt.Errorf("remember status comment: %w", err)
	}
	return nil
}

// RenderStatus writes the status comment for an experiment as it stands;
// variantFile is the configured variant_file.
func RenderStatus(e store.Experiment, links interface {
	BranchURL(repo, branch string) string
	CommitURL(repo, sha string) string
}, variantFile string) string {
	var b strings.Builder
	b.WriteString(StatusMarker + "\n" + experimentMarker(e.Key) + "\n")
	// Names and refs come from the request: a ref may hold backticks, so
	// each goes into a code span fenced longer than any run inside it.
	name, branch := codeSpan(e.Name), codeSpan(e.Branch)
	if e.Branch != "" && e.Status == store.Applied {
		branch = fmt.Sprintf("[%s](%s)", branch, links.BranchURL(e.Repo.Path, e.Branch))
	}
	base := "the default branch"
	if e.BaseRef != "" {
		base = codeSpan(e.BaseRef)
	}
	switch {
	case e.Status == store.Invalid:
		b.WriteString("### ⚠️ expbot cannot run this experiment request\n\n")
		b.WriteString(e.Detail + "\n\n")
		b.WriteString("Edit the description to fix it; expbot reads it again on every edit.")
		if e.Branch != "" {
			fmt.Fprintf(&b, " The branch %s stays as it was until then.", codeSpan(e.Branch))
		}
		b.WriteString("\n")
		return b.String()
	case e.Desired == store.Retired && e.Status == store.Released:
		if e.DeleteBranch {
			fmt.Fprintf(&b, "### 🗑️ Experiment %s retired\n\nThe branch %s was deleted.\n", name, codeSpan(e.Branch))
		} else {
			fmt.Fprintf(&b, "### 📦 Experiment %s retired\n\nThe branch %s is kept as it is and no longer managed by expbot.\n", name, codeSpan(e.Branch))
		}
		return b.String()
	case e.Desired == store.Retired:
		fmt.Fprintf(&b, "### ⏳ Retiring experiment %s…\n", name)
		if e.Status == store.Failed {
			b.WriteString("\nThe last attempt failed: " + e.Detail + "\n")
		}
		return b.String()
	case e.Status == store.Pending:
		fmt.Fprintf(&b, "### ⏳ Experiment %s accepted\n\nBranch %s will be made from %s.\n", name, branch, base)
	case e.Status == store.Running:
		fmt.Fprintf(&b, "### 🔄 Making branch %s…\n\nFrom %s", branch, base)
		if e.BaseSHA != "" {
			fmt.Fprintf(&b, " at [`%s`](%s)", short(e.BaseSHA), links.CommitURL(e.Repo.Path, e.BaseSHA))
		}
		b.WriteString(".\n")
	case e.Status == store.Applied:
		fmt.Fprintf(&b, "### ✅ Experiment %s is ready\n\n", name)
		// A "|" in a ref would end its table cell, code span or not.
		cell := strings.NewReplacer("|", `\|`).Replace
		// A drift repair says so, once: the next change replaces it.
		row := "Pulumi"
		if strings.HasPrefix(e.Detail, repairedPrefix) {
			row = "Drift"
		}
		fmt.Fprintf(&b, "| | |\n|---|---|\n| Branch | %s |\n| Base | %s at [`%s`](%s) |\n| %s | %s |\n",
			cell(branch), cell(base), short(e.BaseSHA), links.CommitURL(e.Repo.Path, e.BaseSHA), row, cell(e.Detail))
	case e.Status == store.Failed:
		fmt.Fprintf(&b, "### ❌ Experiment %s failed\n\n%s\n\n", name, e.Detail)
		b.WriteString("Fix the request by editing the description, or ask an admin if the error is not about the request; expbot tries again on the next edit.\n")
	}
	if req, err := decodeRequest(e.Request); len(e.Request) > 0 && err == nil && len(req.Params) > 0 {
		b.WriteString("\n**Parameters**\n\n" + spec.MarkdownTable(req.Params, variantFile) + "\n")
	}
	return b.String()
}

// codeSpan shows s as one inline code span whatever it holds: the fence is
// one backtick longer than the longest run of backticks in s (CommonMark),
// and s is padded with a space on each side when it starts or ends with a
// backtick or a space, since renderers strip one from each side.
func codeSpan(s string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	fence := strings.Repeat("`", longest+1)
	return fence + s + fence
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// commentKey names the status comment that e's report writes: its own, or
// its sweep's, which all experiments of the sweep (on one commit) share.
func commentKey(e store.Experiment) string {
	if e.Thread.Kind == event.CommitThread {
		return "sweep " + string(e.Repo.Forge) + " " + e.Repo.Path + " " + e.Thread.SHA + " " + sweepPrefix(e.Key)
	}
	return experimentCommentKey(e.ID)
}

func experimentCommentKey(id int64) string { return fmt.Sprintf("experiment %d", id) }

// lock waits for the status comment lock of key (store.Store.TryLockComment).
func (r *Reporter) lock(ctx context.Context, key string) (func(), error) {
	for {
		unlock, ok, err := r.Store.TryLockComment(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("lock status comment: %w", err)
		}
		if ok {
			return unlock, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
