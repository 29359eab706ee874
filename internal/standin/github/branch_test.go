package github

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

const branchURN = "urn:pulumi:dev::expbot::github:index/branch:Branch::exp"

func TestBranchCheck(t *testing.T) {
	tests := []struct {
		name         string
		news         map[string]any
		wantFailures []string
		wantSource   string
	}{
		{name: "defaults sourceBranch to main", news: map[string]any{"repository": "r", "branch": "exp/x"}, wantSource: "main"},
		{name: "keeps sourceBranch", news: map[string]any{"repository": "r", "branch": "b", "sourceBranch": "dev"}, wantSource: "dev"},
		{name: "requires repository and branch", news: map[string]any{}, wantFailures: []string{"repository", "branch"}, wantSource: "main"},
		{name: "rejects a non-string branch", news: map[string]any{"repository": "r", "branch": 3}, wantFailures: []string{"branch"}, wantSource: "main"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, got := kittest.Check(t, New(Options{}), branchURN, nil, tt.news, "")
			if !slices.Equal(got, tt.wantFailures) {
				t.Errorf("failures = %v, want %v", got, tt.wantFailures)
			}
			if src := kit.Str(ins, "sourceBranch"); src != tt.wantSource {
				t.Errorf("sourceBranch = %q, want %q", src, tt.wantSource)
			}
		})
	}
}

