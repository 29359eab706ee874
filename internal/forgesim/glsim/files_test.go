package glsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"testing"

	"github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestGetFile(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("guest") // reading needs no more than being signed in
	head := fx.head("main")
	content := "lr: 1\nsteps: 10\n"
	sum := sha256.Sum256([]byte(content))

	f, resp, err := gl.RepositoryFiles.GetFile(project, "configs/base.yaml", &gitlab.GetFileOptions{Ref: gitlab.Ptr("main")})
	if err != nil {
		t.Fatal(err)
	}
	want := gitlab.File{
		FileName: "base.yaml", FilePath: "configs/base.yaml", Size: len(content), Encoding: "base64",
		Content: base64.StdEncoding.EncodeToString([]byte(content)), Ref: "main",
		BlobID: state.BlobSHA([]byte(content)), CommitID: head, LastCommitID: head,
		SHA256: hex.EncodeToString(sum[:]),
	}
	if *f != want {
		t.Errorf("GetFile = %+v\nwant %+v", *f, want)
	}
	if resp.Header.Get("X-Gitlab-Blob-Id") != want.BlobID {
		t.Errorf("GET should also set X-Gitlab-* headers, got %v", resp.Header)
	}

	meta, resp, err := gl.RepositoryFiles.GetFileMetaData(project, "configs/base.yaml", &gitlab.GetFileMetaDataOptions{Ref: gitlab.Ptr(head)})
	if err != nil {
		t.Fatal(err)
	}
	wantMeta := want
	wantMeta.Content, wantMeta.Ref = "", head
	if *meta != wantMeta || resp.ContentLength > 0 {
		t.Errorf("HEAD metadata = %+v (length %d)\nwant %+v", *meta, resp.ContentLength, wantMeta)
	}

	raw, resp, err := gl.RepositoryFiles.GetRawFile(project, "configs/base.yaml", nil)
	if err != nil || string(raw) != content || resp.Header.Get("X-Gitlab-Ref") != "HEAD" {
		t.Errorf("raw (ref defaults to HEAD) = %q %v, %v", raw, resp.Header.Get("X-Gitlab-Ref"), err)
	}
	// Exactly the escaping GitLab documents: both / and . escaped.
	r := fx.do(http.MethodGet, "/projects/acme%2Fllm/repository/files/configs%2Fbase%2Eyaml/raw?ref=main", "tok-guest", "", "")
	if r.status != http.StatusOK || string(r.body) != content {
		t.Errorf("escaped raw = %d %q", r.status, r.body)
	}
}

func TestGetFileErrors(t *testing.T) {
	fx := newFixture(t)
	tests := []struct {
		name, method, path string
		status             int
		key, message       string
	}{
		{"unknown file", "GET", "/projects/acme%2Fllm/repository/files/nope%2Eyaml?ref=main", 404, "message", "404 File Not Found"},
		{"unknown ref", "GET", "/projects/acme%2Fllm/repository/files/README%2Emd?ref=nope", 404, "message", "404 Commit Not Found"},
		{"missing ref", "GET", "/projects/acme%2Fllm/repository/files/README%2Emd", 400, "error", "ref is missing, ref is empty"},
		{"blank ref", "GET", "/projects/acme%2Fllm/repository/files/README%2Emd?ref=", 400, "error", "ref is empty"},
		{"traversal", "GET", "/projects/acme%2Fllm/repository/files/%2E%2E%2Fetc?ref=main", 400, "error", "file_path should be a valid file path"},
		{"unknown project", "GET", "/projects/acme%2Fnope/repository/files/README%2Emd?ref=main", 404, "message", "404 Project Not Found"},
		{"raw unknown file", "GET", "/projects/acme%2Fllm/repository/files/nope/raw", 404, "message", "404 File Not Found"},
		{"a directory is not a file", "GET", "/projects/acme%2Fllm/repository/files/configs?ref=main", 404, "message", "404 File Not Found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.do(tt.method, tt.path, "tok-dev", "", "")
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if got := r.decode(t)[tt.key]; got != tt.message {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.message)
			}
		})
	}
	r := fx.do(http.MethodHead, "/projects/acme%2Fllm/repository/files/nope?ref=main", "tok-dev", "", "")
	if r.status != http.StatusNotFound || len(r.body) != 0 {
		t.Errorf("HEAD of a missing file = %d %q, want a bare 404", r.status, r.body)
	}
}

