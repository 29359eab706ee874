package kittest

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// Sim serves the simulated forge, seeded from YAML, behind a recorder until
// the test ends; it returns the forge, the recorder and the forge's URL.
func Sim(t testing.TB, seed string) (*forgesim.Server, *Recorder, string) {
	t.Helper()
	sim := forgesim.New()
	t.Cleanup(sim.Close)
	if err := sim.LoadSeed(strings.NewReader(seed)); err != nil {
		t.Fatal(err)
	}
	rec := &Recorder{Next: sim.Handler()}
	hs := httptest.NewServer(rec)
	t.Cleanup(hs.Close)
	sim.SetBaseURL(hs.URL)
	return sim, rec, hs.URL
}

// Drift is one provider's side of DriftReads.
type Drift struct {
	Provider           pulumirpc.ResourceProviderServer // configured against Forge
	Forge              *state.Forge
	Repo               string // full name, with a branch main
	BranchURN, FileURN string
	// Branch are the inputs of branch exp/1-a made from commit base.
	Branch func(base string) map[string]any
	// File are the inputs of experiment.yaml on exp/1-a, "lr: 0.1\n".
	File map[string]any
	// Head is the commit a branch's state records.
	Head func(*structpb.Struct) string
}

// DriftReads checks what a refresh reads after people changed an
// experiment branch on the forge, as the official provider reads it
// (docs/drift.md): a commit pushed on top moves the branch's head but asks
// for no change, an edited variant file differs in content only (an
// update, no replacement), a deleted file or branch is gone.
func DriftReads(t *testing.T, dr Drift) {
	t.Helper()
	ctx := context.Background()
	var base string
	_ = dr.Forge.WithRepo(dr.Repo, func(r *state.Repo) error { base, _ = r.Branch("main"); return nil })
	if base == "" {
		t.Fatalf("no branch main in %s", dr.Repo)
	}
	checked := func(urn string, news map[string]any) *structpb.Struct {
		t.Helper()
		resp, err := dr.Provider.Check(ctx, &pulumirpc.CheckRequest{Urn: urn, News: Struct(t, news), RandomSeed: []byte("s")})
		if err != nil || len(resp.GetFailures()) > 0 {
			t.Fatalf("check: %v %v", resp.GetFailures(), err)
		}
		return resp.GetInputs()
	}
	brIns := checked(dr.BranchURN, dr.Branch(base))
	br, err := dr.Provider.Create(ctx, &pulumirpc.CreateRequest{Urn: dr.BranchURN, Properties: brIns})
	if err != nil {
		t.Fatal(err)
	}
	fileIns := checked(dr.FileURN, dr.File)
	file, err := dr.Provider.Create(ctx, &pulumirpc.CreateRequest{Urn: dr.FileURN, Properties: fileIns})
	if err != nil {
		t.Fatal(err)
	}
	read := func(urn string, id string, state *structpb.Struct, inputs *structpb.Struct) *pulumirpc.ReadResponse {
		t.Helper()
		rd, err := dr.Provider.Read(ctx, &pulumirpc.ReadRequest{Urn: urn, Id: id, Properties: state, Inputs: inputs})
		if err != nil {
			t.Fatalf("read %s: %v", urn, err)
		}
		return rd
	}
	diff := func(urn, id string, olds, news *structpb.Struct) *pulumirpc.DiffResponse {
		t.Helper()
		d, err := dr.Provider.Diff(ctx, &pulumirpc.DiffRequest{Urn: urn, Id: id, Olds: olds, News: news})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	push := func(branch string, changes ...state.FileChange) {
		t.Helper()
		if _, _, err := dr.Forge.PushFiles(dr.Repo, branch, "expbot", "by hand", changes); err != nil {
			t.Fatal(err)
		}
	}

	// A commit on top: the head moves, nothing to change or replace.
	push("exp/1-a", state.FileChange{Path: "notes.md", Content: []byte("more data\n")})
	rb := read(dr.BranchURN, br.GetId(), br.GetProperties(), brIns)
	if rb.GetId() == "" || dr.Head(br.GetProperties()) == "" || dr.Head(rb.GetProperties()) == dr.Head(br.GetProperties()) {
		t.Fatalf("branch after a push on top: %v", rb)
	}
	if d := diff(dr.BranchURN, br.GetId(), rb.GetProperties(), brIns); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE || len(d.GetReplaces()) > 0 {
		t.Errorf("a push on top diffs the branch: %v", d)
	}
	rf := read(dr.FileURN, file.GetId(), file.GetProperties(), fileIns)
	if d := diff(dr.FileURN, file.GetId(), rf.GetProperties(), fileIns); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Errorf("a push on top diffs the file: %v", d)
	}

	// The file edited by hand: its content differs, an update in place.
	push("exp/1-a", state.FileChange{Path: "experiment.yaml", Content: []byte("lr: 999\n")})
	rf = read(dr.FileURN, file.GetId(), file.GetProperties(), fileIns)
	if got := rf.GetProperties().GetFields()["content"].GetStringValue(); got != "lr: 999\n" {
		t.Errorf("read content %q, want the edited one", got)
	}
	if d := diff(dr.FileURN, file.GetId(), rf.GetProperties(), fileIns); d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) > 0 || strings.Join(d.GetDiffs(), ",") != "content" {
		t.Errorf("an edited file diffs as %v, want an update of content", d)
	}

	// The file deleted: gone.
	push("exp/1-a", state.FileChange{Path: "experiment.yaml", Delete: true})
	if rd := read(dr.FileURN, file.GetId(), file.GetProperties(), fileIns); rd.GetId() != "" {
		t.Errorf("a deleted file reads as %v, want gone", rd)
	}

	// The branch deleted: branch and file gone.
	if _, err := dr.Forge.RemoveBranch(dr.Repo, "expbot", "exp/1-a"); err != nil {
		t.Fatal(err)
	}
	if rd := read(dr.BranchURN, br.GetId(), br.GetProperties(), brIns); rd.GetId() != "" {
		t.Errorf("a deleted branch reads as %v, want gone", rd)
	}
	if rd := read(dr.FileURN, file.GetId(), file.GetProperties(), fileIns); rd.GetId() != "" {
		t.Errorf("the file of a deleted branch reads as %v, want gone", rd)
	}
}
