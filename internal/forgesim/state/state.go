// Package state is the model behind the simulated forge (internal/forgesim):
// repositories with commits, branches, tags and file trees, users and their
// access, issues, pull/merge requests, comments and webhook registrations.
// The GitHub and GitLab API faces (ghsim, glsim) read and change it; actions
// a person would take (labelling an issue, pushing a tag) return the Events
// that the server turns into webhooks. Test support only.
//
// Both API faces serve the same repositories: "acme/llm" is the GitHub
// repository acme/llm and the GitLab project acme/llm at once.
package state

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Errors returned by Forge operations; the API faces map them to the status
// codes and bodies of the service they imitate.
var (
	ErrNotFound     = errors.New("not found")
	ErrExists       = errors.New("already exists")
	ErrConflict     = errors.New("conflict")
	ErrInvalid      = errors.New("invalid")
	ErrUnauthorized = errors.New("unauthorized")
)

// Access levels use GitLab's numbers; GitHub's permissions map onto them.
type AccessLevel int

const (
	NoAccess   AccessLevel = 0
	Guest      AccessLevel = 10 // GitHub "read"
	Reporter   AccessLevel = 20 // GitHub "triage"
	Developer  AccessLevel = 30 // GitHub "write"
	Maintainer AccessLevel = 40 // GitHub "maintain"
	Owner      AccessLevel = 50 // GitHub "admin"
)

// User is an account; Token authenticates it on both API faces.
type User struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Bot   bool   `json:"bot"`
	Token string `json:"-"`
}

// Signature is who made a commit and when.
type Signature struct {
	Name  string    `json:"name"`
	Email string    `json:"email"`
	When  time.Time `json:"date"`
}

// Commit is an immutable snapshot: Tree maps file paths to blob SHAs.
type Commit struct {
	SHA       string            `json:"sha"`
	Parents   []string          `json:"parents"`
	Message   string            `json:"message"`
	Author    Signature         `json:"author"`
	Committer Signature         `json:"committer"`
	Tree      map[string]string `json:"tree"`
}

// Issue is an issue or, when IsPull is set, a pull/merge request; GitHub
// numbers both from one sequence and so does the simulator.
type Issue struct {
	Number    int       `json:"number"`
	Title     string    `json:"title"`
	Body      string    `json:"body"`
	State     string    `json:"state"` // open, closed, merged
	Labels    []string  `json:"labels"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	IsPull    bool      `json:"is_pull"`
	// Confidential (GitLab): only project members see it, and webhooks
	// about it are Confidential Issue Hooks.
	Confidential bool   `json:"confidential,omitempty"`
	Head         string `json:"head,omitempty"` // source branch of a pull request
	Base         string `json:"base,omitempty"` // target branch of a pull request
}

// Comment is a comment on an issue, a pull request or a commit.
type Comment struct {
	ID        int64     `json:"id"`
	Issue     int       `json:"issue,omitempty"`      // issue or pull request number
	CommitSHA string    `json:"commit_sha,omitempty"` // for commit comments
	Body      string    `json:"body"`
	Author    string    `json:"author"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Reactions []string  `json:"reactions,omitempty"` // "content:login"
}

