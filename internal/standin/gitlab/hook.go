package gitlab

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
)

// Hook is gitlab:index/projectHook:ProjectHook or, for a group,
// gitlab:index/groupHook:GroupHook. The ID is "<project or group>:<hook
// id>". Create POSTs the hook with every switch spelled out and reads it
// back; Read GETs it (404: gone); Update PUTs every setting; Delete DELETEs
// it. GitLab never shows the token, so the state keeps the one sent.
type Hook struct {
	p      *Provider
	schema kit.Schema
	parent string // "project" or "group"
	flags  []hookFlag
}

// hookFlag is one boolean setting: its Pulumi and REST names and default.
type hookFlag struct {
	prop, api string
	def       bool
}

// hookStrings are the string settings, Pulumi name -> REST name.
var hookStrings = [][2]string{
	{"url", "url"}, {"name", "name"}, {"description", "description"},
	{"pushEventsBranchFilter", "push_events_branch_filter"}, {"customWebhookTemplate", "custom_webhook_template"},
}

var commonFlags = []hookFlag{
	{"pushEvents", "push_events", true}, {"tagPushEvents", "tag_push_events", false},
	{"issuesEvents", "issues_events", false}, {"confidentialIssuesEvents", "confidential_issues_events", false},
	{"mergeRequestsEvents", "merge_requests_events", false}, {"noteEvents", "note_events", false},
	{"confidentialNoteEvents", "confidential_note_events", false}, {"jobEvents", "job_events", false},
	{"pipelineEvents", "pipeline_events", false}, {"wikiPageEvents", "wiki_page_events", false},
	{"deploymentEvents", "deployment_events", false}, {"releasesEvents", "releases_events", false},
	{"enableSslVerification", "enable_ssl_verification", true},
}

func newProjectHook(p *Provider) *Hook {
	flags := append(slices.Clone(commonFlags), hookFlag{"resourceAccessTokenEvents", "resource_access_token_events", false})
	return newHook(p, "gitlab:index/projectHook:ProjectHook", "project", flags)
}

func newGroupHook(p *Provider) *Hook {
	flags := append(slices.Clone(commonFlags),
		hookFlag{"featureFlagEvents", "feature_flag_events", false}, hookFlag{"subgroupEvents", "subgroup_events", false})
	return newHook(p, "gitlab:index/groupHook:GroupHook", "group", flags)
}

func newHook(p *Provider, token, parent string, flags []hookFlag) *Hook {
	inputs := []string{parent, "token", "customHeaders"}
	for _, s := range hookStrings {
		inputs = append(inputs, s[0])
	}
	for _, f := range flags {
		inputs = append(inputs, f.prop)
	}
	return &Hook{p: p, parent: parent, flags: flags, schema: kit.Schema{
		Token:   token,
		Inputs:  inputs,
		Replace: []string{parent},
		Outputs: []string{"hookId", parent + "Id"},
	}}
}

// Schema implements kit.Resource.
func (h *Hook) Schema() kit.Schema { return h.schema }

// Check requires the parent and url and fills the Terraform defaults.
func (h *Hook) Check(_ context.Context, in kit.CheckInput) (resource.PropertyMap, kit.Failures, error) {
	news := kit.Copy(in.News)
	var f kit.Failures
	f.Required(news, h.parent, "url")
	f.String(news, h.parent, "token")
	for _, s := range hookStrings {
		f.String(news, s[0])
	}
	for _, fl := range h.flags {
		f.Bool(news, fl.prop)
		kit.Default(news, fl.prop, resource.NewBoolProperty(fl.def))
	}
	if kit.Has(news, "customHeaders") {
		f.Add("customHeaders", "the stand-in gitlab provider does not support custom headers")
	}
	return news, f, nil
}

// Diff implements kit.Resource.
func (h *Hook) Diff(_ context.Context, in kit.DiffInput) (*pulumirpc.DiffResponse, error) {
	return h.schema.Diff(in.Olds, in.News, in.IgnoreChanges...), nil
}

func (h *Hook) hooksPath(parent string) string {
	return h.parent + "s/" + pathEscape(parent) + "/hooks"
}

// body is the client's Add/Edit*HookOptions: every switch and string sent.
func (h *Hook) body(props resource.PropertyMap, withToken bool) map[string]any {
	b := map[string]any{}
	for _, s := range hookStrings {
		b[s[1]] = kit.Str(props, s[0])
	}
	for _, fl := range h.flags {
		b[fl.api] = kit.BoolOr(props, fl.prop, fl.def)
	}
	if withToken && kit.Has(props, "token") {
		b["token"] = kit.Str(props, "token")
	}
	return b
}

func (h *Hook) parseID(id string) (parent string, hookID string, err error) {
	i := strings.LastIndex(id, ":")
	if i <= 0 || i == len(id)-1 {
		return "", "", fmt.Errorf("unexpected %s hook ID %q, expected <%s>:<hook-id>", h.parent, id, h.parent)
	}
	if _, err := strconv.Atoi(id[i+1:]); err != nil {
		return "", "", fmt.Errorf("unexpected %s hook ID %q: the hook id is not a number", h.parent, id)
	}
	return id[:i], id[i+1:], nil
}

