package gitlab

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/internal/standin/kit"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

const (
	projectHookURN = "urn:pulumi:dev::expbot-forge::gitlab:index/projectHook:ProjectHook::h"
	groupHookURN   = "urn:pulumi:dev::expbot-forge::gitlab:index/groupHook:GroupHook::g"
	labelURN       = "urn:pulumi:dev::expbot-forge::gitlab:index/label:Label::l"
	groupLabelURN  = "urn:pulumi:dev::expbot-forge::gitlab:index/groupLabel:GroupLabel::gl"
)

func setupSim(t *testing.T) (*kit.Server, *kittest.Recorder, *state.Forge) {
	t.Helper()
	sim, rec, url := kittest.Sim(t, simSeed)
	sim.Forge().AddOrg("acme")
	if err := sim.Forge().SetNamespaceAccess("acme", "expbot", state.Owner); err != nil {
		t.Fatal(err)
	}
	srv := simProvider(t, url)
	rec.Calls()
	return srv, rec, sim.Forge()
}

func TestHookCalls(t *testing.T) {
	ctx := context.Background()
	srv, rec, forge := setupSim(t)
	for _, tc := range []struct {
		urn, parent, value, path string
		scope                    state.Scope
	}{
		{projectHookURN, "project", "acme/vision", "/api/v4/projects/acme%2Fvision/hooks", state.Scope{Repo: "acme/vision"}},
		{groupHookURN, "group", "acme", "/api/v4/groups/acme/hooks", state.Scope{Namespace: "acme"}},
	} {
		t.Run(tc.parent, func(t *testing.T) {
			news := map[string]any{tc.parent: tc.value, "url": "https://bot.example/webhooks/gitlab", "token": "hook-token-1",
				"pushEvents": false, "issuesEvents": true, "noteEvents": true}
			chk, err := srv.Check(ctx, &pulumirpc.CheckRequest{Urn: tc.urn, News: kittest.Struct(t, news)})
			if err != nil || len(chk.GetFailures()) > 0 {
				t.Fatalf("check: %v %v", chk.GetFailures(), err)
			}
			cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: tc.urn, Properties: chk.GetInputs()})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			parent, hookID, _ := strings.Cut(cr.GetId(), ":")
			if parent != tc.value {
				t.Errorf("id %q, want %s:<hook id>", cr.GetId(), tc.value)
			}
			calls := kittest.WantCalls(t, rec, "create", "POST "+tc.path, "GET "+tc.path+"/"+hookID)
			// Every switch is sent, as the official provider sends them.
			var body map[string]any
			if len(calls) > 0 {
				_ = json.Unmarshal([]byte(calls[0].Body), &body)
			}
			for _, k := range []string{"push_events", "issues_events", "tag_push_events", "enable_ssl_verification", "token"} {
				if _, ok := body[k]; !ok {
					t.Errorf("create body lacks %s: %v", k, body)
				}
			}
			hooks, _ := forge.ScopeHooks(tc.scope)
			if len(hooks) != 1 || hooks[0].Secret != "hook-token-1" || !slices.Equal(sorted(hooks[0].Events), []string{"issues_events", "note_events"}) {
				t.Fatalf("forge hooks = %+v", hooks)
			}
			outs := kittest.Props(t, cr.GetProperties())
			if kit.Str(outs, "token") != "hook-token-1" || !outs["token"].IsSecret() || kit.Str(outs, "hookId") != hookID {
				t.Errorf("outputs: token kept %v, secret %v, hookId %q", kit.Str(outs, "token") != "", outs["token"].IsSecret(), kit.Str(outs, "hookId"))
			}
			diff, err := srv.Diff(ctx, &pulumirpc.DiffRequest{Urn: tc.urn, Id: cr.GetId(), Olds: cr.GetProperties(), News: chk.GetInputs()})
			if err != nil || diff.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
				t.Errorf("diff of unchanged inputs = %v, %v", diff.GetDiffs(), err)
			}

			news["tagPushEvents"] = true
			chk2, _ := srv.Check(ctx, &pulumirpc.CheckRequest{Urn: tc.urn, News: kittest.Struct(t, news)})
			up, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: tc.urn, Id: cr.GetId(), Olds: cr.GetProperties(), News: chk2.GetInputs()})
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			calls = kittest.WantCalls(t, rec, "update", "PUT "+tc.path+"/"+hookID, "GET "+tc.path+"/"+hookID)
			var upBody map[string]any
			if len(calls) > 0 {
				_ = json.Unmarshal([]byte(calls[0].Body), &upBody)
			}
			if _, ok := upBody["token"]; ok {
				t.Error("an update that did not change the token sent it")
			}
			if hooks, _ := forge.ScopeHook(tc.scope, hooks[0].ID); !slices.Contains(hooks.Events, "tag_push_events") || hooks.Secret != "hook-token-1" {
				t.Errorf("after update: %+v", hooks)
			}
			if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: tc.urn, Id: cr.GetId(), Properties: up.GetProperties()}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			kittest.WantCalls(t, rec, "delete", "DELETE "+tc.path+"/"+hookID)
			if rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: tc.urn, Id: cr.GetId(), Properties: up.GetProperties()}); err != nil || rd.GetId() != "" {
				t.Errorf("read of a deleted hook = %v, %v", rd, err)
			}
			rec.Calls()
		})
	}
}

