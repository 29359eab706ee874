// Package forgetest checks a forge.Client against the simulated forge: the
// same checks for the GitHub and the GitLab client, each forge's
// differences (links, reaction names, commit threads) given as parameters.
// Test support only.
package forgetest

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// The simulated repository.
const (
	Repo   = "acme/llm"
	Branch = "exp/lr-3e-4" // a "/" in the name, as experiment branches have
	Tag    = "v1.0"
)

// Forge is one forge's client and what differs from the other's.
type Forge struct {
	// Token is the bot's; BadToken one the forge refuses.
	Token, BadToken string
	// New makes a client for the simulator at url (its root) with a token.
	New func(url, token string) (forge.Client, error)
	// Web stands between a repository and tree/ or commit/ in web links:
	// "" on GitHub, "/-" on GitLab.
	Web string
	// CommentPath is a comment's web link after the repository's.
	CommentPath func(th event.Thread, id int64) string
	// CommitNotes: commit comments carry a Note (GitLab's discussion id)
	// and other comments none.
	CommitNotes bool
	// Reactions are added in turn to a comment, in this forge's names and
	// the other's, one of them twice; Reacted is what the comment shows
	// then, sorted.
	Reactions, Reacted []string
	// CommitReactErr is what reacting to a commit comment fails with (nil:
	// it works like the others).
	CommitReactErr error
}

// Sim is a simulated forge with one repository, an issue, a pull request,
// a tag and an experiment branch, and a client authenticated as the bot.
type Sim struct {
	t      *testing.T
	URL    string
	Forge  *state.Forge
	Client forge.Client
	Issue  int
	Pull   int
	Users  map[state.AccessLevel]*state.User // a member at each level
}

// Serve starts an empty simulated forge, stopped when the test ends, and
// returns it with its URL.
func Serve(t *testing.T) (*forgesim.Server, string) {
	t.Helper()
	srv := forgesim.New()
	ts := httptest.NewServer(srv.Handler())
	srv.SetBaseURL(ts.URL)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return srv, ts.URL
}