// Hook is a webhook registration; Flavor is "github" or "gitlab". Hooks
// made through the API faces also carry events and settings (hooks.go).
type Hook struct {
	ID     int64  `json:"id"`
	Flavor string `json:"flavor"`
	URL    string `json:"url"`
	Secret string `json:"-"`
	// Events limits deliveries to these events in the flavour's words
	// (GitHub: "issues", "push", "*"; GitLab: "issues_events",
	// "tag_push_events"); nil means every event, as seeded hooks have.
	Events   []string `json:"events,omitempty"`
	Inactive bool     `json:"inactive,omitempty"`
	// Options keeps settings only the API face reads (content type, SSL
	// verification, name), as it wrote them.
	Options   map[string]string `json:"options,omitempty"`
	Namespace string            `json:"namespace,omitempty"` // organisation/group hooks
	// NamespaceID is the organisation's or group's id: GitHub names it in
	// the deliveries of an organisation hook.
	NamespaceID int64     `json:"namespace_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Repo is one repository (GitHub) or project (GitLab).
type Repo struct {
	ID            int64
	FullName      string // "owner/name"; for GitLab the path with namespace
	DefaultBranch string
	CreatedAt     time.Time

	commits  map[string]*Commit
	blobs    map[string][]byte
	branches map[string]string // name -> commit SHA
	tags     map[string]string // name -> commit SHA
	members  map[string]AccessLevel
	issues   map[int]*Issue
	comments []*Comment
	hooks    []*Hook
	labels   []*Label
	next     int // last issue number used
}

// Owner returns the namespace part of the full name.
func (r *Repo) Owner() string { o, _, _ := strings.Cut(r.FullName, "/"); return o }

// Name returns the last path element of the full name.
func (r *Repo) Name() string { return r.FullName[strings.LastIndex(r.FullName, "/")+1:] }

// Forge holds all state. Every method is safe for concurrent use.
type Forge struct {
	mu     sync.Mutex
	now    func() time.Time
	nextID int64
	users  map[string]*User // by login
	orgs   map[string]int64 // organisation logins (GitHub GET /orgs/{o})
	repos  map[string]*Repo // by full name
	byID   map[int64]*Repo
	ns     map[string]*namespace // organisation/group hooks, labels, members (hooks.go)
	sink   func([]Event)
}

// Option configures a Forge.
type Option func(*Forge)

// WithEventSink receives the events of every action, whether a test or an API
// client caused it, after the action's lock is released; the server turns
// them into webhooks.
func WithEventSink(sink func([]Event)) Option { return func(f *Forge) { f.sink = sink } }

// WithClock replaces time.Now, for deterministic tests.
func WithClock(now func() time.Time) Option { return func(f *Forge) { f.now = now } }

// New returns an empty forge.
func New(opts ...Option) *Forge {
	f := &Forge{
		now:   time.Now,
		users: map[string]*User{},
		orgs:  map[string]int64{},
		repos: map[string]*Repo{},
		byID:  map[int64]*Repo{},
		ns:    map[string]*namespace{},
	}
	for _, o := range opts {
		o(f)
	}
	return f
}

// NextID hands out ids unique across the forge; call it only inside Act or WithRepo.
func (f *Forge) NextID() int64 { f.nextID++; return f.nextID }

// NewID is NextID for callers outside the model's lock.
func (f *Forge) NewID() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.NextID()
}

// BlobSHA is Git's object id of a blob, so SHAs match what Git would compute.
func BlobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

func commitSHA(c *Commit) string {
	h := sha1.New()
	paths := slices.Sorted(maps.Keys(c.Tree))
	for _, p := range paths {
		fmt.Fprintf(h, "%s\x00%s\n", p, c.Tree[p])
	}
	for _, p := range c.Parents {
		fmt.Fprintf(h, "parent %s\n", p)
	}
	fmt.Fprintf(h, "author %s <%s> %d\n", c.Author.Name, c.Author.Email, c.Author.When.UnixNano())
	fmt.Fprintf(h, "committer %s <%s> %d\n\n%s", c.Committer.Name, c.Committer.Email, c.Committer.When.UnixNano(), c.Message)
	return hex.EncodeToString(h.Sum(nil))
}

// AddUser creates or replaces a user. An empty token leaves the user unable
// to call the APIs (like an account without a personal access token).
func (f *Forge) AddUser(login, name, email, token string, bot bool) *User {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u, ok := f.users[login]; ok {
		u.Name, u.Email, u.Token, u.Bot = name, email, token, bot
		c := *u
		return &c
	}
	u := &User{ID: f.NextID(), Login: login, Name: name, Email: email, Token: token, Bot: bot}
	f.users[login] = u
	c := *u
	return &c
}

// AddOrg marks login as an organisation rather than a user account.
func (f *Forge) AddOrg(login string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.orgs[login]; !ok {
		f.orgs[login] = f.NextID()
	}
}

// OrgID reports the id of an organisation.
func (f *Forge) OrgID(login string) (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.orgs[login]
	return id, ok
}

// UserByToken authenticates a token.
func (f *Forge) UserByToken(token string) (User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if token == "" {
		return User{}, ErrUnauthorized
	}
	for _, u := range f.users {
		if u.Token == token {
			return *u, nil
		}
	}
	return User{}, ErrUnauthorized
}

// UserByLogin looks a user up by login.
func (f *Forge) UserByLogin(login string) (User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u, ok := f.users[login]
	if !ok {
		return User{}, fmt.Errorf("user %q: %w", login, ErrNotFound)
	}
	return *u, nil
}

// UserByID looks a user up by numeric id.
func (f *Forge) UserByID(id int64) (User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range f.users {
		if u.ID == id {
			return *u, nil
		}
	}
	return User{}, fmt.Errorf("user %d: %w", id, ErrNotFound)
}

// CreateRepo makes a repository whose default branch holds one commit with
// the given files.
func (f *Forge) CreateRepo(fullName, defaultBranch string, files map[string]string, author Signature) (*RepoInfo, error) {
	if !strings.Contains(fullName, "/") || strings.HasPrefix(fullName, "/") || strings.HasSuffix(fullName, "/") {
		return nil, fmt.Errorf("repository name %q must be owner/name: %w", fullName, ErrInvalid)
	}
	if defaultBranch == "" {
		defaultBranch = "main"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.repos[fullName]; ok {
		return nil, fmt.Errorf("repository %s: %w", fullName, ErrExists)
	}
	r := &Repo{
		ID: f.NextID(), FullName: fullName, DefaultBranch: defaultBranch, CreatedAt: f.now(),
		commits: map[string]*Commit{}, blobs: map[string][]byte{},
		branches: map[string]string{}, tags: map[string]string{},
		members: map[string]AccessLevel{}, issues: map[int]*Issue{},
	}
	if author.When.IsZero() {
		author.When = f.now()
	}
	tree := map[string]string{}
	for p, content := range files {
		tree[p] = r.putBlob([]byte(content))
	}
	c := &Commit{Message: "Initial commit", Author: author, Committer: author, Tree: tree}
	c.SHA = commitSHA(c)
	r.commits[c.SHA] = c
	r.branches[defaultBranch] = c.SHA
	f.repos[fullName] = r
	f.byID[r.ID] = r
	return r.info(), nil
}

func (r *Repo) putBlob(content []byte) string {
	sha := BlobSHA(content)
	r.blobs[sha] = slices.Clone(content)
	return sha
}

// RepoInfo is a copy of a repository's descriptive fields.
type RepoInfo struct {
	ID            int64     `json:"id"`
	FullName      string    `json:"full_name"`
	Owner         string    `json:"owner"`
	Name          string    `json:"name"`
	DefaultBranch string    `json:"default_branch"`
	CreatedAt     time.Time `json:"created_at"`
}

func (r *Repo) info() *RepoInfo {
	return &RepoInfo{ID: r.ID, FullName: r.FullName, Owner: r.Owner(), Name: r.Name(), DefaultBranch: r.DefaultBranch, CreatedAt: r.CreatedAt}
}

// Repo returns a repository's descriptive fields by full name or, for GitLab,
// by numeric id given as a decimal string.
func (f *Forge) Repo(ref string) (*RepoInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repo(ref)
	if err != nil {
		return nil, err
	}
	return r.info(), nil
}

func (f *Forge) repo(ref string) (*Repo, error) {
	if r, ok := f.repos[ref]; ok {
		return r, nil
	}
	var id int64
	if _, err := fmt.Sscanf(ref, "%d", &id); err == nil && fmt.Sprint(id) == ref {
		if r, ok := f.byID[id]; ok {
			return r, nil
		}
	}
	return nil, fmt.Errorf("repository %s: %w", ref, ErrNotFound)
}

// WithRepo runs fn with the lock held on the named repository. The API faces
// use it for multi-step reads that must see one consistent state; fn must not
// call other Forge methods.
func (f *Forge) WithRepo(ref string, fn func(r *Repo) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.repo(ref)
	if err != nil {
		return err
	}
	return fn(r)
}

// SetAccess grants a user an access level on a repository.
func (f *Forge) SetAccess(repo, login string, level AccessLevel) error {
	return f.WithRepo(repo, func(r *Repo) error {
		if _, ok := f.users[login]; !ok {
			return fmt.Errorf("user %q: %w", login, ErrNotFound)
		}
		r.members[login] = level
		return nil
	})
}

// Access reports a user's access level on a repository; the repository's
// owner namespace user is an Owner.
func (f *Forge) Access(repo, login string) (AccessLevel, error) {
	var lvl AccessLevel
	err := f.WithRepo(repo, func(r *Repo) error {
		if _, ok := f.users[login]; !ok {
			return fmt.Errorf("user %q: %w", login, ErrNotFound)
		}
		lvl = r.members[login]
		if r.Owner() == login {
			lvl = Owner
		}
		return nil
	})
	return lvl, err
}

// Commit returns a commit by full SHA.
func (r *Repo) Commit(sha string) (*Commit, bool) {
	c, ok := r.commits[sha]
	return c, ok
}

// Blob returns a blob's content by SHA.
func (r *Repo) Blob(sha string) ([]byte, bool) {
	b, ok := r.blobs[sha]
	return b, ok
}

// Branch returns the head SHA of a branch.
func (r *Repo) Branch(name string) (string, bool) {
	s, ok := r.branches[name]
	return s, ok
}

// Tag returns the commit SHA of a tag.
func (r *Repo) Tag(name string) (string, bool) {
	s, ok := r.tags[name]
	return s, ok
}

// Branches returns branch names in order.
func (r *Repo) Branches() []string { return slices.Sorted(maps.Keys(r.branches)) }

// Tags returns tag names in order.
func (r *Repo) Tags() []string { return slices.Sorted(maps.Keys(r.tags)) }

// Resolve turns a branch, tag, "refs/heads/x", "refs/tags/x", a full SHA or
// an unambiguous SHA prefix of at least 7 characters into a commit.
func (r *Repo) Resolve(ref string) (*Commit, bool) {
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		sha, ok := r.branches[strings.TrimPrefix(ref, "refs/heads/")]
		return r.commits[sha], ok
	case strings.HasPrefix(ref, "refs/tags/"):
		sha, ok := r.tags[strings.TrimPrefix(ref, "refs/tags/")]
		return r.commits[sha], ok
	}
	if sha, ok := r.branches[ref]; ok {
		return r.commits[sha], true
	}
	if sha, ok := r.tags[ref]; ok {
		return r.commits[sha], true
	}
	if c, ok := r.commits[ref]; ok {
		return c, true
	}
	if len(ref) >= 7 && len(ref) < 40 && isHex(ref) {
		var found *Commit
		for sha, c := range r.commits {
			if strings.HasPrefix(sha, ref) {
				if found != nil {
					return nil, false
				}
				found = c
			}
		}
		return found, found != nil
	}
	return nil, false
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// File returns the content and blob SHA of path in a commit.
func (r *Repo) File(c *Commit, path string) ([]byte, string, bool) {
	sha, ok := c.Tree[path]
	if !ok {
		return nil, "", false
	}
	return r.blobs[sha], sha, true
}

// LastCommitFor returns the newest commit reachable from head (first-parent
// history) that changed path, as GitLab's last_commit_id reports.
func (r *Repo) LastCommitFor(head *Commit, path string) *Commit {
	c := head
	for c != nil {
		if len(c.Parents) == 0 {
			return c
		}
		p := r.commits[c.Parents[0]]
		if p == nil || p.Tree[path] != c.Tree[path] {
			return c
		}
		c = p
	}
	return head
}

// CreateBranch points a new branch at an existing commit.
func (r *Repo) CreateBranch(name, sha string) error {
	if err := checkRefName(name); err != nil {
		return err
	}
	if _, ok := r.branches[name]; ok {
		return fmt.Errorf("branch %s: %w", name, ErrExists)
	}
	if _, ok := r.commits[sha]; !ok {
		return fmt.Errorf("commit %s: %w", sha, ErrNotFound)
	}
	r.branches[name] = sha
	return nil
}

// SetBranch moves an existing branch, or creates it, without checks on
// history (a force push).
func (r *Repo) SetBranch(name, sha string) error {
	if err := checkRefName(name); err != nil {
		return err
	}
	if _, ok := r.commits[sha]; !ok {
		return fmt.Errorf("commit %s: %w", sha, ErrNotFound)
	}
	r.branches[name] = sha
	return nil
}

// DeleteBranch removes a branch; the default branch cannot be deleted.
func (r *Repo) DeleteBranch(name string) error {
	if _, ok := r.branches[name]; !ok {
		return fmt.Errorf("branch %s: %w", name, ErrNotFound)
	}
	if name == r.DefaultBranch {
		return fmt.Errorf("branch %s is the default branch: %w", name, ErrInvalid)
	}
	delete(r.branches, name)
	return nil
}

// RenameBranch renames a branch, keeping its head.
func (r *Repo) RenameBranch(old, name string) error {
	sha, ok := r.branches[old]
	if !ok {
		return fmt.Errorf("branch %s: %w", old, ErrNotFound)
	}
	if err := checkRefName(name); err != nil {
		return err
	}
	if _, ok := r.branches[name]; ok {
		return fmt.Errorf("branch %s: %w", name, ErrExists)
	}
	delete(r.branches, old)
	r.branches[name] = sha
	if r.DefaultBranch == old {
		r.DefaultBranch = name
	}
	return nil
}

// SetTag creates or moves a tag.
func (r *Repo) SetTag(name, sha string) error {
	if err := checkRefName(name); err != nil {
		return err
	}
	if _, ok := r.commits[sha]; !ok {
		return fmt.Errorf("commit %s: %w", sha, ErrNotFound)
	}
	r.tags[name] = sha
	return nil
}

// DeleteTag removes a tag.
func (r *Repo) DeleteTag(name string) error {
	if _, ok := r.tags[name]; !ok {
		return fmt.Errorf("tag %s: %w", name, ErrNotFound)
	}
	delete(r.tags, name)
	return nil
}

// FileChange is one file written (Content set) or deleted (Delete) by a commit.
type FileChange struct {
	Path    string
	Content []byte
	Delete  bool
}

// CommitFiles makes a new commit on branch with the changes and moves the
// branch to it. When expectHead is not empty it must equal the branch head
// (optimistic concurrency, as GitLab's last_commit_id and GitHub's blob sha
// checks do at a coarser grain).
func (r *Repo) CommitFiles(branch, expectHead, message string, author, committer Signature, changes []FileChange) (*Commit, error) {
	head, ok := r.branches[branch]
	if !ok {
		return nil, fmt.Errorf("branch %s: %w", branch, ErrNotFound)
	}
	if expectHead != "" && expectHead != head {
		return nil, fmt.Errorf("branch %s moved from %s to %s: %w", branch, expectHead, head, ErrConflict)
	}
	parent := r.commits[head]
	tree := maps.Clone(parent.Tree)
	for _, ch := range changes {
		if err := checkPath(ch.Path); err != nil {
			return nil, err
		}
		if ch.Delete {
			if _, ok := tree[ch.Path]; !ok {
				return nil, fmt.Errorf("file %s: %w", ch.Path, ErrNotFound)
			}
			delete(tree, ch.Path)
			continue
		}
		tree[ch.Path] = r.putBlob(ch.Content)
	}
	c := &Commit{Parents: []string{head}, Message: message, Author: author, Committer: committer, Tree: tree}
	c.SHA = commitSHA(c)
	r.commits[c.SHA] = c
	r.branches[branch] = c.SHA
	return c, nil
}

// checkRefName applies the parts of git check-ref-format that matter here.
func checkRefName(name string) error {
	bad := name == "" || name == "@" || strings.HasPrefix(name, "/") || strings.HasSuffix(name, "/") ||
		strings.HasSuffix(name, ".") || strings.HasSuffix(name, ".lock") || strings.HasPrefix(name, "-") ||
		strings.Contains(name, "..") || strings.Contains(name, "//") || strings.Contains(name, "@{") ||
		strings.ContainsAny(name, " ~^:?*[\\\x7f")
	for _, c := range name {
		if c < 0x20 {
			bad = true
		}
	}
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") {
			bad = true
		}
	}
	if bad {
		return fmt.Errorf("invalid reference name %q: %w", name, ErrInvalid)
	}
	return nil
}

func checkPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.Contains(p, "//") || strings.Contains(p, "\x00") {
		return fmt.Errorf("invalid file path %q: %w", p, ErrInvalid)
	}
	for _, part := range strings.Split(p, "/") {
		if part == "." || part == ".." || part == ".git" {
			return fmt.Errorf("invalid file path %q: %w", p, ErrInvalid)
		}
	}
	return nil
}

// Issue returns an issue or pull request by number.
func (r *Repo) Issue(n int) (*Issue, bool) {
	i, ok := r.issues[n]
	return i, ok
}

// Issues returns all issues and pull requests by number.
func (r *Repo) Issues() []*Issue {
	out := slices.Collect(maps.Values(r.issues))
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

// NewIssue opens an issue (or a pull request when head is set).
func (r *Repo) NewIssue(now time.Time, title, body, author string, labels []string, head, base string) *Issue {
	r.next++
	i := &Issue{Number: r.next, Title: title, Body: body, State: "open", Labels: slices.Clone(labels),
		Author: author, CreatedAt: now, UpdatedAt: now, IsPull: head != "", Head: head, Base: base}
	r.issues[i.Number] = i
	return i
}

// Comments returns the comments on one issue, or on one commit when sha is set.
func (r *Repo) Comments(issue int, sha string) []*Comment {
	var out []*Comment
	for _, c := range r.comments {
		if (sha != "" && c.CommitSHA == sha) || (sha == "" && c.Issue == issue && c.CommitSHA == "") {
			out = append(out, c)
		}
	}
	return out
}

// AllComments returns every comment in creation order.
func (r *Repo) AllComments() []*Comment { return slices.Clone(r.comments) }

// Comment finds a comment by id.
func (r *Repo) Comment(id int64) (*Comment, bool) {
	for _, c := range r.comments {
		if c.ID == id {
			return c, true
		}
	}
	return nil, false
}

// AddComment appends, inside Act, a comment; ids are unique across the forge.
func (f *Forge) AddComment(r *Repo, issue int, sha, body, author string) *Comment {
	now := f.now()
	c := &Comment{ID: f.NextID(), Issue: issue, CommitSHA: sha, Body: body, Author: author, CreatedAt: now, UpdatedAt: now}
	r.comments = append(r.comments, c)
	return c
}

// EditComment replaces a comment's body as login.
func (f *Forge) EditComment(repo string, id int64, login, body string) (Comment, []Event, error) {
	var out Comment
	evs, err := f.Act(repo, login, func(r *Repo, u *User) ([]Event, error) {
		c, ok := r.Comment(id)
		if !ok {
			return nil, fmt.Errorf("comment %d: %w", id, ErrNotFound)
		}
		c.Body, c.UpdatedAt = body, f.now()
		out = *c
		ev := f.NewEvent(CommentEdited, r, u)
		cc := *c
		ev.Comment = &cc
		if i, ok := r.issues[c.Issue]; ok && c.CommitSHA == "" {
			ev.Issue = i.Snapshot()
		}
		return []Event{ev}, nil
	})
	return out, evs, err
}

// Now returns the forge's clock reading.
func (f *Forge) Now() time.Time { return f.now() }

// Hooks returns a copy of a repository's webhook registrations.
func (r *Repo) Hooks() []Hook { return copyHooks(r.hooks) }

// AddHook registers a webhook on a repository.
func (f *Forge) AddHook(repo, flavor, url, secret string) (Hook, error) {
	if flavor != "github" && flavor != "gitlab" {
		return Hook{}, fmt.Errorf("hook flavor %q must be github or gitlab: %w", flavor, ErrInvalid)
	}
	var out Hook
	err := f.WithRepo(repo, func(r *Repo) error {
		h := &Hook{ID: f.NextID(), Flavor: flavor, URL: url, Secret: secret, CreatedAt: f.now()}
		r.hooks = append(r.hooks, h)
		out = *h
		return nil
	})
	return out, err
}
