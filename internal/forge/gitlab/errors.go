package gitlab

import (
	"errors"
	"fmt"

	gl "github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forge"
)

// classify reads go-gitlab's errors: a bare ErrNotFound for every 404 and an
// *ErrorResponse with the response for other statuses; forge.Classify
// handles context and transport errors (as they come from net/http) around
// them.
func classify(err error) forge.ErrorKind {
	return forge.Classify(err, classifySDK)
}

func classifySDK(err error) (forge.ErrorKind, bool) {
	var resp *gl.ErrorResponse
	switch {
	case errors.Is(err, gl.ErrNotFound):
		return forge.NotFound, true
	case errors.As(err, &resp) && resp.Response != nil:
		return forge.StatusKind(resp.Response.StatusCode), true
	}
	return forge.Permanent, false
}

// fail wraps err with what was being done: ErrNotFound for 404s,
// *forge.TransientError for failures worth retrying. The token never
// appears in the message, whatever the server echoed back.
func (c *Client) fail(err error, format string, args ...any) error {
	return forge.Fail(err, classify(err), c.token, "gitlab: "+fmt.Sprintf(format, args...))
}