func TestBranchDiff(t *testing.T) {
	olds := map[string]any{"repository": "r", "branch": "b", "sourceBranch": "main", "sourceSha": "c0",
		"etag": `"e1"`, "ref": "refs/heads/b", "sha": "c0"}
	with := func(kv ...any) map[string]any {
		m := map[string]any{"repository": "r", "branch": "b", "sourceBranch": "main"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name         string
		news         map[string]any
		wantReplaces []string
	}{
		{name: "unchanged (sourceSha and etag computed)", news: with()},
		{name: "repository replaces", news: with("repository", "r2"), wantReplaces: []string{"repository"}},
		{name: "branch replaces", news: with("branch", "b2"), wantReplaces: []string{"branch"}},
		{name: "sourceBranch replaces", news: with("sourceBranch", "dev"), wantReplaces: []string{"sourceBranch"}},
		{name: "explicit different sourceSha replaces", news: with("sourceSha", "c9"), wantReplaces: []string{"sourceSha"}},
		{name: "explicit same sourceSha is no change", news: with("sourceSha", "c0")},
		{name: "etag is never diffed", news: with("etag", `"other"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := kittest.Diff(t, New(Options{}), branchURN, "r:b", olds, tt.news)
			if !slices.Equal(d.GetReplaces(), tt.wantReplaces) {
				t.Errorf("replaces = %v, want %v", d.GetReplaces(), tt.wantReplaces)
			}
			if want := len(tt.wantReplaces) > 0; (d.GetChanges() == pulumirpc.DiffResponse_DIFF_SOME) != want {
				t.Errorf("changes = %v, want some=%v", d.GetChanges(), want)
			}
		})
	}
}

func TestBranchLifecycle(t *testing.T) {
	ctx := context.Background()
	f, rec := newFakeGitHub(t)
	srv := configured(t, f, nil)
	kittest.WantCalls(t, rec, "configure", "GET /api/v3/orgs/o")

	news := kittest.Struct(t, map[string]any{"repository": "r", "branch": "exp/x", "sourceBranch": "main"})
	cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: branchURN, Properties: news})
	if err != nil {
		t.Fatal(err)
	}
	calls := kittest.WantCalls(t, rec, "create",
		"GET /api/v3/repos/o/r/git/ref/heads/main",
		"POST /api/v3/repos/o/r/git/refs",
		"GET /api/v3/repos/o/r/git/ref/heads/exp/x",
	)
	var post map[string]string
	if err := json.Unmarshal([]byte(calls[1].Body), &post); err != nil || post["ref"] != "refs/heads/exp/x" || post["sha"] != "c0" {
		t.Errorf("POST body = %s", calls[1].Body)
	}
	if cr.GetId() != "r:exp/x" {
		t.Errorf("id = %q, want r:exp/x", cr.GetId())
	}
	outs := kittest.Props(t, cr.GetProperties())
	kittest.WantOutputs(t, outs, map[string]string{"ref": "refs/heads/exp/x", "sha": "c0", "sourceSha": "c0", "etag": `"etag-c0"`, "branch": "exp/x"})

	// Refresh: the stored etag is sent and a 304 keeps the state.
	rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: branchURN, Id: cr.GetId(), Properties: cr.GetProperties(), Inputs: news})
	if err != nil {
		t.Fatal(err)
	}
	calls = rec.Calls()
	if len(calls) != 1 || calls[0].Header.Get("If-None-Match") != `"etag-c0"` {
		t.Errorf("refresh calls = %+v, want one GET with If-None-Match", calls)
	}
	if rd.GetId() != "r:exp/x" || kit.Str(kittest.Props(t, rd.GetProperties()), "sha") != "c0" {
		t.Errorf("refresh = %v", rd)
	}

	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: branchURN, Id: cr.GetId(), Properties: cr.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	kittest.WantCalls(t, rec, "delete", "DELETE /api/v3/repos/o/r/git/refs/heads/exp/x")

	// Gone: Read returns an empty id.
	rd, err = srv.Read(ctx, &pulumirpc.ReadRequest{Urn: branchURN, Id: cr.GetId(), Properties: cr.GetProperties()})
	if err != nil || rd.GetId() != "" {
		t.Errorf("read of deleted branch = %v, %v; want empty id", rd, err)
	}
}

func TestBranchCreateWithSourceShaSkipsLookup(t *testing.T) {
	f, rec := newFakeGitHub(t)
	srv := configured(t, f, nil)
	rec.Calls()
	_, err := srv.Create(context.Background(), &pulumirpc.CreateRequest{Urn: branchURN,
		Properties: kittest.Struct(t, map[string]any{"repository": "r", "branch": "b", "sourceBranch": "main", "sourceSha": "c0"})})
	if err != nil {
		t.Fatal(err)
	}
	kittest.WantCalls(t, rec, "create", "POST /api/v3/repos/o/r/git/refs", "GET /api/v3/repos/o/r/git/ref/heads/b")
}

func TestBranchAlreadyExistsIsSuccess(t *testing.T) {
	f, _ := newFakeGitHub(t)
	f.refs["b"] = "c7"
	srv := configured(t, f, nil)
	cr, err := srv.Create(context.Background(), &pulumirpc.CreateRequest{Urn: branchURN,
		Properties: kittest.Struct(t, map[string]any{"repository": "r", "branch": "b", "sourceBranch": "main"})})
	if err != nil {
		t.Fatalf("422 Reference already exists must count as success: %v", err)
	}
	// The state reflects the existing branch, not the source.
	if got := kit.Str(kittest.Props(t, cr.GetProperties()), "sha"); got != "c7" {
		t.Errorf("sha = %q, want c7", got)
	}
}

func TestBranchCreateFailsWithoutSource(t *testing.T) {
	f, _ := newFakeGitHub(t)
	srv := configured(t, f, nil)
	_, err := srv.Create(context.Background(), &pulumirpc.CreateRequest{Urn: branchURN,
		Properties: kittest.Struct(t, map[string]any{"repository": "r", "branch": "b", "sourceBranch": "nope"})})
	if err == nil {
		t.Fatal("creating from a missing source branch must fail")
	}
	if _, ok := f.refs["b"]; ok {
		t.Error("no branch may be created")
	}
}

func TestBranchImportWithSourceBranch(t *testing.T) {
	f, _ := newFakeGitHub(t)
	f.refs["feat"] = "c5"
	srv := configured(t, f, nil)
	rd, err := srv.Read(context.Background(), &pulumirpc.ReadRequest{Urn: branchURN, Id: "r:feat:dev"})
	if err != nil {
		t.Fatal(err)
	}
	if rd.GetId() != "r:feat" {
		t.Errorf("id = %q, want r:feat", rd.GetId())
	}
	ins := kittest.Props(t, rd.GetInputs())
	if kit.Str(ins, "sourceBranch") != "dev" || kit.Str(ins, "branch") != "feat" || kit.Str(ins, "repository") != "r" {
		t.Errorf("imported inputs = %v", ins)
	}
}

func TestWriteDelayIsHonoured(t *testing.T) {
	f, _ := newFakeGitHub(t)
	srv := configured(t, f, map[string]any{"writeDelayMs": 250})
	start := time.Now()
	for _, b := range []string{"a", "b", "c"} {
		_, err := srv.Create(context.Background(), &pulumirpc.CreateRequest{Urn: branchURN,
			Properties: kittest.Struct(t, map[string]any{"repository": "r", "branch": b, "sourceBranch": "main", "sourceSha": "c0"})})
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 480*time.Millisecond {
		t.Errorf("three writes took %v, want >= 2 x 250ms write delay between them", d)
	}
	if len(f.refs) != 4 {
		t.Errorf("refs = %v, want main + 3 branches", f.refs)
	}
}
