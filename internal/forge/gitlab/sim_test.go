package gitlab_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/forge/forgetest"
	"github.com/expbot/expbot/internal/forge/gitlab"
)

var sim = forgetest.Forge{
	Token: "glpat-expbot-sim-token-abcdef", BadToken: "glpat-wrong-token-zzzzzzzzzz",
	// The instance root: the client adds api/v4/ itself.
	New: func(url, token string) (forge.Client, error) {
		return gitlab.New(gitlab.Config{APIURL: url, Token: token})
	},
	Web: "/-",
	CommentPath: func(th event.Thread, id int64) string {
		switch th.Kind {
		case event.IssueThread:
			return fmt.Sprintf("/-/issues/%d#note_%d", th.Number, id)
		case event.PullThread:
			return fmt.Sprintf("/-/merge_requests/%d#note_%d", th.Number, id)
		}
		return fmt.Sprintf("/-/commit/%s#note_%d", th.SHA, id)
	},
	CommitNotes: true,
	// +1 is GitHub's name for thumbsup; eyes again: GitLab says 404, the
	// client sees its own award.
	Reactions:      []string{":eyes:", "+1", "eyes"},
	Reacted:        []string{"eyes:expbot", "thumbsup:expbot"},
	CommitReactErr: errors.ErrUnsupported,
}

func TestAgainstSimulator(t *testing.T) { forgetest.Run(t, sim) }

// A commit note is edited through its discussion: a discussion that is
// not there is ErrNotFound.
func TestEditNoteOfMissingDiscussion(t *testing.T) {
	s := forgetest.NewSim(t, sim)
	ctx := context.Background()
	th := event.Thread{Kind: event.CommitThread, SHA: s.SHA(forgetest.Branch, false)}
	c, err := s.Client.CreateComment(ctx, forgetest.Repo, th, "x")
	if err != nil {
		t.Fatal(err)
	}
	c.Note = "0000000000000000000000000000000000000000"
	if err := s.Client.EditComment(ctx, forgetest.Repo, th, c, "y"); !errors.Is(err, forge.ErrNotFound) {
		t.Errorf("want ErrNotFound, got %v", err)
	}
}
