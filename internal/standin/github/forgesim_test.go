package github

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
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
orgs:
  - acme
repos:
  - full_name: acme/llm
    default_branch: main
    org: true
    files:
      configs/base.yaml: "model: tiny\n"
    members:
      expbot: maintainer
`

// simProvider is the stand-in configured as expbot against the simulated
// forge at url.
func simProvider(t *testing.T, url string) *kit.Server {
	t.Helper()
	srv := New(Options{Getenv: func(string) string { return "" }})
	kittest.Configure(t, srv, map[string]any{"token": "expbot-token", "owner": "acme", "baseUrl": url + "/", "writeDelayMs": 1})
	return srv
}

// TestAgainstForgesim runs the stand-in through a whole lifecycle against
// the project's simulated forge: both must agree on the official calls.
func TestAgainstForgesim(t *testing.T) {
	ctx := context.Background()
	_, _, url := kittest.Sim(t, simSeed)
	srv := simProvider(t, url)

	br, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: branchURN, Properties: kittest.Struct(t,
		map[string]any{"repository": "llm", "branch": "exp/x", "sourceBranch": "main"})})
	if err != nil {
		t.Fatalf("create branch: %v", err)
	}
	brOuts := kittest.Props(t, br.GetProperties())
	if kit.Str(brOuts, "sha") == "" || kit.Str(brOuts, "ref") != "refs/heads/exp/x" {
		t.Errorf("branch outputs = %v", brOuts)
	}

	news := map[string]any{"repository": "llm", "file": "experiments/x.yaml", "branch": "exp/x",
		"content": "lr: 0.1\n", "commitMessage": "Add experiment", "overwriteOnCreate": false}
	file, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: kittest.Struct(t, news)})
	if err != nil {
		t.Fatalf("create file: %v", err)
	}
	outs := kittest.Props(t, file.GetProperties())
	if kit.Str(outs, "content") != "lr: 0.1\n" || kit.Str(outs, "ref") != "exp/x" || kit.Str(outs, "sha") == "" ||
		kit.Str(outs, "commitMessage") != "Add experiment" {
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

	rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: branchURN, Id: br.GetId(), Properties: br.GetProperties()})
	if err != nil || rd.GetId() != br.GetId() {
		t.Fatalf("refresh branch = %v, %v", rd, err)
	}
	if kit.Str(kittest.Props(t, rd.GetProperties()), "sha") == kit.Str(brOuts, "sha") {
		t.Error("two commits on the branch must have moved its head")
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

// TestAppAuthAgainstForgesim configures the stand-in as the official
// provider's appAuth does (id, installationId, pemFile): it trades a JWT
// for an installation token and acts as the app's bot.
func TestAppAuthAgainstForgesim(t *testing.T) {
	ctx := context.Background()
	sim, _, url := kittest.Sim(t, simSeed)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemText := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	app := sim.Apps().AddApp("expbot-app", &key.PublicKey, "", "")
	inst, err := sim.Apps().Install(ctx, app.ID, "acme", "acme/llm")
	if err != nil {
		t.Fatal(err)
	}

	configure := func(auth map[string]any) error {
		srv := New(Options{Getenv: func(string) string { return "" }})
		if _, err := srv.Configure(ctx, &pulumirpc.ConfigureRequest{Args: kittest.Struct(t, map[string]any{
			"owner": "acme", "baseUrl": url + "/", "writeDelayMs": 1, "appAuth": auth,
		})}); err != nil {
			return err
		}
		_, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: branchURN, Properties: kittest.Struct(t,
			map[string]any{"repository": "llm", "branch": "exp/app-" + fmt.Sprint(auth["installationId"]), "sourceBranch": "main"})})
		return err
	}
	// pemFile with literal \n, as the official provider accepts it.
	if err := configure(map[string]any{"id": fmt.Sprint(app.ID), "installationId": fmt.Sprint(inst.ID),
		"pemFile": strings.ReplaceAll(pemText, "\n", `\n`)}); err != nil {
		t.Fatalf("appAuth: %v", err)
	}
	if s := sim.Apps().Stats(); s.TokensIssued != 1 {
		t.Fatalf("tokens issued: %+v", s)
	}
	// A key of another app is refused by GitHub, and the error says so.
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	err = configure(map[string]any{"id": fmt.Sprint(app.ID), "installationId": fmt.Sprint(inst.ID), "pemFile": otherPEM})
	if err == nil || !strings.Contains(err.Error(), "A JSON web token could not be decoded") {
		t.Fatalf("wrong key: %v", err)
	}
}
