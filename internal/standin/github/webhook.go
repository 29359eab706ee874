package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
)

// RepositoryWebhook is github:index/repositoryWebhook:RepositoryWebhook and
// OrganizationWebhook github:index/organizationWebhook:OrganizationWebhook:
// a hook on a repository of the provider's owner, or on the owner itself.
// The ID is the hook's number. Like the official resource, Create POSTs the
// hook and reads it back, Read GETs it (with the stored ETag), Update
// PATCHes it, Delete DELETEs it; GitHub shows the secret as "********", so
// the secret in state is the one that was sent.
type webhook struct {
	p      *Provider
	schema kit.Schema
	org    bool
}

// newRepositoryWebhook and newOrganizationWebhook return the two resources.
func newRepositoryWebhook(p *Provider) *webhook {
	return &webhook{p: p, schema: kit.Schema{
		Token:            "github:index/repositoryWebhook:RepositoryWebhook",
		Inputs:           []string{"active", "configuration", "etag", "events", "repository"},
		Replace:          []string{"repository"},
		OptionalComputed: []string{"etag"},
		Outputs:          []string{"url"},
	}}
}

func newOrganizationWebhook(p *Provider) *webhook {
	return &webhook{p: p, org: true, schema: kit.Schema{
		Token:            "github:index/organizationWebhook:OrganizationWebhook",
		Inputs:           []string{"active", "configuration", "etag", "events"},
		OptionalComputed: []string{"etag"},
		Outputs:          []string{"url"},
	}}
}

// Schema implements kit.Resource.
func (w *webhook) Schema() kit.Schema { return w.schema }

// Check requires events (and repository), defaults active to true and
// fills the configuration's optional fields the way a read-back shows them,
// so that an unchanged hook diffs clean. Events are a set: sorted.
func (w *webhook) Check(_ context.Context, in kit.CheckInput) (resource.PropertyMap, kit.Failures, error) {
	news := kit.Copy(in.News)
	var f kit.Failures
	f.Required(news, "events")
	if !w.org {
		f.Required(news, "repository")
		f.String(news, "repository")
	}
	f.Bool(news, "active")
	kit.Default(news, "active", resource.NewBoolProperty(true))
	if ev, ok := news["events"]; ok && kit.Known(news, "events") {
		if !kit.Plain(ev).IsArray() {
			f.Add("events", "events must be a list of strings")
		} else {
			news["events"] = sortedStrings(ev)
		}
	}
	if cfg, ok := news["configuration"]; ok && kit.Known(news, "configuration") {
		secret := cfg.ContainsSecrets()
		p := kit.Plain(cfg)
		if !p.IsObject() {
			f.Add("configuration", "configuration must be an object")
		} else {
			obj := kit.Copy(p.ObjectValue())
			if !kit.Known(obj, "url") {
				f.Add("configuration", "configuration.url is required")
			}
			kit.Default(obj, "contentType", resource.NewStringProperty("form"))
			kit.Default(obj, "insecureSsl", resource.NewBoolProperty(false))
			v := resource.NewObjectProperty(obj)
			if secret {
				v = resource.MakeSecret(v)
			}
			news["configuration"] = v
		}
	}
	return news, f, nil
}

