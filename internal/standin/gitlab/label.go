package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
)

// Label is gitlab:index/label:Label (a project label) or, for a group,
// gitlab:index/groupLabel:GroupLabel. The ID is "<project or group>:<name>".
// Create POSTs the label and reads it back by name; Update PUTs colour and
// description (a new name replaces the label); Delete DELETEs it by name.
type Label struct {
	p      *Provider
	schema kit.Schema
	parent string // "project" or "group"
}

func newLabel(p *Provider, token, parent string) *Label {
	return &Label{p: p, parent: parent, schema: kit.Schema{
		Token:   token,
		Inputs:  []string{parent, "name", "color", "description"},
		Replace: []string{parent, "name"},
		Outputs: []string{"labelId"},
	}}
}

// Schema implements kit.Resource.
func (l *Label) Schema() kit.Schema { return l.schema }

// Check requires the parent, name and color.
func (l *Label) Check(_ context.Context, in kit.CheckInput) (resource.PropertyMap, kit.Failures, error) {
	news := kit.Copy(in.News)
	var f kit.Failures
	f.Required(news, l.parent, "name", "color")
	f.String(news, l.parent, "name", "color", "description")
	return news, f, nil
}

// Diff implements kit.Resource.
func (l *Label) Diff(_ context.Context, in kit.DiffInput) (*pulumirpc.DiffResponse, error) {
	return l.schema.Diff(in.Olds, in.News, in.IgnoreChanges...), nil
}

func (l *Label) labelsPath(parent string) string {
	return l.parent + "s/" + pathEscape(parent) + "/labels"
}

func (l *Label) labelPath(parent, name string) string {
	return l.labelsPath(parent) + "/" + url.PathEscape(name)
}

func (l *Label) parseID(id string) (parent, name string, err error) {
	parent, name, ok := strings.Cut(id, ":")
	if !ok || parent == "" || name == "" {
		return "", "", fmt.Errorf("unexpected %s label ID %q, expected <%s>:<name>", l.parent, id, l.parent)
	}
	return parent, name, nil
}

// Create implements kit.Resource.
func (l *Label) Create(ctx context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	api, err := l.p.client()
	if err != nil {
		return "", nil, err
	}
	parent, name := kit.Str(news, l.parent), kit.Str(news, "name")
	body := map[string]string{"name": name, "color": kit.Str(news, "color")}
	if d := kit.Str(news, "description"); d != "" {
		body["description"] = d
	}
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodPost, Path: l.labelsPath(parent), Body: body})
	if err == nil {
		err = resp.Expect(http.StatusCreated)
	}
	if err != nil {
		return "", nil, fmt.Errorf("create label %q on %s %s: %w", name, l.parent, parent, err)
	}
	id := parent + ":" + name
	outs := kit.Copy(news)
	found, err := l.read(ctx, api, id, outs)
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("label %s vanished right after creation", id)
	}
	return id, outs, nil
}

func (l *Label) read(ctx context.Context, api *kit.Client, id string, outs resource.PropertyMap) (bool, error) {
	parent, name, err := l.parseID(id)
	if err != nil {
		return false, err
	}
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodGet, Path: l.labelPath(parent, name)})
	if err != nil {
		return false, fmt.Errorf("read label %s: %w", id, err)
	}
	if resp.Status == http.StatusNotFound {
		return false, nil
	}
	if err := resp.Expect(http.StatusOK); err != nil {
		return false, fmt.Errorf("read label %s: %w", id, err)
	}
	var got struct {
		ID          int64   `json:"id"`
		Name        string  `json:"name"`
		Color       string  `json:"color"`
		Description *string `json:"description"`
	}
	if err := resp.JSON(&got); err != nil {
		return false, err
	}
	kit.SetStr(outs, l.parent, parent)
	kit.SetStr(outs, "name", got.Name)
	kit.SetStr(outs, "color", got.Color)
	if got.Description != nil || kit.Has(outs, "description") {
		d := ""
		if got.Description != nil {
			d = *got.Description
		}
		kit.SetStr(outs, "description", d)
	}
	kit.SetNum(outs, "labelId", float64(got.ID))
	return true, nil
}

// Read implements kit.Resource; the import ID is the resource ID.
func (l *Label) Read(ctx context.Context, in kit.ReadInput) (kit.ReadResult, error) {
	api, err := l.p.client()
	if err != nil {
		return kit.ReadResult{}, err
	}
	outs := kit.Copy(in.State)
	found, err := l.read(ctx, api, in.ID, outs)
	if err != nil || !found {
		return kit.ReadResult{}, err
	}
	inputs := kit.Copy(in.Inputs)
	if len(inputs) == 0 {
		inputs = kit.Pick(outs, l.parent, "name", "color", "description")
	}
	return kit.ReadResult{ID: in.ID, Outputs: outs, Inputs: inputs}, nil
}

// Update implements kit.Resource.
func (l *Label) Update(ctx context.Context, in kit.UpdateInput) (resource.PropertyMap, error) {
	api, err := l.p.client()
	if err != nil {
		return nil, err
	}
	parent, name, err := l.parseID(in.ID)
	if err != nil {
		return nil, err
	}
	body := map[string]string{"name": name, "color": kit.Str(in.News, "color")}
	if kit.Str(in.Olds, "description") != kit.Str(in.News, "description") {
		body["description"] = kit.Str(in.News, "description")
	}
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodPut, Path: l.labelPath(parent, name), Body: body})
	if err == nil {
		err = resp.Expect(http.StatusOK)
	}
	if err != nil {
		return nil, fmt.Errorf("update label %s: %w", in.ID, err)
	}
	outs := kit.Copy(in.Olds)
	for k, v := range in.News {
		outs[k] = v
	}
	found, err := l.read(ctx, api, in.ID, outs)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("label %s vanished during its update", in.ID)
	}
	return outs, nil
}

// Delete implements kit.Resource.
func (l *Label) Delete(ctx context.Context, in kit.DeleteInput) error {
	api, err := l.p.client()
	if err != nil {
		return err
	}
	parent, name, err := l.parseID(in.ID)
	if err != nil {
		return err
	}
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodDelete, Path: l.labelPath(parent, name)})
	if err == nil {
		err = resp.Expect(http.StatusNoContent, http.StatusOK)
	}
	if err != nil {
		return fmt.Errorf("delete label %s: %w", in.ID, err)
	}
	return nil
}