func TestFileWriteMovesBranchAndBlob(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("expbot")
	if _, _, err := gl.Branches.CreateBranch(project, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr("exp/1-x"), Ref: gitlab.Ptr("main")}); err != nil {
		t.Fatal(err)
	}
	before := fx.head("exp/1-x")
	fx.takeEvents()

	info, resp, err := gl.RepositoryFiles.CreateFile(project, "experiments/exp-1.yaml", &gitlab.CreateFileOptions{
		Branch: gitlab.Ptr("exp/1-x"), Content: gitlab.Ptr("lr: 2\n"), CommitMessage: gitlab.Ptr("Add exp 1"),
		AuthorName: gitlab.Ptr("Requester"), AuthorEmail: gitlab.Ptr("req@example.com"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || info.FilePath != "experiments/exp-1.yaml" || info.Branch != "exp/1-x" {
		t.Errorf("create = %d %+v", resp.StatusCode, info)
	}
	created := fx.head("exp/1-x")
	if created == before {
		t.Fatal("file create did not move the branch")
	}
	if fx.head("main") == created {
		t.Error("file create moved main")
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.BranchPushed || evs[0].Before != before || evs[0].After != created ||
		len(evs[0].Commits) != 1 || evs[0].Commits[0].Message != "Add exp 1" {
		t.Errorf("create events = %+v", evs)
	}
	c, _, err := gl.Commits.GetCommit(project, created, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthorName != "Requester" || c.AuthorEmail != "req@example.com" || c.CommitterName != "Expbot" || len(c.ParentIDs) != 1 || c.ParentIDs[0] != before {
		t.Errorf("commit = %+v", c)
	}

	f1, _, err := gl.RepositoryFiles.GetFile(project, "experiments/exp-1.yaml", &gitlab.GetFileOptions{Ref: gitlab.Ptr("exp/1-x")})
	if err != nil {
		t.Fatal(err)
	}
	// Update with the file's last commit id, the provider's way (base64).
	_, resp, err = gl.RepositoryFiles.UpdateFile(project, "experiments/exp-1.yaml", &gitlab.UpdateFileOptions{
		Branch: gitlab.Ptr("exp/1-x"), Content: gitlab.Ptr(base64.StdEncoding.EncodeToString([]byte("lr: 3\n"))),
		Encoding: gitlab.Ptr("base64"), CommitMessage: gitlab.Ptr("Bump"), LastCommitID: gitlab.Ptr(f1.LastCommitID),
	})
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("update = %v, %v", resp, err)
	}
	f2, _, err := gl.RepositoryFiles.GetFile(project, "experiments/exp-1.yaml", &gitlab.GetFileOptions{Ref: gitlab.Ptr("exp/1-x")})
	if err != nil {
		t.Fatal(err)
	}
	updated := fx.head("exp/1-x")
	dec, _ := base64.StdEncoding.DecodeString(f2.Content)
	if string(dec) != "lr: 3\n" || f2.BlobID == f1.BlobID || f2.BlobID != state.BlobSHA([]byte("lr: 3\n")) ||
		f2.CommitID != updated || f2.LastCommitID != updated || updated == created {
		t.Errorf("after update: %+v (head %s, previous blob %s)", f2, updated, f1.BlobID)
	}

	// A commit touching another file moves commit_id but not last_commit_id.
	if _, _, err := gl.RepositoryFiles.CreateFile(project, "other.txt", &gitlab.CreateFileOptions{
		Branch: gitlab.Ptr("exp/1-x"), Content: gitlab.Ptr("o"), CommitMessage: gitlab.Ptr("other"),
	}); err != nil {
		t.Fatal(err)
	}
	f3, _, err := gl.RepositoryFiles.GetFile(project, "experiments/exp-1.yaml", &gitlab.GetFileOptions{Ref: gitlab.Ptr("exp/1-x")})
	if err != nil {
		t.Fatal(err)
	}
	if f3.CommitID != fx.head("exp/1-x") || f3.LastCommitID != updated {
		t.Errorf("commit_id %s last_commit_id %s; want %s and %s", f3.CommitID, f3.LastCommitID, fx.head("exp/1-x"), updated)
	}

	// A stale last_commit_id is refused.
	_, _, err = gl.RepositoryFiles.UpdateFile(project, "experiments/exp-1.yaml", &gitlab.UpdateFileOptions{
		Branch: gitlab.Ptr("exp/1-x"), Content: gitlab.Ptr("lr: 4\n"), CommitMessage: gitlab.Ptr("Stale"), LastCommitID: gitlab.Ptr(created),
	})
	if errorStatus(err) != http.StatusBadRequest || errorMessage(err) != "{message: You are attempting to update a file that has changed since you started editing it.}" {
		t.Errorf("stale update: %v", err)
	}

	// DELETE sends last_commit_id too, but GitLab does not declare it there.
	fx.takeEvents()
	resp, err = gl.RepositoryFiles.DeleteFile(project, "experiments/exp-1.yaml", &gitlab.DeleteFileOptions{
		Branch: gitlab.Ptr("exp/1-x"), CommitMessage: gitlab.Ptr("[DELETE]: exp 1"), LastCommitID: gitlab.Ptr(created),
	})
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete = %v, %v", resp, err)
	}
	if evs := fx.takeEvents(); len(evs) != 1 || evs[0].Kind != state.BranchPushed {
		t.Errorf("delete events = %+v", evs)
	}
	if _, _, err := gl.RepositoryFiles.GetFile(project, "experiments/exp-1.yaml", &gitlab.GetFileOptions{Ref: gitlab.Ptr("exp/1-x")}); errorStatus(err) != http.StatusNotFound {
		t.Errorf("GET after delete: %v", err)
	}
}

func TestCreateFileWithStartBranch(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	mainHead := fx.head("main")
	fx.takeEvents()
	_, _, err := gl.RepositoryFiles.CreateFile(project, "new.txt", &gitlab.CreateFileOptions{
		Branch: gitlab.Ptr("exp/2"), StartBranch: gitlab.Ptr("main"), Content: gitlab.Ptr("n"), CommitMessage: gitlab.Ptr("new"),
	})
	if err != nil {
		t.Fatal(err)
	}
	head := fx.head("exp/2")
	c, _, err := gl.Commits.GetCommit(project, "exp/2", nil)
	if err != nil || c.ID != head || c.ParentIDs[0] != mainHead {
		t.Errorf("new branch head %+v, %v; want child of main", c, err)
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Before != state.ZeroSHA || evs[0].After != head || evs[0].Ref != "refs/heads/exp/2" {
		t.Errorf("events = %+v", evs)
	}
}

func TestExecuteFilemode(t *testing.T) {
	fx := newFixture(t)
	gl := fx.client("dev")
	if _, _, err := gl.RepositoryFiles.CreateFile(project, "run.sh", &gitlab.CreateFileOptions{
		Branch: gitlab.Ptr("tools"), StartBranch: gitlab.Ptr("main"), Content: gitlab.Ptr("#!/bin/sh\n"),
		CommitMessage: gitlab.Ptr("script"), ExecuteFilemode: gitlab.Ptr(true),
	}); err != nil {
		t.Fatal(err)
	}
	// A content-only update keeps the mode, as in git.
	if _, _, err := gl.RepositoryFiles.UpdateFile(project, "run.sh", &gitlab.UpdateFileOptions{
		Branch: gitlab.Ptr("tools"), Content: gitlab.Ptr("#!/bin/sh\necho\n"), CommitMessage: gitlab.Ptr("echo"),
	}); err != nil {
		t.Fatal(err)
	}
	f, _, err := gl.RepositoryFiles.GetFile(project, "run.sh", &gitlab.GetFileOptions{Ref: gitlab.Ptr("tools")})
	if err != nil || !f.ExecuteFilemode {
		t.Errorf("execute_filemode after content update = %+v, %v", f, err)
	}
	if _, _, err := gl.RepositoryFiles.UpdateFile(project, "run.sh", &gitlab.UpdateFileOptions{
		Branch: gitlab.Ptr("tools"), Content: gitlab.Ptr("#!/bin/sh\necho\n"), CommitMessage: gitlab.Ptr("chmod -x"), ExecuteFilemode: gitlab.Ptr(false),
	}); err != nil {
		t.Fatal(err)
	}
	meta, _, err := gl.RepositoryFiles.GetFileMetaData(project, "run.sh", &gitlab.GetFileMetaDataOptions{Ref: gitlab.Ptr("tools")})
	if err != nil || meta.ExecuteFilemode {
		t.Errorf("execute_filemode after clearing = %+v, %v", meta, err)
	}
}

func TestFileWriteErrors(t *testing.T) {
	fx := newFixture(t)
	if _, _, err := fx.client("dev").Branches.CreateBranch(project, &gitlab.CreateBranchOptions{Branch: gitlab.Ptr("work"), Ref: gitlab.Ptr("main")}); err != nil {
		t.Fatal(err)
	}
	const files = "/projects/acme%2Fllm/repository/files/"
	tests := []struct {
		name, method, path, token, body string
		status                          int
		key, message                    string
	}{
		{"missing everything", "POST", files + "x", "tok-dev", `{}`, 400, "error",
			"branch is missing, branch is empty, commit_message is missing, commit_message is empty, content is missing"},
		{"blank commit message", "POST", files + "x", "tok-dev", `{"branch":"work","commit_message":" ","content":""}`, 400, "error", "commit_message is empty"},
		{"bad encoding", "POST", files + "x", "tok-dev", `{"branch":"work","commit_message":"m","content":"c","encoding":"hex"}`, 400, "error", "encoding does not have a valid value"},
		{"bad filemode", "POST", files + "x", "tok-dev", `{"branch":"work","commit_message":"m","content":"c","execute_filemode":"maybe"}`, 400, "error", "execute_filemode is invalid"},
		{"traversal", "POST", files + "a%2F%2E%2E%2F%2E%2E%2Fx", "tok-dev", `{"branch":"work","commit_message":"m","content":"c"}`, 400, "error", "file_path should be a valid file path"},
		{"git dir", "POST", files + "%2Egit%2Fconfig", "tok-dev", `{"branch":"work","commit_message":"m","content":"c"}`, 400, "message", "invalid path: '.git/config'"},
		{"exists", "POST", files + "README%2Emd", "tok-dev", `{"branch":"work","commit_message":"m","content":"c"}`, 400, "message", "A file with this name already exists"},
		{"update missing", "PUT", files + "nope", "tok-dev", `{"branch":"work","commit_message":"m","content":"c"}`, 400, "message", "A file with this name doesn't exist"},
		{"delete missing", "DELETE", files + "nope", "tok-dev", `{"branch":"work","commit_message":"m"}`, 400, "message", "A file with this name doesn't exist"},
		{"no such branch", "POST", files + "x", "tok-dev", `{"branch":"ghost","commit_message":"m","content":"c"}`, 400, "message", "You can only create or edit files when you are on a branch"},
		{"no such start branch", "POST", files + "x", "tok-dev", `{"branch":"ghost","start_branch":"nope","commit_message":"m","content":"c"}`, 400, "message", "You can only create or edit files when you are on a branch"},
		{"start branch onto existing branch", "POST", files + "x", "tok-dev", `{"branch":"work","start_branch":"main","commit_message":"m","content":"c"}`, 400, "message",
			"A branch called 'work' already exists. Switch to that branch in order to make changes"},
		{"developer on protected main", "POST", files + "x", "tok-dev", `{"branch":"main","commit_message":"m","content":"c"}`, 400, "message", "You are not allowed to push into this branch"},
		{"guest", "POST", files + "x", "tok-guest", `{"branch":"work","commit_message":"m","content":"c"}`, 403, "message", "403 Forbidden"},
		{"unknown project", "POST", "/projects/acme%2Fnope/repository/files/x", "tok-dev", `{"branch":"work","commit_message":"m","content":"c"}`, 404, "message", "404 Project Not Found"},
		{"no token", "POST", files + "x", "", `{"branch":"work","commit_message":"m","content":"c"}`, 401, "message", "401 Unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fx.head("work")
			r := fx.do(tt.method, tt.path, tt.token, "application/json", tt.body)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if got := r.decode(t)[tt.key]; got != tt.message {
				t.Errorf("%s = %q, want %q", tt.key, got, tt.message)
			}
			if fx.head("work") != before {
				t.Error("a refused write moved the branch")
			}
		})
	}
	// A maintainer may push to the protected default branch.
	r := fx.do(http.MethodPost, files+"x", "tok-maint", "application/json", `{"branch":"main","commit_message":"m","content":"c"}`)
	if r.status != http.StatusCreated {
		t.Errorf("maintainer on main: %d %s", r.status, r.body)
	}
}

func TestEncodings(t *testing.T) {
	fx := newFixture(t)
	tests := []struct{ body, want string }{
		{`{"branch":"e","start_branch":"main","commit_message":"m","content":"plain text"}`, "plain text"},
		{`{"branch":"e","commit_message":"m","content":"aGVsbG8=","encoding":"base64"}`, "hello"},
		{`{"branch":"e","commit_message":"m","content":"aGVs\nbG8=","encoding":"base64"}`, "hello"},
		{`{"branch":"e","commit_message":"m","content":"aGVsbG8=","encoding":"text"}`, "aGVsbG8="},
	}
	for i, tt := range tests {
		method := http.MethodPut
		if i == 0 {
			method = http.MethodPost
		}
		r := fx.do(method, "/projects/acme%2Fllm/repository/files/enc", "tok-dev", "application/json", tt.body)
		if r.status >= 300 {
			t.Fatalf("%s: %d %s", tt.body, r.status, r.body)
		}
		raw := fx.do(http.MethodGet, "/projects/"+strconv.FormatInt(fx.repo.ID, 10)+"/repository/files/enc/raw?ref=e", "tok-dev", "", "")
		if string(raw.body) != tt.want {
			t.Errorf("%s stored %q, want %q", tt.body, raw.body, tt.want)
		}
	}
}
