package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
)

// IssueLabel is github:index/issueLabel:IssueLabel, with the official ID
// "repository:name". Create and Update are one operation, as in the
// official provider: GET the label by name, PATCH it when it exists (a
// repository may come with it), POST it otherwise; then read it back.
type IssueLabel struct {
	p *Provider
}

var issueLabelSchema = kit.Schema{
	Token:            "github:index/issueLabel:IssueLabel",
	Inputs:           []string{"color", "description", "etag", "name", "repository"},
	Replace:          []string{"repository"},
	OptionalComputed: []string{"etag"},
	Outputs:          []string{"url"},
}

// Schema implements kit.Resource.
func (l *IssueLabel) Schema() kit.Schema { return issueLabelSchema }

// Check requires repository, name and color.
func (l *IssueLabel) Check(_ context.Context, in kit.CheckInput) (resource.PropertyMap, kit.Failures, error) {
	news := kit.Copy(in.News)
	var f kit.Failures
	f.Required(news, "repository", "name", "color")
	f.String(news, "repository", "name", "color", "description", "etag")
	return news, f, nil
}

// Diff implements kit.Resource.
func (l *IssueLabel) Diff(_ context.Context, in kit.DiffInput) (*pulumirpc.DiffResponse, error) {
	return issueLabelSchema.Diff(in.Olds, in.News, append(slices.Clone(in.IgnoreChanges), "etag")...), nil
}

func labelPath(owner, repo, name string) string {
	return repoPath(owner, repo) + "/labels/" + url.PathEscape(name)
}

// label is go-github's Label on the wire.
type label struct {
	URL         string  `json:"url,omitempty"`
	Name        string  `json:"name,omitempty"`
	Color       string  `json:"color,omitempty"`
	Description *string `json:"description,omitempty"`
}

// createOrUpdate is the official CreateOrUpdate: original is the name in
// the resource ID ("" when creating).
func (l *IssueLabel) createOrUpdate(ctx context.Context, props resource.PropertyMap, original string) (string, error) {
	c, err := l.p.connection()
	if err != nil {
		return "", err
	}
	repo, name := kit.Str(props, "repository"), kit.Str(props, "name")
	body := label{Name: name, Color: kit.Str(props, "color")}
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: labelPath(c.owner, repo, name)})
	if err != nil {
		return "", fmt.Errorf("query label %q of %s/%s: %w", name, c.owner, repo, err)
	}
	switch resp.Status {
	case http.StatusOK:
		d := kit.Str(props, "description")
		body.Description = &d
		if original == "" {
			original = name
		}
		resp, err = c.api.Do(ctx, kit.Request{Method: http.MethodPatch, Path: labelPath(c.owner, repo, original), Body: body})
		if err == nil {
			err = resp.Expect(http.StatusOK)
		}
		if err != nil {
			return "", fmt.Errorf("update label %q of %s/%s: %w", original, c.owner, repo, err)
		}
	case http.StatusNotFound:
		if kit.Has(props, "description") {
			d := kit.Str(props, "description")
			body.Description = &d
		}
		resp, err = c.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: repoPath(c.owner, repo) + "/labels", Body: body})
		if err == nil {
			err = resp.Expect(http.StatusCreated)
		}
		if err != nil {
			return "", fmt.Errorf("create label %q of %s/%s: %w", name, c.owner, repo, err)
		}
	default:
		return "", fmt.Errorf("query label %q of %s/%s: %w", name, c.owner, repo, resp.Expect(http.StatusOK))
	}
	return repo + ":" + name, nil
}

// read GETs the label named in id into outs; a 304 leaves them as they are.
func (l *IssueLabel) read(ctx context.Context, id, etag string, outs resource.PropertyMap) (bool, error) {
	c, err := l.p.connection()
	if err != nil {
		return false, err
	}
	repo, name, ok := strings.Cut(id, ":")
	if !ok || repo == "" || name == "" {
		return false, fmt.Errorf("unexpected label ID %q, expected repository:name", id)
	}
	req := kit.Request{Method: http.MethodGet, Path: labelPath(c.owner, repo, name)}
	if etag != "" {
		req.Header = http.Header{"If-None-Match": []string{etag}}
	}
	resp, err := c.api.Do(ctx, req)
	if err != nil {
		return false, fmt.Errorf("read label %q of %s/%s: %w", name, c.owner, repo, err)
	}
	switch resp.Status {
	case http.StatusNotModified:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	if err := resp.Expect(http.StatusOK); err != nil {
		return false, fmt.Errorf("read label %q of %s/%s: %w", name, c.owner, repo, err)
	}
	var got label
	if err := resp.JSON(&got); err != nil {
		return false, err
	}
	kit.SetStr(outs, "etag", resp.Header.Get("ETag"))
	kit.SetStr(outs, "repository", repo)
	kit.SetStr(outs, "name", name)
	kit.SetStr(outs, "color", got.Color)
	desc := ""
	if got.Description != nil {
		desc = *got.Description
	}
	kit.SetStr(outs, "description", desc)
	kit.SetStr(outs, "url", got.URL)
	return true, nil
}

// Create implements kit.Resource.
func (l *IssueLabel) Create(ctx context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	id, err := l.createOrUpdate(ctx, news, "")
	if err != nil {
		return "", nil, err
	}
	outs := kit.Copy(news)
	found, err := l.read(ctx, id, "", outs)
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("label %s vanished right after creation", id)
	}
	return id, outs, nil
}

// Read implements kit.Resource; the import ID is the resource ID.
func (l *IssueLabel) Read(ctx context.Context, in kit.ReadInput) (kit.ReadResult, error) {
	outs := kit.Copy(in.State)
	found, err := l.read(ctx, in.ID, kit.Str(in.State, "etag"), outs)
	if err != nil || !found {
		return kit.ReadResult{}, err
	}
	inputs := kit.Copy(in.Inputs)
	if len(inputs) == 0 {
		inputs = kit.Pick(outs, "repository", "name", "color", "description")
	}
	return kit.ReadResult{ID: in.ID, Outputs: outs, Inputs: inputs}, nil
}

// Update implements kit.Resource.
func (l *IssueLabel) Update(ctx context.Context, in kit.UpdateInput) (resource.PropertyMap, error) {
	_, original, _ := strings.Cut(in.ID, ":")
	id, err := l.createOrUpdate(ctx, in.News, original)
	if err != nil {
		return nil, err
	}
	outs := kit.Copy(in.Olds)
	for k, v := range in.News {
		outs[k] = v
	}
	found, err := l.read(ctx, id, "", outs)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("label %s vanished during its update", id)
	}
	return outs, nil
}

// Delete DELETEs the label named in the state.
func (l *IssueLabel) Delete(ctx context.Context, in kit.DeleteInput) error {
	c, err := l.p.connection()
	if err != nil {
		return err
	}
	repo, name := kit.Str(in.State, "repository"), kit.Str(in.State, "name")
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodDelete, Path: labelPath(c.owner, repo, name)})
	if err == nil {
		err = resp.Expect(http.StatusNoContent)
	}
	if err != nil {
		return fmt.Errorf("delete label %q of %s/%s: %w", name, c.owner, repo, err)
	}
	return nil
}
