package github

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

const fileURN = "urn:pulumi:dev::expbot::github:index/repositoryFile:RepositoryFile::exp-file"

func TestRepositoryFileCheck(t *testing.T) {
	tests := []struct {
		name         string
		news         map[string]any
		wantFailures []string
	}{
		{name: "minimal", news: map[string]any{"repository": "r", "file": "f", "content": "c"}},
		{name: "requires repository, file, content", news: map[string]any{"branch": "b"}, wantFailures: []string{"repository", "file", "content"}},
		{name: "author needs email", news: map[string]any{"repository": "r", "file": "f", "content": "c", "commitAuthor": "a"}, wantFailures: []string{"commitEmail"}},
		{name: "email needs author", news: map[string]any{"repository": "r", "file": "f", "content": "c", "commitEmail": "e"}, wantFailures: []string{"commitAuthor"}},
		{name: "overwriteOnCreate must be bool", news: map[string]any{"repository": "r", "file": "f", "content": "c", "overwriteOnCreate": "maybe"}, wantFailures: []string{"overwriteOnCreate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, got := kittest.Check(t, New(Options{}), fileURN, nil, tt.news, "")
			if !slices.Equal(got, tt.wantFailures) {
				t.Errorf("failures = %v, want %v", got, tt.wantFailures)
			}
			if b, set, _ := kit.Bool(ins, "overwriteOnCreate"); tt.wantFailures == nil && (!set || b) {
				t.Errorf("overwriteOnCreate default missing: %v", ins)
			}
			if kit.Str(ins, "autocreateBranchSourceBranch") != "main" {
				t.Errorf("autocreateBranchSourceBranch default missing: %v", ins)
			}
		})
	}
}

func TestRepositoryFileDiff(t *testing.T) {
	olds := map[string]any{"repository": "r", "file": "f.yaml", "branch": "exp/x", "content": "a: 1\n",
		"commitMessage": "Add f.yaml", "overwriteOnCreate": false, "autocreateBranch": false,
		"autocreateBranchSourceBranch": "main", "sha": "s", "commitSha": "c", "ref": "exp/x", "repositoryId": 42}
	with := func(kv ...any) map[string]any {
		m := map[string]any{"repository": "r", "file": "f.yaml", "branch": "exp/x", "content": "a: 1\n",
			"overwriteOnCreate": false, "autocreateBranch": false, "autocreateBranchSourceBranch": "main"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name         string
		news         map[string]any
		wantDiffs    []string
		wantReplaces []string
	}{
		{name: "unchanged, commitMessage computed", news: with()},
		{name: "content updates in place", news: with("content", "a: 2\n"), wantDiffs: []string{"content"}},
		{name: "commitMessage updates in place", news: with("commitMessage", "other"), wantDiffs: []string{"commitMessage"}},
		{name: "commit author/email update in place", news: with("commitAuthor", "bot", "commitEmail", "b@x"), wantDiffs: []string{"commitAuthor", "commitEmail"}},
		{name: "repository replaces", news: with("repository", "r2"), wantDiffs: []string{"repository"}, wantReplaces: []string{"repository"}},
		{name: "file replaces", news: with("file", "g.yaml"), wantDiffs: []string{"file"}, wantReplaces: []string{"file"}},
		{name: "branch replaces", news: with("branch", "exp/y"), wantDiffs: []string{"branch"}, wantReplaces: []string{"branch"}},
		{name: "autocreate source suppressed while autocreate is off", news: with("autocreateBranchSourceBranch", "dev")},
		{name: "autocreate source diffed once autocreate is on", news: with("autocreateBranch", true, "autocreateBranchSourceBranch", "dev"),
			wantDiffs: []string{"autocreateBranch", "autocreateBranchSourceBranch"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := kittest.Diff(t, New(Options{}), fileURN, "r/f.yaml", olds, tt.news)
			if !slices.Equal(d.GetDiffs(), tt.wantDiffs) {
				t.Errorf("diffs = %v, want %v", d.GetDiffs(), tt.wantDiffs)
			}
			if !slices.Equal(d.GetReplaces(), tt.wantReplaces) {
				t.Errorf("replaces = %v, want %v", d.GetReplaces(), tt.wantReplaces)
			}
		})
	}
}

func TestRepositoryFileLifecycle(t *testing.T) {
	ctx := context.Background()
	f, rec := newFakeGitHub(t)
	f.refs["exp/x"] = "c0"
	f.files["exp/x"] = map[string]string{}
	srv := configured(t, f, nil)
	rec.Calls()

	news := map[string]any{"repository": "r", "file": "dir/experiment.yaml", "branch": "exp/x",
		"content": "a: 1\n", "commitMessage": "Add experiment", "commitAuthor": "bot", "commitEmail": "bot@x",
		"overwriteOnCreate": false, "autocreateBranch": false, "autocreateBranchSourceBranch": "main"}
	cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	calls := kittest.WantCalls(t, rec, "create",
		"GET /api/v3/repos/o/r",
		"GET /api/v3/repos/o/r/branches/exp%2Fx",
		"GET /api/v3/repos/o/r/contents/dir/experiment.yaml?ref=exp%2Fx",
		"PUT /api/v3/repos/o/r/contents/dir/experiment.yaml",
		"GET /api/v3/repos/o/r/contents/dir/experiment.yaml?ref=exp%2Fx",
		"GET /api/v3/repos/o/r/commits/c1",
	)
	var put struct {
		Message, Content, Branch, SHA string
		Author, Committer             struct{ Name, Email string }
	}
	if err := json.Unmarshal([]byte(calls[3].Body), &put); err != nil {
		t.Fatal(err)
	}
	if put.Message != "Add experiment" || put.Branch != "exp/x" || put.SHA != "" ||
		put.Content != base64.StdEncoding.EncodeToString([]byte("a: 1\n")) || put.Committer.Name != "bot" || put.Author.Email != "bot@x" {
		t.Errorf("PUT body = %s", calls[3].Body)
	}
	if cr.GetId() != "r/dir/experiment.yaml" {
		t.Errorf("id = %q", cr.GetId())
	}
	outs := kittest.Props(t, cr.GetProperties())
	kittest.WantOutputs(t, outs, map[string]string{"sha": blobSHA("a: 1\n"), "commitSha": "c1", "ref": "exp/x",
		"content": "a: 1\n", "commitMessage": "Add experiment", "repositoryId": "42", "branch": "exp/x"})

	// Update: new content, the current blob sha goes along.
	news["content"] = "a: 2\n"
	up, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: fileURN, Id: cr.GetId(), Olds: cr.GetProperties(), News: kittest.Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	calls = kittest.WantCalls(t, rec, "update",
		"GET /api/v3/repos/o/r/branches/exp%2Fx",
		"PUT /api/v3/repos/o/r/contents/dir/experiment.yaml",
		"GET /api/v3/repos/o/r/contents/dir/experiment.yaml?ref=exp%2Fx",
		"GET /api/v3/repos/o/r/commits/c2",
	)
	if err := json.Unmarshal([]byte(calls[1].Body), &put); err != nil || put.SHA != blobSHA("a: 1\n") {
		t.Errorf("update PUT must carry the old blob sha: %s", calls[1].Body)
	}
	upOuts := kittest.Props(t, up.GetProperties())
	if kit.Str(upOuts, "sha") != blobSHA("a: 2\n") || kit.Str(upOuts, "commitSha") != "c2" {
		t.Errorf("update outputs = %v", upOuts)
	}
	if f.files["exp/x"]["dir/experiment.yaml"] != "a: 2\n" {
		t.Errorf("forge content = %q", f.files["exp/x"]["dir/experiment.yaml"])
	}

	// Delete: JSON body {message, sha, branch}.
	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: fileURN, Id: cr.GetId(), Properties: up.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	calls = kittest.WantCalls(t, rec, "delete", "GET /api/v3/repos/o/r/branches/exp%2Fx", "DELETE /api/v3/repos/o/r/contents/dir/experiment.yaml")
	var del map[string]string
	if err := json.Unmarshal([]byte(calls[1].Body), &del); err != nil {
		t.Fatal(err)
	}
	if del["message"] != "Add experiment" || del["sha"] != blobSHA("a: 2\n") || del["branch"] != "exp/x" {
		t.Errorf("delete body = %v", del)
	}
	if _, ok := f.files["exp/x"]["dir/experiment.yaml"]; ok {
		t.Error("file still on the forge")
	}

	rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: fileURN, Id: cr.GetId(), Properties: up.GetProperties()})
	if err != nil || rd.GetId() != "" {
		t.Errorf("read of deleted file = %v, %v; want empty id", rd, err)
	}
}

