package forgesim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestClientDrivesAForge(t *testing.T) {
	ctx := context.Background()
	e := newSim(t, fakeOptions()...)
	c := e.client
	rc := newReceiver(t, http.StatusAccepted, "")

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u, err := c.AddUser(ctx, UserRequest{Login: "alice", Name: "Alice", Email: "a@example.com", Token: "pat"})
	must(err)
	if u.Login != "alice" || u.ID == 0 {
		t.Errorf("user %+v", u)
	}
	org, err := c.AddOrg(ctx, "grp")
	must(err)
	if org.ID == 0 {
		t.Errorf("org %+v", org)
	}
	const repo = "grp/sub/proj" // a GitLab subgroup: the owner part holds a slash
	info, err := c.CreateRepo(ctx, RepoRequest{FullName: repo, Files: map[string]string{"a.yaml": "a: 1\n"}})
	must(err)
	if info.FullName != repo || info.DefaultBranch != "main" {
		t.Errorf("repo %+v", info)
	}
	must(c.SetMember(ctx, repo, "alice", state.Developer))
	if lvl, _ := e.srv.Forge().Access(repo, "alice"); lvl != state.Developer {
		t.Errorf("access %d, want developer", lvl)
	}
	hook, err := c.AddHook(ctx, repo, HookRequest{Flavor: GitHub, URL: rc.URL, Secret: "k"})
	must(err)
	if hook.ID == 0 || hook.Secret != "" {
		t.Errorf("hook %+v: want an id and no secret", hook)
	}

	iss, err := c.OpenIssue(ctx, repo, IssueRequest{Actor: "alice", Title: "Try lr 0.1", Labels: []string{"x"}})
	must(err)
	if iss.Issue.Number != 1 || len(iss.Deliveries) != 1 || iss.Deliveries[0].Status != http.StatusAccepted {
		t.Errorf("open issue: %+v", iss)
	}
	title := "Try lr 0.2"
	ed, err := c.EditIssue(ctx, repo, 1, IssueEdit{Actor: "alice", Title: &title})
	must(err)
	if ed.Issue.Title != title || len(ed.Deliveries) != 1 {
		t.Errorf("edit: %+v", ed)
	}
	lb, err := c.LabelIssue(ctx, repo, 1, LabelEdit{Actor: "alice", Add: []string{"new-experiment"}, Remove: []string{"x"}})
	must(err)
	if !slices.Equal(lb.Issue.Labels, []string{"new-experiment"}) || len(lb.Deliveries) != 2 {
		t.Errorf("labels: %+v", lb)
	}
	cm, err := c.Comment(ctx, repo, 1, CommentRequest{Actor: "alice", Body: "/experiment lr=0.2"})
	must(err)
	if cm.Comment.ID == 0 || cm.Comment.Issue != 1 || len(cm.Deliveries) != 1 {
		t.Errorf("comment: %+v", cm)
	}
	pushed, err := c.Push(ctx, repo, PushRequest{Actor: "alice", Branch: "exp/lr", Message: "lr", Files: map[string]*string{"b.yaml": new("b: 2\n"), "a.yaml": nil}})
	must(err)
	if pushed.Commit.SHA == "" || len(pushed.Commit.Parents) != 1 || len(pushed.Deliveries) != 1 {
		t.Errorf("push: %+v", pushed)
	}
	pr, err := c.OpenPull(ctx, repo, PullRequestRequest{Actor: "alice", Title: "lr", Head: "exp/lr"})
	must(err)
	if !pr.Issue.IsPull || pr.Issue.Base != "main" || pr.Issue.Number != 2 {
		t.Errorf("pull: %+v", pr)
	}
	tag, err := c.PushTag(ctx, repo, "exp/v1", TagRequest{Actor: "alice", Ref: "exp/lr"})
	must(err)
	if tag.Tag != "exp/v1" || tag.SHA != pushed.Commit.SHA || len(tag.Deliveries) != 1 {
		t.Errorf("tag: %+v", tag)
	}
	cc, err := c.CommentCommit(ctx, repo, tag.SHA[:7], CommentRequest{Actor: "alice", Body: "on a commit"})
	must(err)
	if cc.Comment.CommitSHA != tag.SHA {
		t.Errorf("commit comment on %q, want %s", cc.Comment.CommitSHA, tag.SHA)
	}
	ds, err := c.DeleteTag(ctx, repo, "exp/v1", "alice")
	must(err)
	if len(ds) != 1 || ds[0].Kind != state.TagDeleted {
		t.Errorf("delete tag: %+v", ds)
	}

	st, err := c.Repo(ctx, repo)
	must(err)
	if st.Branches["exp/lr"] != pushed.Commit.SHA || len(st.Tags) != 0 {
		t.Errorf("branches %v tags %v", st.Branches, st.Tags)
	}
	if _, ok := st.Files["exp/lr"]["a.yaml"]; ok || st.Files["exp/lr"]["b.yaml"] != "b: 2\n" || st.Files["main"]["a.yaml"] != "a: 1\n" {
		t.Errorf("files %v", st.Files)
	}
	if len(st.Commits) != 2 || st.Commits[0].SHA != pushed.Commit.SHA || st.Commits[1].SHA != pushed.Commit.Parents[0] || len(st.Commits[1].Parents) != 0 {
		t.Errorf("commits %+v, want the push then its parent", st.Commits)
	}
	if len(st.Issues) != 2 || len(st.Comments) != 2 || len(st.Hooks) != 1 {
		t.Errorf("issues %d comments %d hooks %d", len(st.Issues), len(st.Comments), len(st.Hooks))
	}

	// Deleting a branch, as a person would: a push webhook with After = 0.
	ds, err = c.DeleteBranch(ctx, repo, "exp/lr", "alice")
	must(err)
	if len(ds) != 1 || ds[0].Kind != state.BranchPushed {
		t.Errorf("delete branch: %+v", ds)
	}
	st, err = c.Repo(ctx, repo)
	must(err)
	if _, ok := st.Branches["exp/lr"]; ok || st.Branches["main"] == "" {
		t.Errorf("after deleting exp/lr: branches %v", st.Branches)
	}
	if _, err := c.DeleteBranch(ctx, repo, "exp/lr", "alice"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("deleting it again: %v, want not found", err)
	}
	if _, err := c.DeleteBranch(ctx, repo, "main", "alice"); !errors.Is(err, state.ErrInvalid) {
		t.Errorf("deleting the default branch: %v, want invalid", err)
	}

	all, err := c.Deliveries(ctx, repo)
	must(err)
	// 1 open + 1 edit + 2 labels + 1 comment + 1 push + 1 pull + 1 tag + 1 commit comment + 1 tag deletion + 1 branch deletion
	if len(all) != 11 || len(rc.requests()) != 11 {
		t.Errorf("%d deliveries recorded, %d received; want 11", len(all), len(rc.requests()))
	}
	if other, err := c.Deliveries(ctx, "acme/none"); err != nil || len(other) != 0 {
		t.Errorf("filter by repo: %d, %v", len(other), err)
	}
	again, err := c.Redeliver(ctx, all[0].ID)
	must(err)
	if len(again) != 1 || again[0].ID != all[0].ID || !again[0].Redelivery {
		t.Errorf("redeliver: %+v", again)
	}
	recs, err := c.Delivery(ctx, all[0].ID)
	must(err)
	if len(recs) != 2 || recs[0].Redelivery || !recs[1].Redelivery {
		t.Errorf("delivery records: %+v", recs)
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	e := newSim(t, fakeOptions()...)
	e.seedBasic(t)
	tests := []struct {
		name   string
		call   func() error
		want   error
		status int
	}{
		{"unknown repo", func() error { _, err := e.client.Repo(ctx, "acme/none"); return err }, state.ErrNotFound, 404},
		{"repo exists", func() error {
			_, err := e.client.CreateRepo(ctx, RepoRequest{FullName: "acme/llm"})
			return err
		}, state.ErrExists, 409},
		{"merged pull cannot reopen", func() error {
			f := e.srv.Forge()
			if _, _, err := f.PushFiles("acme/llm", "b", "alice", "m", []state.FileChange{{Path: "x", Content: []byte("x")}}); err != nil {
				return err
			}
			if _, _, err := f.OpenPull("acme/llm", "alice", "p", "", "b", ""); err != nil {
				return err
			}
			if _, err := f.SetIssueState("acme/llm", 2, "alice", "merged"); err != nil {
				return err
			}
			_, err := e.client.EditIssue(ctx, "acme/llm", 2, IssueEdit{Actor: "alice", State: "open"})
			return err
		}, state.ErrConflict, 409},
		{"missing field", func() error { _, err := e.client.AddUser(ctx, UserRequest{}); return err }, state.ErrInvalid, 400},
		{"unknown actor", func() error {
			_, err := e.client.Comment(ctx, "acme/llm", 1, CommentRequest{Actor: "ghost", Body: "x"})
			return err
		}, state.ErrNotFound, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Message == "" {
				t.Fatalf("err %v, want an APIError with status %d", err, tc.status)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("errors.Is(%v, %v) = false", err, tc.want)
			}
		})
	}
	if _, err := NewClient("http://127.0.0.1:1", nil).Deliveries(ctx, ""); err == nil {
		t.Errorf("no error from an unreachable forge")
	}
}
