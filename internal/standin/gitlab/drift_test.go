package gitlab

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

// TestDriftReads: what a refresh reads after people changed an experiment
// branch on the forge, as the official provider reads it (docs/drift.md):
// a commit pushed on top moves the branch's head but asks for no change, an
// edited variant file differs in content only (an update, no replacement),
// a deleted file or branch is gone.
func TestDriftReads(t *testing.T) {
	ctx := context.Background()
	sim := forgesim.New()
	t.Cleanup(sim.Close)
	if err := sim.LoadSeed(strings.NewReader(simSeed)); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	sim.SetBaseURL(hs.URL)
	f := sim.Forge()
	base := branchHead(t, f, "acme/vision", "main")

	srv := New(Options{Getenv: func(string) string { return "" }})
	if _, err := srv.Configure(ctx, &pulumirpc.ConfigureRequest{Args: kittest.Struct(t, map[string]any{
		"token": "expbot-token", "baseUrl": hs.URL + "/api/v4/",
	})}); err != nil {
		t.Fatal(err)
	}
	checked := func(urn string, news map[string]any) *structpb.Struct {
		t.Helper()
		resp, err := srv.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, News: kittest.Struct(t, news), RandomSeed: []byte("s")})
		if err != nil || len(resp.GetFailures()) > 0 {
			t.Fatalf("check: %v %v", resp.GetFailures(), err)
		}
		return resp.GetInputs()
	}
	brIns := checked(branchURN, map[string]any{"project": "acme/vision", "name": "exp/1-a", "ref": base})
	br, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: branchURN, Properties: brIns})
	if err != nil {
		t.Fatal(err)
	}
	fileIns := checked(fileURN, map[string]any{"project": "acme/vision", "filePath": "experiment.yaml", "branch": "exp/1-a",
		"content": "lr: 0.1\n", "encoding": "text", "commitMessage": "expbot: experiment a", "overwriteOnCreate": true})
	file, err := srv.Create(ctx, &pulumirpc.CreateRequest{Urn: fileURN, Properties: fileIns})
	if err != nil {
		t.Fatal(err)
	}
	read := func(urn string, id string, state *structpb.Struct, inputs *structpb.Struct) *pulumirpc.ReadResponse {
		t.Helper()
		rd, err := srv.Read(ctx, &pulumirpc.ReadRequest{Urn: urn, Id: id, Properties: state, Inputs: inputs})
		if err != nil {
			t.Fatalf("read %s: %v", urn, err)
		}
		return rd
	}
	diff := func(urn, id string, olds, news *structpb.Struct) *pulumirpc.DiffResponse {
		t.Helper()
		d, err := srv.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, Id: id, Olds: olds, News: news})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	push := func(branch string, changes ...state.FileChange) {
		t.Helper()
		if _, _, err := f.PushFiles("acme/vision", branch, "expbot", "by hand", changes); err != nil {
			t.Fatal(err)
		}
	}

	// A commit on top: the head moves, nothing to change or replace.
	push("exp/1-a", state.FileChange{Path: "notes.md", Content: []byte("more data\n")})
	rb := read(branchURN, br.GetId(), br.GetProperties(), brIns)
	if rb.GetId() == "" || headOf(br.GetProperties()) == "" || headOf(rb.GetProperties()) == headOf(br.GetProperties()) {
		t.Fatalf("branch after a push on top: %v", rb)
	}
	if d := diff(branchURN, br.GetId(), rb.GetProperties(), brIns); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE || len(d.GetReplaces()) > 0 {
		t.Errorf("a push on top diffs the branch: %v", d)
	}
	rf := read(fileURN, file.GetId(), file.GetProperties(), fileIns)
	if d := diff(fileURN, file.GetId(), rf.GetProperties(), fileIns); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("a push on top diffs the file: %v", d)
	}

	// The file edited by hand: its content differs, an update in place.
	push("exp/1-a", state.FileChange{Path: "experiment.yaml", Content: []byte("lr: 999\n")})
	rf = read(fileURN, file.GetId(), file.GetProperties(), fileIns)
	if got := rf.GetProperties().GetFields()["content"].GetStringValue(); got != "lr: 999\n" {
		t.Errorf("read content %q, want the edited one", got)
	}
	if d := diff(fileURN, file.GetId(), rf.GetProperties(), fileIns); d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) > 0 || strings.Join(d.GetDiffs(), ",") != "content" {
		t.Errorf("an edited file diffs as %v, want an update of content", d)
	}

	// The file deleted: gone.
	push("exp/1-a", state.FileChange{Path: "experiment.yaml", Delete: true})
	if rd := read(fileURN, file.GetId(), file.GetProperties(), fileIns); rd.GetId() != "" {
		t.Errorf("a deleted file reads as %v, want gone", rd)
	}

	// The branch deleted: branch and file gone.
	if _, err := f.RemoveBranch("acme/vision", "expbot", "exp/1-a"); err != nil {
		t.Fatal(err)
	}
	if rd := read(branchURN, br.GetId(), br.GetProperties(), brIns); rd.GetId() != "" {
		t.Errorf("a deleted branch reads as %v, want gone", rd)
	}
	if rd := read(fileURN, file.GetId(), file.GetProperties(), fileIns); rd.GetId() != "" {
		t.Errorf("the file of a deleted branch reads as %v, want gone", rd)
	}
}

// headOf is the commit id the branch's state records.
func headOf(s *structpb.Struct) string {
	for _, c := range s.GetFields()["commits"].GetListValue().GetValues() {
		return c.GetStructValue().GetFields()["id"].GetStringValue()
	}
	return ""
}

func branchHead(t *testing.T, f *state.Forge, repo, branch string) string {
	t.Helper()
	var sha string
	var ok bool
	_ = f.WithRepo(repo, func(r *state.Repo) error { sha, ok = r.Branch(branch); return nil })
	if !ok {
		t.Fatalf("no branch %s in %s", branch, repo)
	}
	return sha
}
