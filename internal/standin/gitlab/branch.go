package gitlab

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
)

// Branch is gitlab:index/branch:Branch. project, name and ref force
// replacement; only keepOnDestroy updates in place. name is optional and,
// like every bridged resource's name, auto-named "<resource name>-<7 hex>".
type Branch struct {
	p *Provider
}

var branchSchema = kit.Schema{
	Token:            "gitlab:index/branch:Branch",
	Inputs:           []string{"keepOnDestroy", "name", "project", "ref"},
	Replace:          []string{"name", "project", "ref"},
	OptionalComputed: []string{"keepOnDestroy", "name"},
	Outputs: []string{"canPush", "commits", "default", "developerCanMerge", "developerCanPush",
		"merged", "protected", "webUrl"},
}

// Schema implements kit.Resource.
func (b *Branch) Schema() kit.Schema { return branchSchema }

// Check requires project and ref, auto-names name and defaults keepOnDestroy.
func (b *Branch) Check(_ context.Context, in kit.CheckInput) (resource.PropertyMap, kit.Failures, error) {
	news := kit.Copy(in.News)
	var f kit.Failures
	f.Required(news, "project", "ref")
	f.String(news, "project", "ref", "name")
	f.Bool(news, "keepOnDestroy")
	if !kit.Has(news, "name") {
		if kit.Known(in.Olds, "name") {
			news["name"] = in.Olds["name"]
		} else {
			name, err := resource.NewUniqueName(in.RandomSeed, in.URN.Name()+"-", 7, 0, nil)
			if err != nil {
				return nil, nil, fmt.Errorf("auto-name branch: %w", err)
			}
			kit.SetStr(news, "name", name)
		}
	}
	kit.Default(news, "keepOnDestroy", resource.NewBoolProperty(false))
	return news, f, nil
}

// Diff implements kit.Resource.
func (b *Branch) Diff(_ context.Context, in kit.DiffInput) (*pulumirpc.DiffResponse, error) {
	return branchSchema.Diff(in.Olds, in.News, in.IgnoreChanges...), nil
}

// Create POSTs the branch; the state comes from the create response (the
// official provider dereferences the commit dates there, so they must be set).
func (b *Branch) Create(ctx context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	api, err := b.p.client()
	if err != nil {
		return "", nil, err
	}
	project, name, ref := kit.Str(news, "project"), kit.Str(news, "name"), kit.Str(news, "ref")
	br, err := createBranch(ctx, api, project, name, ref)
	if err != nil {
		return "", nil, err
	}
	outs := kit.Copy(news)
	if err := setBranchState(outs, project, br); err != nil {
		return "", nil, err
	}
	return project + ":" + name, outs, nil
}

// Read GETs the branch; 404 means it is gone. ref is only known from
// creation (the API does not report it), so an import leaves it unset.
func (b *Branch) Read(ctx context.Context, in kit.ReadInput) (kit.ReadResult, error) {
	api, err := b.p.client()
	if err != nil {
		return kit.ReadResult{}, err
	}
	project, name, err := parseBranchID(in.ID)
	if err != nil {
		return kit.ReadResult{}, err
	}
	br, err := getBranch(ctx, api, project, name)
	if err != nil || br == nil {
		return kit.ReadResult{}, err
	}
	outs := kit.Copy(in.State)
	if err := setBranchState(outs, project, br); err != nil {
		return kit.ReadResult{}, err
	}
	kit.Default(outs, "keepOnDestroy", resource.NewBoolProperty(false))
	inputs := kit.Copy(in.Inputs)
	if len(inputs) == 0 {
		inputs = kit.Pick(outs, "project", "name", "ref", "keepOnDestroy")
	}
	return kit.ReadResult{ID: project + ":" + name, Outputs: outs, Inputs: inputs}, nil
}

// Update only changes keepOnDestroy; like the official provider it re-reads
// the branch.
func (b *Branch) Update(ctx context.Context, in kit.UpdateInput) (resource.PropertyMap, error) {
	api, err := b.p.client()
	if err != nil {
		return nil, err
	}
	project, name, err := parseBranchID(in.ID)
	if err != nil {
		return nil, err
	}
	outs := kit.Copy(in.Olds)
	for k, v := range in.News {
		outs[k] = v
	}
	br, err := getBranch(ctx, api, project, name)
	if err != nil {
		return nil, err
	}
	if br == nil {
		return nil, fmt.Errorf("branch %q of %s no longer exists", name, project)
	}
	if err := setBranchState(outs, project, br); err != nil {
		return nil, err
	}
	return outs, nil
}

// Delete deletes the branch unless keepOnDestroy is set.
func (b *Branch) Delete(ctx context.Context, in kit.DeleteInput) error {
	if kit.BoolOr(in.State, "keepOnDestroy", false) {
		return nil
	}
	api, err := b.p.client()
	if err != nil {
		return err
	}
	project, name, err := parseBranchID(in.ID)
	if err != nil {
		return err
	}
	return deleteBranch(ctx, api, project, name)
}

func setBranchState(outs resource.PropertyMap, project string, br *apiBranch) error {
	kit.SetStr(outs, "name", br.Name)
	kit.SetStr(outs, "project", project)
	kit.SetStr(outs, "webUrl", br.WebURL)
	kit.SetBool(outs, "default", br.Default)
	kit.SetBool(outs, "canPush", br.CanPush)
	kit.SetBool(outs, "merged", br.Merged)
	kit.SetBool(outs, "protected", br.Protected)
	kit.SetBool(outs, "developerCanMerge", br.DevelopersCanMerge)
	kit.SetBool(outs, "developerCanPush", br.DevelopersCanPush)
	if br.Commit == nil {
		outs["commits"] = resource.NewArrayProperty(nil)
		return nil
	}
	c := br.Commit
	if c.AuthoredDate == nil || c.CommittedDate == nil {
		return fmt.Errorf("branch %q: commit %s has no authored_date/committed_date (the official provider crashes on that)", br.Name, c.ID)
	}
	parents := make([]resource.PropertyValue, len(c.ParentIDs))
	for i, p := range c.ParentIDs {
		parents[i] = resource.NewStringProperty(p)
	}
	commit := resource.PropertyMap{
		"id":             resource.NewStringProperty(c.ID),
		"shortId":        resource.NewStringProperty(c.ShortID),
		"title":          resource.NewStringProperty(c.Title),
		"message":        resource.NewStringProperty(c.Message),
		"authorName":     resource.NewStringProperty(c.AuthorName),
		"authorEmail":    resource.NewStringProperty(c.AuthorEmail),
		"authoredDate":   resource.NewStringProperty(c.AuthoredDate.Format(time.RFC3339)),
		"committerName":  resource.NewStringProperty(c.CommitterName),
		"committerEmail": resource.NewStringProperty(c.CommitterEmail),
		"committedDate":  resource.NewStringProperty(c.CommittedDate.Format(time.RFC3339)),
		"parentIds":      resource.NewArrayProperty(parents),
	}
	outs["commits"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewObjectProperty(commit)})
	return nil
}

// parseBranchID splits the official ID "project:name".
func parseBranchID(id string) (project, name string, err error) {
	project, name, ok := strings.Cut(id, ":")
	if !ok || project == "" || name == "" {
		return "", "", fmt.Errorf("unexpected branch ID %q, expected project:name", id)
	}
	return project, name, nil
}
