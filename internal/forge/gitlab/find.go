package gitlab

import (
	"context"
	"fmt"
	"strings"
	"sync"

	gl "github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
)

// self remembers the bot's user id, asked once per process.
type self struct {
	mu sync.Mutex
	id int
}

func (c *Client) myID(ctx context.Context) (int, error) {
	c.me.mu.Lock()
	defer c.me.mu.Unlock()
	if c.me.id == 0 {
		u, _, err := c.api.Users.CurrentUser(gl.WithContext(ctx))
		if err != nil {
			return 0, c.fail(err, "find the bot's own account")
		}
		c.me.id = u.ID
	}
	return c.me.id, nil
}

// FindComment looks through every page of the thread's notes (or a
// commit's discussions), oldest first, for the first note of the bot's
// that contains marker.
func (c *Client) FindComment(ctx context.Context, repo string, th event.Thread, marker string) (forge.Comment, bool, error) {
	if err := checkRepo(repo); err != nil {
		return forge.Comment{}, false, err
	}
	if err := checkThread(th); err != nil {
		return forge.Comment{}, false, fmt.Errorf("gitlab: find note in %s: %w", repo, err)
	}
	me, err := c.myID(ctx)
	if err != nil {
		return forge.Comment{}, false, err
	}
	mine := func(n *gl.Note) bool {
		return n != nil && !n.System && n.Author.ID == me && strings.Contains(n.Body, marker)
	}
	orderBy, sort := "created_at", "asc"
	page := gl.ListOptions{PerPage: 100, Page: 1}
	for {
		var (
			notes []*gl.Note
			resp  *gl.Response
		)
		switch th.Kind {
		case event.IssueThread:
			notes, resp, err = c.api.Notes.ListIssueNotes(repo, th.Number,
				&gl.ListIssueNotesOptions{ListOptions: page, OrderBy: &orderBy, Sort: &sort}, gl.WithContext(ctx))
		case event.PullThread:
			notes, resp, err = c.api.Notes.ListMergeRequestNotes(repo, th.Number,
				&gl.ListMergeRequestNotesOptions{ListOptions: page, OrderBy: &orderBy, Sort: &sort}, gl.WithContext(ctx))
		default: // commit: the bot's comments there are discussions (CreateComment)
			var ds []*gl.Discussion
			opt := gl.ListCommitDiscussionsOptions(page)
			ds, resp, err = c.api.Discussions.ListCommitDiscussions(repo, th.SHA, &opt, gl.WithContext(ctx))
			for _, d := range ds {
				if d != nil && len(d.Notes) > 0 && mine(d.Notes[0]) {
					id := d.Notes[0].ID
					return forge.Comment{ID: int64(id), Note: d.ID, URL: c.noteURL(repo, th, id)}, true, nil
				}
			}
		}
		if err != nil {
			return forge.Comment{}, false, c.fail(err, "list notes on %s in %s", describe(th), repo)
		}
		for _, n := range notes {
			if mine(n) {
				return forge.Comment{ID: int64(n.ID), URL: c.noteURL(repo, th, n.ID)}, true, nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return forge.Comment{}, false, nil
		}
		page.Page = resp.NextPage
	}
}
