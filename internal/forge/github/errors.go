package github

import (
	"errors"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/forge"
)

// classify reads go-github's error types and the status code behind them;
// forge.Classify handles context and transport errors around them.
func classify(err error) forge.ErrorKind {
	return forge.Classify(err, classifySDK)
}

func classifySDK(err error) (forge.ErrorKind, bool) {
	var (
		rate   *gh.RateLimitError
		abuse  *gh.AbuseRateLimitError
		accept *gh.AcceptedError
		resp   *gh.ErrorResponse
		nf     *notFoundError
		app    *appError
	)
	switch {
	case errors.As(err, &app):
		return app.kind, true
	case errors.As(err, &nf):
		return forge.NotFound, true
	case errors.As(err, &rate), errors.As(err, &abuse), errors.As(err, &accept):
		// Primary and secondary rate limits (403 or 429) and "202: being
		// computed, ask again" all clear up by themselves.
		return forge.Transient, true
	case errors.As(err, &resp) && resp.Response != nil:
		return classifyStatus(resp.Response), true
	}
	return forge.Permanent, false
}

func classifyStatus(r *http.Response) forge.ErrorKind {
	if r.StatusCode == http.StatusForbidden && r.Header.Get("X-RateLimit-Remaining") == "0" {
		return forge.Transient // rate limit that go-github did not recognise as such
	}
	return forge.StatusKind(r.StatusCode)
}

// fail wraps err with what was being done: ErrNotFound for 404s,
// *forge.TransientError for failures worth retrying. The token never
// appears in the message, whatever the server echoed back.
func (c *Client) fail(err error, format string, args ...any) error {
	return forge.Fail(err, classify(err), c.token, "github: "+fmt.Sprintf(format, args...))
}
