// Package ghsim is the GitHub face of the simulated forge: its REST API and
// the webhooks GitHub sends. Test support only.
package ghsim

import (
	"context"
	"net/http"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// NewHandler serves GitHub's REST API over f. Mount it with the /api/v3 prefix
// stripped.
func NewHandler(f *state.Forge) http.Handler {
	panic("TODO(helper): not written yet")
}

// NewDelivery returns the webhook requests GitHub would send to hook for ev
// (none when GitHub sends none for it). baseURL is the forge's external URL,
// used in the payload's links.
func NewDelivery(ctx context.Context, ev state.Event, hook state.Hook, deliveryID, baseURL string) ([]*http.Request, error) {
	panic("TODO(helper): not written yet")
}
