package glsim

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// modeStore remembers the executable bit set through the files API. The
// model has no file modes, so the bit lives beside it, per commit: a commit
// that does not record a path inherits the bit from its first parent, as a
// content-only change keeps the mode in git.
type modeStore struct {
	mu sync.Mutex
	m  map[modeKey]bool
}

type modeKey struct {
	repo         int64
	commit, path string
}

func newModeStore() *modeStore { return &modeStore{m: map[modeKey]bool{}} }

func (s *modeStore) set(repo int64, commit, path string, exec bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[modeKey{repo, commit, path}] = exec
}

// executable runs inside a repo callback.
func (s *modeStore) executable(r *state.Repo, cm *state.Commit, path string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for cm != nil {
		if _, ok := cm.Tree[path]; !ok {
			return false
		}
		if v, ok := s.m[modeKey{r.ID, cm.SHA, path}]; ok {
			return v
		}
		if len(cm.Parents) == 0 {
			return false
		}
		cm, _ = r.Commit(cm.Parents[0])
	}
	return false
}

// validFilePath is GitLab's file_path validator: no path traversal and no
// absolute paths.
func validFilePath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.Contains(p, "\x00") {
		return false
	}
	for _, part := range strings.Split(strings.ReplaceAll(p, "\\", "/"), "/") {
		if part == ".." {
			return false
		}
	}
	return true
}

// storablePath is what git (Gitaly) accepts as a tree path: the API's
// validator lets "a//b" or ".git/x" through, the commit then fails.
func storablePath(p string) bool {
	if !validFilePath(p) || strings.HasSuffix(p, "/") || strings.Contains(p, "//") {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "." || part == ".git" {
			return false
		}
	}
	return true
}

// filePathErrors starts a parameter check with the file_path validator.
func (c *call) filePathErrors() []string {
	if !validFilePath(c.vars["file_path"]) {
		return []string{"file_path should be a valid file path"}
	}
	return nil
}

// blob is what the files API reports about one file at one ref.
type blob struct {
	name, path, ref, blobID, commitID, lastCommitID string
	content                                         []byte
	exec                                            bool
}

func (b *blob) data(withContent bool) obj {
	sum := sha256.Sum256(b.content)
	o := obj{
		"file_name":        b.name,
		"file_path":        b.path,
		"size":             len(b.content),
		"encoding":         "base64",
		"content_sha256":   hex.EncodeToString(sum[:]),
		"ref":              b.ref,
		"blob_id":          b.blobID,
		"commit_id":        b.commitID,
		"last_commit_id":   b.lastCommitID,
		"execute_filemode": b.exec,
	}
	if withContent {
		o["content"] = base64.StdEncoding.EncodeToString(b.content)
	}
	return o
}

// setHeaders mirrors GitLab's set_http_headers(blob_data): every field as an
// X-Gitlab-* header, which is all HEAD returns.
func (b *blob) setHeaders(h http.Header) {
	sum := sha256.Sum256(b.content)
	h.Set("X-Gitlab-Blob-Id", b.blobID)
	h.Set("X-Gitlab-Commit-Id", b.commitID)
	h.Set("X-Gitlab-Content-Sha256", hex.EncodeToString(sum[:]))
	h.Set("X-Gitlab-Encoding", "base64")
	h.Set("X-Gitlab-File-Name", b.name)
	h.Set("X-Gitlab-File-Path", b.path)
	h.Set("X-Gitlab-Last-Commit-Id", b.lastCommitID)
	h.Set("X-Gitlab-Ref", b.ref)
	h.Set("X-Gitlab-Size", strconv.Itoa(len(b.content)))
	h.Set("X-Gitlab-Execute-Filemode", strconv.FormatBool(b.exec))
}

