package ghsim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestGetContents(t *testing.T) {
	fx := newFixture(t)
	main := fx.head("acme/llm", "main")
	long := strings.Repeat("0123456789", 20) // 200 bytes: several base64 lines
	_, _, err := fx.f.PushFiles("acme/llm", "exp/x", "dev", "add", []state.FileChange{
		{Path: "dir with space/f.yaml", Content: []byte("a: 1\n")},
		{Path: "long.txt", Content: []byte(long)},
	})
	must(t, err)
	gh := fx.client(tokNobody)

	tests := []struct {
		name, path, ref, content, wantRef string
		status                            int
	}{
		{"default branch", "README.md", "", "# llm\n", "main", http.StatusOK},
		{"branch with slash", "dir with space/f.yaml", "exp/x", "a: 1\n", "exp/x", http.StatusOK},
		{"by sha", "configs/base.yaml", main, "lr: 0.1\n", main, http.StatusOK},
		{"long file", "long.txt", "exp/x", long, "exp/x", http.StatusOK},
		{"absent on branch", "long.txt", "main", "", "", http.StatusNotFound},
		{"unknown ref", "README.md", "nope", "", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc, dir, _, err := gh.Repositories.GetContents(t.Context(), "acme", "llm", tt.path, &github.RepositoryContentGetOptions{Ref: tt.ref})
			if tt.status != http.StatusOK {
				if statusOf(err) != tt.status {
					t.Fatalf("err %v, want %d", err, tt.status)
				}
				return
			}
			must(t, err)
			if fc == nil || dir != nil {
				t.Fatalf("file %v dir %v", fc, dir)
			}
			got, err := fc.GetContent()
			must(t, err)
			if got != tt.content || fc.GetType() != "file" || fc.GetEncoding() != "base64" || fc.GetSize() != len(tt.content) ||
				fc.GetSHA() != state.BlobSHA([]byte(tt.content)) || fc.GetPath() != tt.path ||
				fc.GetName() != tt.path[strings.LastIndex(tt.path, "/")+1:] {
				t.Errorf("file %+v content %q", fc, got)
			}
			// GitHub wraps base64 at 60 characters per line.
			for _, line := range strings.Split(strings.TrimSuffix(*fc.Content, "\n"), "\n") {
				if len(line) > 60 {
					t.Errorf("base64 line of %d characters", len(line))
				}
			}
			// The provider reads the ref back from the url's query.
			u, err := url.Parse(fc.GetURL())
			must(t, err)
			if u.Query().Get("ref") != tt.wantRef || !strings.HasSuffix(u.Path, "/api/v3/repos/acme/llm/contents/"+tt.path) {
				t.Errorf("url %q", fc.GetURL())
			}
		})
	}

	// A directory lists its children, directories included.
	_, dir, _, err := gh.Repositories.GetContents(t.Context(), "acme", "llm", "configs", nil)
	must(t, err)
	if len(dir) != 2 || dir[0].GetName() != "base.yaml" || dir[0].GetType() != "file" || dir[0].GetSize() != 8 ||
		dir[1].GetName() != "deep" || dir[1].GetType() != "dir" || dir[1].GetPath() != "configs/deep" {
		t.Errorf("directory %v", dir)
	}
	_, root, _, err := gh.Repositories.GetContents(t.Context(), "acme", "llm", "", nil)
	must(t, err)
	if len(root) != 2 || root[0].GetName() != "README.md" || root[1].GetName() != "configs" {
		t.Errorf("root %v", root)
	}

	r := fx.do(http.MethodGet, "/repos/acme/llm/contents/README.md?ref=nope", tokDev, nil)
	var e errorBody
	r.json(t, &e)
	if e.Message != "No commit found for the ref nope" {
		t.Errorf("unknown ref body %s", r.body)
	}
	if r := fx.do(http.MethodGet, "/repos/acme/llm/contents/README.md", tokDev, nil, "Accept", "application/vnd.github.raw"); string(r.body) != "# llm\n" {
		t.Errorf("raw media type: %q", r.body)
	}
}

