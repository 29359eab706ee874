package gitlab

import (
	"context"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

const simSeed = `
users:
  - login: expbot
    name: expbot
    email: expbot@example.com
    token: expbot-token
    bot: true
repos:
  - full_name: acme/vision
    default_branch: main
    files:
      configs/base.yaml: "model: small\n"
    members:
      expbot: maintainer
`

// simProvider is the stand-in configured as expbot against the simulated
// forge at url.
func simProvider(t *testing.T, url string) *kit.Server {
	t.Helper()
	srv := New(Options{Getenv: func(string) string { return "" }})
	kittest.Configure(t, srv, map[string]any{"token": "expbot-token", "baseUrl": url + "/api/v4/"})
	return srv
}

// TestAgainstForgesim runs the stand-in through a whole lifecycle against
// the project's simulated forge: both must agree on the official calls.
func TestAgainstForgesim(t *testing.T) {
	ctx := context.Background()
	_, _, url := kittest.Sim(t, simSeed)
	srv := simProvider(t, url)

	br, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: branchURN, Properties: kittest.Struct(t,
		map[string]any{"project": "acme/vision", "name": "exp/x", "ref": "main", "keepOnDestroy": false})})
	if err != nil {
		t.Fatalf("create branch: %v", err)
	}
	if br.GetId() != "acme/vision:exp/x" {
		t.Errorf("branch id = %q", br.GetId())
	}

	news := map[string]any{"project": "acme/vision", "filePath": "experiments/x.yaml", "branch": "exp/x",
		"content": "lr: 0.1\n", "commitMessage": "Add experiment", "encoding": "text", "overwriteOnCreate": false}
	file, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatalf("create file: %v", err)
	}
	outs := kittest.Props(t, file.GetProperties())
	if kit.Str(outs, "content") != "lr: 0.1\n" || kit.Str(outs, "ref") != "exp/x" || kit.Str(outs, "lastCommitId") == "" {
		t.Errorf("file outputs = %v", outs)
	}

	news["content"] = "lr: 0.2\n"
	up, err := srv.Update(ctx, &pulumirpc.UpdateRequest{Urn: fileURN, Id: file.GetId(), Olds: file.GetProperties(), News: kittest.Struct(t, news)})
	if err != nil {
		t.Fatalf("update file: %v", err)
	}
	if got := kit.Str(kittest.Props(t, up.GetProperties()), "content"); got != "lr: 0.2\n" {
		t.Errorf("updated content = %q", got)
	}

	// Default encoding base64 with plain-text content: encoded before sending.
	plain, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, map[string]any{
		"project": "acme/vision", "filePath": "experiments/plain.yaml", "branch": "exp/x",
		"content": "steps: 10\n", "commitMessage": "Add plain", "encoding": "base64"})})
	if err != nil {
		t.Fatalf("create base64 file: %v", err)
	}
	if got := kit.Str(kittest.Props(t, plain.GetProperties()), "content"); got != "steps: 10\n" {
		t.Errorf("base64-encoded plain content read back as %q", got)
	}

	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: fileURN, Id: file.GetId(), Properties: up.GetProperties()}); err != nil {
		t.Fatalf("delete file: %v", err)
	}
	if rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: fileURN, Id: file.GetId(), Properties: up.GetProperties()}); err != nil || rd.GetId() != "" {
		t.Errorf("read deleted file = %v, %v", rd, err)
	}
	if _, err := srv.Delete(ctx, &pulumirpc.DeleteRequest{Urn: branchURN, Id: br.GetId(), Properties: br.GetProperties()}); err != nil {
		t.Fatalf("delete branch: %v", err)
	}
	if rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: branchURN, Id: br.GetId()}); err != nil || rd.GetId() != "" {
		t.Errorf("read deleted branch = %v, %v", rd, err)
	}
}
