package glsim

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// issueAndMR opens an issue (#1) and a merge request (!2) from exp/mr.
func issueAndMR(t *testing.T, fx *fixture) (issue, mr state.Issue, source string) {
	t.Helper()
	issue, _, err := fx.f.OpenIssue(project, "dev", "Try lr 2", "please", []string{"new-experiment"})
	if err != nil {
		t.Fatal(err)
	}
	cm, _, err := fx.f.PushFiles(project, "exp/mr", "dev", "variant", []state.FileChange{{Path: "v.yaml", Content: []byte("v")}})
	if err != nil {
		t.Fatal(err)
	}
	mr, _, err = fx.f.OpenPull(project, "dev", "Variant", "body", "exp/mr", "")
	if err != nil {
		t.Fatal(err)
	}
	fx.takeEvents()
	return issue, mr, cm.SHA
}

func TestGetIssueAndMergeRequest(t *testing.T) {
	fx := newFixture(t)
	issue, mr, source := issueAndMR(t, fx)
	gl := fx.client("guest")
	i, _, err := gl.Issues.GetIssue(project, issue.Number)
	if err != nil {
		t.Fatal(err)
	}
	if i.IID != issue.Number || i.ID == 0 || i.Title != "Try lr 2" || i.Description != "please" || i.State != "opened" ||
		len(i.Labels) != 1 || i.Labels[0] != "new-experiment" || i.Author == nil || i.Author.Username != "dev" ||
		i.WebURL != fx.srv.URL+"/acme/llm/-/issues/1" || i.ProjectID != int(fx.repo.ID) || i.References.Full != "acme/llm#1" {
		t.Errorf("issue = %+v", i)
	}
	m, _, err := gl.MergeRequests.GetMergeRequest(project, mr.Number, nil)
	if err != nil {
		t.Fatal(err)
	}
	mainHead := fx.head("main")
	if m.IID != mr.Number || m.State != "opened" || m.SourceBranch != "exp/mr" || m.TargetBranch != "main" || m.SHA != source ||
		m.DiffRefs.HeadSha != source || m.DiffRefs.StartSha != mainHead || m.DiffRefs.BaseSha != mainHead ||
		m.Author.Username != "dev" || m.WebURL != fx.srv.URL+"/acme/llm/-/merge_requests/2" {
		t.Errorf("merge request = %+v diff_refs %+v", m, m.DiffRefs)
	}
	if _, err := fx.f.SetIssueState(project, mr.Number, "maint", "merged"); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := gl.MergeRequests.GetMergeRequest(project, mr.Number, nil); m == nil || m.State != "merged" || m.MergedAt == nil {
		t.Errorf("merged MR = %+v", m)
	}
	// Issues and merge requests share the model's numbering but not endpoints.
	for _, path := range []string{"/projects/acme%2Fllm/issues/2", "/projects/acme%2Fllm/merge_requests/1", "/projects/acme%2Fllm/issues/99"} {
		r := fx.do(http.MethodGet, path, "tok-dev", "", "")
		if r.status != http.StatusNotFound || r.decode(t)["message"] != "404 Not found" {
			t.Errorf("GET %s = %d %s", path, r.status, r.body)
		}
	}
}