func TestFileLifecycle(t *testing.T) {
	fx := newFixture(t)
	main := fx.head("acme/llm", "main")
	must(t, fx.f.WithRepo("acme/llm", func(r *state.Repo) error { return r.CreateBranch("exp/x", main) }))
	fx.takeEvents()
	gh := fx.client(tokBot)
	opts := func(content, sha string) *github.RepositoryContentFileOptions {
		o := &github.RepositoryContentFileOptions{
			Message: github.String("Add experiment.yaml"), Content: []byte(content), Branch: github.String("exp/x"),
			Committer: &github.CommitAuthor{Name: github.String("expbot"), Email: github.String("bot@example.com")},
		}
		if sha != "" {
			o.SHA = github.String(sha)
		}
		return o
	}

	created, resp, err := gh.Repositories.CreateFile(t.Context(), "acme", "llm", "exp/experiment.yaml", opts("lr: 1\n", ""))
	must(t, err)
	blob1 := state.BlobSHA([]byte("lr: 1\n"))
	if resp.StatusCode != http.StatusCreated || created.GetContent().GetSHA() != blob1 || created.GetContent().GetPath() != "exp/experiment.yaml" ||
		created.Commit.GetMessage() != "Add experiment.yaml" || created.Commit.GetCommitter().GetName() != "expbot" ||
		len(created.Commit.Parents) != 1 || created.Commit.Parents[0].GetSHA() != main {
		t.Fatalf("create: %d %+v", resp.StatusCode, created)
	}
	commit1 := created.Commit.GetSHA()
	if fx.head("acme/llm", "exp/x") != commit1 || fx.head("acme/llm", "main") != main {
		t.Errorf("write moved exp/x to %s (want %s), main to %s", fx.head("acme/llm", "exp/x"), commit1, fx.head("acme/llm", "main"))
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.BranchPushed || evs[0].Ref != "refs/heads/exp/x" || evs[0].Before != main ||
		evs[0].After != commit1 || len(evs[0].Commits) != 1 || evs[0].Actor.Login != botLogin {
		t.Errorf("create events %+v", evs)
	}

	errTests := []struct {
		name    string
		opts    *github.RepositoryContentFileOptions
		token   string
		status  int
		message string
	}{
		{"update without sha", opts("lr: 2\n", ""), tokBot, http.StatusUnprocessableEntity, "Invalid request.\n\n\"sha\" wasn't supplied."},
		{"update with stale sha", opts("lr: 2\n", state.BlobSHA([]byte("old"))), tokBot, http.StatusConflict,
			"exp/experiment.yaml does not match " + state.BlobSHA([]byte("old"))},
		{"no push access", opts("lr: 2\n", blob1), tokRita, http.StatusNotFound, "Not Found"},
		{"unknown branch", &github.RepositoryContentFileOptions{Message: github.String("m"), Content: []byte("x"), Branch: github.String("nope")},
			tokBot, http.StatusNotFound, "Branch nope not found"},
		{"no message", &github.RepositoryContentFileOptions{Content: []byte("x"), Branch: github.String("exp/x")},
			tokBot, http.StatusUnprocessableEntity, "Invalid request.\n\n\"message\" wasn't supplied."},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := fx.client(tt.token).Repositories.UpdateFile(t.Context(), "acme", "llm", "exp/experiment.yaml", tt.opts)
			if statusOf(err) != tt.status || messageOf(err) != tt.message {
				t.Errorf("err %v, want %d %q", err, tt.status, tt.message)
			}
		})
	}
	if fx.head("acme/llm", "exp/x") != commit1 || len(fx.takeEvents()) != 0 {
		t.Fatal("a refused write changed the branch or reported an event")
	}

	updated, resp, err := gh.Repositories.UpdateFile(t.Context(), "acme", "llm", "exp/experiment.yaml", opts("lr: 2\n", blob1))
	must(t, err)
	blob2 := updated.GetContent().GetSHA()
	if resp.StatusCode != http.StatusOK || blob2 == blob1 || blob2 != state.BlobSHA([]byte("lr: 2\n")) ||
		updated.Commit.Parents[0].GetSHA() != commit1 || fx.head("acme/llm", "exp/x") != updated.Commit.GetSHA() {
		t.Errorf("update: %d %+v", resp.StatusCode, updated)
	}
	fc, _, _, err := gh.Repositories.GetContents(t.Context(), "acme", "llm", "exp/experiment.yaml", &github.RepositoryContentGetOptions{Ref: "exp/x"})
	must(t, err)
	if got, _ := fc.GetContent(); got != "lr: 2\n" || fc.GetSHA() != blob2 {
		t.Errorf("read after update: %q %s", got, fc.GetSHA())
	}
	fx.takeEvents()

	if _, _, err := gh.Repositories.DeleteFile(t.Context(), "acme", "llm", "exp/experiment.yaml", opts("", blob1)); statusOf(err) != http.StatusConflict {
		t.Errorf("delete with stale sha: %v", err)
	}
	if _, _, err := gh.Repositories.DeleteFile(t.Context(), "acme", "llm", "nope.yaml", opts("", blob1)); statusOf(err) != http.StatusNotFound {
		t.Errorf("delete missing file: %v", err)
	}
	deleted, resp, err := gh.Repositories.DeleteFile(t.Context(), "acme", "llm", "exp/experiment.yaml", opts("", blob2))
	must(t, err)
	if resp.StatusCode != http.StatusOK || deleted.Content != nil || deleted.Commit.GetSHA() != fx.head("acme/llm", "exp/x") {
		t.Errorf("delete: %d %+v", resp.StatusCode, deleted)
	}
	if evs := fx.takeEvents(); len(evs) != 1 || evs[0].After != deleted.Commit.GetSHA() {
		t.Errorf("delete events %+v", evs)
	}
	if _, _, _, err := gh.Repositories.GetContents(t.Context(), "acme", "llm", "exp/experiment.yaml", &github.RepositoryContentGetOptions{Ref: "exp/x"}); statusOf(err) != http.StatusNotFound {
		t.Errorf("read after delete: %v", err)
	}
}

