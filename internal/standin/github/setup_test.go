package github

import (
	"context"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/internal/standin/kit"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

const (
	repoHookURN = "urn:pulumi:dev::expbot-forge::github:index/repositoryWebhook:RepositoryWebhook::h"
	orgHookURN  = "urn:pulumi:dev::expbot-forge::github:index/organizationWebhook:OrganizationWebhook::o"
	labelURN    = "urn:pulumi:dev::expbot-forge::github:index/issueLabel:IssueLabel::l"
)

// setupSim is the simulated forge with expbot as admin of acme/llm and
// owner of the organisation acme, behind a request recorder.
func setupSim(t *testing.T) (*kit.Server, *kittest.Recorder, *state.Forge) {
	t.Helper()
	sim, rec, url := kittest.Sim(t, strings.Replace(simSeed, "expbot: maintainer", "expbot: owner", 1))
	if err := sim.Forge().SetNamespaceAccess("acme", "expbot", state.Owner); err != nil {
		t.Fatal(err)
	}
	srv := simProvider(t, url)
	rec.Calls()
	return srv, rec, sim.Forge()
}

// The webhook resources make the official provider's calls: POST then GET
// to create, a conditional GET to refresh, PATCH then GET to update,
// DELETE; a vanished hook is looked for once more in the list.
func TestWebhookCalls(t *testing.T) {
	ctx := context.Background()
	srv, rec, forge := setupSim(t)
	news := map[string]any{
		"repository": "llm", "events": []any{"push", "issues"}, "active": true,
		"configuration": map[string]any{"url": "https://bot.example/webhooks/github", "contentType": "json", "insecureSsl": false, "secret": "s3cret-value"},
	}
	chk, err := srv.Check(ctx, &pulumirpc.CheckRequest{Urn: repoHookURN, News: kittest.Struct(t, news)})
	if err != nil || len(chk.GetFailures()) > 0 {
		t.Fatalf("check: %v %v", chk.GetFailures(), err)
	}
	if ev := kittest.Props(t, chk.GetInputs())["events"]; !slices.Equal([]string{ev.ArrayValue()[0].StringValue(), ev.ArrayValue()[1].StringValue()}, []string{"issues", "push"}) {
		t.Errorf("checked events %v, want sorted", ev)
	}
	cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: repoHookURN, Properties: chk.GetInputs()})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	id := cr.GetId()
	kittest.WantCalls(t, rec, "create", "POST /api/v3/repos/acme/llm/hooks", "GET /api/v3/repos/acme/llm/hooks/"+id)
	hooks, _ := forge.ScopeHooks(state.Scope{Repo: "acme/llm"})
	if len(hooks) != 1 || hooks[0].Secret != "s3cret-value" || hooks[0].Options["content_type"] != "json" {
		t.Fatalf("forge hooks = %+v", hooks)
	}
	outs := kittest.Props(t, cr.GetProperties())
	cfg := kit.Plain(outs["configuration"]).ObjectValue()
	if !outs["configuration"].ContainsSecrets() {
		t.Error("the webhook secret is not a secret in the outputs")
	}
	if kit.Str(cfg, "secret") != "s3cret-value" || kit.Str(outs, "url") == "" || kit.Str(outs, "etag") == "" {
		t.Errorf("outputs = %v (the state keeps the secret sent, GitHub shows ********)", outs)
	}

	// Unchanged inputs diff clean against the read-back state.
	diff, err := srv.Diff(ctx, &pulumirpc.DiffRequest{Urn: repoHookURN, Id: id, Olds: cr.GetProperties(), News: chk.GetInputs()})
	if err != nil || diff.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("diff of unchanged inputs = %v, %v", diff.GetDiffs(), err)
	}

	rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: repoHookURN, Id: id, Properties: cr.GetProperties()})
	if err != nil || rd.GetId() != id {
		t.Fatalf("refresh: %v %v", rd, err)
	}
	calls := rec.Calls()
	if len(calls) != 1 || calls[0].Header.Get("If-None-Match") == "" {
		t.Errorf("refresh made %d calls, want one conditional GET", len(calls))
	}

	news["events"] = []any{"issues"}
	up, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: repoHookURN, Id: id, Olds: cr.GetProperties(), News: kittest.Struct(t, news)})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	kittest.WantCalls(t, rec, "update", "PATCH /api/v3/repos/acme/llm/hooks/"+id, "GET /api/v3/repos/acme/llm/hooks/"+id)
	if hooks, _ := forge.ScopeHooks(state.Scope{Repo: "acme/llm"}); !slices.Equal(hooks[0].Events, []string{"issues"}) || hooks[0].Secret != "s3cret-value" {
		t.Errorf("after update: %+v", hooks[0])
	}

	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: repoHookURN, Id: id, Properties: up.GetProperties()}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	kittest.WantCalls(t, rec, "delete", "DELETE /api/v3/repos/acme/llm/hooks/"+id)
	gone, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: repoHookURN, Id: id, Properties: up.GetProperties()})
	if err != nil || gone.GetId() != "" {
		t.Errorf("read of a deleted hook = %v, %v", gone, err)
	}
	kittest.WantCalls(t, rec, "read of a deleted hook", "GET /api/v3/repos/acme/llm/hooks/"+id, "GET /api/v3/repos/acme/llm/hooks?per_page=1")
	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: repoHookURN, Id: id, Properties: up.GetProperties()}); err == nil {
		t.Error("deleting a deleted hook succeeded; the official provider reports GitHub's 404")
	}
	rec.Calls()

	// The organisation hook lives on the provider's owner.
	delete(news, "repository")
	org, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: orgHookURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatalf("create organisation hook: %v", err)
	}
	kittest.WantCalls(t, rec, "create organisation hook", "POST /api/v3/orgs/acme/hooks", "GET /api/v3/orgs/acme/hooks/"+org.GetId())
	if hooks, _ := forge.ScopeHooks(state.Scope{Namespace: "acme"}); len(hooks) != 1 {
		t.Errorf("organisation hooks = %+v", hooks)
	}
}

