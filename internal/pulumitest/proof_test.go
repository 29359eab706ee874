package pulumitest

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi-gitlab/sdk/v8/go/gitlab"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

const (
	proofRepo   = "acme/llm"
	proofBranch = "exp/proof"
	proofFile   = "experiment.yaml"
	proofToken  = "proof-token"
)

// proofProgram makes, on both forges, a branch from main plus one committed
// file, through the same resources and provider settings expbot uses.
func proofProgram(baseURL, content string) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		gh, err := github.NewProvider(ctx, "github", &github.ProviderArgs{
			Token:        pulumi.StringPtr(proofToken),
			Owner:        pulumi.StringPtr("acme"),
			BaseUrl:      pulumi.StringPtr(baseURL + "/"),
			WriteDelayMs: pulumi.IntPtr(1),
		})
		if err != nil {
			return err
		}
		ghBranch, err := github.NewBranch(ctx, "gh-branch", &github.BranchArgs{
			Repository:   pulumi.String("llm"),
			Branch:       pulumi.String(proofBranch),
			SourceBranch: pulumi.StringPtr("main"),
		}, pulumi.Provider(gh), pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return err
		}
		if _, err := github.NewRepositoryFile(ctx, "gh-file", &github.RepositoryFileArgs{
			Repository:        pulumi.String("llm"),
			Branch:            ghBranch.Branch,
			File:              pulumi.String(proofFile),
			Content:           pulumi.String(content),
			CommitMessage:     pulumi.StringPtr("expbot: variant file"),
			OverwriteOnCreate: pulumi.BoolPtr(true),
		}, pulumi.Provider(gh)); err != nil {
			return err
		}

		gl, err := gitlab.NewProvider(ctx, "gitlab", &gitlab.ProviderArgs{
			Token:   pulumi.StringPtr(proofToken),
			BaseUrl: pulumi.StringPtr(baseURL + "/api/v4/"),
		})
		if err != nil {
			return err
		}
		glBranch, err := gitlab.NewBranch(ctx, "gl-branch", &gitlab.BranchArgs{
			Project: pulumi.String(proofRepo),
			Name:    pulumi.String(proofBranch + "-gl"),
			Ref:     pulumi.String("main"),
		}, pulumi.Provider(gl), pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return err
		}
		_, err = gitlab.NewRepositoryFile(ctx, "gl-file", &gitlab.RepositoryFileArgs{
			Project:       pulumi.String(proofRepo),
			Branch:        glBranch.Name,
			FilePath:      pulumi.String(proofFile),
			Content:       pulumi.String(content),
			Encoding:      pulumi.StringPtr("text"),
			CommitMessage: pulumi.StringPtr("expbot: variant file"),
		}, pulumi.Provider(gl))
		return err
	}
}

// branchState is what the forge holds for one branch.
type branchState struct {
	head, parent, file string
	exists             bool
}

func readBranch(t *testing.T, f *state.Forge, branch string) branchState {
	t.Helper()
	var out branchState
	err := f.WithRepo(proofRepo, func(r *state.Repo) error {
		sha, ok := r.Branch(branch)
		if !ok {
			return nil
		}
		c, _ := r.Commit(sha)
		out.exists, out.head = true, sha
		if len(c.Parents) > 0 {
			out.parent = c.Parents[0]
		}
		if b, _, ok := r.File(c, proofFile); ok {
			out.file = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestProof drives the real Pulumi engine, through the stand-in plugins, to
// the simulated forge: create, no-op, update, destroy, on GitHub and GitLab.
func TestProof(t *testing.T) {
	env := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	sim := forgesim.New()
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	sim.SetBaseURL(srv.URL)
	forge := sim.Forge()
	forge.AddOrg("acme")
	forge.AddUser("expbot", "expbot", "bot@example.com", proofToken, true)
	if _, err := forge.CreateRepo(proofRepo, "main", map[string]string{"train.py": "print('train')\n"}, state.Signature{Name: "a", Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if err := forge.SetAccess(proofRepo, "expbot", state.Maintainer); err != nil {
		t.Fatal(err)
	}
	mainSHA := readBranch(t, forge, "main").head

	up := func(content string) auto.UpResult {
		t.Helper()
		st := env.Stack(ctx, t, "proof", "acme-llm", proofProgram(srv.URL, content))
		res, err := st.Up(ctx, optup.ErrorProgressStreams(testWriter{t}))
		if err != nil {
			t.Fatalf("up: %v", err)
		}
		return res
	}
	branches := []string{proofBranch, proofBranch + "-gl"}

	// First up: each branch starts at main and gains one commit with the file.
	res := up("lr: 0.1\n")
	if got := changes(res, "create"); got != 7 { // the stack, 2 providers, 2 branches, 2 files
		t.Errorf("first up created %d resources, want 7 (%v)", got, res.Summary.ResourceChanges)
	}
	created := map[string]branchState{}
	for _, b := range branches {
		bs := readBranch(t, forge, b)
		if !bs.exists || bs.parent != mainSHA || bs.file != "lr: 0.1\n" {
			t.Fatalf("branch %s after create = %+v, want one commit on %s with the file", b, bs, mainSHA)
		}
		created[b] = bs
	}

	// Second up with the same program: nothing changes, on Pulumi's side or the forge's.
	res = up("lr: 0.1\n")
	if got := changes(res, "same"); got != 7 || len(*res.Summary.ResourceChanges) != 1 {
		t.Errorf("no-op up changes = %v, want only 7 same", res.Summary.ResourceChanges)
	}
	for _, b := range branches {
		if bs := readBranch(t, forge, b); bs.head != created[b].head {
			t.Errorf("no-op up moved %s from %s to %s", b, created[b].head, bs.head)
		}
	}

	// New content: the file is updated in place by another commit.
	res = up("lr: 0.2\n")
	if got := changes(res, "update"); got != 2 {
		t.Errorf("content change updated %d resources, want 2 (%v)", got, res.Summary.ResourceChanges)
	}
	for _, b := range branches {
		bs := readBranch(t, forge, b)
		if bs.parent != created[b].head || bs.file != "lr: 0.2\n" {
			t.Errorf("branch %s after update = %+v, want a commit on %s with the new content", b, bs, created[b].head)
		}
	}

	// Destroy removes the branches again.
	st := env.Stack(ctx, t, "proof", "acme-llm", proofProgram(srv.URL, "lr: 0.2\n"))
	if _, err := st.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	for _, b := range branches {
		if bs := readBranch(t, forge, b); bs.exists {
			t.Errorf("branch %s still exists after destroy", b)
		}
	}
	if bs := readBranch(t, forge, "main"); bs.head != mainSHA {
		t.Errorf("main moved from %s to %s", mainSHA, bs.head)
	}
}

func changes(res auto.UpResult, op string) int {
	if res.Summary.ResourceChanges == nil {
		return 0
	}
	return (*res.Summary.ResourceChanges)[op]
}

// testWriter sends the engine's error stream to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