// readBlob validates the request and loads the file, answering errors as
// GitLab's assign_file_vars! does (404 Commit, then 404 File). refRequired is
// false for /raw, where ref defaults to HEAD.
func (s *server) readBlob(c *call, refRequired bool) (*blob, bool) {
	errs := c.filePathErrors()
	if refRequired {
		errs = append(errs, c.paramErrors(spec{"ref", false})...)
	} else if v, ok := c.params.str("ref"); ok && strings.TrimSpace(v) == "" {
		errs = append(errs, "ref is empty")
	}
	if c.rejectParams(errs) {
		return nil, false
	}
	info, ok := c.project()
	if !ok {
		return nil, false
	}
	ref, ok := c.params.str("ref")
	if !ok {
		ref = "HEAD"
	}
	fp := c.vars["file_path"]
	var b *blob
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		cm, ok := resolveRef(r, ref)
		if !ok {
			return errStatus(http.StatusNotFound, "404 Commit Not Found")
		}
		content, blobID, ok := r.File(cm, fp)
		if !ok {
			return errStatus(http.StatusNotFound, "404 File Not Found")
		}
		b = &blob{
			name: path.Base(fp), path: fp, ref: ref, blobID: blobID, commitID: cm.SHA,
			lastCommitID: r.LastCommitFor(cm, fp).SHA, content: append([]byte(nil), content...),
			exec: s.modes.executable(r, cm, fp),
		}
		return nil
	})
	if err != nil {
		c.failErr(err, "Project")
		return nil, false
	}
	return b, true
}

func (s *server) getFile(c *call) {
	b, ok := s.readBlob(c, true)
	if !ok {
		return
	}
	b.setHeaders(c.w.Header())
	c.json(http.StatusOK, b.data(true))
}

func (s *server) headFile(c *call) {
	b, ok := s.readBlob(c, true)
	if !ok {
		return
	}
	b.setHeaders(c.w.Header())
	c.w.Header().Set("Content-Type", "application/json")
	c.w.WriteHeader(http.StatusOK)
}

func (s *server) getRawFile(c *call) {
	b, ok := s.readBlob(c, false)
	if !ok {
		return
	}
	h := c.w.Header()
	b.setHeaders(h)
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Disposition", "inline")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Length", strconv.Itoa(len(b.content)))
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(b.content)
}

// fileAction is what one file write does to a path.
type fileAction string

const (
	actionCreate fileAction = "create"
	actionUpdate fileAction = "update"
	actionDelete fileAction = "delete"
	actionMove   fileAction = "move"
	actionChmod  fileAction = "chmod"
)

// fileOp is one action of a commit, already validated for its parameters.
type fileOp struct {
	action       fileAction
	path         string
	previousPath string // move
	content      []byte
	hasContent   bool
	lastCommitID string
	exec         *bool
}

// commitRequest is a commit through the files or commits API.
type commitRequest struct {
	branch, startBranch, message string
	startSHA                     string // commits API: new branch from a commit
	authorName, authorEmail      string
	ops                          []fileOp
	// single is set for the files API, whose error wording differs a little
	// from the commits API's for the same conditions.
	single bool
}

// decodeContent applies the encoding parameter; GitLab decodes base64 with
// Ruby's lenient decoder, which skips characters outside the alphabet.
func decodeContent(content, encoding string) []byte {
	if encoding != "base64" {
		return []byte(content)
	}
	var clean strings.Builder
	for _, ch := range content {
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '+' || ch == '/' {
			clean.WriteRune(ch)
		}
	}
	s := clean.String()
	// A dangling sextet cannot encode a byte; Ruby drops it too.
	if len(s)%4 == 1 {
		s = s[:len(s)-1]
	}
	out, _ := base64.RawStdEncoding.DecodeString(s)
	return out
}

