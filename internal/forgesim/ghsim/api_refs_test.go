package ghsim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestGetRef(t *testing.T) {
	fx := newFixture(t)
	main := fx.head("acme/llm", "main")
	must(t, fx.f.WithRepo("acme/llm", func(r *state.Repo) error {
		if err := r.CreateBranch("exp/a/b", main); err != nil {
			return err
		}
		return r.SetTag("v1", main)
	}))
	gh := fx.client(tokNobody) // reading needs no access: repositories are public
	tests := []struct {
		ref    string
		status int
	}{
		{"refs/heads/main", http.StatusOK},
		{"refs/heads/exp/a/b", http.StatusOK},
		{"heads/exp/a/b", http.StatusOK}, // go-github accepts either form
		{"refs/tags/v1", http.StatusOK},
		{"refs/heads/exp", http.StatusNotFound}, // a prefix is not a ref
		{"refs/heads/nope", http.StatusNotFound},
		{"refs/tags/main", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			ref, _, err := gh.Git.GetRef(t.Context(), "acme", "llm", tt.ref)
			if tt.status != http.StatusOK {
				if statusOf(err) != tt.status {
					t.Fatalf("err %v, want %d", err, tt.status)
				}
				return
			}
			must(t, err)
			want := "refs/" + strings.TrimPrefix(tt.ref, "refs/")
			if ref.GetRef() != want || ref.GetObject().GetSHA() != main || ref.GetObject().GetType() != "commit" ||
				!strings.HasSuffix(ref.GetURL(), "/api/v3/repos/acme/llm/git/"+want) ||
				!strings.HasSuffix(ref.GetObject().GetURL(), "/git/commits/"+main) {
				t.Errorf("ref %+v", ref)
			}
		})
	}

	// A %2F-escaped name resolves like the raw one.
	if r := fx.do(http.MethodGet, "/repos/acme/llm/git/ref/heads/exp%2Fa%2Fb", tokDev, nil); r.status != http.StatusOK {
		t.Errorf("escaped ref: %d %s", r.status, r.body)
	}
}

func TestRefETag(t *testing.T) {
	fx := newFixture(t)
	first := fx.do(http.MethodGet, "/repos/acme/llm/git/ref/heads/main", tokDev, nil)
	etag := first.header.Get("ETag")
	if first.status != http.StatusOK || etag == "" {
		t.Fatalf("first read: %d etag %q", first.status, etag)
	}
	if r := fx.do(http.MethodGet, "/repos/acme/llm/git/ref/heads/main", tokDev, nil, "If-None-Match", etag); r.status != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("unchanged ref: %d %q", r.status, r.body)
	}
	if _, _, err := fx.f.PushFiles("acme/llm", "main", "dev", "change", []state.FileChange{{Path: "n.txt", Content: []byte("n")}}); err != nil {
		t.Fatal(err)
	}
	if r := fx.do(http.MethodGet, "/repos/acme/llm/git/ref/heads/main", tokDev, nil, "If-None-Match", etag); r.status != http.StatusOK || r.header.Get("ETag") == etag {
		t.Errorf("moved ref: %d etag %q", r.status, r.header.Get("ETag"))
	}
}