func TestPutContentsDefaultsAndConflicts(t *testing.T) {
	fx := newFixture(t)
	// No branch: the default branch; no committer: the authenticated user.
	r := fx.do(http.MethodPut, "/repos/acme/llm/contents/new.txt", tokDev, map[string]string{
		"message": "new", "content": base64.StdEncoding.EncodeToString([]byte("n\n")),
	})
	var out contentResponse
	r.json(t, &out)
	if r.status != http.StatusCreated || out.Commit.Committer.Name != "Dev Eloper" || out.Commit.Author.Email != "dev@example.com" ||
		fx.head("acme/llm", "main") != out.Commit.SHA {
		t.Errorf("defaults: %d %s", r.status, r.body)
	}
	tests := []struct {
		name, path string
		body       map[string]any
		status     int
	}{
		{"file over directory", "configs", map[string]any{"message": "m", "content": "eA=="}, http.StatusUnprocessableEntity},
		{"directory over file", "README.md/x", map[string]any{"message": "m", "content": "eA=="}, http.StatusUnprocessableEntity},
		{"bad base64", "b.txt", map[string]any{"message": "m", "content": "!!!"}, http.StatusUnprocessableEntity},
		{"author without email", "b.txt", map[string]any{"message": "m", "content": "eA==", "author": map[string]string{"name": "x"}}, http.StatusUnprocessableEntity},
		{"bad JSON field type", "b.txt", map[string]any{"message": 5, "content": "eA=="}, http.StatusBadRequest},
		{"empty path", "", map[string]any{"message": "m", "content": "eA=="}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := fx.do(http.MethodPut, "/repos/acme/llm/contents/"+tt.path, tokDev, tt.body); r.status != tt.status {
				t.Errorf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
		})
	}
}

