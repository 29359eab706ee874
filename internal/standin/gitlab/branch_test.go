package gitlab

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

const branchURN = "urn:pulumi:dev::expbot::gitlab:index/branch:Branch::exp"

func TestBranchCheck(t *testing.T) {
	ins, failures := kittest.Check(t, New(Options{}), branchURN, nil, map[string]any{"project": "grp/proj", "ref": "main", "name": "exp/x"}, "s")
	if failures != nil || kit.Str(ins, "name") != "exp/x" {
		t.Errorf("explicit name: %v %v", ins, failures)
	}
	if b, set, _ := kit.Bool(ins, "keepOnDestroy"); !set || b {
		t.Errorf("keepOnDestroy default = %v", ins["keepOnDestroy"])
	}

	_, failures = kittest.Check(t, New(Options{}), branchURN, nil, map[string]any{}, "s")
	if !slices.Equal(failures, []string{"project", "ref"}) {
		t.Errorf("failures = %v, want project, ref", failures)
	}

	a, _ := kittest.Check(t, New(Options{}), branchURN, nil, map[string]any{"project": "p", "ref": "main"}, "seed-1")
	b, _ := kittest.Check(t, New(Options{}), branchURN, nil, map[string]any{"project": "p", "ref": "main"}, "seed-1")
	c, _ := kittest.Check(t, New(Options{}), branchURN, nil, map[string]any{"project": "p", "ref": "main"}, "seed-2")
	if !regexp.MustCompile(`^exp-[0-9a-f]{7}$`).MatchString(kit.Str(a, "name")) {
		t.Errorf("auto name = %q, want exp-<7 hex>", kit.Str(a, "name"))
	}
	if kit.Str(a, "name") != kit.Str(b, "name") || kit.Str(a, "name") == kit.Str(c, "name") {
		t.Errorf("auto names must follow the seed: %q %q %q", kit.Str(a, "name"), kit.Str(b, "name"), kit.Str(c, "name"))
	}
	kept, _ := kittest.Check(t, New(Options{}), branchURN, map[string]any{"name": "exp-1234567"}, map[string]any{"project": "p", "ref": "main"}, "seed-3")
	if kit.Str(kept, "name") != "exp-1234567" {
		t.Errorf("auto name must be kept across updates, got %q", kit.Str(kept, "name"))
	}
}

func TestBranchDiff(t *testing.T) {
	olds := map[string]any{"project": "grp/proj", "name": "exp/x", "ref": "main", "keepOnDestroy": false,
		"webUrl": "u", "canPush": true}
	with := func(kv ...any) map[string]any {
		m := map[string]any{"project": "grp/proj", "name": "exp/x", "ref": "main", "keepOnDestroy": false}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name                string
		news                map[string]any
		wantDiffs, wantRepl []string
	}{
		{name: "unchanged", news: with()},
		{name: "project replaces", news: with("project", "other"), wantDiffs: []string{"project"}, wantRepl: []string{"project"}},
		{name: "name replaces", news: with("name", "exp/y"), wantDiffs: []string{"name"}, wantRepl: []string{"name"}},
		{name: "ref replaces", news: with("ref", "dev"), wantDiffs: []string{"ref"}, wantRepl: []string{"ref"}},
		{name: "keepOnDestroy updates", news: with("keepOnDestroy", true), wantDiffs: []string{"keepOnDestroy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := kittest.Diff(t, New(Options{}), branchURN, "grp/proj:exp/x", olds, tt.news)
			if !slices.Equal(d.GetDiffs(), tt.wantDiffs) || !slices.Equal(d.GetReplaces(), tt.wantRepl) {
				t.Errorf("diffs %v replaces %v, want %v %v", d.GetDiffs(), d.GetReplaces(), tt.wantDiffs, tt.wantRepl)
			}
		})
	}
}