// NewSim starts the simulated forge for fg's client.
func NewSim(t *testing.T, fg Forge) *Sim {
	t.Helper()
	srv, url := Serve(t)
	f := srv.Forge()
	f.AddOrg("acme")
	f.AddUser("alice", "Alice", "alice@example.com", "alice-token", false)
	f.AddUser("expbot", "expbot", "bot@example.com", fg.Token, true)
	if _, err := f.CreateRepo(Repo, "main", map[string]string{
		"README.md":         "# llm\n",
		"configs/base.yaml": "lr: 0.001\n",
	}, state.Signature{Name: "alice", Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	s := &Sim{t: t, URL: url, Forge: f, Users: map[state.AccessLevel]*state.User{}}
	must(t, f.SetAccess(Repo, "alice", state.Maintainer))
	must(t, f.SetAccess(Repo, "expbot", state.Developer)) // ghsim wants push access for refs and contents
	for lvl, login := range map[state.AccessLevel]string{
		state.NoAccess: "nobody", state.Guest: "reader", state.Reporter: "triager",
		state.Developer: "writer", state.Maintainer: "maintainer", state.Owner: "admin",
	} {
		u := f.AddUser(login, login, login+"@example.com", "", false)
		if lvl != state.NoAccess {
			must(t, f.SetAccess(Repo, login, lvl))
		}
		s.Users[lvl] = u
	}
	if _, _, err := f.PushFiles(Repo, Branch, "alice", "variant", []state.FileChange{{Path: "experiment.yaml", Content: []byte("lr: 0.0003\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PushTag(Repo, "alice", Tag, "main"); err != nil {
		t.Fatal(err)
	}
	is, _, err := f.OpenIssue(Repo, "alice", "try lr 3e-4", "lr: 0.0003", []string{"new-experiment"})
	must(t, err)
	pr, _, err := f.OpenPull(Repo, "alice", "exp", "", Branch, "")
	must(t, err)
	s.Issue, s.Pull = is.Number, pr.Number

	s.Client, err = fg.New(url, fg.Token)
	must(t, err)
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// SHA reads a branch or tag head from the model.
func (s *Sim) SHA(ref string, isTag bool) string {
	s.t.Helper()
	var sha string
	must(s.t, s.Forge.WithRepo(Repo, func(r *state.Repo) error {
		var ok bool
		if isTag {
			sha, ok = r.Tag(ref)
		} else {
			sha, ok = r.Branch(ref)
		}
		if !ok {
			return errors.New("no ref " + ref)
		}
		return nil
	}))
	return sha
}

// Comment reads a stored comment from the model.
func (s *Sim) Comment(id int64) state.Comment {
	s.t.Helper()
	var out state.Comment
	must(s.t, s.Forge.WithRepo(Repo, func(r *state.Repo) error {
		c, ok := r.Comment(id)
		if !ok {
			return errors.New("no such comment")
		}
		out = *c
		return nil
	}))
	return out
}

// Run checks fg's client against the simulated forge, each check on a
// forge of its own.
func Run(t *testing.T, fg Forge) {
	for _, c := range []struct {
		name  string
		check func(t *testing.T, fg Forge, s *Sim)
	}{
		{"ResolveRef", resolveRef},
		{"DefaultBranch", defaultBranch},
		{"ReadFile", readFile},
		{"Comments", comments},
		{"Access", access},
		{"React", react},
		{"Links", webLinks},
		{"TokenNotInErrors", tokenNotInErrors},
		{"PullHead", pullHead},
		{"IssueAndTagTarget", issueAndTagTarget},
		{"FindComment", findComment},
	} {
		t.Run(c.name, func(t *testing.T) { c.check(t, fg, NewSim(t, fg)) })
	}
}

func resolveRef(t *testing.T, _ Forge, s *Sim) {
	ctx := context.Background()
	exp, main := s.SHA(Branch, false), s.SHA("main", false)
	if exp == main {
		t.Fatal("fixture: branch should have its own commit")
	}
	tests := []struct {
		name, ref, want string
	}{
		{"branch with slash", Branch, exp},
		{"default branch", "main", main},
		{"tag", Tag, s.SHA(Tag, true)},
		{"qualified branch", "refs/heads/" + Branch, exp},
		{"full SHA", exp, exp},
		{"full SHA in capitals", strings.ToUpper(exp), exp},
		{"short SHA", exp[:7], exp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Client.ResolveRef(ctx, Repo, tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ResolveRef(%q) = %s, want %s", tt.ref, got, tt.want)
			}
		})
	}
	for _, ref := range []string{"exp/missing", "deadbeef", strings.Repeat("ab", 20), "refs/tags/nope"} {
		t.Run("missing "+ref, func(t *testing.T) {
			_, err := s.Client.ResolveRef(ctx, Repo, ref)
			if !errors.Is(err, forge.ErrNotFound) || forge.IsTransient(err) {
				t.Fatalf("want a permanent ErrNotFound, got %v", err)
			}
			if !strings.Contains(err.Error(), ref) {
				t.Errorf("error does not name the ref: %v", err)
			}
		})
	}
	t.Run("missing repository", func(t *testing.T) {
		_, err := s.Client.ResolveRef(ctx, "acme/none", "main")
		if !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	})
}

func defaultBranch(t *testing.T, _ Forge, s *Sim) {
	got, err := s.Client.DefaultBranch(context.Background(), Repo)
	must(t, err)
	if got != "main" {
		t.Errorf("DefaultBranch = %q", got)
	}
	must(t, s.Forge.WithRepo(Repo, func(r *state.Repo) error { return r.RenameBranch("main", "trunk") }))
	got, err = s.Client.DefaultBranch(context.Background(), Repo)
	must(t, err)
	if got != "trunk" {
		t.Errorf("DefaultBranch after rename = %q", got)
	}
	if _, err := s.Client.DefaultBranch(context.Background(), "acme/none"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing repository: want ErrNotFound, got %v", err)
	}
}

func readFile(t *testing.T, _ Forge, s *Sim) {
	ctx := context.Background()
	tests := []struct{ ref, path, want string }{
		{Branch, "experiment.yaml", "lr: 0.0003\n"},
		{"main", "configs/base.yaml", "lr: 0.001\n"},
		{Tag, "README.md", "# llm\n"},
		{s.SHA(Branch, false), "configs/base.yaml", "lr: 0.001\n"},
	}
	for _, tt := range tests {
		got, err := s.Client.ReadFile(ctx, Repo, tt.ref, tt.path)
		if err != nil {
			t.Fatalf("ReadFile(%s, %s): %v", tt.ref, tt.path, err)
		}
		if string(got) != tt.want {
			t.Errorf("ReadFile(%s, %s) = %q, want %q", tt.ref, tt.path, got, tt.want)
		}
	}
	// experiment.yaml exists on the branch only.
	if _, err := s.Client.ReadFile(ctx, Repo, "main", "experiment.yaml"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing file: want ErrNotFound, got %v", err)
	}
	if _, err := s.Client.ReadFile(ctx, Repo, "exp/missing", "README.md"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing ref: want ErrNotFound, got %v", err)
	}
}

func comments(t *testing.T, fg Forge, s *Sim) {
	ctx := context.Background()
	exp := s.SHA(Branch, false)
	tests := []struct {
		name  string
		th    event.Thread
		issue int
		sha   string
	}{
		{"issue", event.Thread{Kind: event.IssueThread, Number: s.Issue}, s.Issue, ""},
		{"pull request", event.Thread{Kind: event.PullThread, Number: s.Pull}, s.Pull, ""},
		{"commit", event.Thread{Kind: event.CommitThread, SHA: exp}, 0, exp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Client.CreateComment(ctx, Repo, tt.th, "⏳ creating branch")
			must(t, err)
			got := s.Comment(c.ID)
			if got.Body != "⏳ creating branch" || got.Author != "expbot" || got.Issue != tt.issue || got.CommitSHA != tt.sha {
				t.Errorf("stored comment = %+v", got)
			}
			if want := s.URL + "/" + Repo + fg.CommentPath(tt.th, c.ID); c.URL != want {
				t.Errorf("comment URL = %q, want %q", c.URL, want)
			}
			if (c.Note != "") != (fg.CommitNotes && tt.th.Kind == event.CommitThread) {
				t.Errorf("Note = %q: want a discussion id for GitLab's commit notes only", c.Note)
			}
			must(t, s.Client.EditComment(ctx, Repo, tt.th, c, "✅ branch ready"))
			if got := s.Comment(c.ID); got.Body != "✅ branch ready" {
				t.Errorf("after edit, body = %q", got.Body)
			}
		})
	}
	t.Run("missing issue", func(t *testing.T) {
		_, err := s.Client.CreateComment(ctx, Repo, event.Thread{Kind: event.IssueThread, Number: 999}, "x")
		if !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	})
	t.Run("missing comment", func(t *testing.T) {
		err := s.Client.EditComment(ctx, Repo, event.Thread{Kind: event.IssueThread, Number: s.Issue}, forge.Comment{ID: 99999}, "x")
		if !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	})
}

func access(t *testing.T, _ Forge, s *Sim) {
	tests := []struct {
		level state.AccessLevel
		want  forge.Access
	}{
		{state.NoAccess, forge.NoAccess},
		{state.Guest, forge.Read},
		{state.Reporter, forge.Triage},
		{state.Developer, forge.Write},
		{state.Maintainer, forge.Maintain},
		{state.Owner, forge.Admin},
	}
	for _, tt := range tests {
		u := s.Users[tt.level]
		t.Run(u.Login, func(t *testing.T) {
			// GitHub asks by login, GitLab by id.
			got, err := s.Client.Access(context.Background(), Repo, event.Actor{ID: u.ID, Login: u.Login})
			must(t, err)
			if got != tt.want {
				t.Errorf("Access(%s) = %v, want %v", u.Login, got, tt.want)
			}
		})
	}
	t.Run("unknown user", func(t *testing.T) {
		got, err := s.Client.Access(context.Background(), Repo, event.Actor{ID: 987654, Login: "ghost"})
		if err != nil || got != forge.NoAccess {
			t.Errorf("Access(ghost) = %v, %v; want NoAccess, nil", got, err)
		}
	})
}

func react(t *testing.T, fg Forge, s *Sim) {
	ctx := context.Background()
	commit := event.Thread{Kind: event.CommitThread, SHA: s.SHA("main", false)}
	threads := []event.Thread{{Kind: event.IssueThread, Number: s.Issue}, {Kind: event.PullThread, Number: s.Pull}}
	if fg.CommitReactErr == nil {
		threads = append(threads, commit)
	} else {
		t.Run("commit", func(t *testing.T) {
			c, err := s.Client.CreateComment(ctx, Repo, commit, "/experiment")
			must(t, err)
			if err := s.Client.React(ctx, Repo, commit, c.ID, "eyes"); !errors.Is(err, fg.CommitReactErr) {
				t.Errorf("want %v, got %v", fg.CommitReactErr, err)
			}
		})
	}
	for _, th := range threads {
		t.Run(string(th.Kind), func(t *testing.T) {
			c, err := s.Client.CreateComment(ctx, Repo, th, "/experiment lr=1e-4")
			must(t, err)
			for _, r := range fg.Reactions { // a reaction again: no error, no duplicate

				must(t, s.Client.React(ctx, Repo, th, c.ID, r))
			}
			got := s.Comment(c.ID).Reactions
			slices.Sort(got)
			if !slices.Equal(got, fg.Reacted) {
				t.Errorf("reactions = %q, want %q", got, fg.Reacted)
			}
		})
	}
	err := s.Client.React(ctx, Repo, event.Thread{Kind: event.IssueThread, Number: s.Issue}, 99999, "eyes")
	if !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing comment: want ErrNotFound, got %v", err)
	}
}

func webLinks(t *testing.T, fg Forge, s *Sim) {
	if got, want := s.Client.BranchURL(Repo, Branch), s.URL+"/acme/llm"+fg.Web+"/tree/exp/lr-3e-4"; got != want {
		t.Errorf("BranchURL = %q, want %q", got, want)
	}
	if got, want := s.Client.CommitURL(Repo, "abc"), s.URL+"/acme/llm"+fg.Web+"/commit/abc"; got != want {
		t.Errorf("CommitURL = %q, want %q", got, want)
	}
}

// tokenNotInErrors checks a failure against the simulator: a wrong token
// (401) is permanent and not echoed.
func tokenNotInErrors(t *testing.T, fg Forge, s *Sim) {
	c, err := fg.New(s.URL, fg.BadToken)
	must(t, err)
	_, err = c.ResolveRef(context.Background(), Repo, "main")
	if err == nil || forge.IsTransient(err) || errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("bad token: want a permanent error, got %v", err)
	}
	if strings.Contains(err.Error(), fg.BadToken) {
		t.Errorf("error contains the token: %v", err)
	}
}

func pullHead(t *testing.T, _ Forge, s *Sim) {
	gotBranch, gotSHA, err := s.Client.PullHead(context.Background(), Repo, s.Pull)
	must(t, err)
	if gotBranch != Branch || gotSHA != s.SHA(Branch, false) {
		t.Errorf("PullHead = %s %s, want %s %s", gotBranch, gotSHA, Branch, s.SHA(Branch, false))
	}
	if _, _, err := s.Client.PullHead(context.Background(), Repo, 999); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing pull request: want ErrNotFound, got %v", err)
	}
}

// issueAndTagTarget: what expbot reads when deliveries alone cannot order
// changes (docs/ordering.md).
func issueAndTagTarget(t *testing.T, _ Forge, s *Sim) {
	ctx := context.Background()
	body := "lr: 0.0004"
	if _, err := s.Forge.EditIssue(Repo, s.Issue, "alice", nil, &body); err != nil {
		t.Fatal(err)
	}
	i, err := s.Client.Issue(ctx, Repo, s.Issue)
	if err != nil {
		t.Fatal(err)
	}
	if i.Number != s.Issue || i.Body != body || !i.Open || !slices.Contains(i.Labels, "new-experiment") || i.UpdatedAt.IsZero() || i.URL == "" {
		t.Fatalf("issue %+v", i)
	}
	if _, err := s.Forge.SetIssueState(Repo, s.Issue, "alice", "closed"); err != nil {
		t.Fatal(err)
	}
	if i, err := s.Client.Issue(ctx, Repo, s.Issue); err != nil || i.Open {
		t.Fatalf("closed issue read as %+v, %v", i, err)
	}
	if _, err := s.Client.Issue(ctx, Repo, 9999); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing issue: %v, want ErrNotFound", err)
	}

	if sha, err := s.Client.TagTarget(ctx, Repo, Tag); err != nil || sha != s.SHA("main", false) {
		t.Fatalf("TagTarget(%s) = %q, %v; want %s", Tag, sha, err, s.SHA("main", false))
	}
	if _, err := s.Forge.RemoveTag(Repo, "alice", Tag); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Client.TagTarget(ctx, Repo, Tag); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("deleted tag: %v, want ErrNotFound", err)
	}
}