func TestGetCommit(t *testing.T) {
	fx := newFixture(t)
	main := fx.head("acme/llm", "main")
	c, _, err := fx.f.PushFiles("acme/llm", "exp/x", "dev", "change configs", []state.FileChange{
		{Path: "configs/base.yaml", Content: []byte("lr: 0.2\nbatch: 8\n")},
		{Path: "configs/deep/x.yaml", Delete: true},
		{Path: "new.yaml", Content: []byte("n: 1\n")},
	})
	must(t, err)
	gh := fx.client(tokDev)

	for _, ref := range []string{c.SHA, c.SHA[:10], "exp/x"} {
		rc, _, err := gh.Repositories.GetCommit(t.Context(), "acme", "llm", ref, nil)
		must(t, err)
		if rc.GetSHA() != c.SHA || rc.GetCommit().GetMessage() != "change configs" ||
			rc.GetCommit().GetCommitter().GetName() != "Dev Eloper" || rc.GetCommit().GetCommitter().GetEmail() != "dev@example.com" ||
			len(rc.Parents) != 1 || rc.Parents[0].GetSHA() != main || rc.GetCommit().GetTree().GetSHA() != treeSHA(c.Tree) {
			t.Errorf("%s: commit %+v", ref, rc)
		}
		status := map[string]string{}
		for _, f := range rc.Files {
			status[f.GetFilename()] = f.GetStatus()
		}
		if len(status) != 3 || status["configs/base.yaml"] != "modified" || status["configs/deep/x.yaml"] != "removed" || status["new.yaml"] != "added" {
			t.Errorf("%s: files %v", ref, status)
		}
		if rc.GetStats().GetAdditions() != 3 || rc.GetStats().GetDeletions() != 2 {
			t.Errorf("%s: stats %+v", ref, rc.GetStats())
		}
	}
	if _, _, err := gh.Repositories.GetCommit(t.Context(), "acme", "llm", "nope", nil); statusOf(err) != http.StatusUnprocessableEntity ||
		messageOf(err) != "No commit found for SHA: nope" {
		t.Errorf("unknown commit: %v", err)
	}

	// The sha media type, with its ETag round trip.
	sha, _, err := gh.Repositories.GetCommitSHA1(t.Context(), "acme", "llm", "exp/x", "")
	must(t, err)
	if sha != c.SHA {
		t.Errorf("GetCommitSHA1 = %q", sha)
	}
	if _, resp, err := gh.Repositories.GetCommitSHA1(t.Context(), "acme", "llm", "exp/x", c.SHA); resp == nil || resp.StatusCode != http.StatusNotModified {
		t.Errorf("GetCommitSHA1 with current sha: %v", err)
	}
}

func TestListCommits(t *testing.T) {
	fx := newFixture(t)
	initial := fx.head("acme/llm", "main")
	var shas []string
	for i, p := range []string{"a.txt", "b.txt", "a.txt"} {
		c, _, err := fx.f.PushFiles("acme/llm", "main", "dev", p, []state.FileChange{{Path: p, Content: []byte{byte('0' + i)}}})
		must(t, err)
		shas = append(shas, c.SHA)
	}
	gh := fx.client(tokDev)
	all, resp, err := gh.Repositories.ListCommits(t.Context(), "acme", "llm", &github.CommitsListOptions{SHA: "main", ListOptions: github.ListOptions{PerPage: 3}})
	must(t, err)
	if len(all) != 3 || all[0].GetSHA() != shas[2] || all[2].GetSHA() != shas[0] || resp.NextPage != 2 {
		t.Errorf("page 1: %d commits, next %d", len(all), resp.NextPage)
	}
	last, _, err := gh.Repositories.ListCommits(t.Context(), "acme", "llm", &github.CommitsListOptions{SHA: "main", ListOptions: github.ListOptions{PerPage: 3, Page: 2}})
	must(t, err)
	if len(last) != 1 || last[0].GetSHA() != initial {
		t.Errorf("page 2: %v", last)
	}
	byPath, _, err := gh.Repositories.ListCommits(t.Context(), "acme", "llm", &github.CommitsListOptions{Path: "a.txt"})
	must(t, err)
	if len(byPath) != 2 || byPath[0].GetSHA() != shas[2] || byPath[1].GetSHA() != shas[0] {
		t.Errorf("by path: %v", byPath)
	}
	if _, _, err := gh.Repositories.ListCommits(t.Context(), "acme", "llm", &github.CommitsListOptions{SHA: "nope"}); statusOf(err) != http.StatusNotFound {
		t.Errorf("unknown sha: %v", err)
	}
}
