package ghsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// openIssueAndPull gives the fixture issue #1 (labelled, by rita) and pull
// request #2 (exp/x into main, by dev).
func openIssueAndPull(t *testing.T, fx *fixture) (state.Issue, state.Issue) {
	t.Helper()
	issue, _, err := fx.f.OpenIssue("acme/llm", "rita", "Try lr 0.2", "Please run\n```yaml\nlr: 0.2\n```", []string{"new-experiment"})
	must(t, err)
	_, _, err = fx.f.PushFiles("acme/llm", "exp/x", "dev", "x", []state.FileChange{{Path: "x", Content: []byte("x")}})
	must(t, err)
	pull, _, err := fx.f.OpenPull("acme/llm", "dev", "Variant x", "", "exp/x", "")
	must(t, err)
	fx.takeEvents()
	return issue, pull
}

func TestIssuesAndPulls(t *testing.T) {
	fx := newFixture(t)
	issue, pull := openIssueAndPull(t, fx)
	gh := fx.client(tokBot)

	i, _, err := gh.Issues.Get(t.Context(), "acme", "llm", issue.Number)
	must(t, err)
	if i.GetNumber() != 1 || i.GetTitle() != issue.Title || i.GetBody() != issue.Body || i.GetState() != "open" ||
		i.GetUser().GetLogin() != "rita" || i.GetAuthorAssociation() != "COLLABORATOR" || i.IsPullRequest() ||
		len(i.Labels) != 1 || i.Labels[0].GetName() != "new-experiment" || !strings.HasSuffix(i.GetHTMLURL(), "/acme/llm/issues/1") {
		t.Errorf("issue %+v", i)
	}
	pi, _, err := gh.Issues.Get(t.Context(), "acme", "llm", pull.Number)
	must(t, err)
	if !pi.IsPullRequest() || !strings.HasSuffix(pi.GetPullRequestLinks().GetURL(), "/repos/acme/llm/pulls/2") {
		t.Errorf("pull as issue %+v", pi)
	}

	p, _, err := gh.PullRequests.Get(t.Context(), "acme", "llm", pull.Number)
	must(t, err)
	if p.GetNumber() != 2 || p.GetState() != "open" || p.GetMerged() || p.GetUser().GetLogin() != "dev" ||
		p.GetHead().GetRef() != "exp/x" || p.GetHead().GetSHA() != fx.head("acme/llm", "exp/x") ||
		p.GetBase().GetRef() != "main" || p.GetBase().GetSHA() != fx.head("acme/llm", "main") ||
		p.GetHead().GetRepo().GetFullName() != "acme/llm" || p.GetBody() != "" {
		t.Errorf("pull %+v", p)
	}
	_, err = fx.f.SetIssueState("acme/llm", pull.Number, "maint", "merged")
	must(t, err)
	p, _, err = gh.PullRequests.Get(t.Context(), "acme", "llm", pull.Number)
	must(t, err)
	if !p.GetMerged() || p.GetState() != "closed" || p.MergedAt == nil {
		t.Errorf("merged pull %+v", p)
	}

	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"missing issue", func() error { _, _, err := gh.Issues.Get(t.Context(), "acme", "llm", 99); return err }},
		{"issue as pull", func() error { _, _, err := gh.PullRequests.Get(t.Context(), "acme", "llm", issue.Number); return err }},
		{"missing repository", func() error { _, _, err := gh.Issues.Get(t.Context(), "acme", "nope", 1); return err }},
	} {
		if err := tt.call(); statusOf(err) != http.StatusNotFound {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestIssueComments(t *testing.T) {
	fx := newFixture(t)
	issue, pull := openIssueAndPull(t, fx)
	gh := fx.client(tokBot)
	// Bodies are kept verbatim: markup, HTML comments, trailing spaces, unicode.
	body := "<!-- expbot:status -->\n**Queued** `exp/x` — ✅ & <b>done</b>  \n"

	c, resp, err := gh.Issues.CreateComment(t.Context(), "acme", "llm", issue.Number, &github.IssueComment{Body: github.String(body)})
	must(t, err)
	if resp.StatusCode != http.StatusCreated || c.GetBody() != body || c.GetUser().GetLogin() != botLogin || c.GetUser().GetType() != "Bot" ||
		c.GetID() == 0 || resp.Header.Get("Location") != c.GetURL() || !strings.Contains(c.GetHTMLURL(), "/acme/llm/issues/1#issuecomment-") ||
		!strings.HasSuffix(c.GetIssueURL(), "/repos/acme/llm/issues/1") {
		t.Fatalf("create: %d %+v", resp.StatusCode, c)
	}
	if r := fx.do(http.MethodGet, "/repos/acme/llm/issues/comments/"+itoa(c.GetID()), tokDev, nil); !strings.Contains(string(r.body), `"body":"<!-- expbot:status -->\n**Queued** `+"`exp/x`"+` — ✅ & <b>done</b>  \n"`) {
		t.Errorf("body not verbatim on the wire: %s", r.body)
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.CommentCreated || evs[0].Comment.Body != body || evs[0].Issue.Number != issue.Number {
		t.Errorf("create events %+v", evs)
	}

	// Anyone signed in may comment on a public repository.
	pc, _, err := fx.client(tokNobody).Issues.CreateComment(t.Context(), "acme", "llm", pull.Number, &github.IssueComment{Body: github.String("/experiment lr=0.3")})
	must(t, err)
	if !strings.Contains(pc.GetHTMLURL(), "/acme/llm/pull/2#issuecomment-") || pc.GetAuthorAssociation() != "NONE" {
		t.Errorf("pull comment %+v", pc)
	}

	got, _, err := gh.Issues.GetComment(t.Context(), "acme", "llm", c.GetID())
	must(t, err)
	if got.GetBody() != body || got.GetID() != c.GetID() {
		t.Errorf("get %+v", got)
	}

	edited, _, err := gh.Issues.EditComment(t.Context(), "acme", "llm", c.GetID(), &github.IssueComment{Body: github.String("done")})
	must(t, err)
	if edited.GetBody() != "done" || !edited.GetUpdatedAt().After(c.GetUpdatedAt().Time) {
		t.Errorf("edit %+v", edited)
	}
	evs = fx.takeEvents()
	if len(evs) != 2 || evs[1].Kind != state.CommentEdited || evs[1].Changes["body"] != body || evs[1].Comment.Body != "done" || evs[1].Issue == nil {
		t.Errorf("edit events %+v", evs)
	}

	errTests := []struct {
		name   string
		call   func() error
		status int
	}{
		{"edit someone else's without push access", func() error {
			_, _, err := fx.client(tokRita).Issues.EditComment(t.Context(), "acme", "llm", c.GetID(), &github.IssueComment{Body: github.String("x")})
			return err
		}, http.StatusForbidden},
		{"comment on missing issue", func() error {
			_, _, err := gh.Issues.CreateComment(t.Context(), "acme", "llm", 99, &github.IssueComment{Body: github.String("x")})
			return err
		}, http.StatusNotFound},
		{"empty body", func() error {
			_, _, err := gh.Issues.CreateComment(t.Context(), "acme", "llm", issue.Number, &github.IssueComment{Body: github.String("")})
			return err
		}, http.StatusUnprocessableEntity},
		{"missing comment", func() error { _, _, err := gh.Issues.GetComment(t.Context(), "acme", "llm", 999999); return err }, http.StatusNotFound},
	}
	for _, tt := range errTests {
		if err := tt.call(); statusOf(err) != tt.status {
			t.Errorf("%s: %v, want %d", tt.name, err, tt.status)
		}
	}
	// Someone with push access may edit another's comment.
	if _, _, err := fx.client(tokMaint).Issues.EditComment(t.Context(), "acme", "llm", pc.GetID(), &github.IssueComment{Body: github.String("moderated")}); err != nil {
		t.Errorf("maintainer edit: %v", err)
	}
}

func TestIssueCommentPagination(t *testing.T) {
	fx := newFixture(t)
	issue, _ := openIssueAndPull(t, fx)
	for i := range 5 {
		_, _, err := fx.f.Comment("acme/llm", issue.Number, "", "dev", "c"+itoa(int64(i)))
		must(t, err)
	}
	gh := fx.client(tokDev)
	var bodies []string
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 2}}
	pages := 0
	for {
		cs, resp, err := gh.Issues.ListComments(t.Context(), "acme", "llm", issue.Number, opts)
		must(t, err)
		pages++
		if pages == 1 && (resp.LastPage != 3 || resp.NextPage != 2) {
			t.Errorf("first page links: next %d last %d (%s)", resp.NextPage, resp.LastPage, resp.Header.Get("Link"))
		}
		for _, c := range cs {
			bodies = append(bodies, c.GetBody())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	if pages != 3 || !slices.Equal(bodies, []string{"c0", "c1", "c2", "c3", "c4"}) {
		t.Errorf("%d pages, bodies %v", pages, bodies)
	}
	all5, _, err := gh.Issues.ListComments(t.Context(), "acme", "llm", issue.Number, nil)
	must(t, err)
	since := all5[2].GetUpdatedAt().Time
	recent, _, err := gh.Issues.ListComments(t.Context(), "acme", "llm", issue.Number, &github.IssueListCommentsOptions{Since: &since})
	must(t, err)
	if len(recent) != 3 || recent[0].GetBody() != "c2" {
		t.Errorf("since %v: %v", since, recent)
	}
	if r := fx.do(http.MethodGet, "/repos/acme/llm/issues/1/comments?since=yesterday", tokDev, nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("bad since: %d", r.status)
	}
	if _, _, err := gh.Issues.ListComments(t.Context(), "acme", "llm", 99, nil); statusOf(err) != http.StatusNotFound {
		t.Errorf("comments of missing issue: %v", err)
	}
	all, _, err := gh.Issues.ListComments(t.Context(), "acme", "llm", 0, nil) // 0 = every issue of the repository
	must(t, err)
	if len(all) != 5 {
		t.Errorf("repository comments %d", len(all))
	}
}

func TestReactions(t *testing.T) {
	fx := newFixture(t)
	issue, _ := openIssueAndPull(t, fx)
	c, _, err := fx.f.Comment("acme/llm", issue.Number, "", "rita", "/experiment")
	must(t, err)
	fx.takeEvents()
	gh := fx.client(tokBot)

	r, resp, err := gh.Reactions.CreateIssueCommentReaction(t.Context(), "acme", "llm", c.ID, "eyes")
	must(t, err)
	if resp.StatusCode != http.StatusCreated || r.GetContent() != "eyes" || r.GetUser().GetLogin() != botLogin {
		t.Errorf("first reaction: %d %+v", resp.StatusCode, r)
	}
	again, resp, err := gh.Reactions.CreateIssueCommentReaction(t.Context(), "acme", "llm", c.ID, "eyes")
	must(t, err)
	if resp.StatusCode != http.StatusOK || again.GetID() != r.GetID() {
		t.Errorf("repeated reaction: %d %+v", resp.StatusCode, again)
	}
	if _, _, err := gh.Reactions.CreateIssueCommentReaction(t.Context(), "acme", "llm", c.ID, "tada"); statusOf(err) != http.StatusUnprocessableEntity {
		t.Errorf("invalid content: %v", err)
	}
	if _, _, err := gh.Reactions.CreateIssueCommentReaction(t.Context(), "acme", "llm", 999999, "eyes"); statusOf(err) != http.StatusNotFound {
		t.Errorf("missing comment: %v", err)
	}
	_, _, err = fx.client(tokDev).Reactions.CreateIssueCommentReaction(t.Context(), "acme", "llm", c.ID, "+1")
	must(t, err)

	must(t, fx.f.WithRepo("acme/llm", func(r *state.Repo) error {
		cm, _ := r.Comment(c.ID)
		if !slices.Equal(cm.Reactions, []string{"eyes:" + botLogin, "+1:dev"}) {
			t.Errorf("stored reactions %v", cm.Reactions)
		}
		return nil
	}))
	list, _, err := gh.Reactions.ListIssueCommentReactions(t.Context(), "acme", "llm", c.ID, nil)
	must(t, err)
	if len(list) != 2 || list[0].GetUser().GetLogin() != botLogin || list[1].GetContent() != "+1" {
		t.Errorf("list %v", list)
	}
	var eyes []reactionJSON
	fx.do(http.MethodGet, "/repos/acme/llm/issues/comments/"+itoa(c.ID)+"/reactions?content=eyes", tokDev, nil).json(t, &eyes)
	if len(eyes) != 1 || eyes[0].User.Login != botLogin {
		t.Errorf("filtered list %v", eyes)
	}
	got, _, err := gh.Issues.GetComment(t.Context(), "acme", "llm", c.ID)
	must(t, err)
	if got.GetReactions().GetTotalCount() != 2 || got.GetReactions().GetEyes() != 1 || got.GetReactions().GetPlusOne() != 1 {
		t.Errorf("reaction summary %+v", got.GetReactions())
	}
	if evs := fx.takeEvents(); len(evs) != 0 {
		t.Errorf("reactions reported events %+v", evs)
	}
}

func TestCommitComments(t *testing.T) {
	fx := newFixture(t)
	main := fx.head("acme/llm", "main")
	gh := fx.client(tokBot)

	c, resp, err := gh.Repositories.CreateComment(t.Context(), "acme", "llm", main, &github.RepositoryComment{Body: github.String("Tag v1: queued")})
	must(t, err)
	if resp.StatusCode != http.StatusCreated || c.GetCommitID() != main || c.GetBody() != "Tag v1: queued" ||
		!strings.Contains(c.GetHTMLURL(), "/acme/llm/commit/"+main+"#commitcomment-") {
		t.Fatalf("create: %d %+v", resp.StatusCode, c)
	}
	evs := fx.takeEvents()
	if len(evs) != 1 || evs[0].Kind != state.CommentCreated || evs[0].Comment.CommitSHA != main || evs[0].Issue != nil {
		t.Errorf("create events %+v", evs)
	}
	list, _, err := gh.Repositories.ListCommitComments(t.Context(), "acme", "llm", main, nil)
	must(t, err)
	if len(list) != 1 || list[0].GetID() != c.GetID() {
		t.Errorf("list %v", list)
	}
	all, _, err := gh.Repositories.ListComments(t.Context(), "acme", "llm", nil)
	must(t, err)
	if len(all) != 1 {
		t.Errorf("repository commit comments %v", all)
	}
	edited, _, err := gh.Repositories.UpdateComment(t.Context(), "acme", "llm", c.GetID(), &github.RepositoryComment{Body: github.String("Tag v1: done")})
	must(t, err)
	if edited.GetBody() != "Tag v1: done" {
		t.Errorf("edit %+v", edited)
	}
	got, _, err := gh.Repositories.GetComment(t.Context(), "acme", "llm", c.GetID())
	must(t, err)
	if got.GetBody() != "Tag v1: done" {
		t.Errorf("get %+v", got)
	}
	if _, resp, err := gh.Reactions.CreateCommentReaction(t.Context(), "acme", "llm", c.GetID(), "rocket"); err != nil || resp.StatusCode != http.StatusCreated {
		t.Errorf("commit comment reaction: %v", err)
	}
	reactions, _, err := gh.Reactions.ListCommentReactions(t.Context(), "acme", "llm", c.GetID(), nil)
	must(t, err)
	if len(reactions) != 1 || reactions[0].GetContent() != "rocket" || reactions[0].GetUser().GetLogin() != botLogin {
		t.Errorf("commit comment reactions %v", reactions)
	}

	// Issue and commit comments are separate resources.
	if _, _, err := gh.Issues.GetComment(t.Context(), "acme", "llm", c.GetID()); statusOf(err) != http.StatusNotFound {
		t.Errorf("commit comment as issue comment: %v", err)
	}
	if _, _, err := gh.Repositories.CreateComment(t.Context(), "acme", "llm", strings.Repeat("9", 40), &github.RepositoryComment{Body: github.String("x")}); statusOf(err) != http.StatusNotFound {
		t.Errorf("comment on missing commit: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