func TestCreateUpdateDeleteRef(t *testing.T) {
	fx := newFixture(t)
	main := fx.head("acme/llm", "main")
	gh := fx.client(tokDev)
	newRef := func(ref, sha string) *github.Reference {
		return &github.Reference{Ref: github.String(ref), Object: &github.GitObject{SHA: github.String(sha)}}
	}

	created, resp, err := gh.Git.CreateRef(t.Context(), "acme", "llm", newRef("refs/heads/exp/x", main))
	must(t, err)
	if resp.StatusCode != http.StatusCreated || created.GetRef() != "refs/heads/exp/x" || created.GetObject().GetSHA() != main ||
		resp.Header.Get("Location") != created.GetURL() {
		t.Fatalf("create: %d %+v location %q", resp.StatusCode, created, resp.Header.Get("Location"))
	}
	if got := fx.head("acme/llm", "exp/x"); got != main {
		t.Errorf("model branch at %s", got)
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.BranchPushed || evs[0].Ref != "refs/heads/exp/x" ||
		evs[0].Before != state.ZeroSHA || evs[0].After != main || evs[0].Actor.Login != "dev" {
		t.Errorf("create events %+v", evs)
	}

	// A second commit on main to move refs to.
	next, _, err := fx.f.PushFiles("acme/llm", "main", "dev", "more", []state.FileChange{{Path: "m.txt", Content: []byte("m")}})
	must(t, err)
	fx.takeEvents()

	errTests := []struct {
		name    string
		call    func() error
		status  int
		message string
	}{
		{"create existing", func() error {
			_, _, err := gh.Git.CreateRef(t.Context(), "acme", "llm", newRef("refs/heads/exp/x", main))
			return err
		},
			http.StatusUnprocessableEntity, "Reference already exists"},
		{"create unknown object", func() error {
			_, _, err := gh.Git.CreateRef(t.Context(), "acme", "llm", newRef("refs/heads/y", strings.Repeat("1", 40)))
			return err
		}, http.StatusUnprocessableEntity, "Object does not exist"},
		{"create bad name", func() error {
			_, _, err := gh.Git.CreateRef(t.Context(), "acme", "llm", newRef("refs/heads/a..b", main))
			return err
		},
			http.StatusUnprocessableEntity, "Reference update failed"},
		{"create without push access", func() error {
			_, _, err := fx.client(tokRita).Git.CreateRef(t.Context(), "acme", "llm", newRef("refs/heads/r", main))
			return err
		}, http.StatusNotFound, "Not Found"},
		{"update missing", func() error {
			_, _, err := gh.Git.UpdateRef(t.Context(), "acme", "llm", newRef("refs/heads/nope", main), false)
			return err
		}, http.StatusUnprocessableEntity, "Reference does not exist"},
		{"delete missing", func() error { _, err := gh.Git.DeleteRef(t.Context(), "acme", "llm", "refs/heads/nope"); return err },
			http.StatusUnprocessableEntity, "Reference does not exist"},
		{"delete default branch", func() error { _, err := gh.Git.DeleteRef(t.Context(), "acme", "llm", "refs/heads/main"); return err },
			http.StatusUnprocessableEntity, "Cannot delete the default branch"},
		{"delete without push access", func() error {
			_, err := fx.client(tokGus).Git.DeleteRef(t.Context(), "acme", "llm", "refs/heads/exp/x")
			return err
		}, http.StatusNotFound, "Not Found"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if statusOf(err) != tt.status || messageOf(err) != tt.message {
				t.Errorf("err %v, want %d %q", err, tt.status, tt.message)
			}
		})
	}
	// GitHub's "already exists" has no errors array; the provider keys on that.
	r := fx.do(http.MethodPost, "/repos/acme/llm/git/refs", tokDev, map[string]string{"ref": "refs/heads/exp/x", "sha": main})
	if r.status != http.StatusUnprocessableEntity || strings.Contains(string(r.body), `"errors"`) {
		t.Errorf("already exists body: %d %s", r.status, r.body)
	}

	// Fast-forward exp/x to the new main commit.
	upd, _, err := gh.Git.UpdateRef(t.Context(), "acme", "llm", newRef("refs/heads/exp/x", next.SHA), false)
	must(t, err)
	evs = fx.takeEvents()
	if upd.GetObject().GetSHA() != next.SHA || len(evs) != 1 || evs[0].Before != main || evs[0].After != next.SHA ||
		len(evs[0].Commits) != 1 || evs[0].Commits[0].SHA != next.SHA {
		t.Errorf("fast-forward: %+v events %+v", upd, evs)
	}
	// Going back is not a fast-forward unless forced.
	if _, _, err := gh.Git.UpdateRef(t.Context(), "acme", "llm", newRef("refs/heads/exp/x", main), false); messageOf(err) != "Update is not a fast forward" {
		t.Errorf("rewind without force: %v", err)
	}
	if _, _, err := gh.Git.UpdateRef(t.Context(), "acme", "llm", newRef("refs/heads/exp/x", main), true); err != nil {
		t.Errorf("forced rewind: %v", err)
	}
	if got := fx.head("acme/llm", "exp/x"); got != main {
		t.Errorf("after forced rewind at %s", got)
	}
	fx.takeEvents()

	resp, err = gh.Git.DeleteRef(t.Context(), "acme", "llm", "refs/heads/exp/x")
	must(t, err)
	evs = fx.takeEvents()
	if resp.StatusCode != http.StatusNoContent || fx.hasBranch("acme/llm", "exp/x") {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	if len(evs) != 1 || evs[0].Kind != state.BranchPushed || evs[0].After != state.ZeroSHA || evs[0].Before != main {
		t.Errorf("delete events %+v", evs)
	}

	// Tags go through the same endpoints and report tag events.
	if _, _, err := gh.Git.CreateRef(t.Context(), "acme", "llm", newRef("refs/tags/exp/run-1", main)); err != nil {
		t.Fatal(err)
	}
	if _, err := gh.Git.DeleteRef(t.Context(), "acme", "llm", "refs/tags/exp/run-1"); err != nil {
		t.Fatal(err)
	}
	evs = fx.takeEvents()
	if len(evs) != 2 || evs[0].Kind != state.TagPushed || evs[0].Before != state.ZeroSHA ||
		evs[1].Kind != state.TagDeleted || evs[1].Ref != "refs/tags/exp/run-1" {
		t.Errorf("tag events %+v", evs)
	}
}

func TestMatchingAndListRefs(t *testing.T) {
	fx := newFixture(t)
	main := fx.head("acme/llm", "main")
	must(t, fx.f.WithRepo("acme/llm", func(r *state.Repo) error {
		for _, b := range []string{"exp/a", "exp/b", "other"} {
			if err := r.CreateBranch(b, main); err != nil {
				return err
			}
		}
		return nil
	}))
	gh := fx.client(tokDev)
	refs, _, err := gh.Git.ListMatchingRefs(t.Context(), "acme", "llm", &github.ReferenceListOptions{Ref: "heads/exp/"})
	must(t, err)
	if len(refs) != 2 || refs[0].GetRef() != "refs/heads/exp/a" || refs[1].GetRef() != "refs/heads/exp/b" {
		t.Errorf("matching refs %v", refs)
	}
	none, _, err := gh.Git.ListMatchingRefs(t.Context(), "acme", "llm", &github.ReferenceListOptions{Ref: "heads/zzz"})
	must(t, err)
	if len(none) != 0 {
		t.Errorf("matching none %v", none)
	}
	var list []refJSON
	fx.do(http.MethodGet, "/repos/acme/llm/git/refs/heads", tokDev, nil).json(t, &list)
	if len(list) != 4 {
		t.Errorf("git/refs/heads: %v", list)
	}
	var one refJSON
	fx.do(http.MethodGet, "/repos/acme/llm/git/refs/heads/other", tokDev, nil).json(t, &one)
	if one.Ref != "refs/heads/other" {
		t.Errorf("git/refs exact: %+v", one)
	}
}

func TestBranches(t *testing.T) {
	fx := newFixture(t)
	main := fx.head("acme/llm", "main")
	must(t, fx.f.WithRepo("acme/llm", func(r *state.Repo) error {
		for _, b := range []string{"exp/x", "exp/y", "z"} {
			if err := r.CreateBranch(b, main); err != nil {
				return err
			}
		}
		return nil
	}))
	gh := fx.client(tokDev)

	b, _, err := gh.Repositories.GetBranch(t.Context(), "acme", "llm", "exp/x", 1)
	must(t, err)
	if b.GetName() != "exp/x" || b.GetCommit().GetSHA() != main || b.GetProtected() ||
		b.GetCommit().GetCommit().GetMessage() != "Initial commit" || b.GetCommit().GetCommit().GetCommitter().GetName() != "Olga Owner" {
		t.Errorf("branch %+v", b)
	}
	// Raw slashes reach the same branch.
	var raw branchJSON
	if r := fx.do(http.MethodGet, "/repos/acme/llm/branches/exp/x", tokDev, nil); r.status != http.StatusOK {
		t.Errorf("raw branch path: %d", r.status)
	} else if r.json(t, &raw); raw.Name != "exp/x" {
		t.Errorf("raw branch path name %q", raw.Name)
	}
	if _, _, err := gh.Repositories.GetBranch(t.Context(), "acme", "llm", "exp/nope", 1); err == nil {
		t.Error("missing branch found")
	}
	r := fx.do(http.MethodGet, "/repos/acme/llm/branches/exp%2Fnope", tokDev, nil)
	var e errorBody
	r.json(t, &e)
	if r.status != http.StatusNotFound || e.Message != "Branch not found" {
		t.Errorf("missing branch: %d %s", r.status, r.body)
	}

	// Paginated list: 4 branches, 3 per page.
	page1, resp, err := gh.Repositories.ListBranches(t.Context(), "acme", "llm", &github.BranchListOptions{ListOptions: github.ListOptions{PerPage: 3}})
	must(t, err)
	if len(page1) != 3 || resp.NextPage != 2 || resp.LastPage != 2 || page1[0].GetName() != "exp/x" {
		t.Fatalf("page 1: %d branches, next %d last %d", len(page1), resp.NextPage, resp.LastPage)
	}
	page2, resp, err := gh.Repositories.ListBranches(t.Context(), "acme", "llm", &github.BranchListOptions{ListOptions: github.ListOptions{PerPage: 3, Page: 2}})
	must(t, err)
	if len(page2) != 1 || page2[0].GetName() != "z" || resp.NextPage != 0 || resp.PrevPage != 1 {
		t.Errorf("page 2: %v next %d prev %d", page2, resp.NextPage, resp.PrevPage)
	}

	// Rename keeps the head and frees the old name.
	renamed, resp, err := gh.Repositories.RenameBranch(t.Context(), "acme", "llm", "exp/y", "exp/y2")
	must(t, err)
	if resp.StatusCode != http.StatusCreated || renamed.GetName() != "exp/y2" || renamed.GetCommit().GetSHA() != main ||
		fx.hasBranch("acme/llm", "exp/y") || !fx.hasBranch("acme/llm", "exp/y2") {
		t.Errorf("rename: %d %+v", resp.StatusCode, renamed)
	}
	if _, _, err := gh.Repositories.RenameBranch(t.Context(), "acme", "llm", "exp/y", "q"); statusOf(err) != http.StatusNotFound {
		t.Errorf("rename missing: %v", err)
	}
	if _, _, err := gh.Repositories.RenameBranch(t.Context(), "acme", "llm", "z", "exp/x"); statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("rename onto existing: %v", err)
	}
	if _, _, err := fx.client(tokRita).Repositories.RenameBranch(t.Context(), "acme", "llm", "z", "zz"); statusOf(err) != http.StatusNotFound {
		t.Errorf("rename without push access: %v", err)
	}
	// Raw slashes before /rename work too.
	if r := fx.do(http.MethodPost, "/repos/acme/llm/branches/exp/y2/rename", tokDev, map[string]string{"new_name": "exp/y3"}); r.status != http.StatusCreated {
		t.Errorf("raw rename: %d %s", r.status, r.body)
	}
}

