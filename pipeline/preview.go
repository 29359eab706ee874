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
	unlock, err := r.waitLock(ctx, repo)
	if err != nil {
		return "", err
	}
	defer unlock()
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
	st, err := r.stacks.get(ctx, repo, Program(fg.Provider, repo, specs))
	if err != nil {
		return "", err
	}
	evs := make(chan events.EngineEvent)
	var steps []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range evs {
			pre := ev.ResourcePreEvent
			if pre == nil || pre.Metadata.Op == "same" || pre.Metadata.Type == "pulumi:pulumi:Stack" || strings.HasPrefix(pre.Metadata.Type, "pulumi:providers:") {
				continue
			}
			name := pre.Metadata.URN[strings.LastIndex(pre.Metadata.URN, "::")+2:]
			steps = append(steps, fmt.Sprintf("- %s %s `%s`", pre.Metadata.Op, kindOf(pre.Metadata.Type), name))
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
func (r *Reconciler) waitLock(ctx context.Context, repo store.RepoKey) (func(), error) {
	deadline := time.Now().Add(previewWait)
	for {
		if unlock, ok := r.locks.tryLock(repo.Forge, repo.Path); ok {
			return unlock, nil
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