// commit applies a commit request inside Act: the checks of GitLab's
// Commits::CreateService (permission, start branch, branch existence), then
// the per-file checks, then one new commit, announced as a push.
func (s *server) commit(c *call, info *state.RepoInfo, req commitRequest) (*state.Commit, error) {
	lvl := c.accessLevel(info)
	var out *state.Commit
	_, err := s.f.Act(info.FullName, c.user.Login, func(r *state.Repo, u *state.User) ([]state.Event, error) {
		if !canPush(lvl, req.branch, r.DefaultBranch) {
			return nil, errStatus(http.StatusBadRequest, "You are not allowed to push into this branch")
		}
		startSHA, different, err := startPoint(r, req)
		if err != nil {
			return nil, err
		}
		before, branchExists := r.Branch(req.branch)
		if different {
			if branchExists {
				return nil, errStatus(http.StatusBadRequest, fmt.Sprintf("A branch called '%s' already exists. Switch to that branch in order to make changes", req.branch))
			}
			if !validRefName(req.branch) || branchConflict(r, req.branch) {
				return nil, errStatus(http.StatusBadRequest, fmt.Sprintf("Something went wrong when we tried to create '%s' for you: Branch name is invalid", req.branch))
			}
		}
		head, _ := r.Commit(startSHA)
		changes, err := s.planChanges(r, head, req)
		if err != nil {
			return nil, err
		}
		if !branchExists {
			if err := r.CreateBranch(req.branch, startSHA); err != nil {
				return nil, fmt.Errorf("creating branch %s: %w", req.branch, err)
			}
			before = state.ZeroSHA
		}
		now := s.f.Now()
		committer := state.Signature{Name: u.Name, Email: u.Email, When: now}
		author := committer
		if req.authorName != "" {
			author.Name = req.authorName
		}
		if req.authorEmail != "" {
			author.Email = req.authorEmail
		}
		cm, err := r.CommitFiles(req.branch, "", req.message, author, committer, changes)
		if err != nil {
			if !branchExists {
				_ = r.DeleteBranch(req.branch)
			}
			return nil, errStatus(http.StatusBadRequest, err.Error())
		}
		for _, op := range req.ops {
			switch {
			case op.exec != nil:
				s.modes.set(r.ID, cm.SHA, op.path, *op.exec)
			case op.action == actionMove:
				s.modes.set(r.ID, cm.SHA, op.path, s.modes.executable(r, head, op.previousPath))
			}
		}
		out = cm
		ev := s.f.NewEvent(state.BranchPushed, r, u)
		ev.Ref, ev.Before, ev.After, ev.Commits = "refs/heads/"+req.branch, before, cm.SHA, []state.Commit{*cm}
		return []state.Event{ev}, nil
	})
	return out, err
}

// startPoint is the commit a commit request builds on and whether it comes
// from elsewhere than the target branch (GitLab's different_branch?).
func startPoint(r *state.Repo, req commitRequest) (sha string, different bool, err error) {
	if req.startSHA != "" {
		if len(req.startSHA) != 40 || !isHexString(req.startSHA) {
			return "", false, errStatus(http.StatusBadRequest, fmt.Sprintf("Invalid start_sha '%s'", req.startSHA))
		}
		if _, ok := r.Commit(req.startSHA); !ok {
			return "", false, errStatus(http.StatusBadRequest, fmt.Sprintf("Cannot find start_sha '%s'", req.startSHA))
		}
		return req.startSHA, true, nil
	}
	start := req.startBranch
	if start == "" {
		start = req.branch
	}
	sha, ok := r.Branch(start)
	if !ok {
		return "", false, errStatus(http.StatusBadRequest, "You can only create or edit files when you are on a branch")
	}
	return sha, start != req.branch, nil
}

