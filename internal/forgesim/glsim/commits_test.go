package glsim

import (
	"net/http"
	"testing"

	"github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestGetCommit(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	root := fx.head("main")
	cm, _, err := fx.f.PushFiles(project, "exp/a", "dev", "Tune lr\n\nlonger body", []state.FileChange{
		{Path: "configs/base.yaml", Content: []byte("lr: 2\nsteps: 10\n")},
		{Path: "README.md", Delete: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.f.PushTag(project, "dev", "v1", cm.SHA); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{cm.SHA, cm.SHA[:8], "exp/a", "v1", "refs/heads/exp/a"} {
		c, _, err := gl.Commits.GetCommit(project, ref, nil)
		if err != nil {
			t.Fatalf("GetCommit(%s): %v", ref, err)
		}
		if c.ID != cm.SHA || c.ShortID != cm.SHA[:8] || c.Title != "Tune lr" || c.Message != "Tune lr\n\nlonger body" ||
			c.AuthorName != "Dev" || c.CommittedDate == nil || c.AuthoredDate == nil || len(c.ParentIDs) != 1 || c.ParentIDs[0] != root ||
			c.ProjectID != int(fx.repo.ID) || c.WebURL != fx.srv.URL+"/acme/llm/-/commit/"+cm.SHA {
			t.Errorf("GetCommit(%s) = %+v", ref, c)
		}
		// One line changed in base.yaml, one line removed with README.md.
		if c.Stats == nil || c.Stats.Additions != 1 || c.Stats.Deletions != 2 || c.Stats.Total != 3 {
			t.Errorf("stats = %+v", c.Stats)
		}
	}
	// A branch with a slash as one escaped segment.
	r := fx.do(http.MethodGet, "/projects/acme%2Fllm/repository/commits/exp%2Fa", "tok-dev", "", "")
	if r.status != http.StatusOK || r.decode(t)["id"] != cm.SHA {
		t.Errorf("escaped ref = %d %s", r.status, r.body)
	}
	r = fx.do(http.MethodGet, "/projects/acme%2Fllm/repository/commits/deadbeef", "tok-dev", "", "")
	if r.status != http.StatusNotFound || r.decode(t)["message"] != "404 Commit Not Found" {
		t.Errorf("unknown commit = %d %s", r.status, r.body)
	}
}

func TestListCommitsAndRefs(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	root := fx.head("main")
	c1, _, err := fx.f.PushFiles(project, "exp/b", "dev", "one", []state.FileChange{{Path: "a.txt", Content: []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := fx.f.PushFiles(project, "exp/b", "dev", "two", []state.FileChange{{Path: "b.txt", Content: []byte("2")}})
	if err != nil {
		t.Fatal(err)
	}
	list, _, err := gl.Commits.ListCommits(project, &gitlab.ListCommitsOptions{RefName: gitlab.Ptr("exp/b")})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].ID != c2.SHA || list[1].ID != c1.SHA || list[2].ID != root {
		t.Errorf("history of exp/b = %v", commitIDs(list))
	}
	onlyA, _, err := gl.Commits.ListCommits(project, &gitlab.ListCommitsOptions{RefName: gitlab.Ptr("exp/b"), Path: gitlab.Ptr("a.txt")})
	if err != nil || len(onlyA) != 1 || onlyA[0].ID != c1.SHA {
		t.Errorf("commits touching a.txt = %v, %v", commitIDs(onlyA), err)
	}
	mainOnly, _, err := gl.Commits.ListCommits(project, nil)
	if err != nil || len(mainOnly) != 1 || mainOnly[0].ID != root {
		t.Errorf("default branch history = %v, %v", commitIDs(mainOnly), err)
	}

	if _, err := fx.f.PushTag(project, "dev", "v0", root); err != nil {
		t.Fatal(err)
	}
	refs, _, err := gl.Commits.GetCommitRefs(project, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range refs {
		got[r.Name] = string(r.Type)
	}
	if len(got) != 3 || got["main"] != "branch" || got["exp/b"] != "branch" || got["v0"] != "tag" {
		t.Errorf("refs containing the root = %v", got)
	}
	branches, _, err := gl.Commits.GetCommitRefs(project, c2.SHA, &gitlab.GetCommitRefsOptions{Type: gitlab.Ptr("branch")})
	if err != nil || len(branches) != 1 || branches[0].Name != "exp/b" {
		t.Errorf("branches containing c2 = %+v, %v", branches, err)
	}
}

func commitIDs(cs []*gitlab.Commit) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.ID[:8])
	}
	return out
}

func TestTags(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	head := fx.head("main")
	fx.takeEvents()
	tag, resp, err := gl.Tags.CreateTag(project, &gitlab.CreateTagOptions{TagName: gitlab.Ptr("exp/v1"), Ref: gitlab.Ptr("main")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || tag.Name != "exp/v1" || tag.Target != head || tag.Commit == nil || tag.Commit.ID != head {
		t.Errorf("created tag = %d %+v", resp.StatusCode, tag)
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.TagPushed || evs[0].Ref != "refs/tags/exp/v1" || evs[0].Before != state.ZeroSHA || evs[0].After != head {
		t.Errorf("tag creation events = %+v", evs)
	}
	got, _, err := gl.Tags.GetTag(project, "exp/v1")
	if err != nil || got.Commit.ID != head {
		t.Errorf("GetTag = %+v, %v", got, err)
	}
	r := fx.do(http.MethodGet, "/projects/acme%2Fllm/repository/tags/exp%2Fv1", "tok-dev", "", "")
	if r.status != http.StatusOK {
		t.Errorf("escaped tag name: %d", r.status)
	}

	next, _, err := fx.f.PushFiles(project, "main", "maint", "later", []state.FileChange{{Path: "l", Content: []byte("l")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gl.Tags.CreateTag(project, &gitlab.CreateTagOptions{TagName: gitlab.Ptr("a-later"), Ref: gitlab.Ptr(next.SHA)}); err != nil {
		t.Fatal(err)
	}
	byDate, _, err := gl.Tags.ListTags(project, nil)
	if err != nil || len(byDate) != 2 || byDate[0].Name != "a-later" {
		t.Errorf("tags by update, newest first = %v, %v", tagNames(byDate), err)
	}
	byName, _, err := gl.Tags.ListTags(project, &gitlab.ListTagsOptions{OrderBy: gitlab.Ptr("name"), Sort: gitlab.Ptr("asc")})
	if err != nil || len(byName) != 2 || byName[0].Name != "a-later" || byName[1].Name != "exp/v1" {
		t.Errorf("tags by name = %v, %v", tagNames(byName), err)
	}
	byNameDesc, _, err := gl.Tags.ListTags(project, &gitlab.ListTagsOptions{OrderBy: gitlab.Ptr("name"), Sort: gitlab.Ptr("desc")})
	if err != nil || len(byNameDesc) != 2 || byNameDesc[0].Name != "exp/v1" {
		t.Errorf("tags by name desc = %v, %v", tagNames(byNameDesc), err)
	}

	tests := []struct {
		name, method, path, token, body string
		status                          int
		message                         string
	}{
		{"exists", "POST", "/projects/acme%2Fllm/repository/tags", "tok-dev", `{"tag_name":"exp/v1","ref":"main"}`, 400, "Tag exp/v1 already exists"},
		{"bad target", "POST", "/projects/acme%2Fllm/repository/tags", "tok-dev", `{"tag_name":"t","ref":"nope"}`, 400, "Target nope is invalid"},
		{"guest", "POST", "/projects/acme%2Fllm/repository/tags", "tok-guest", `{"tag_name":"t","ref":"main"}`, 403, "403 Forbidden"},
		{"get unknown", "GET", "/projects/acme%2Fllm/repository/tags/nope", "tok-dev", "", 404, "404 Tag Not Found"},
		{"delete unknown", "DELETE", "/projects/acme%2Fllm/repository/tags/nope", "tok-dev", "", 404, "404 Tag Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.do(tt.method, tt.path, tt.token, "application/json", tt.body)
			if r.status != tt.status || r.decode(t)["message"] != tt.message {
				t.Errorf("= %d %s, want %d %q", r.status, r.body, tt.status, tt.message)
			}
		})
	}

	fx.takeEvents()
	if resp, err := gl.Tags.DeleteTag(project, "exp/v1"); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DeleteTag = %v, %v", resp, err)
	}
	evs = fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.TagDeleted || evs[0].Before != head || evs[0].After != state.ZeroSHA {
		t.Errorf("tag deletion events = %+v", evs)
	}
}

func tagNames(ts []*gitlab.Tag) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestCreateCommitWithActions(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	mainHead := fx.head("main")
	fx.takeEvents()
	c, resp, err := gl.Commits.CreateCommit(project, &gitlab.CreateCommitOptions{
		Branch: gitlab.Ptr("exp/multi"), StartBranch: gitlab.Ptr("main"), CommitMessage: gitlab.Ptr("several"),
		Actions: []*gitlab.CommitActionOptions{
			{Action: gitlab.Ptr(gitlab.FileCreate), FilePath: gitlab.Ptr("exp/a.yaml"), Content: gitlab.Ptr("a: 1\n")},
			{Action: gitlab.Ptr(gitlab.FileUpdate), FilePath: gitlab.Ptr("README.md"), Content: gitlab.Ptr("changed\n")},
			{Action: gitlab.Ptr(gitlab.FileMove), FilePath: gitlab.Ptr("configs/moved.yaml"), PreviousPath: gitlab.Ptr("configs/base.yaml")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || c.ID != fx.head("exp/multi") || c.ParentIDs[0] != mainHead || c.Stats == nil {
		t.Errorf("commit = %d %+v", resp.StatusCode, c)
	}
	moved, _, err := gl.RepositoryFiles.GetRawFile(project, "configs/moved.yaml", &gitlab.GetRawFileOptions{Ref: gitlab.Ptr("exp/multi")})
	if err != nil || string(moved) != "lr: 1\nsteps: 10\n" {
		t.Errorf("moved file = %q, %v", moved, err)
	}
	if _, _, err := gl.RepositoryFiles.GetFile(project, "configs/base.yaml", &gitlab.GetFileOptions{Ref: gitlab.Ptr("exp/multi")}); errorStatus(err) != http.StatusNotFound {
		t.Errorf("move left the old path: %v", err)
	}
	if evs := fx.takeEvents(); len(evs) != 1 || evs[0].Before != state.ZeroSHA || evs[0].After != c.ID {
		t.Errorf("events = %+v", evs)
	}

	// All or nothing: one bad action refuses the whole commit.
	before := fx.head("exp/multi")
	_, _, err = gl.Commits.CreateCommit(project, &gitlab.CreateCommitOptions{
		Branch: gitlab.Ptr("exp/multi"), CommitMessage: gitlab.Ptr("bad"),
		Actions: []*gitlab.CommitActionOptions{
			{Action: gitlab.Ptr(gitlab.FileCreate), FilePath: gitlab.Ptr("fine.txt"), Content: gitlab.Ptr("f")},
			{Action: gitlab.Ptr(gitlab.FileDelete), FilePath: gitlab.Ptr("missing.txt")},
		},
	})
	if errorStatus(err) != http.StatusBadRequest || errorMessage(err) != "{message: A file with this name doesn't exist: missing.txt}" {
		t.Errorf("bad action: %v", err)
	}
	if fx.head("exp/multi") != before {
		t.Error("a refused commit moved the branch")
	}
	_, _, err = gl.Commits.CreateCommit(project, &gitlab.CreateCommitOptions{
		Branch: gitlab.Ptr("exp/multi"), CommitMessage: gitlab.Ptr("stale"),
		Actions: []*gitlab.CommitActionOptions{{Action: gitlab.Ptr(gitlab.FileUpdate), FilePath: gitlab.Ptr("README.md"), Content: gitlab.Ptr("x"), LastCommitID: gitlab.Ptr(mainHead)}},
	})
	if errorMessage(err) != "{message: The file has changed since you started editing it: README.md}" {
		t.Errorf("stale action: %v", err)
	}
	// A new branch from a commit SHA.
	c2, _, err := gl.Commits.CreateCommit(project, &gitlab.CreateCommitOptions{
		Branch: gitlab.Ptr("from-sha"), StartSHA: gitlab.Ptr(mainHead), CommitMessage: gitlab.Ptr("from sha"),
		Actions: []*gitlab.CommitActionOptions{{Action: gitlab.Ptr(gitlab.FileCreate), FilePath: gitlab.Ptr("s"), Content: gitlab.Ptr("s")}},
	})
	if err != nil || c2.ParentIDs[0] != mainHead || fx.head("from-sha") != c2.ID {
		t.Errorf("commit from start_sha = %+v, %v", c2, err)
	}
	r := fx.do(http.MethodPost, "/projects/acme%2Fllm/repository/commits", "tok-dev", "application/json", `{"branch":"x","commit_message":"m","actions":[{"action":"explode","file_path":"a"}]}`)
	if r.status != http.StatusBadRequest || r.decode(t)["error"] != "actions[0][action] does not have a valid value" {
		t.Errorf("invalid action = %d %s", r.status, r.body)
	}
}