func sorted(s []string) []string { c := slices.Clone(s); slices.Sort(c); return c }

func TestLabelCalls(t *testing.T) {
	ctx := context.Background()
	srv, rec, forge := setupSim(t)
	for _, tc := range []struct {
		urn, parent, value, path string
		scope                    state.Scope
	}{
		{labelURN, "project", "acme/vision", "/api/v4/projects/acme%2Fvision/labels", state.Scope{Repo: "acme/vision"}},
		{groupLabelURN, "group", "acme", "/api/v4/groups/acme/labels", state.Scope{Namespace: "acme"}},
	} {
		t.Run(tc.parent, func(t *testing.T) {
			news := map[string]any{tc.parent: tc.value, "name": "new-experiment", "color": "#1d76db", "description": "ask expbot"}
			cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: tc.urn, Properties: kittest.Struct(t, news)})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if cr.GetId() != tc.value+":new-experiment" {
				t.Errorf("id %q", cr.GetId())
			}
			kittest.WantCalls(t, rec, "create", "POST "+tc.path, "GET "+tc.path+"/new-experiment")
			news["color"] = "#0e8a16"
			if _, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: tc.urn, Id: cr.GetId(), Olds: cr.GetProperties(), News: kittest.Struct(t, news)}); err != nil {
				t.Fatalf("update: %v", err)
			}
			kittest.WantCalls(t, rec, "update", "PUT "+tc.path+"/new-experiment", "GET "+tc.path+"/new-experiment")
			if lb, _ := forge.Labels(tc.scope); len(lb) != 1 || lb[0].Color != "#0e8a16" || lb[0].Description != "ask expbot" {
				t.Errorf("forge labels = %+v", lb)
			}
			// A second create of the same label is GitLab's 409, as with the official provider.
			if _, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: tc.urn, Properties: kittest.Struct(t, news)}); err == nil || !strings.Contains(err.Error(), "409") {
				t.Errorf("second create: %v, want a 409", err)
			}
			rec.Calls()
			if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: tc.urn, Id: cr.GetId(), Properties: cr.GetProperties()}); err != nil {
				t.Fatalf("delete: %v", err)
			}
			kittest.WantCalls(t, rec, "delete", "DELETE "+tc.path+"/new-experiment")
			if rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: tc.urn, Id: cr.GetId(), Properties: cr.GetProperties()}); err != nil || rd.GetId() != "" {
				t.Errorf("read of a deleted label = %v, %v", rd, err)
			}
			rec.Calls()
		})
	}
}
