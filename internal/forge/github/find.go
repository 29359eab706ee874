package github

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	gh "github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
)

// self remembers who the bot is, asked once per process.
type self struct {
	mu    sync.Mutex
	known bool
	login string // "" when the token cannot ask (an app installation's)
}

// isMe tells whether u is the bot's account. A GitHub App has no account
// that /user could tell (an installation's token gets 403 there): then any
// bot account counts, and the marker the caller looks for tells the bot's
// comments apart.
func (c *Client) isMe(ctx context.Context) (func(*gh.User) bool, error) {
	c.me.mu.Lock()
	defer c.me.mu.Unlock()
	if c.apps != nil {
		c.me.known = true
	}
	if !c.me.known {
		u, resp, err := c.api.Users.Get(ctx, "")
		switch {
		case err == nil:
			c.me.login = u.GetLogin()
		case resp != nil && resp.StatusCode == http.StatusForbidden && classify(err) != forge.Transient:
		default:
			return nil, c.fail(err, "find the bot's own account")
		}
		c.me.known = true
	}
	login := c.me.login
	return func(u *gh.User) bool {
		if login == "" {
			return u.GetType() == "Bot"
		}
		return strings.EqualFold(u.GetLogin(), login)
	}, nil
}

// FindComment looks through every page of the thread's comments (issue
// comments, or a commit's comments) for the oldest one of the bot's that
// contains marker.
func (c *Client) FindComment(ctx context.Context, repo string, th event.Thread, marker string) (forge.Comment, bool, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return forge.Comment{}, false, err
	}
	if err := checkThread(th); err != nil {
		return forge.Comment{}, false, fmt.Errorf("github: find comment in %s: %w", repo, err)
	}
	mine, err := c.isMe(ctx)
	if err != nil {
		return forge.Comment{}, false, err
	}
	opt := gh.ListOptions{PerPage: 100}
	for {
		var (
			found forge.Comment
			ok    bool
			resp  *gh.Response
		)
		if th.Kind == event.CommitThread {
			var cs []*gh.RepositoryComment
			cs, resp, err = c.api.Repositories.ListCommitComments(ctx, owner, name, th.SHA, &opt)
			for _, rc := range cs {
				if !ok && mine(rc.GetUser()) && strings.Contains(rc.GetBody(), marker) {
					found, ok = forge.Comment{ID: rc.GetID(), URL: rc.GetHTMLURL()}, true
				}
			}
		} else {
			var cs []*gh.IssueComment
			cs, resp, err = c.api.Issues.ListComments(ctx, owner, name, th.Number, &gh.IssueListCommentsOptions{ListOptions: opt})
			for _, ic := range cs {
				if !ok && mine(ic.GetUser()) && strings.Contains(ic.GetBody(), marker) {
					found, ok = forge.Comment{ID: ic.GetID(), URL: ic.GetHTMLURL()}, true
				}
			}
		}
		if err != nil {
			return forge.Comment{}, false, c.fail(err, "list comments on %s in %s", where(th), repo)
		}
		if ok {
			return found, true, nil
		}
		if resp.NextPage == 0 {
			return forge.Comment{}, false, nil
		}
		opt.Page = resp.NextPage
	}
}

func where(th event.Thread) string {
	if th.Kind == event.CommitThread {
		return "commit " + th.SHA
	}
	return fmt.Sprintf("%s #%d", th.Kind, th.Number)
}