// findComment: FindComment finds the bot's own comment by its marker past
// the first page, ignores others' comments that copy the marker, and the
// found comment can be edited.
func findComment(t *testing.T, _ Forge, s *Sim) {
	ctx := context.Background()
	exp := s.SHA(Branch, false)
	const marker = "<!-- expbot:experiment issue%3A7 -->"
	for _, th := range []event.Thread{
		{Kind: event.IssueThread, Number: s.Issue},
		{Kind: event.PullThread, Number: s.Pull},
		{Kind: event.CommitThread, SHA: exp},
	} {
		t.Run(string(th.Kind), func(t *testing.T) {
			if _, ok, err := s.Client.FindComment(ctx, Repo, th, marker); err != nil || ok {
				t.Fatalf("in an empty thread: found %v, %v", ok, err)
			}
			// More than a page (100) of others' comments, one of them
			// quoting the marker, and the bot's comment for another
			// experiment, before the one sought.
			for i := range 101 {
				body := fmt.Sprintf("comment %d", i)
				if i == 3 {
					body = "copied " + marker
				}
				_, _, err := s.Forge.Comment(Repo, th.Number, th.SHA, "alice", body)
				must(t, err)
			}
			_, err := s.Client.CreateComment(ctx, Repo, th, "status <!-- expbot:experiment issue%3A8 -->")
			must(t, err)
			want, err := s.Client.CreateComment(ctx, Repo, th, "status "+marker)
			must(t, err)
			_, err = s.Client.CreateComment(ctx, Repo, th, "later status "+marker)
			must(t, err)

			got, ok, err := s.Client.FindComment(ctx, Repo, th, marker)
			if err != nil || !ok || got.ID != want.ID || got.Note != want.Note {
				t.Fatalf("FindComment = %+v, %v, %v; want %+v", got, ok, err, want)
			}
			must(t, s.Client.EditComment(ctx, Repo, th, got, "edited "+marker))
			if c := s.Comment(want.ID); c.Body != "edited "+marker {
				t.Errorf("after the edit, body = %q", c.Body)
			}
		})
	}
}
