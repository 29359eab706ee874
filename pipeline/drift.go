package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// TaskDrift is the task kind of a drift check of one repository
// (docs/drift.md). It runs in the same queue as reconciles and takes the
// same per-repository lock, so a check never runs beside another Pulumi
// operation on the stack.
const TaskDrift = "drift"

// driftTask is the payload: the repository alone, so that requests for a
// check of the same repository while one is queued are absorbed by it.
type driftTask struct {
	Repo store.RepoKey `json:"repo"`
}

func (driftTask) TaskKind() string { return TaskDrift }

// EnqueueDrift queues a drift check of repo in tx.
func EnqueueDrift(ctx context.Context, tx store.Tx, repo store.RepoKey) error {
	if repo.Forge == "" || repo.Path == "" {
		return fmt.Errorf("drift check: empty repository")
	}
	return tx.EnqueueTask(ctx, driftTask{Repo: repo})
}

// RunDrift handles one TaskDrift task.
func (r *Reconciler) RunDrift(ctx context.Context, payload json.RawMessage) error {
	var t driftTask
	if err := json.Unmarshal(payload, &t); err != nil || t.Repo.Forge == "" || t.Repo.Path == "" {
		return store.Permanent(fmt.Errorf("drift task %s: not a repository", payload))
	}
	return r.run(ctx, t.Repo, true)
}

// Drift kinds: what was found changed on the forge, and repaired. They are
// the kind label of expbot_drift_repairs_total.
const (
	BranchDeleted = "branch_deleted" // made again from its pinned base plus the variant file
	FileChanged   = "file_changed"   // the variant file restored by a new commit
	FileDeleted   = "file_deleted"   // the variant file committed again
)

var driftKinds = []string{BranchDeleted, FileChanged, FileDeleted}

// repair is one experiment whose branch drifted.
type repair struct {
	exp  store.Experiment
	kind string
}

// step is one resource step of a preview: its operation and Pulumi name.
type step struct{ op, name string }

// classifyDrift tells, from the steps a preview after a refresh would take,
// which of the settled experiments (active, applied, in sync when last
// applied) drifted and how. Steps that would delete or replace one of
// their resources are returned as unsafe: a drift repair only ever makes
// and commits, so such a step means something else is wrong, and the
// repair is not run.
func classifyDrift(steps []step, settled []store.Experiment) (repairs []repair, unsafe []string) {
	ops := map[string][]string{}
	for _, s := range steps {
		ops[s.name] = append(ops[s.name], s.op)
	}
	for _, e := range settled {
		branch, file := resourceName(e.Key, "branch"), resourceName(e.Key, "file")
		for _, name := range []string{branch, file} {
			for _, op := range ops[name] {
				switch op {
				case "create", "update", "same", "read", "refresh":
				default:
					unsafe = append(unsafe, op+" "+name)
				}
			}
		}
		switch {
		case slices.Contains(ops[branch], "create"):
			repairs = append(repairs, repair{e, BranchDeleted})
		case slices.Contains(ops[file], "create"):
			repairs = append(repairs, repair{e, FileDeleted})
		case slices.Contains(ops[file], "update"):
			repairs = append(repairs, repair{e, FileChanged})
		}
	}
	return repairs, unsafe
}

// repairedPrefix starts the detail of an experiment whose drift was
// repaired; the status comment shows it in its own row.
const repairedPrefix = "Repaired "

// repairNote says in the status comment, once, what was repaired and when.
func repairNote(rp repair, file string, at time.Time) string {
	what := map[string]string{
		BranchDeleted: fmt.Sprintf("the branch had been deleted; it was made again from its base %s with %s", codeSpan(short(rp.exp.BaseSHA)), codeSpan(file)),
		FileChanged:   fmt.Sprintf("%s had been changed on the branch; a new commit restores it", codeSpan(file)),
		FileDeleted:   fmt.Sprintf("%s had been deleted from the branch; a new commit restores it", codeSpan(file)),
	}[rp.kind]
	return repairedPrefix + at.UTC().Format("2006-01-02 15:04 UTC") + ": " + what + "."
}

