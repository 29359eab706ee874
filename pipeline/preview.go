package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"

	"github.com/expbot/expbot/pipeline/store"
)

// previewWait bounds how long a preview waits for a running update of the
// same repository to finish.
const previewWait = 2 * time.Minute

// Preview runs a Pulumi preview of the stack of repo as if its experiments
// were exps, and describes the steps it would take. Nothing is changed.
func (r *Reconciler) Preview(ctx context.Context, repo store.RepoKey, exps []store.Experiment) (string, error) {
	held, err := r.waitLock(ctx, repo)
	if err != nil {
		return "", err
	}
	defer held.release()
	fg, ok := r.Forges[repo.Forge]
	if !ok {
		return "", fmt.Errorf("forge %s is not configured", repo.Forge)
	}
	var specs []BranchSpec
	for _, e := range exps {
		keep := e.Desired == store.Retired && !e.DeleteBranch && e.Applied > 0 && e.BaseSHA != ""
		if e.Branch == "" || (e.Desired != store.Active && !keep) {
			continue
		}
		if e.BaseSHA == "" {
			sha, err := r.resolveBase(ctx, fg.Client, repo, e)
			if err != nil {
				return "", err
			}
			e.BaseSHA = sha
		}
		spec, err := r.branchSpec(e)
		if err != nil {
			return "", err
		}
		specs = append(specs, spec)
	}
	st, err := held.stack(ctx, Program(fg.Provider, repo, specs))
	if err != nil {
		return "", err
	}
	names := previewNames(exps, specs, r.Variant.Path)
	evs := make(chan events.EngineEvent)
	var steps []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range evs {
			if pre := ev.ResourcePreEvent; pre != nil {
				if line, ok := describeStep(string(pre.Metadata.Op), pre.Metadata.Type, pre.Metadata.URN, names); ok {
					steps = append(steps, line)
				}
			}
		}
	}()
	_, err = st.Preview(ctx, optpreview.EventStreams(evs), optpreview.SuppressProgress())
	<-done
	if err != nil {
		return "", redact(err)
	}
	if len(steps) == 0 {
		return "No changes.", nil
	}
	return strings.Join(steps, "\n"), nil
}

// previewName is what a Pulumi resource of an experiment is on the forge.
type previewName struct {
	branch, file, base string // file is "" for the branch resource
}

// previewNames maps the Pulumi names of exps' resources to the branches and
// files they are, so that a preview speaks of those and not of Pulumi's
// names.
func previewNames(exps []store.Experiment, specs []BranchSpec, file string) map[string]previewName {
	names := map[string]previewName{}
	for _, e := range exps { // resources a preview may delete are not in specs
		if e.Branch != "" {
			names[resourceName(e.Key, "branch")] = previewName{branch: e.Branch, base: e.BaseSHA}
			names[resourceName(e.Key, "file")] = previewName{branch: e.Branch, file: file}
		}
	}
	for _, b := range specs {
		names[resourceName(b.Key, "branch")] = previewName{branch: b.Branch, base: b.BaseSHA}
		names[resourceName(b.Key, "file")] = previewName{branch: b.Branch, file: b.FilePath}
	}
	return names
}

// describeStep says in one line what a step of a preview does on the forge;
// ok is false for steps that change nothing there (and for the halves of a
// replacement, which "replace" already says).
func describeStep(op, typ, urn string, names map[string]previewName) (string, bool) {
	switch op {
	case "create", "update", "delete", "replace":
	default:
		return "", false
	}
	if typ == "pulumi:pulumi:Stack" || strings.HasPrefix(typ, "pulumi:providers:") {
		return "", false
	}
	name := urn[strings.LastIndex(urn, "::")+2:]
	n, known := names[name]
	switch {
	case !known:
		return fmt.Sprintf("- %s %s `%s`", op, kindOf(typ), name), true
	case n.file != "":
		what := map[string]string{
			"create": "commit", "update": "commit a new version of", "delete": "delete", "replace": "commit anew",
		}[op]
		return fmt.Sprintf("- %s %s on branch %s", what, codeSpan(n.file), codeSpan(n.branch)), true
	case op == "create" && n.base != "":
		return fmt.Sprintf("- create branch %s from %s", codeSpan(n.branch), codeSpan(short(n.base))), true
	default:
		return fmt.Sprintf("- %s branch %s", op, codeSpan(n.branch)), true
	}
}

// kindOf turns a type token into a word for people.
func kindOf(typ string) string {
	switch {
	case strings.HasSuffix(typ, "/branch:Branch"):
		return "branch"
	case strings.HasSuffix(typ, "/repositoryFile:RepositoryFile"):
		return "variant file"
	default:
		return typ
	}
}

// waitLock takes the repository's lock, waiting for a running update.
func (r *Reconciler) waitLock(ctx context.Context, repo store.RepoKey) (*hold, error) {
	deadline := time.Now().Add(previewWait)
	for {
		unlock, ok, err := r.Store.TryLockRepo(ctx, repo)
		if err != nil {
			return nil, err
		}
		if ok {
			return r.stacks.hold(repo, unlock), nil
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the repository is busy with updates; try the preview again later")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