func sortedStrings(v resource.PropertyValue) resource.PropertyValue {
	var out []string
	for _, e := range kit.Plain(v).ArrayValue() {
		if e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	slices.Sort(out)
	return stringArray(out)
}

func stringArray(ss []string) resource.PropertyValue {
	vs := make([]resource.PropertyValue, len(ss))
	for i, s := range ss {
		vs[i] = resource.NewStringProperty(s)
	}
	return resource.NewArrayProperty(vs)
}

// Diff implements kit.Resource.
func (w *webhook) Diff(_ context.Context, in kit.DiffInput) (*pulumirpc.DiffResponse, error) {
	return w.schema.Diff(in.Olds, in.News, append(slices.Clone(in.IgnoreChanges), "etag")...), nil
}

// hooksPath is the hooks collection: orgs/{owner}/hooks or
// repos/{owner}/{repo}/hooks.
func (w *webhook) hooksPath(c *conn, props resource.PropertyMap) string {
	if w.org {
		return "orgs/" + url.PathEscape(c.owner) + "/hooks"
	}
	return repoPath(c.owner, kit.Str(props, "repository")) + "/hooks"
}

func (w *webhook) where(c *conn, props resource.PropertyMap) string {
	if w.org {
		return "organization " + c.owner
	}
	return "repository " + c.owner + "/" + kit.Str(props, "repository")
}

// hookConfig is go-github's HookConfig on the wire.
type hookConfig struct {
	ContentType string `json:"content_type,omitempty"`
	InsecureSSL string `json:"insecure_ssl,omitempty"`
	URL         string `json:"url,omitempty"`
	Secret      string `json:"secret,omitempty"`
}

// hook is go-github's Hook as the official provider sends it.
type hook struct {
	URL    string      `json:"url,omitempty"`
	ID     int64       `json:"id,omitempty"`
	Events []string    `json:"events,omitempty"`
	Active *bool       `json:"active,omitempty"`
	Config *hookConfig `json:"config,omitempty"`
}

// body builds the request body from checked inputs.
func hookBody(props resource.PropertyMap) hook {
	active := kit.BoolOr(props, "active", true)
	h := hook{URL: kit.Str(props, "url"), Active: &active, Events: []string{}}
	for _, e := range kit.Plain(props["events"]).ArrayValue() {
		if e.IsString() {
			h.Events = append(h.Events, e.StringValue())
		}
	}
	if cfg := kit.Plain(props["configuration"]); cfg.IsObject() {
		o := cfg.ObjectValue()
		h.Config = &hookConfig{URL: kit.Str(o, "url"), ContentType: kit.Str(o, "contentType"), Secret: kit.Str(o, "secret"), InsecureSSL: "0"}
		if kit.BoolOr(o, "insecureSsl", false) {
			h.Config.InsecureSSL = "1"
		}
	}
	return h
}

// Create POSTs the hook and reads it back.
func (w *webhook) Create(ctx context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	c, err := w.p.connection()
	if err != nil {
		return "", nil, err
	}
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodPost, Path: w.hooksPath(c, news), Body: hookBody(news)})
	if err == nil {
		err = resp.Expect(http.StatusCreated)
	}
	if err != nil {
		return "", nil, fmt.Errorf("create webhook on %s: %w", w.where(c, news), err)
	}
	var created hook
	if err := resp.JSON(&created); err != nil {
		return "", nil, err
	}
	id := strconv.FormatInt(created.ID, 10)
	outs := kit.Copy(news)
	found, err := w.read(ctx, c, id, "", outs)
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("webhook %s on %s vanished right after creation", id, w.where(c, news))
	}
	return id, outs, nil
}

