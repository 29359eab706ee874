package event

import (
	"strconv"
	"time"
)

// Delivery is one authenticated, decoded webhook that expbot acts on: what
// the webhook handlers hand to the pipeline.
type Delivery struct {
	Forge      Forge
	ID         string // X-GitHub-Delivery; GitLab Idempotency-Key, X-Gitlab-Event-UUID or webhook-id
	Event      string // X-GitHub-Event / X-Gitlab-Event
	ReceivedAt time.Time
	Payload    Event
}

// Outcome is what the pipeline did with a delivery.
type Outcome int

const (
	// OutcomeAccepted: recorded, desired state changed as needed, work
	// enqueued.
	OutcomeAccepted Outcome = iota + 1
	// OutcomeDuplicate: this Forge+ID was recorded before; nothing else
	// happened.
	OutcomeDuplicate
	// OutcomeIgnored: recorded or not, there is nothing to do (e.g. the
	// repository is not managed by expbot).
	OutcomeIgnored
	// OutcomeStale: recorded, but older than what was already applied for
	// the same issue, request or tag (a late delivery); desired state is
	// unchanged.
	OutcomeStale
)

func (o Outcome) String() string {
	switch o {
	case OutcomeAccepted:
		return "accepted"
	case OutcomeDuplicate:
		return "duplicate"
	case OutcomeIgnored:
		return "ignored"
	case OutcomeStale:
		return "stale"
	default:
		return "Outcome(" + strconv.Itoa(int(o)) + ")"
	}
}