// The label is created or, when it exists, updated after a GET by name,
// as the official CreateOrUpdate does.
func TestIssueLabelCalls(t *testing.T) {
	ctx := context.Background()
	srv, rec, forge := setupSim(t)
	news := map[string]any{"repository": "llm", "name": "new-experiment", "color": "1d76db", "description": "ask expbot"}
	cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: labelURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	const path = "/api/v3/repos/acme/llm/labels/new-experiment"
	kittest.WantCalls(t, rec, "create", "GET "+path, "POST /api/v3/repos/acme/llm/labels", "GET "+path)
	if cr.GetId() != "llm:new-experiment" {
		t.Errorf("id %q, want repository:name", cr.GetId())
	}
	news["color"] = "0e8a16"
	if _, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: labelURN, Id: cr.GetId(), Olds: cr.GetProperties(), News: kittest.Struct(t, news)}); err != nil {
		t.Fatalf("update: %v", err)
	}
	kittest.WantCalls(t, rec, "update", "GET "+path, "PATCH "+path, "GET "+path)
	if lb, _ := forge.Labels(state.Scope{Repo: "acme/llm"}); len(lb) != 1 || lb[0].Color != "0e8a16" || lb[0].Description != "ask expbot" {
		t.Errorf("forge labels = %+v", lb)
	}
	// A label the repository has already is adopted, not duplicated.
	if err := forge.DeleteLabel(state.Scope{Repo: "acme/llm"}, mustLabel(t, forge).ID); err != nil {
		t.Fatal(err)
	}
	if _, err := forge.CreateLabel(state.Scope{Repo: "acme/llm"}, state.Label{Name: "new-experiment", Color: "ededed"}); err != nil {
		t.Fatal(err)
	}
	rec.Calls()
	if _, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: labelURN, Properties: kittest.Struct(t, news)}); err != nil {
		t.Fatalf("create over an existing label: %v", err)
	}
	kittest.WantCalls(t, rec, "create over an existing label", "GET "+path, "PATCH "+path, "GET "+path)
	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: labelURN, Id: cr.GetId(), Properties: cr.GetProperties()}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	kittest.WantCalls(t, rec, "delete", "DELETE "+path)
	if lb, _ := forge.Labels(state.Scope{Repo: "acme/llm"}); len(lb) != 0 {
		t.Errorf("labels after delete = %+v", lb)
	}
}

func mustLabel(t *testing.T, f *state.Forge) state.Label {
	t.Helper()
	lb, err := f.FindLabel(state.Scope{Repo: "acme/llm"}, func(state.Label) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return lb
}