func TestIssueNotes(t *testing.T) {
	fx := newFixture(t)
	issue, _, _ := issueAndMR(t, fx)
	bot := fx.client("expbot")
	n, resp, err := bot.Notes.CreateIssueNote(project, issue.Number, &gitlab.CreateIssueNoteOptions{Body: gitlab.Ptr("Working on it")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || n.Body != "Working on it" || n.Author.Username != "expbot" || n.System ||
		n.NoteableType != "Issue" || n.NoteableIID != issue.Number || n.NoteableID == 0 || n.CreatedAt == nil || n.UpdatedAt == nil {
		t.Errorf("note = %+v", n)
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.CommentCreated || evs[0].Comment.ID != int64(n.ID) || evs[0].Issue == nil || evs[0].Issue.Number != issue.Number {
		t.Errorf("create events = %+v", evs)
	}

	edited, _, err := bot.Notes.UpdateIssueNote(project, issue.Number, n.ID, &gitlab.UpdateIssueNoteOptions{Body: gitlab.Ptr("Done")})
	if err != nil || edited.Body != "Done" || !edited.UpdatedAt.After(*edited.CreatedAt) {
		t.Errorf("edit = %+v, %v", edited, err)
	}
	evs = fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.CommentEdited || evs[0].Comment.Body != "Done" {
		t.Errorf("edit events = %+v", evs)
	}
	got, _, err := fx.client("guest").Notes.GetIssueNote(project, issue.Number, n.ID)
	if err != nil || got.Body != "Done" {
		t.Errorf("GetIssueNote = %+v, %v", got, err)
	}

	if _, _, err := fx.client("dev").Notes.CreateIssueNote(project, issue.Number, &gitlab.CreateIssueNoteOptions{Body: gitlab.Ptr("second")}); err != nil {
		t.Fatal(err)
	}
	list, _, err := bot.Notes.ListIssueNotes(project, issue.Number, nil)
	if err != nil || len(list) != 2 || list[0].Body != "second" {
		t.Errorf("notes, newest first by default = %+v, %v", list, err)
	}
	asc, _, err := bot.Notes.ListIssueNotes(project, issue.Number, &gitlab.ListIssueNotesOptions{Sort: gitlab.Ptr("asc")})
	if err != nil || len(asc) != 2 || asc[0].Body != "Done" {
		t.Errorf("notes ascending = %+v, %v", asc, err)
	}

	// Someone else's note: a developer may not edit it, a maintainer may.
	if _, _, err := fx.client("dev").Notes.UpdateIssueNote(project, issue.Number, n.ID, &gitlab.UpdateIssueNoteOptions{Body: gitlab.Ptr("hijack")}); errorStatus(err) != http.StatusForbidden {
		t.Errorf("developer editing another's note: %v", err)
	}
	if _, _, err := fx.client("maint").Notes.UpdateIssueNote(project, issue.Number, n.ID, &gitlab.UpdateIssueNoteOptions{Body: gitlab.Ptr("moderated")}); err != nil {
		t.Errorf("maintainer editing another's note: %v", err)
	}

	mrNote, _, err := fx.client("dev").Notes.CreateMergeRequestNote(project, 2, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr("on the MR")})
	if err != nil {
		t.Fatal(err)
	}
	base := "/projects/acme%2Fllm/issues/"
	tests := []struct {
		name, method, path, body string
		status                   int
		key                      string
		message                  any
	}{
		{"unknown issue", "POST", base + "99/notes", `{"body":"x"}`, 404, "message", "404 Issue Not Found"},
		{"MR number on issue endpoint", "GET", base + "2/notes", "", 404, "message", "404 Issue Not Found"},
		{"missing body", "POST", base + "1/notes", `{}`, 400, "error", "body is missing"},
		{"unknown note", "GET", base + "1/notes/424242", "", 404, "message", "404 Not found"},
		{"edit unknown note", "PUT", base + "1/notes/424242", `{"body":"x"}`, 404, "message", "404 Not found"},
		{"note of the MR via the issue", "GET", base + "1/notes/" + strconv.Itoa(mrNote.ID), "", 404, "message", "404 Not found"},
		{"edit note of the MR via the issue", "PUT", base + "1/notes/" + strconv.Itoa(mrNote.ID), `{"body":"x"}`, 404, "message", "404 Not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.do(tt.method, tt.path, "tok-dev", "application/json", tt.body)
			if r.status != tt.status || r.decode(t)[tt.key] != tt.message {
				t.Errorf("= %d %s, want %d %v", r.status, r.body, tt.status, tt.message)
			}
		})
	}
	r := fx.do(http.MethodPost, base+"1/notes", "tok-dev", "application/json", `{"body":"  "}`)
	if r.status != http.StatusBadRequest || string(r.body) != `{"message":{"note":["can't be blank"]}}`+"\n" {
		t.Errorf("blank note = %d %s", r.status, r.body)
	}
}

func TestMergeRequestNotesAndAwards(t *testing.T) {
	fx := newFixture(t)
	_, mr, _ := issueAndMR(t, fx)
	dev := fx.client("dev")
	n, _, err := dev.Notes.CreateMergeRequestNote(project, mr.Number, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr("/experiment lr=3")})
	if err != nil {
		t.Fatal(err)
	}
	if n.NoteableType != "MergeRequest" || n.NoteableIID != mr.Number {
		t.Errorf("MR note = %+v", n)
	}
	if evs := fx.takeEvents(); len(evs) != 1 || evs[0].Issue == nil || !evs[0].Issue.IsPull {
		t.Errorf("MR note events = %+v", evs)
	}
	bot := fx.client("expbot")
	award, resp, err := bot.AwardEmoji.CreateMergeRequestAwardEmojiOnNote(project, mr.Number, n.ID, &gitlab.CreateAwardEmojiOptions{Name: "eyes"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || award.Name != "eyes" || award.User.Username != "expbot" || award.AwardableID != n.ID || award.AwardableType != "Note" {
		t.Errorf("award = %+v", award)
	}
	var reactions []string
	if err := fx.f.WithRepo(project, func(r *state.Repo) error {
		c, _ := r.Comment(int64(n.ID))
		reactions = append(reactions, c.Reactions...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(reactions) != 1 || reactions[0] != "eyes:expbot" {
		t.Errorf("stored reactions = %v", reactions)
	}
	if _, _, err := bot.AwardEmoji.CreateMergeRequestAwardEmojiOnNote(project, mr.Number, n.ID, &gitlab.CreateAwardEmojiOptions{Name: "eyes"}); errorStatus(err) != http.StatusNotFound {
		t.Errorf("repeated award: %v", err)
	}
	if _, _, err := dev.AwardEmoji.CreateMergeRequestAwardEmojiOnNote(project, mr.Number, n.ID, &gitlab.CreateAwardEmojiOptions{Name: "thumbsup"}); err != nil {
		t.Fatal(err)
	}
	awards, _, err := dev.AwardEmoji.ListMergeRequestAwardEmojiOnNote(project, mr.Number, n.ID, nil)
	if err != nil || len(awards) != 2 || awards[0].Name != "eyes" || awards[1].User.Username != "dev" || awards[0].ID == awards[1].ID {
		t.Errorf("awards = %+v, %v", awards, err)
	}
	if _, _, err := dev.AwardEmoji.CreateMergeRequestAwardEmojiOnNote(project, mr.Number, 424242, &gitlab.CreateAwardEmojiOptions{Name: "eyes"}); errorStatus(err) != http.StatusNotFound {
		t.Errorf("award on unknown note: %v", err)
	}

	// Awards on issue notes too.
	issueNote, _, err := dev.Notes.CreateIssueNote(project, 1, &gitlab.CreateIssueNoteOptions{Body: gitlab.Ptr("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bot.AwardEmoji.CreateIssuesAwardEmojiOnNote(project, 1, issueNote.ID, &gitlab.CreateAwardEmojiOptions{Name: "rocket"}); err != nil {
		t.Errorf("award on issue note: %v", err)
	}
	r := fx.do(http.MethodPost, "/projects/acme%2Fllm/issues/1/notes/"+strconv.Itoa(issueNote.ID)+"/award_emoji", "tok-dev", "application/json", `{}`)
	if r.status != http.StatusBadRequest || r.decode(t)["error"] != "name is missing, name is empty" {
		t.Errorf("award without name = %d %s", r.status, r.body)
	}

	edited, _, err := dev.Notes.UpdateMergeRequestNote(project, mr.Number, n.ID, &gitlab.UpdateMergeRequestNoteOptions{Body: gitlab.Ptr("/experiment lr=4")})
	if err != nil || edited.Body != "/experiment lr=4" {
		t.Errorf("MR note edit = %+v, %v", edited, err)
	}
	list, _, err := dev.Notes.ListMergeRequestNotes(project, mr.Number, nil)
	if err != nil || len(list) != 1 {
		t.Errorf("MR notes = %+v, %v", list, err)
	}
}

func TestCommitCommentsAndDiscussions(t *testing.T) {
	fx := newFixture(t)
	head := fx.head("main")
	if _, err := fx.f.PushTag(project, "dev", "exp-v1", "main"); err != nil {
		t.Fatal(err)
	}
	fx.takeEvents()
	bot := fx.client("expbot")

	cc, resp, err := bot.Commits.PostCommitComment(project, "exp-v1", &gitlab.PostCommitCommentOptions{Note: gitlab.Ptr("seen")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || cc.Note != "seen" || cc.Author.Username != "expbot" {
		t.Errorf("commit comment = %+v", cc)
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.CommentCreated || evs[0].Comment.CommitSHA != head || evs[0].Issue != nil {
		t.Errorf("commit comment events = %+v", evs)
	}
	comments, _, err := bot.Commits.GetCommitComments(project, head, nil)
	if err != nil || len(comments) != 1 || comments[0].Note != "seen" {
		t.Errorf("commit comments = %+v, %v", comments, err)
	}

	d, resp, err := bot.Discussions.CreateCommitDiscussion(project, head, &gitlab.CreateCommitDiscussionOptions{Body: gitlab.Ptr("Status: queued")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || len(d.ID) != 40 || len(d.Notes) != 1 || d.Notes[0].Body != "Status: queued" ||
		d.Notes[0].NoteableType != "Commit" || d.Notes[0].Type != "DiscussionNote" {
		t.Errorf("discussion = %+v notes %+v", d, d.Notes)
	}
	fx.takeEvents()
	noteID := d.Notes[0].ID
	edited, _, err := bot.Discussions.UpdateCommitDiscussionNote(project, head, d.ID, noteID, &gitlab.UpdateCommitDiscussionNoteOptions{Body: gitlab.Ptr("Status: done")})
	if err != nil || edited.Body != "Status: done" || edited.ID != noteID {
		t.Fatalf("edit discussion note = %+v, %v", edited, err)
	}
	evs = fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.CommentEdited || evs[0].Comment.CommitSHA != head || evs[0].Comment.Body != "Status: done" {
		t.Errorf("edit events = %+v", evs)
	}
	got, _, err := bot.Discussions.GetCommitDiscussion(project, head, d.ID)
	if err != nil || got.Notes[0].Body != "Status: done" {
		t.Errorf("GetCommitDiscussion = %+v, %v", got, err)
	}
	all, _, err := bot.Discussions.ListCommitDiscussions(project, head, nil)
	if err != nil || len(all) != 2 {
		t.Errorf("commit discussions = %+v, %v (the comment and the discussion)", all, err)
	}

	other := strconv.Itoa(noteID)
	tests := []struct {
		name, method, path, token, body string
		status                          int
		message                         string
	}{
		{"unknown commit", "POST", "/projects/acme%2Fllm/repository/commits/deadbeefdead/discussions", "tok-dev", `{"body":"x"}`, 404, "404 Commit Not Found"},
		{"unknown discussion", "GET", "/projects/acme%2Fllm/repository/commits/" + head + "/discussions/0000", "tok-dev", "", 404, "404 Discussion Not Found"},
		{"wrong discussion for note", "PUT", "/projects/acme%2Fllm/repository/commits/" + head + "/discussions/" + discussionID(1) + "/notes/" + other, "tok-expbot", `{"body":"x"}`, 404, "404 Discussion Not Found"},
		{"someone else's note", "PUT", "/projects/acme%2Fllm/repository/commits/" + head + "/discussions/" + d.ID + "/notes/" + other, "tok-dev", `{"body":"x"}`, 403, "403 Forbidden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fx.do(tt.method, tt.path, tt.token, "application/json", tt.body)
			if r.status != tt.status || r.decode(t)["message"] != tt.message {
				t.Errorf("= %d %s, want %d %q", r.status, r.body, tt.status, tt.message)
			}
		})
	}
}