// Create implements kit.Resource.
func (h *Hook) Create(ctx context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	api, err := h.p.client()
	if err != nil {
		return "", nil, err
	}
	parent := kit.Str(news, h.parent)
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodPost, Path: h.hooksPath(parent), Body: h.body(news, true)})
	if err == nil {
		err = resp.Expect(http.StatusCreated)
	}
	if err != nil {
		return "", nil, fmt.Errorf("create hook on %s %s: %w", h.parent, parent, err)
	}
	var created struct {
		ID int64 `json:"id"`
	}
	if err := resp.JSON(&created); err != nil {
		return "", nil, err
	}
	id := parent + ":" + strconv.FormatInt(created.ID, 10)
	outs := kit.Copy(news)
	found, err := h.read(ctx, api, id, outs)
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("hook %s vanished right after creation", id)
	}
	return id, outs, nil
}

// read GETs the hook into outs; the token stays what outs hold.
func (h *Hook) read(ctx context.Context, api *kit.Client, id string, outs resource.PropertyMap) (bool, error) {
	parent, hookID, err := h.parseID(id)
	if err != nil {
		return false, err
	}
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodGet, Path: h.hooksPath(parent) + "/" + hookID})
	if err != nil {
		return false, fmt.Errorf("read hook %s: %w", id, err)
	}
	if resp.Status == http.StatusNotFound {
		return false, nil
	}
	if err := resp.Expect(http.StatusOK); err != nil {
		return false, fmt.Errorf("read hook %s: %w", id, err)
	}
	var got map[string]any
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		return false, fmt.Errorf("read hook %s: %w", id, err)
	}
	kit.SetStr(outs, h.parent, parent)
	for _, s := range hookStrings {
		// An unset optional string reads back as "": left out, it is no change.
		if v, _ := got[s[1]].(string); v != "" || kit.Has(outs, s[0]) {
			kit.SetStr(outs, s[0], v)
		}
	}
	for _, fl := range h.flags {
		v, _ := got[fl.api].(bool)
		kit.SetBool(outs, fl.prop, v)
	}
	// The token is sensitive in the official schema: always a secret.
	if v, ok := outs["token"]; ok && !v.IsSecret() {
		outs["token"] = resource.MakeSecret(v)
	}
	if n, ok := got["id"].(float64); ok {
		kit.SetNum(outs, "hookId", n)
	}
	if n, ok := got[h.parent+"_id"].(float64); ok {
		kit.SetNum(outs, h.parent+"Id", n)
	}
	return true, nil
}

// Read implements kit.Resource; the import ID is the resource ID.
func (h *Hook) Read(ctx context.Context, in kit.ReadInput) (kit.ReadResult, error) {
	api, err := h.p.client()
	if err != nil {
		return kit.ReadResult{}, err
	}
	outs := kit.Copy(in.State)
	found, err := h.read(ctx, api, in.ID, outs)
	if err != nil || !found {
		return kit.ReadResult{}, err
	}
	inputs := kit.Copy(in.Inputs)
	if len(inputs) == 0 {
		inputs = kit.Copy(outs)
		delete(inputs, "hookId")
		delete(inputs, resource.PropertyKey(h.parent+"Id"))
	}
	return kit.ReadResult{ID: in.ID, Outputs: outs, Inputs: inputs}, nil
}

// Update PUTs every setting; the token only when it changed, as the
// official provider does.
func (h *Hook) Update(ctx context.Context, in kit.UpdateInput) (resource.PropertyMap, error) {
	api, err := h.p.client()
	if err != nil {
		return nil, err
	}
	parent, hookID, err := h.parseID(in.ID)
	if err != nil {
		return nil, err
	}
	tokenChanged := kit.Str(in.Olds, "token") != kit.Str(in.News, "token")
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodPut, Path: h.hooksPath(parent) + "/" + hookID, Body: h.body(in.News, tokenChanged)})
	if err == nil {
		err = resp.Expect(http.StatusOK)
	}
	if err != nil {
		return nil, fmt.Errorf("update hook %s: %w", in.ID, err)
	}
	outs := kit.Copy(in.Olds)
	for k, v := range in.News {
		outs[k] = v
	}
	found, err := h.read(ctx, api, in.ID, outs)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("hook %s vanished during its update", in.ID)
	}
	return outs, nil
}

// Delete implements kit.Resource.
func (h *Hook) Delete(ctx context.Context, in kit.DeleteInput) error {
	api, err := h.p.client()
	if err != nil {
		return err
	}
	parent, hookID, err := h.parseID(in.ID)
	if err != nil {
		return err
	}
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodDelete, Path: h.hooksPath(parent) + "/" + hookID})
	if err == nil {
		err = resp.Expect(http.StatusNoContent, http.StatusOK)
	}
	if err != nil {
		return fmt.Errorf("delete hook %s: %w", in.ID, err)
	}
	return nil
}
