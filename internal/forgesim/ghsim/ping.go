package ghsim

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// GitHub's ping: sent to a webhook when it is created, and again when its
// ping URL is called, to show the hook is set up. It goes to that one hook
// whatever events the hook listens to, but not to an inactive hook.

// Pinger sends a ping to hook and records the delivery: build makes the
// request for a delivery id and the forge's external URL (for the payload's
// links). repo is the hook's repository, empty for an organisation's hook.
// forgesim provides it; the ping is sent before the API call answers.
type Pinger func(hook state.Hook, repo string, build func(ctx context.Context, deliveryID, baseURL string) (*http.Request, error))

// zen is GitHub's zen (GET /zen); a ping carries one line of it.
var zen = [...]string{
	"Non-blocking is better than blocking.",
	"Design for failure.",
	"Half measures are as bad as nothing at all.",
	"Favor focus over features.",
	"Approachable is better than simple.",
	"Mind your words, they are important.",
	"Speak like a human.",
	"Keep it logically awesome.",
	"Anything added dilutes everything else.",
	"Practicality beats purity.",
	"Avoid administrative distraction.",
	"Responsive is better than fast.",
	"It's not fully shipped until it's fast.",
	"Encourage flow.",
}

type pingPayload struct {
	Zen          string         `json:"zen"`
	HookID       int64          `json:"hook_id"`
	Hook         hookJSON       `json:"hook"`
	Repository   *repoJSON      `json:"repository,omitempty"`
	Organization *orgSimpleJSON `json:"organization,omitempty"`
	Sender       userJSON       `json:"sender"`
}

// ping sends h, a hook of t, GitHub's ping on behalf of q's user.
func (s *server) ping(q *request, t hookTarget, h state.Hook) {
	if s.pinger == nil || h.Inactive {
		return
	}
	s.pinger(h, t.scope.Repo, func(ctx context.Context, deliveryID, baseURL string) (*http.Request, error) {
		l := links{root: strings.TrimSuffix(baseURL, "/")}
		p := pingPayload{
			Zen: zen[h.ID%int64(len(zen))], HookID: h.ID, Hook: hookObject(l, t, h), Sender: userObject(l, q.user),
		}
		var repoID int64
		if t.scope.Repo != "" {
			info, err := s.f.Repo(t.scope.Repo)
			if err != nil {
				return nil, fmt.Errorf("ping of hook %d: %w", h.ID, err)
			}
			r := repoObject(l, *info, repoFacts{owner: s.owner(l, info.Owner)})
			p.Repository, repoID = &r, info.ID
		} else {
			o := orgSimpleObject(l, h.Namespace, h.NamespaceID)
			p.Organization = &o
		}
		body, err := marshal(p)
		if err != nil {
			return nil, fmt.Errorf("ping payload: %w", err)
		}
		return newHookRequest(ctx, h, repoID, "ping", deliveryID, body)
	})
}

// pingHook is POST .../hooks/{id}/pings: the ping again, answered 204.
func (s *server) pingHook(q *request, t hookTarget) {
	if h, ok := s.hook(q, t); ok {
		s.ping(q, t, h)
		q.w.WriteHeader(http.StatusNoContent)
	}
}
