package forgesim

import (
	"context"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// RetryPolicy makes the forge send a failed delivery again by itself. A
// delivery fails when no answer came within the timeout (or the connection
// failed) or the answer was a 5xx. It is sent again with the same delivery
// id, headers and body: what github.com's redelivery (manual, or through
// its API, as operators automate it; github.com never retries by itself)
// and GitLab's retries (Idempotency-Key stable across them) send. A 4xx is
// never retried: GitLab disables a hook for good on 4xx, a real
// misconfiguration that sending again does not cure.
type RetryPolicy struct {
	Attempts   int           // sends after the first; 0 never retries (github.com's default)
	Backoff    time.Duration // wait before the first retry; doubled after each, up to MaxBackoff
	MaxBackoff time.Duration // 0 = no cap
}

// WithRetry sends failed deliveries of forge events again under p.
// Redeliver, ResendAs and Emit are never retried: their callers decide.
func WithRetry(p RetryPolicy) Option { return func(s *Server) { s.retry = p } }

// failed tells whether a sent delivery is one a forge would send again.
func failed(d Delivery) bool { return d.Status == 0 || d.Status >= 500 }

// sendRetrying sends a forge event's delivery; when it fails and the
// policy allows, it is sent again in the background, recorded as a
// redelivery each time.
func (s *Server) sendRetrying(ctx context.Context, d Delivery, sr sentRequest, batch *state.Event) {
	first := s.send(ctx, d, sr, batch)
	if !failed(first) || s.retry.Attempts <= 0 {
		return
	}
	s.retrying.Add(1)
	go func() {
		defer s.retrying.Add(-1)
		wait := s.retry.Backoff
		for range s.retry.Attempts {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			again := d
			again.Redelivery, again.Status, again.ResponseBody, again.Error = true, 0, "", ""
			if !failed(s.send(ctx, again, sr, batch)) {
				return
			}
			wait *= 2
			if s.retry.MaxBackoff > 0 && wait > s.retry.MaxBackoff {
				wait = s.retry.MaxBackoff
			}
		}
		s.log.Warn("webhook given up", "id", d.ID, "attempts", s.retry.Attempts+1)
	}()
}

// PendingRetries is how many failed deliveries are waiting to be sent
// again, so that a test can tell when the forge has given its last try.
func (s *Server) PendingRetries() int { return int(s.retrying.Load()) }