// read GETs the hook into outs, keeping the secret outs already holds; a
// 304 leaves outs as they are.
func (w *webhook) read(ctx context.Context, c *conn, id, etag string, outs resource.PropertyMap) (bool, error) {
	req := kit.Request{Method: http.MethodGet, Path: w.hooksPath(c, outs) + "/" + id}
	if etag != "" {
		req.Header = http.Header{"If-None-Match": []string{etag}}
	}
	resp, err := c.api.Do(ctx, req)
	if err != nil {
		return false, fmt.Errorf("read webhook %s on %s: %w", id, w.where(c, outs), err)
	}
	switch resp.Status {
	case http.StatusNotModified:
		return true, nil
	case http.StatusNotFound:
		// For a repository hook the official provider lists the hooks
		// to tell a vanished hook from missing rights; either way it is
		// gone from the state.
		if !w.org {
			_, _ = c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: w.hooksPath(c, outs), Query: url.Values{"per_page": []string{"1"}}})
		}
		return false, nil
	}
	if err := resp.Expect(http.StatusOK); err != nil {
		return false, fmt.Errorf("read webhook %s on %s: %w", id, w.where(c, outs), err)
	}
	var got struct {
		hook
		Config struct {
			hookConfig
			InsecureSSL any `json:"insecure_ssl"`
		} `json:"config"`
	}
	if err := resp.JSON(&got); err != nil {
		return false, err
	}
	kit.SetStr(outs, "etag", resp.Header.Get("ETag"))
	kit.SetStr(outs, "url", got.URL)
	kit.SetBool(outs, "active", got.Active == nil || *got.Active)
	events := slices.Clone(got.Events)
	slices.Sort(events)
	outs["events"] = stringArray(events)
	cfg := resource.PropertyMap{}
	kit.SetStr(cfg, "url", got.Config.URL)
	kit.SetStr(cfg, "contentType", got.Config.ContentType)
	kit.SetBool(cfg, "insecureSsl", fmt.Sprint(got.Config.InsecureSSL) == "1")
	if old := kit.Plain(outs["configuration"]); old.IsObject() && got.Config.Secret != "" {
		// The secret is sensitive in the official schema: always a secret.
		if s := kit.Str(old.ObjectValue(), "secret"); s != "" {
			cfg["secret"] = resource.MakeSecret(resource.NewStringProperty(s))
		}
	}
	outs["configuration"] = resource.NewObjectProperty(cfg)
	return true, nil
}

// Read refreshes the hook; an import ID is "repository/id" (repository
// hooks) or the id.
func (w *webhook) Read(ctx context.Context, in kit.ReadInput) (kit.ReadResult, error) {
	c, err := w.p.connection()
	if err != nil {
		return kit.ReadResult{}, err
	}
	id, outs := in.ID, kit.Copy(in.State)
	if !w.org && !kit.Has(outs, "repository") {
		repo, hookID, ok := cutLast(in.ID, "/")
		if !ok {
			return kit.ReadResult{}, fmt.Errorf("invalid ID %q: expected <repository>/<webhook_id>", in.ID)
		}
		kit.SetStr(outs, "repository", repo)
		id = hookID
	}
	found, err := w.read(ctx, c, id, kit.Str(in.State, "etag"), outs)
	if err != nil || !found {
		return kit.ReadResult{}, err
	}
	inputs := kit.Copy(in.Inputs)
	if len(inputs) == 0 {
		inputs = kit.Pick(outs, "active", "configuration", "events", "repository")
	}
	return kit.ReadResult{ID: id, Outputs: outs, Inputs: inputs}, nil
}

func cutLast(s, sep string) (before, after string, ok bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return "", "", false
}

// Update PATCHes the whole hook and reads it back.
func (w *webhook) Update(ctx context.Context, in kit.UpdateInput) (resource.PropertyMap, error) {
	c, err := w.p.connection()
	if err != nil {
		return nil, err
	}
	props := kit.Copy(in.Olds)
	for k, v := range in.News {
		props[k] = v
	}
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodPatch, Path: w.hooksPath(c, props) + "/" + in.ID, Body: hookBody(props)})
	if err == nil {
		err = resp.Expect(http.StatusOK)
	}
	if err != nil {
		return nil, fmt.Errorf("update webhook %s on %s: %w", in.ID, w.where(c, props), err)
	}
	found, err := w.read(ctx, c, in.ID, "", props)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("webhook %s on %s vanished during its update", in.ID, w.where(c, props))
	}
	return props, nil
}

// Delete DELETEs the hook; any answer but 204 is an error, as with the
// official provider.
func (w *webhook) Delete(ctx context.Context, in kit.DeleteInput) error {
	c, err := w.p.connection()
	if err != nil {
		return err
	}
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodDelete, Path: w.hooksPath(c, in.State) + "/" + in.ID})
	if err == nil {
		err = resp.Expect(http.StatusNoContent)
	}
	if err != nil {
		return fmt.Errorf("delete webhook %s on %s: %w", in.ID, w.where(c, in.State), err)
	}
	return nil
}