// findDrift refreshes the settled experiments' resources from the forge and
// previews the program against what was read. The retired experiments'
// kept branches are not refreshed: people may do with them what they like.
// A failed refresh changes nothing on the forge; its error is returned for
// the queue to retry.
func (r *Reconciler) findDrift(ctx context.Context, st *auto.Stack, repo store.RepoKey, settled []store.Experiment) ([]repair, []string, error) {
	known, err := stackURNs(ctx, st)
	if err != nil {
		return nil, nil, err
	}
	var targets []string
	missing := false // a resource the state lost (an earlier repair's refresh, then a failed update)
	for _, e := range settled {
		for _, urn := range r.experimentURNs(repo, e.Key) {
			if known[urn] {
				targets = append(targets, urn)
			} else {
				missing = true
			}
		}
	}
	changed := missing
	if len(targets) > 0 {
		res, err := refresh(ctx, st, targets)
		if err != nil {
			return nil, nil, fmt.Errorf("refresh: %w", redact(err))
		}
		if res.Summary.ResourceChanges != nil {
			for op, n := range *res.Summary.ResourceChanges {
				changed = changed || (op != "same" && n > 0)
			}
		}
	}
	if !changed {
		return nil, nil, nil
	}
	// The refresh saw differences; which of them matter (commits pushed on
	// top of a branch do not) is what the program would do about them.
	steps, err := previewSteps(ctx, st)
	if err != nil {
		return nil, nil, fmt.Errorf("preview after refresh: %w", err)
	}
	repairs, unsafe := classifyDrift(steps, settled)
	return repairs, unsafe, nil
}

// previewSteps runs a preview and collects its resource steps.
func previewSteps(ctx context.Context, st *auto.Stack) ([]step, error) {
	evs := make(chan events.EngineEvent)
	var steps []step
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range evs {
			if pre := ev.ResourcePreEvent; pre != nil {
				urn := pre.Metadata.URN
				steps = append(steps, step{op: string(pre.Metadata.Op), name: urn[strings.LastIndex(urn, "::")+2:]})
			}
		}
	}()
	_, err := st.Preview(ctx, optpreview.EventStreams(evs), optpreview.SuppressProgress())
	<-done
	if err != nil {
		return nil, redact(err)
	}
	return steps, nil
}

// stackURNs lists the resources the stack's state holds.
func stackURNs(ctx context.Context, st *auto.Stack) (map[string]bool, error) {
	dep, err := st.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("export the stack: %w", redact(err))
	}
	var state struct {
		Resources []struct {
			URN string `json:"urn"`
		} `json:"resources"`
	}
	if len(dep.Deployment) > 0 {
		if err := json.Unmarshal(dep.Deployment, &state); err != nil {
			return nil, fmt.Errorf("read the stack's state: %w", err)
		}
	}
	out := make(map[string]bool, len(state.Resources))
	for _, res := range state.Resources {
		out[res.URN] = true
	}
	return out, nil
}

// experimentURNs are the URNs of an experiment's branch and variant file.
func (r *Reconciler) experimentURNs(repo store.RepoKey, key string) []string {
	prefix := "urn:pulumi:" + StackName(repo) + "::" + r.stacks.env.project() + "::"
	tokens := map[event.Forge][2]string{
		event.GitHub: {"github:index/branch:Branch", "github:index/repositoryFile:RepositoryFile"},
		event.GitLab: {"gitlab:index/branch:Branch", "gitlab:index/repositoryFile:RepositoryFile"},
	}[repo.Forge]
	return []string{prefix + tokens[0] + "::" + resourceName(key, "branch"), prefix + tokens[1] + "::" + resourceName(key, "file")}
}

// ParseRepo reads a repository as "<forge>:<path>", e.g.
// "github:acme/llm" or "gitlab:group/sub/project".
func ParseRepo(s string) (store.RepoKey, error) {
	f, path, ok := strings.Cut(s, ":")
	repo := store.RepoKey{Forge: event.Forge(f), Path: strings.Trim(path, "/")}
	switch {
	case !ok || repo.Path == "":
		return repo, fmt.Errorf("repository %q: want <forge>:<path>, e.g. github:acme/llm", s)
	case repo.Forge != event.GitHub && repo.Forge != event.GitLab:
		return repo, fmt.Errorf("repository %q: the forge is github or gitlab", s)
	case !strings.Contains(repo.Path, "/") || strings.ContainsAny(repo.Path, " \t\n") || strings.Contains(repo.Path, "//"):
		return repo, fmt.Errorf("repository %q: the path is owner/name (GitLab: group/.../project)", s)
	case repo.Forge == event.GitHub && strings.Count(repo.Path, "/") != 1:
		return repo, fmt.Errorf("repository %q: a GitHub repository is owner/name", s)
	}
	return repo, nil
}
