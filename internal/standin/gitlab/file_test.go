package gitlab

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

const fileURN = "urn:pulumi:dev::expbot::gitlab:index/repositoryFile:RepositoryFile::exp-file"

func TestRepositoryFileCheck(t *testing.T) {
	base := func(kv ...any) map[string]any {
		m := map[string]any{"project": "grp/proj", "filePath": "a.yaml", "branch": "b", "content": "x", "commitMessage": "m"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name         string
		news         map[string]any
		wantFailures []string
		wantEncoding string
	}{
		{name: "defaults encoding to base64", news: base(), wantEncoding: "base64"},
		{name: "keeps text encoding", news: base("encoding", "text"), wantEncoding: "text"},
		{name: "rejects other encodings", news: base("encoding", "utf8"), wantFailures: []string{"encoding"}, wantEncoding: "utf8"},
		{name: "requires project, filePath, branch, content", news: map[string]any{}, wantFailures: []string{"project", "filePath", "branch", "content"}, wantEncoding: "base64"},
		{name: "per-action messages go together", news: base("commitMessage", nil, "createCommitMessage", "c"), wantFailures: []string{"createCommitMessage"}, wantEncoding: "base64"},
		{name: "per-action messages conflict with commitMessage", news: base("createCommitMessage", "c", "updateCommitMessage", "u", "deleteCommitMessage", "d"),
			wantFailures: []string{"createCommitMessage", "updateCommitMessage", "deleteCommitMessage"}, wantEncoding: "base64"},
		{name: "per-action messages alone are fine", news: base("commitMessage", nil, "createCommitMessage", "c", "updateCommitMessage", "u", "deleteCommitMessage", "d"), wantEncoding: "base64"},
		{name: "absolute paths are rejected", news: base("filePath", "/a.yaml"), wantFailures: []string{"filePath"}, wantEncoding: "base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, failures := kittest.Check(t, New(Options{}), fileURN, nil, tt.news, "s")
			if !slices.Equal(failures, tt.wantFailures) {
				t.Errorf("failures = %v, want %v", failures, tt.wantFailures)
			}
			if got := kit.Str(ins, "encoding"); got != tt.wantEncoding {
				t.Errorf("encoding = %q, want %q", got, tt.wantEncoding)
			}
		})
	}
}

func TestRepositoryFileDiff(t *testing.T) {
	olds := map[string]any{"project": "grp/proj", "filePath": "a.yaml", "branch": "exp/x", "content": "x",
		"commitMessage": "m", "encoding": "base64", "overwriteOnCreate": false, "executeFilemode": false,
		"blobId": "b", "lastCommitId": "c1", "size": 1}
	with := func(kv ...any) map[string]any {
		m := map[string]any{"project": "grp/proj", "filePath": "a.yaml", "branch": "exp/x", "content": "x",
			"commitMessage": "m", "encoding": "base64", "overwriteOnCreate": false}
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
		{name: "content updates", news: with("content", "y"), wantDiffs: []string{"content"}},
		{name: "commit message updates", news: with("commitMessage", "m2"), wantDiffs: []string{"commitMessage"}},
		{name: "author updates", news: with("authorName", "bot"), wantDiffs: []string{"authorName"}},
		{name: "encoding updates", news: with("encoding", "text"), wantDiffs: []string{"encoding"}},
		{name: "branch replaces", news: with("branch", "exp/y"), wantDiffs: []string{"branch"}, wantRepl: []string{"branch"}},
		{name: "filePath replaces", news: with("filePath", "b.yaml"), wantDiffs: []string{"filePath"}, wantRepl: []string{"filePath"}},
		{name: "project replaces", news: with("project", "grp/other"), wantDiffs: []string{"project"}, wantRepl: []string{"project"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := kittest.Diff(t, New(Options{}), fileURN, "grp/proj:exp/x:a.yaml", olds, tt.news)
			if !slices.Equal(d.GetDiffs(), tt.wantDiffs) || !slices.Equal(d.GetReplaces(), tt.wantRepl) {
				t.Errorf("diffs %v replaces %v, want %v %v", d.GetDiffs(), d.GetReplaces(), tt.wantDiffs, tt.wantRepl)
			}
		})
	}
}

type wireFile struct {
	Branch        string  `json:"branch"`
	Encoding      string  `json:"encoding"`
	Content       string  `json:"content"`
	CommitMessage string  `json:"commit_message"`
	LastCommitID  string  `json:"last_commit_id"`
	AuthorName    *string `json:"author_name"`
	AuthorEmail   *string `json:"author_email"`
}