// planChanges checks every action against the start commit and turns them
// into model changes, with the messages GitLab (Gitaly) gives.
func (s *server) planChanges(r *state.Repo, head *state.Commit, req commitRequest) ([]state.FileChange, error) {
	tree := map[string]string{}
	for p, b := range head.Tree {
		tree[p] = b
	}
	bad := func(msg, p string) error {
		if req.single {
			return errStatus(http.StatusBadRequest, msg)
		}
		return errStatus(http.StatusBadRequest, msg+": "+p)
	}
	var changes []state.FileChange
	for _, op := range req.ops {
		for _, p := range []string{op.path, op.previousPath} {
			if p != "" && !storablePath(p) {
				return nil, errStatus(http.StatusBadRequest, fmt.Sprintf("invalid path: '%s'", p))
			}
		}
		if op.lastCommitID != "" && op.action != actionCreate {
			if _, exists := head.Tree[op.path]; exists && r.LastCommitFor(head, op.path).SHA != op.lastCommitID {
				if req.single {
					return nil, errStatus(http.StatusBadRequest, "You are attempting to update a file that has changed since you started editing it.")
				}
				return nil, errStatus(http.StatusBadRequest, "The file has changed since you started editing it: "+op.path)
			}
		}
		_, exists := tree[op.path]
		switch op.action {
		case actionCreate:
			if exists {
				return nil, bad("A file with this name already exists", op.path)
			}
			tree[op.path] = "new"
			changes = append(changes, state.FileChange{Path: op.path, Content: op.content})
		case actionUpdate, actionChmod:
			if !exists {
				return nil, bad("A file with this name doesn't exist", op.path)
			}
			if op.action == actionUpdate {
				changes = append(changes, state.FileChange{Path: op.path, Content: op.content})
			}
		case actionDelete:
			if !exists {
				return nil, bad("A file with this name doesn't exist", op.path)
			}
			delete(tree, op.path)
			changes = append(changes, state.FileChange{Path: op.path, Delete: true})
		case actionMove:
			prev, ok := tree[op.previousPath]
			if !ok {
				return nil, bad("A file with this name doesn't exist", op.previousPath)
			}
			if exists {
				return nil, bad("A file with this name already exists", op.path)
			}
			content := op.content
			if !op.hasContent {
				content, _ = r.Blob(prev)
			}
			delete(tree, op.previousPath)
			tree[op.path] = "moved"
			changes = append(changes,
				state.FileChange{Path: op.previousPath, Delete: true},
				state.FileChange{Path: op.path, Content: content})
		}
	}
	return changes, nil
}

// fileWrite serves POST, PUT and DELETE on .../repository/files/:file_path.
func (s *server) fileWrite(c *call, action fileAction) {
	errs := c.filePathErrors()
	specs := []spec{{"branch", false}, {"commit_message", false}}
	if action != actionDelete {
		specs = append(specs, spec{"content", true})
	}
	errs = append(errs, c.paramErrors(specs...)...)
	var exec *bool
	if action != actionDelete {
		if enc, ok := c.params.str("encoding"); ok && enc != "text" && enc != "base64" {
			errs = append(errs, "encoding does not have a valid value")
		}
		v, ok, err := c.params.boolean("execute_filemode")
		if err != nil {
			errs = append(errs, err.Error())
		} else if ok {
			exec = &v
		}
	}
	if c.rejectParams(errs) {
		return
	}
	info, ok := c.project()
	if !ok || !c.requireAccess(info, state.Developer) {
		return
	}
	op := fileOp{action: action, path: c.vars["file_path"], exec: exec}
	if action != actionDelete {
		op.content = decodeContent(c.params.get("content"), c.params.get("encoding"))
		op.hasContent = true
		// DELETE declares no last_commit_id in GitLab's API, so it is ignored there.
		op.lastCommitID = c.params.get("last_commit_id")
	}
	req := commitRequest{
		branch: c.params.get("branch"), startBranch: c.params.get("start_branch"),
		message: c.params.get("commit_message"), authorName: c.params.get("author_name"),
		authorEmail: c.params.get("author_email"), ops: []fileOp{op}, single: true,
	}
	if _, err := s.commit(c, info, req); err != nil {
		c.failErr(err, "Project")
		return
	}
	resp := obj{"file_path": op.path, "branch": req.branch}
	switch action {
	case actionCreate:
		c.json(http.StatusCreated, resp)
	case actionUpdate:
		c.json(http.StatusOK, resp)
	default:
		c.noContent()
	}
}

func (s *server) createFile(c *call) { s.fileWrite(c, actionCreate) }
func (s *server) updateFile(c *call) { s.fileWrite(c, actionUpdate) }
func (s *server) deleteFile(c *call) { s.fileWrite(c, actionDelete) }
