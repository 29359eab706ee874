// Package glsim is the GitLab face of the simulated forge: its REST API and
// the webhooks GitLab sends. Test support only.
package glsim

import (
	"context"
	"net/http"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// NewHandler serves GitLab's REST API over f. Mount it with the /api/v4 prefix
// stripped.
func NewHandler(f *state.Forge) http.Handler {
	panic("TODO(helper): not written yet")
}

// NewDelivery returns the webhook requests GitLab would send to hook for ev
// (none when GitLab sends none for it). baseURL is the forge's external URL,
// used in the payload's links.
func NewDelivery(ctx context.Context, ev state.Event, hook state.Hook, deliveryID, baseURL string) ([]*http.Request, error) {
	panic("TODO(helper): not written yet")
}