func TestGitCommitAndBlob(t *testing.T) {
	fx := newFixture(t)
	c, _, err := fx.f.PushFiles("acme/llm", "main", "dev", "add x", []state.FileChange{{Path: "x.txt", Content: []byte("hello\n")}})
	must(t, err)
	gh := fx.client(tokDev)
	gc, _, err := gh.Git.GetCommit(t.Context(), "acme", "llm", c.SHA)
	must(t, err)
	if gc.GetSHA() != c.SHA || gc.GetMessage() != "add x" || gc.GetAuthor().GetName() != "Dev Eloper" ||
		len(gc.Parents) != 1 || gc.Parents[0].GetSHA() != c.Parents[0] || gc.GetTree().GetSHA() != treeSHA(c.Tree) {
		t.Errorf("git commit %+v", gc)
	}
	if _, _, err := gh.Git.GetCommit(t.Context(), "acme", "llm", strings.Repeat("0", 40)); statusOf(err) != http.StatusNotFound {
		t.Errorf("missing git commit: %v", err)
	}
	blob, _, err := gh.Git.GetBlob(t.Context(), "acme", "llm", state.BlobSHA([]byte("hello\n")))
	must(t, err)
	if blob.GetEncoding() != "base64" || blob.GetSize() != 6 || !strings.HasPrefix(blob.GetContent(), "aGVsbG8K") {
		t.Errorf("blob %+v", blob)
	}
	raw, _, err := gh.Git.GetBlobRaw(t.Context(), "acme", "llm", state.BlobSHA([]byte("hello\n")))
	must(t, err)
	if string(raw) != "hello\n" {
		t.Errorf("raw blob %q", raw)
	}
}