func TestRepositoryFileDefaultMessages(t *testing.T) {
	ctx := context.Background()
	f, _ := newFakeGitHub(t)
	srv := configured(t, f, nil)
	news := map[string]any{"repository": "r", "file": "f.txt", "branch": "main", "content": "x"}
	cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	if got := kit.Str(kittest.Props(t, cr.GetProperties()), "commitMessage"); got != "Add f.txt" {
		t.Errorf("create message = %q, want Add f.txt", got)
	}
	news["content"] = "y"
	up, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: fileURN, Id: cr.GetId(), Olds: cr.GetProperties(), News: kittest.Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	if got := kit.Str(kittest.Props(t, up.GetProperties()), "commitMessage"); got != "Update f.txt" {
		t.Errorf("update message = %q, want Update f.txt", got)
	}
}

func TestRepositoryFileRefusesToOverwrite(t *testing.T) {
	ctx := context.Background()
	f, _ := newFakeGitHub(t)
	f.files["main"]["f.txt"] = "theirs"
	srv := configured(t, f, nil)
	news := map[string]any{"repository": "r", "file": "f.txt", "branch": "main", "content": "ours"}
	if _, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)}); err == nil || !strings.Contains(err.Error(), "overwriteOnCreate") {
		t.Fatalf("err = %v, want refusal mentioning overwriteOnCreate", err)
	}
	if f.files["main"]["f.txt"] != "theirs" {
		t.Error("file was overwritten")
	}
	news["overwriteOnCreate"] = true
	if _, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)}); err != nil {
		t.Fatal(err)
	}
	if f.files["main"]["f.txt"] != "ours" {
		t.Errorf("content = %q, want ours", f.files["main"]["f.txt"])
	}
}

func TestRepositoryFileMissingBranch(t *testing.T) {
	ctx := context.Background()
	f, _ := newFakeGitHub(t)
	srv := configured(t, f, nil)
	news := map[string]any{"repository": "r", "file": "f.txt", "branch": "nope", "content": "x"}
	if _, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("err = %v, want branch not found", err)
	}
	news["autocreateBranch"] = true
	if _, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)}); err != nil {
		t.Fatalf("autocreateBranch: %v", err)
	}
	if f.files["nope"]["f.txt"] != "x" {
		t.Errorf("files = %v", f.files)
	}
}
