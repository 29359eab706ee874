package github

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/forge"
)

// kind is how the pipeline should treat a failed call.
type kind int

const (
	permanent kind = iota
	notFound
	transient
)

// classify reads go-github's error types and the status code behind them.
func classify(err error) kind {
	var (
		rate   *gh.RateLimitError
		abuse  *gh.AbuseRateLimitError
		accept *gh.AcceptedError
		resp   *gh.ErrorResponse
		nf     *notFoundError
		uerr   *url.Error
		nerr   net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return permanent // the caller gave up; retrying is its decision
	case errors.Is(err, context.DeadlineExceeded):
		return transient
	case errors.As(err, &nf):
		return notFound
	case errors.As(err, &rate), errors.As(err, &abuse), errors.As(err, &accept):
		// Primary and secondary rate limits (403 or 429) and "202: being
		// computed, ask again" all clear up by themselves.
		return transient
	case errors.As(err, &resp) && resp.Response != nil:
		return classifyStatus(resp.Response)
	case errors.As(err, &uerr), errors.As(err, &nerr):
		return transient // connection refused or reset, TLS, timeouts
	}
	return permanent
}

func classifyStatus(r *http.Response) kind {
	switch code := r.StatusCode; {
	case code == http.StatusNotFound:
		return notFound
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout, code >= 500:
		return transient
	case code == http.StatusForbidden && r.Header.Get("X-RateLimit-Remaining") == "0":
		return transient // rate limit that go-github did not recognise as such
	}
	return permanent
}

// fail wraps err with what was being done: ErrNotFound for 404s,
// *forge.TransientError for failures worth retrying. The token never
// appears in the message, whatever the server echoed back.
func (c *Client) fail(err error, format string, args ...any) error {
	k := classify(err)
	what := "github: " + fmt.Sprintf(format, args...)
	var out error
	if k == notFound {
		out = fmt.Errorf("%s: %w (%w)", what, forge.ErrNotFound, err)
	} else {
		out = fmt.Errorf("%s: %w", what, err)
	}
	out = redact(out, c.token)
	if k == transient {
		out = &forge.TransientError{Err: out}
	}
	return out
}

// redacted hides a secret in the message while keeping the chain for
// errors.Is and errors.As.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), secret, "[REDACTED]"), err: err}
}
