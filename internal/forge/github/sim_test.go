package github_test

import (
	"fmt"
	"testing"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/forge/forgetest"
	"github.com/expbot/expbot/internal/forge/github"
)

func TestAgainstSimulator(t *testing.T) {
	forgetest.Run(t, forgetest.Forge{
		Token: "ghp_expbot-sim-token-abcdef", BadToken: "ghp_wrong-token-zzzzzzzzzz",
		New: func(url, token string) (forge.Client, error) {
			return github.New(github.Config{APIURL: url + "/", Token: token})
		},
		CommentPath: func(th event.Thread, id int64) string {
			switch th.Kind {
			case event.IssueThread:
				return fmt.Sprintf("/issues/%d#issuecomment-%d", th.Number, id)
			case event.PullThread:
				return fmt.Sprintf("/pull/%d#issuecomment-%d", th.Number, id)
			}
			return fmt.Sprintf("/commit/%s#commitcomment-%d", th.SHA, id)
		},
		Reactions: []string{"eyes", ":thumbsup:", "eyes"}, // :thumbsup: is GitLab's name for +1
		Reacted:   []string{"+1:expbot", "eyes:expbot"},
	})
}
