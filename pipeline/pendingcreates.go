package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// A process killed during an update leaves the creates it had started as
// pending operations in the state, and the next update drops them with a
// warning. A create whose request had reached the forge made the branch
// all the same, and making it again fails on GitLab ("Branch already
// exists"), for good. So before a stack's first update in a process, and
// after a failed one, its pending creates are adopted instead: every
// resource expbot makes has an ID built from its inputs, and a refresh of
// just those resources keeps the ones that exist and forgets the others,
// which the update then makes.

// adoptPendingCreates turns st's pending creates into resources with the
// IDs they would have, then refreshes just those: the provider reads what
// exists and drops what does not. It says how many it adopted. (The CLI's
// own refresh --import-pending-creates leaves them pending with this
// backend.)
func adoptPendingCreates(ctx context.Context, st *auto.Stack) (int, error) {
	dep, err := st.Export(ctx)
	if err != nil {
		return 0, fmt.Errorf("read the state of %s: %w", st.Name(), redact(err))
	}
	edited, urns, err := withPendingCreatesAdopted(dep.Deployment)
	if err != nil || len(urns) == 0 {
		return 0, err
	}
	if err := st.Import(ctx, apitype.UntypedDeployment{Version: dep.Version, Deployment: edited}); err != nil {
		return 0, fmt.Errorf("write the state of %s: %w", st.Name(), redact(err))
	}
	if _, err := refresh(ctx, st, urns); err != nil {
		return 0, fmt.Errorf("read the resources an interrupted update left in %s: %w", st.Name(), redact(err))
	}
	return len(urns), nil
}

// withPendingCreatesAdopted moves the pending creates of a deployment that
// expbot can name into its resources, with their IDs and their inputs as
// outputs until the refresh reads the real ones. It returns the edited
// deployment and their URNs; none when there is nothing to adopt.
func withPendingCreatesAdopted(deployment json.RawMessage) (json.RawMessage, []string, error) {
	if len(deployment) == 0 {
		return nil, nil, nil // a stack never updated
	}
	var d apitype.DeploymentV3
	if err := json.Unmarshal(deployment, &d); err != nil {
		return nil, nil, fmt.Errorf("read deployment: %w", err)
	}
	var (
		urns []string
		left []apitype.OperationV2
	)
	for _, op := range d.PendingOperations {
		id, ok := providerID(string(op.Resource.Type), op.Resource.Inputs)
		if op.Type != apitype.OperationTypeCreating || !ok {
			left = append(left, op)
			continue
		}
		res := op.Resource
		res.ID = resource.ID(id)
		res.Outputs = maps.Clone(res.Inputs)
		d.Resources = append(d.Resources, res)
		urns = append(urns, string(res.URN))
	}
	if len(urns) == 0 {
		return nil, nil, nil
	}
	d.PendingOperations = left
	out, err := json.Marshal(d)
	if err != nil {
		return nil, nil, fmt.Errorf("write deployment: %w", err)
	}
	return out, urns, nil
}

// providerID is the ID the official provider gives a resource of type typ
// with inputs in, for the types Program makes.
func providerID(typ string, in map[string]any) (string, bool) {
	get := func(keys ...string) ([]string, bool) {
		vals := make([]string, len(keys))
		for i, k := range keys {
			v, ok := in[k].(string)
			if !ok || v == "" {
				return nil, false
			}
			vals[i] = v
		}
		return vals, true
	}
	var (
		v    []string
		ok   bool
		join func([]string) string
	)
	switch typ {
	case "github:index/branch:Branch":
		v, ok = get("repository", "branch")
		join = func(v []string) string { return v[0] + ":" + v[1] }
	case "github:index/repositoryFile:RepositoryFile":
		v, ok = get("repository", "file") // the branch comes from the inputs
		join = func(v []string) string { return v[0] + "/" + v[1] }
	case "gitlab:index/branch:Branch":
		v, ok = get("project", "name")
		join = func(v []string) string { return v[0] + ":" + v[1] }
	case "gitlab:index/repositoryFile:RepositoryFile":
		v, ok = get("project", "branch", "filePath")
		join = func(v []string) string { return v[0] + ":" + v[1] + ":" + v[2] }
	}
	if !ok {
		return "", false
	}
	return join(v), true
}
