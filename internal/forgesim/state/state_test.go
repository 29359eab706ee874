package state

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func newRepo(t *testing.T) *Forge {
	t.Helper()
	f := New(WithClock(func() time.Time { return time.Unix(1700000000, 0) }))
	f.AddUser("alice", "Alice", "alice@example.com", "tok", false)
	if _, err := f.CreateRepo("acme/llm", "main", map[string]string{"a.txt": "hello\n"}, Signature{Name: "A", Email: "a@x"}); err != nil {
		t.Fatal(err)
	}
	return f
}

// Blob ids are Git's, so tools comparing SHAs with real Git agree.
func TestBlobSHAIsGits(t *testing.T) {
	// git hash-object of "hello\n" and of the empty file
	for content, want := range map[string]string{
		"hello\n": "ce013625030ba8dba906f756967f9e9ca394464a",
		"":        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
	} {
		if got := BlobSHA([]byte(content)); got != want {
			t.Errorf("BlobSHA(%q) = %s, want %s", content, got, want)
		}
	}
}

func TestCommitFilesAndResolve(t *testing.T) {
	f := newRepo(t)
	err := f.WithRepo("acme/llm", func(r *Repo) error {
		base, _ := r.Branch("main")
		if err := r.CreateBranch("exp/1-x", base); err != nil {
			return err
		}
		sig := Signature{Name: "bot", Email: "bot@x", When: time.Unix(1700000001, 0)}
		c, err := r.CommitFiles("exp/1-x", base, "add", sig, sig, []FileChange{{Path: "dir/e.yaml", Content: []byte("lr: 1\n")}})
		if err != nil {
			return err
		}
		if head, _ := r.Branch("exp/1-x"); head != c.SHA || c.Parents[0] != base {
			t.Errorf("branch head %s, commit %+v: want the new commit on %s", head, c, base)
		}
		if main, _ := r.Branch("main"); main != base {
			t.Errorf("main moved")
		}
		if _, err := r.CommitFiles("exp/1-x", base, "stale", sig, sig, nil); !errors.Is(err, ErrConflict) {
			t.Errorf("commit on a moved head: %v, want ErrConflict", err)
		}
		old := c.Tree["dir/e.yaml"]
		c2, err := r.CommitFiles("exp/1-x", "", "change", sig, sig, []FileChange{{Path: "dir/e.yaml", Content: []byte("lr: 2\n")}})
		if err != nil {
			return err
		}
		if c2.Tree["dir/e.yaml"] == old {
			t.Errorf("blob sha did not change with the content")
		}
		if err := r.SetTag("v1", c.SHA); err != nil {
			return err
		}
		for ref, want := range map[string]string{
			"exp/1-x": c2.SHA, "refs/heads/exp/1-x": c2.SHA, "v1": c.SHA, "refs/tags/v1": c.SHA,
			c.SHA: c.SHA, c.SHA[:7]: c.SHA, "main": base,
		} {
			got, ok := r.Resolve(ref)
			if !ok || got.SHA != want {
				t.Errorf("Resolve(%q) = %v, %v; want %s", ref, got, ok, want)
			}
		}
		for _, ref := range []string{"nope", "refs/heads/nope", "abc", "0000000"} {
			if _, ok := r.Resolve(ref); ok {
				t.Errorf("Resolve(%q) found something", ref)
			}
		}
		if last := r.LastCommitFor(c2, "a.txt"); last.SHA != base {
			t.Errorf("LastCommitFor(a.txt) = %s, want the initial commit %s", last.SHA, base)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRefNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"exp/1-x": true, "a.b": true, "feature/x_y": true,
		"": false, "@": false, "/a": false, "a/": false, "a..b": false, "a.lock": false, "-a": false,
		"a b": false, "a~1": false, "a^": false, "a:b": false, "a?": false, "a*": false, "a[": false,
		"a\\b": false, "a//b": false, "a@{b": false, ".a": false, "a/.b": false, "a.": false, "a\x01": false,
	} {
		if err := checkRefName(name); (err == nil) != ok {
			t.Errorf("checkRefName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

func TestActionsEmitEvents(t *testing.T) {
	var seen []Event
	f := New(WithEventSink(func(evs []Event) { seen = append(seen, evs...) }))
	f.AddUser("alice", "Alice", "alice@example.com", "tok", false)
	if _, err := f.CreateRepo("acme/llm", "main", nil, Signature{}); err != nil {
		t.Fatal(err)
	}
	issue, _, err := f.OpenIssue("acme/llm", "alice", "t", "b", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.LabelIssue("acme/llm", issue.Number, "alice", []string{"x", "y"}, []string{"nope"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.LabelIssue("acme/llm", issue.Number, "alice", nil, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	body := "new"
	if _, err := f.EditIssue("acme/llm", issue.Number, "alice", nil, &body); err != nil {
		t.Fatal(err)
	}
	if _, err := f.SetIssueState("acme/llm", issue.Number, "alice", "closed"); err != nil {
		t.Fatal(err)
	}
	var kinds []EventKind
	for _, e := range seen {
		kinds = append(kinds, e.Kind)
	}
	want := []EventKind{IssueOpened, IssueLabeled, IssueLabeled, IssueUnlabeled, IssueEdited, IssueClosed}
	if !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	if l := seen[2]; l.Label != "y" || !slices.Equal(l.PrevLabels, []string{"x"}) || !slices.Equal(l.Issue.Labels, []string{"x", "y"}) {
		t.Errorf("second label event = %+v", l)
	}
	if e := seen[4]; e.Changes["body"] != "b" || e.Issue.Body != "new" {
		t.Errorf("edit event = %+v", e)
	}
	if _, err := f.LabelIssue("acme/llm", 99, "alice", []string{"x"}, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("label on a missing issue: %v", err)
	}
	if _, err := f.LabelIssue("acme/llm", issue.Number, "mallory", []string{"x"}, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown actor: %v", err)
	}
}

func TestMergeMovesBase(t *testing.T) {
	f := newRepo(t)
	c, _, err := f.PushFiles("acme/llm", "feature", "alice", "work", []FileChange{{Path: "b.txt", Content: []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	pr, _, err := f.OpenPull("acme/llm", "alice", "pr", "", "feature", "")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := f.SetIssueState("acme/llm", pr.Number, "alice", "merged")
	if err != nil || len(evs) != 1 || evs[0].Kind != PullMerged {
		t.Fatalf("merge: %v %v", evs, err)
	}
	_ = f.WithRepo("acme/llm", func(r *Repo) error {
		if head, _ := r.Branch("main"); head != c.SHA {
			t.Errorf("main = %s after merge, want %s", head, c.SHA)
		}
		return nil
	})
	if _, err := f.SetIssueState("acme/llm", pr.Number, "alice", "open"); !errors.Is(err, ErrConflict) {
		t.Errorf("reopening a merged pull request: %v, want ErrConflict", err)
	}
}
