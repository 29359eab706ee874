package github_test

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
	"github.com/expbot/expbot/internal/forge/github"
	"github.com/expbot/expbot/internal/forgesim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

const (
	repo     = "acme/llm"
	botToken = "ghp_expbot-sim-token-abcdef"
	branch   = "exp/lr-3e-4" // a "/" in the name, as experiment branches have
	tag      = "v1.0"
)

// sim is a simulated forge with one repository, an issue, a pull request,
// a tag and an experiment branch, and a client authenticated as the bot.
type sim struct {
	t      *testing.T
	url    string
	forge  *state.Forge
	client *github.Client
	issue  int
	pull   int
	users  map[state.AccessLevel]string // a member at each level
}

func newSim(t *testing.T) *sim {
	t.Helper()
	srv := forgesim.New()
	ts := httptest.NewServer(srv.Handler())
	srv.SetBaseURL(ts.URL)
	t.Cleanup(func() { ts.Close(); srv.Close() })

	f := srv.Forge()
	f.AddOrg("acme")
	f.AddUser("alice", "Alice", "alice@example.com", "alice-token", false)
	f.AddUser("expbot", "expbot", "bot@example.com", botToken, true)
	if _, err := f.CreateRepo(repo, "main", map[string]string{
		"README.md":         "# llm\n",
		"configs/base.yaml": "lr: 0.001\n",
	}, state.Signature{Name: "alice", Email: "alice@example.com"}); err != nil {
		t.Fatal(err)
	}
	s := &sim{t: t, url: ts.URL, forge: f, users: map[state.AccessLevel]string{}}
	must(t, f.SetAccess(repo, "alice", state.Maintainer))
	must(t, f.SetAccess(repo, "expbot", state.Developer)) // ghsim wants push access for refs and contents
	for lvl, login := range map[state.AccessLevel]string{
		state.NoAccess: "nobody", state.Guest: "reader", state.Reporter: "triager",
		state.Developer: "writer", state.Maintainer: "maintainer", state.Owner: "admin",
	} {
		f.AddUser(login, login, login+"@example.com", "", false)
		if lvl != state.NoAccess {
			must(t, f.SetAccess(repo, login, lvl))
		}
		s.users[lvl] = login
	}
	if _, _, err := f.PushFiles(repo, branch, "alice", "variant", []state.FileChange{{Path: "experiment.yaml", Content: []byte("lr: 0.0003\n")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.PushTag(repo, "alice", tag, "main"); err != nil {
		t.Fatal(err)
	}
	is, _, err := f.OpenIssue(repo, "alice", "try lr 3e-4", "lr: 0.0003", []string{"new-experiment"})
	must(t, err)
	pr, _, err := f.OpenPull(repo, "alice", "exp", "", branch, "")
	must(t, err)
	s.issue, s.pull = is.Number, pr.Number

	c, err := github.New(github.Config{APIURL: ts.URL + "/", Token: botToken})
	must(t, err)
	s.client = c
	return s
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// sha reads a branch or tag head from the model.
func (s *sim) sha(ref string, isTag bool) string {
	s.t.Helper()
	var sha string
	must(s.t, s.forge.WithRepo(repo, func(r *state.Repo) error {
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

// comment reads a stored comment from the model.
func (s *sim) comment(id int64) state.Comment {
	s.t.Helper()
	var out state.Comment
	must(s.t, s.forge.WithRepo(repo, func(r *state.Repo) error {
		c, ok := r.Comment(id)
		if !ok {
			return errors.New("no such comment")
		}
		out = *c
		return nil
	}))
	return out
}

func TestResolveRef(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	exp, main := s.sha(branch, false), s.sha("main", false)
	if exp == main {
		t.Fatal("fixture: branch should have its own commit")
	}
	tests := []struct {
		name, ref, want string
	}{
		{"branch with slash", branch, exp},
		{"default branch", "main", main},
		{"tag", tag, s.sha(tag, true)},
		{"qualified branch", "refs/heads/" + branch, exp},
		{"full SHA", exp, exp},
		{"full SHA in capitals", strings.ToUpper(exp), exp},
		{"short SHA", exp[:7], exp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.client.ResolveRef(ctx, repo, tt.ref)
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
			_, err := s.client.ResolveRef(ctx, repo, ref)
			if !errors.Is(err, forge.ErrNotFound) || forge.IsTransient(err) {
				t.Fatalf("want a permanent ErrNotFound, got %v", err)
			}
			if !strings.Contains(err.Error(), ref) {
				t.Errorf("error does not name the ref: %v", err)
			}
		})
	}
	t.Run("missing repository", func(t *testing.T) {
		_, err := s.client.ResolveRef(ctx, "acme/none", "main")
		if !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	})
}

func TestDefaultBranch(t *testing.T) {
	s := newSim(t)
	got, err := s.client.DefaultBranch(context.Background(), repo)
	must(t, err)
	if got != "main" {
		t.Errorf("DefaultBranch = %q", got)
	}
	must(t, s.forge.WithRepo(repo, func(r *state.Repo) error { return r.RenameBranch("main", "trunk") }))
	got, err = s.client.DefaultBranch(context.Background(), repo)
	must(t, err)
	if got != "trunk" {
		t.Errorf("DefaultBranch after rename = %q", got)
	}
	if _, err := s.client.DefaultBranch(context.Background(), "acme/none"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing repository: want ErrNotFound, got %v", err)
	}
}

func TestReadFile(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	tests := []struct{ ref, path, want string }{
		{branch, "experiment.yaml", "lr: 0.0003\n"},
		{"main", "configs/base.yaml", "lr: 0.001\n"},
		{tag, "README.md", "# llm\n"},
		{s.sha(branch, false), "configs/base.yaml", "lr: 0.001\n"},
	}
	for _, tt := range tests {
		got, err := s.client.ReadFile(ctx, repo, tt.ref, tt.path)
		if err != nil {
			t.Fatalf("ReadFile(%s, %s): %v", tt.ref, tt.path, err)
		}
		if string(got) != tt.want {
			t.Errorf("ReadFile(%s, %s) = %q, want %q", tt.ref, tt.path, got, tt.want)
		}
	}
	// experiment.yaml exists on the branch only.
	if _, err := s.client.ReadFile(ctx, repo, "main", "experiment.yaml"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing file: want ErrNotFound, got %v", err)
	}
	if _, err := s.client.ReadFile(ctx, repo, "exp/missing", "README.md"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing ref: want ErrNotFound, got %v", err)
	}
}

func TestComments(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	exp := s.sha(branch, false)
	tests := []struct {
		name  string
		th    event.Thread
		issue int
		sha   string
	}{
		{"issue", event.Thread{Kind: event.IssueThread, Number: s.issue}, s.issue, ""},
		{"pull request", event.Thread{Kind: event.PullThread, Number: s.pull}, s.pull, ""},
		{"commit", event.Thread{Kind: event.CommitThread, SHA: exp}, 0, exp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.client.CreateComment(ctx, repo, tt.th, "⏳ creating branch")
			must(t, err)
			got := s.comment(c.ID)
			if got.Body != "⏳ creating branch" || got.Author != "expbot" || got.Issue != tt.issue || got.CommitSHA != tt.sha {
				t.Errorf("stored comment = %+v", got)
			}
			if !strings.HasPrefix(c.URL, s.url+"/acme/llm/") {
				t.Errorf("comment URL = %q", c.URL)
			}
			must(t, s.client.EditComment(ctx, repo, tt.th, c, "✅ branch ready"))
			if got := s.comment(c.ID); got.Body != "✅ branch ready" {
				t.Errorf("after edit, body = %q", got.Body)
			}
		})
	}
	t.Run("missing issue", func(t *testing.T) {
		_, err := s.client.CreateComment(ctx, repo, event.Thread{Kind: event.IssueThread, Number: 999}, "x")
		if !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	})
	t.Run("missing comment", func(t *testing.T) {
		err := s.client.EditComment(ctx, repo, event.Thread{Kind: event.IssueThread, Number: s.issue}, forge.Comment{ID: 99999}, "x")
		if !errors.Is(err, forge.ErrNotFound) {
			t.Errorf("want ErrNotFound, got %v", err)
		}
	})
}

func TestAccess(t *testing.T) {
	s := newSim(t)
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
		login := s.users[tt.level]
		t.Run(login, func(t *testing.T) {
			got, err := s.client.Access(context.Background(), repo, event.Actor{Login: login})
			must(t, err)
			if got != tt.want {
				t.Errorf("Access(%s) = %v, want %v", login, got, tt.want)
			}
		})
	}
	t.Run("unknown user", func(t *testing.T) {
		got, err := s.client.Access(context.Background(), repo, event.Actor{Login: "ghost"})
		if err != nil || got != forge.NoAccess {
			t.Errorf("Access(ghost) = %v, %v; want NoAccess, nil", got, err)
		}
	})
}

func TestReact(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	for _, th := range []event.Thread{
		{Kind: event.IssueThread, Number: s.issue},
		{Kind: event.PullThread, Number: s.pull},
		{Kind: event.CommitThread, SHA: s.sha("main", false)},
	} {
		t.Run(string(th.Kind), func(t *testing.T) {
			c, err := s.client.CreateComment(ctx, repo, th, "/experiment lr=1e-4")
			must(t, err)
			must(t, s.client.React(ctx, repo, th, c.ID, "eyes"))
			must(t, s.client.React(ctx, repo, th, c.ID, ":thumbsup:")) // GitLab's name for +1
			must(t, s.client.React(ctx, repo, th, c.ID, "eyes"))       // again: no error, no duplicate
			got := s.comment(c.ID).Reactions
			slices.Sort(got)
			if want := []string{"+1:expbot", "eyes:expbot"}; !slices.Equal(got, want) {
				t.Errorf("reactions = %q, want %q", got, want)
			}
		})
	}
	err := s.client.React(ctx, repo, event.Thread{Kind: event.IssueThread, Number: s.issue}, 99999, "eyes")
	if !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing comment: want ErrNotFound, got %v", err)
	}
}

func TestLinks(t *testing.T) {
	s := newSim(t)
	if got, want := s.client.BranchURL(repo, branch), s.url+"/acme/llm/tree/exp/lr-3e-4"; got != want {
		t.Errorf("BranchURL = %q, want %q", got, want)
	}
	if got, want := s.client.CommitURL(repo, "abc"), s.url+"/acme/llm/commit/abc"; got != want {
		t.Errorf("CommitURL = %q, want %q", got, want)
	}
}

// TestTokenNotInErrors checks a failure against the simulator: a wrong
// token (401) is permanent and not echoed.
func TestTokenNotInErrors(t *testing.T) {
	s := newSim(t)
	const bad = "ghp_wrong-token-zzzzzzzzzz"
	c, err := github.New(github.Config{APIURL: s.url, Token: bad})
	must(t, err)
	_, err = c.ResolveRef(context.Background(), repo, "main")
	if err == nil || forge.IsTransient(err) || errors.Is(err, forge.ErrNotFound) {
		t.Fatalf("bad token: want a permanent error, got %v", err)
	}
	if strings.Contains(err.Error(), bad) {
		t.Errorf("error contains the token: %v", err)
	}
}

func TestPullHead(t *testing.T) {
	s := newSim(t)
	gotBranch, gotSHA, err := s.client.PullHead(context.Background(), repo, s.pull)
	must(t, err)
	if gotBranch != branch || gotSHA != s.sha(branch, false) {
		t.Errorf("PullHead = %s %s, want %s %s", gotBranch, gotSHA, branch, s.sha(branch, false))
	}
	if _, _, err := s.client.PullHead(context.Background(), repo, 999); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing pull request: want ErrNotFound, got %v", err)
	}
}

// TestIssueAndTagTarget: what expbot reads when deliveries alone cannot
// order changes (docs/ordering.md).
func TestIssueAndTagTarget(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	body := "lr: 0.0004"
	if _, err := s.forge.EditIssue(repo, s.issue, "alice", nil, &body); err != nil {
		t.Fatal(err)
	}
	i, err := s.client.Issue(ctx, repo, s.issue)
	if err != nil {
		t.Fatal(err)
	}
	if i.Number != s.issue || i.Body != body || !i.Open || !slices.Contains(i.Labels, "new-experiment") || i.UpdatedAt.IsZero() || i.URL == "" {
		t.Fatalf("issue %+v", i)
	}
	if _, err := s.forge.SetIssueState(repo, s.issue, "alice", "closed"); err != nil {
		t.Fatal(err)
	}
	if i, err := s.client.Issue(ctx, repo, s.issue); err != nil || i.Open {
		t.Fatalf("closed issue read as %+v, %v", i, err)
	}
	if _, err := s.client.Issue(ctx, repo, 9999); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("missing issue: %v, want ErrNotFound", err)
	}

	if sha, err := s.client.TagTarget(ctx, repo, tag); err != nil || sha != s.sha("main", false) {
		t.Fatalf("TagTarget(%s) = %q, %v; want %s", tag, sha, err, s.sha("main", false))
	}
	if _, err := s.forge.RemoveTag(repo, "alice", tag); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.TagTarget(ctx, repo, tag); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("deleted tag: %v, want ErrNotFound", err)
	}
}

// FindComment finds the bot's own comment by its marker past the first
// page, ignores others' comments that copy the marker, and the found
// comment can be edited.
func TestFindComment(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	exp := s.sha(branch, false)
	const marker = "<!-- expbot:experiment issue%3A7 -->"
	for _, th := range []event.Thread{
		{Kind: event.IssueThread, Number: s.issue},
		{Kind: event.PullThread, Number: s.pull},
		{Kind: event.CommitThread, SHA: exp},
	} {
		t.Run(string(th.Kind), func(t *testing.T) {
			if _, ok, err := s.client.FindComment(ctx, repo, th, marker); err != nil || ok {
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
				_, _, err := s.forge.Comment(repo, th.Number, th.SHA, "alice", body)
				must(t, err)
			}
			_, err := s.client.CreateComment(ctx, repo, th, "status <!-- expbot:experiment issue%3A8 -->")
			must(t, err)
			want, err := s.client.CreateComment(ctx, repo, th, "status "+marker)
			must(t, err)
			_, err = s.client.CreateComment(ctx, repo, th, "later status "+marker)
			must(t, err)

			got, ok, err := s.client.FindComment(ctx, repo, th, marker)
			if err != nil || !ok || got.ID != want.ID || got.Note != want.Note {
				t.Fatalf("FindComment = %+v, %v, %v; want %+v", got, ok, err, want)
			}
			must(t, s.client.EditComment(ctx, repo, th, got, "edited "+marker))
			if c := s.comment(want.ID); c.Body != "edited "+marker {
				t.Errorf("after the edit, body = %q", c.Body)
			}
		})
	}
}
