// Package glsim is the GitLab face of the simulated forge: its REST API and
// the webhooks GitLab sends. Test support only.
//
// The API follows GitLab 17.11's REST v4 closely enough for go-gitlab and the
// official terraform/pulumi provider: path parameters arrive URL-escaped as
// single segments, errors use GitLab's bodies ({"message": ...} from
// endpoints, {"error": ...} from parameter validation), lists are paginated
// with GitLab's headers.
package glsim

import (
	"context"
	"net/http"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// NewHandler serves GitLab's REST API over f. Mount it with the /api/v4 prefix
// stripped.
func NewHandler(f *state.Forge) http.Handler {
	s := &server{f: f, modes: newModeStore()}
	s.routes = append(s.routeTable(), s.setupRoutes()...)
	return s
}

// NewDelivery returns the webhook requests GitLab would send to hook for ev
// (none when GitLab sends none for it). baseURL is the forge's external URL,
// used in the payload's links.
func NewDelivery(ctx context.Context, ev state.Event, hook state.Hook, deliveryID, baseURL string) ([]*http.Request, error) {
	return delivery(ctx, ev, hook, deliveryID, baseURL)
}
