package forge

import (
	"context"

	"github.com/expbot/expbot/internal/event"
)

// Scrubbed returns c with every comment body it posts or edits passed
// through scrub first: bodies quote Pulumi's and the providers' errors,
// which may echo a credential.
func Scrubbed(c Client, scrub func(string) string) Client { return &scrubbed{Client: c, scrub: scrub} }

type scrubbed struct {
	Client
	scrub func(string) string
}

func (s *scrubbed) CreateComment(ctx context.Context, repo string, th event.Thread, body string) (Comment, error) {
	return s.Client.CreateComment(ctx, repo, th, s.scrub(body))
}

func (s *scrubbed) EditComment(ctx context.Context, repo string, th event.Thread, c Comment, body string) error {
	return s.Client.EditComment(ctx, repo, th, c, s.scrub(body))
}