func TestBranchLifecycle(t *testing.T) {
	ctx := context.Background()
	f, rec := newFakeGitLab(t)
	srv := configured(t, f)
	calls := rec.Calls()
	if len(calls) != 1 || calls[0].Line() != "GET /api/v4/user" || calls[0].Header.Get("Authorization") != "Bearer gltok" {
		t.Fatalf("configure calls = %+v", calls)
	}

	news := map[string]any{"project": "grp/proj", "name": "exp/x", "ref": "main", "keepOnDestroy": false}
	cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: branchURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	calls = kittest.WantCalls(t, rec, "create", "POST /api/v4/projects/grp%2Fproj/repository/branches")
	var body map[string]string
	if err := json.Unmarshal([]byte(calls[0].Body), &body); err != nil || body["branch"] != "exp/x" || body["ref"] != "main" {
		t.Errorf("create body = %s", calls[0].Body)
	}
	if cr.GetId() != "grp/proj:exp/x" {
		t.Errorf("id = %q", cr.GetId())
	}
	outs := kittest.Props(t, cr.GetProperties())
	if kit.Str(outs, "webUrl") != "https://gitlab.example/grp/proj/-/tree/exp/x" || !kit.BoolOr(outs, "canPush", false) {
		t.Errorf("outputs = %v", outs)
	}
	commits := outs["commits"]
	if !commits.IsArray() || len(commits.ArrayValue()) != 1 {
		t.Fatalf("commits = %v", commits)
	}
	commit := commits.ArrayValue()[0].ObjectValue()
	if kit.Str(commit, "authoredDate") != "2024-05-01T10:00:00+02:00" || kit.Str(commit, "id") != "c0" || kit.Str(commit, "shortId") != "c0" {
		t.Errorf("commit = %v", commit)
	}

	rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: branchURN, Id: cr.GetId(), Properties: cr.GetProperties(), Inputs: kittest.Struct(t, news)})
	if err != nil || rd.GetId() != cr.GetId() {
		t.Fatalf("read = %v, %v", rd, err)
	}
	kittest.WantCalls(t, rec, "read", "GET /api/v4/projects/grp%2Fproj/repository/branches/exp%2Fx")
	if kit.Str(kittest.Props(t, rd.GetProperties()), "ref") != "main" {
		t.Error("ref must survive a refresh (the API does not report it)")
	}

	// keepOnDestroy: the delete is skipped.
	kept := map[string]any{"project": "grp/proj", "name": "exp/x", "ref": "main", "keepOnDestroy": true}
	up, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: branchURN, Id: cr.GetId(), Olds: cr.GetProperties(), News: kittest.Struct(t, kept)})
	if err != nil {
		t.Fatal(err)
	}
	rec.Calls()
	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: branchURN, Id: cr.GetId(), Properties: up.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	if got := rec.Lines(); len(got) != 0 || f.branches["exp/x"] == "" {
		t.Errorf("keepOnDestroy delete made calls %v / removed the branch", got)
	}

	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: branchURN, Id: cr.GetId(), Properties: cr.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	kittest.WantCalls(t, rec, "delete", "DELETE /api/v4/projects/grp%2Fproj/repository/branches/exp%2Fx")
	rd, err = srv.Read(ctx, &pulumirpc.ReadRequest{Urn: branchURN, Id: cr.GetId(), Properties: cr.GetProperties()})
	if err != nil || rd.GetId() != "" {
		t.Errorf("read of deleted branch = %v, %v; want empty id", rd, err)
	}
}

func TestBranchCreateNeedsCommitDates(t *testing.T) {
	f, _ := newFakeGitLab(t)
	f.noDates = true
	srv := configured(t, f)
	_, err := srv.Create(context.Background(), &pulumirpc.CreateRequest{Urn: branchURN,
		Properties: kittest.Struct(t, map[string]any{"project": "grp/proj", "name": "b", "ref": "main"})})
	if err == nil || !strings.Contains(err.Error(), "authored_date") {
		t.Errorf("err = %v, want missing dates reported", err)
	}
}