func TestRepositoryFileLifecycle(t *testing.T) {
	ctx := context.Background()
	f, rec := newFakeGitLab(t)
	f.branches["exp/x"] = "c0"
	f.files["exp/x"] = map[string]string{}
	srv := configured(t, f)
	rec.Calls()

	news := map[string]any{"project": "grp/proj", "filePath": "dir/a.yaml", "branch": "exp/x", "content": "a: 1\n",
		"commitMessage": "Add experiment", "encoding": "base64", "overwriteOnCreate": false}
	cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	calls := kittest.WantCalls(t, rec, "create",
		"POST /api/v4/projects/grp%2Fproj/repository/files/dir%2Fa%2Eyaml",
		"GET /api/v4/projects/grp%2Fproj/repository/files/dir%2Fa%2Eyaml?ref=exp%2Fx",
	)
	var body wireFile
	if err := json.Unmarshal([]byte(calls[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Branch != "exp/x" || body.Encoding != "base64" || body.Content != base64.StdEncoding.EncodeToString([]byte("a: 1\n")) ||
		body.CommitMessage != "Add experiment" || body.AuthorName == nil || body.AuthorEmail == nil {
		t.Errorf("create body = %s (plain text must be base64-encoded, empty author fields still sent)", calls[0].Body)
	}
	if cr.GetId() != "grp/proj:exp/x:dir/a.yaml" {
		t.Errorf("id = %q", cr.GetId())
	}
	outs := kittest.Props(t, cr.GetProperties())
	kittest.WantOutputs(t, outs, map[string]string{"content": "a: 1\n", "fileName": "a.yaml", "ref": "exp/x", "lastCommitId": "c1",
		"commitId": "c1", "blobId": "blob-a: 1\n", "encoding": "base64", "size": "5"})

	news["content"] = "a: 2\n"
	up, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: fileURN, Id: cr.GetId(), Olds: cr.GetProperties(), News: kittest.Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	calls = kittest.WantCalls(t, rec, "update",
		"GET /api/v4/projects/grp%2Fproj/repository/files/dir%2Fa%2Eyaml?ref=exp%2Fx",
		"PUT /api/v4/projects/grp%2Fproj/repository/files/dir%2Fa%2Eyaml",
		"GET /api/v4/projects/grp%2Fproj/repository/files/dir%2Fa%2Eyaml?ref=exp%2Fx",
	)
	if err := json.Unmarshal([]byte(calls[1].Body), &body); err != nil || body.LastCommitID != "c1" {
		t.Errorf("update body must carry last_commit_id c1: %s", calls[1].Body)
	}
	if got := kit.Str(kittest.Props(t, up.GetProperties()), "lastCommitId"); got != "c2" || f.files["exp/x"]["dir/a.yaml"] != "a: 2\n" {
		t.Errorf("after update lastCommitId %q, forge %q", got, f.files["exp/x"]["dir/a.yaml"])
	}

	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: fileURN, Id: cr.GetId(), Properties: up.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	calls = rec.Calls()
	if len(calls) != 2 || calls[1].Line() != "DELETE /api/v4/projects/grp%2Fproj/repository/files/dir%2Fa%2Eyaml" {
		t.Fatalf("delete calls = %+v", calls)
	}
	body = wireFile{}
	if err := json.Unmarshal([]byte(calls[1].Body), &body); err != nil {
		t.Fatal(err)
	}
	if body.Branch != "exp/x" || body.CommitMessage != "[DELETE]: Add experiment" || body.LastCommitID != "c2" {
		t.Errorf("delete body = %s", calls[1].Body)
	}
	if _, ok := f.files["exp/x"]["dir/a.yaml"]; ok {
		t.Error("file still on the forge")
	}
	rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: fileURN, Id: cr.GetId(), Properties: up.GetProperties()})
	if err != nil || rd.GetId() != "" {
		t.Errorf("read of deleted file = %v, %v; want empty id", rd, err)
	}
}

func TestRepositoryFileTextEncoding(t *testing.T) {
	ctx := context.Background()
	f, rec := newFakeGitLab(t)
	srv := configured(t, f)
	rec.Calls()
	news := map[string]any{"project": "grp/proj", "filePath": "abcd", "branch": "main", "content": "abcd",
		"encoding": "text", "createCommitMessage": "c", "updateCommitMessage": "u", "deleteCommitMessage": "d"}
	cr, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	var body wireFile
	if err := json.Unmarshal([]byte(rec.Calls()[0].Body), &body); err != nil {
		t.Fatal(err)
	}
	// "abcd" is valid base64 too: with encoding text it must go out verbatim.
	if body.Encoding != "text" || body.Content != "abcd" || body.CommitMessage != "c" {
		t.Errorf("create body = %+v", body)
	}
	outs := kittest.Props(t, cr.GetProperties())
	if kit.Str(outs, "content") != "abcd" || kit.Str(outs, "encoding") != "text" || f.files["main"]["abcd"] != "abcd" {
		t.Errorf("outputs %v, forge %q", outs, f.files["main"]["abcd"])
	}
	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: fileURN, Id: cr.GetId(), Properties: cr.GetProperties()}); err != nil {
		t.Fatal(err)
	}
	calls := rec.Calls()
	if err := json.Unmarshal([]byte(calls[len(calls)-1].Body), &body); err != nil || body.CommitMessage != "d" {
		t.Errorf("delete message = %q, want deleteCommitMessage", body.CommitMessage)
	}
}

func TestRepositoryFileOverwriteOnCreate(t *testing.T) {
	ctx := context.Background()
	f, rec := newFakeGitLab(t)
	f.files["main"]["a.yaml"] = "theirs"
	srv := configured(t, f)
	news := map[string]any{"project": "grp/proj", "filePath": "a.yaml", "branch": "main", "content": "ours: 1", "commitMessage": "m"}
	if _, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)}); err == nil {
		t.Fatal("creating over an existing file must fail without overwriteOnCreate")
	}
	news["overwriteOnCreate"] = true
	rec.Calls()
	if _, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)}); err != nil {
		t.Fatal(err)
	}
	kittest.WantCalls(t, rec, "create over a file",
		"GET /api/v4/projects/grp%2Fproj/repository/files/a%2Eyaml?ref=main",
		"PUT /api/v4/projects/grp%2Fproj/repository/files/a%2Eyaml",
		"GET /api/v4/projects/grp%2Fproj/repository/files/a%2Eyaml?ref=main",
	)
	if f.files["main"]["a.yaml"] != "ours: 1" {
		t.Errorf("content = %q", f.files["main"]["a.yaml"])
	}
}
