package handlers

import (
	"errors"
	"fmt"
	"time"

	"github.com/expbot/expbot/internal/ackfirst"
)

// Defaults for Options.
const (
	DefaultMaxBodyBytes  = 25 << 20 // GitHub caps payloads at 25 MB
	DefaultRecordTimeout = 8 * time.Second
	DefaultRetryAfter    = 30 * time.Second
)

// Options apply to either endpoint; zero values take the defaults.
type Options struct {
	// MaxBodyBytes bounds the body read; a larger one is answered 413.
	MaxBodyBytes int64
	// RecordTimeout bounds Recorder.Record: both forges give up after 10 s,
	// and an answer of 503 in time beats a timeout nobody hears.
	RecordTimeout time.Duration
	// Budget bounds the unverified bodies held at once (shared by the
	// endpoints); nil means no bound.
	Budget *Budget
	// RetryAfter is sent with 503 answers.
	RetryAfter time.Duration
	// Now is the clock for Delivery.ReceivedAt and signature timestamps;
	// tests inject one. Default time.Now.
	Now func() time.Time
	// Gate is closed while an authenticated delivery is recorded, so that
	// background work waiting at it lets the acknowledgement go first;
	// nil closes nothing.
	Gate *ackfirst.Gate
}

func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.RecordTimeout <= 0 {
		o.RecordTimeout = DefaultRecordTimeout
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = DefaultRetryAfter
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// GitHubConfig configures the GitHub endpoint.
type GitHubConfig struct {
	// Secrets are the accepted webhook secrets; more than one while rotating.
	Secrets []string
	Options
}

// Validate reports a configuration that would reject every delivery.
func (c GitHubConfig) Validate() error {
	if !anyNonEmpty(c.Secrets) {
		return fmt.Errorf("github webhook: %w", ErrNoSecret)
	}
	return nil
}

// GitLabConfig configures the GitLab endpoint. A delivery passes with a
// valid X-Gitlab-Token or a valid Standard Webhooks signature; see
// gitlabAuth.verify for which one decides.
type GitLabConfig struct {
	// Tokens are the accepted X-Gitlab-Token values; more than one while rotating.
	Tokens []string
	// SigningSecrets are accepted signing tokens, "whsec_<base64 key>".
	SigningSecrets []string
	// Tolerance is how far webhook-timestamp may be from Now, either way.
	// Default DefaultTolerance.
	Tolerance time.Duration
	Options
}

// Validate reports a configuration with no usable secret, or a signing
// secret that does not parse (never repeating it).
func (c GitLabConfig) Validate() error {
	_, err := c.auth()
	return err
}

// auth prepares the verification policy. Unparseable signing secrets are
// reported and left out, so the rest still work.
func (c GitLabConfig) auth() (gitlabAuth, error) {
	a := gitlabAuth{tolerance: c.Tolerance, now: c.withDefaults().Now}
	var errs []error
	for i, s := range c.SigningSecrets {
		if s == "" {
			continue
		}
		k, err := ParseSigningSecret(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("gitlab signing secret #%d: %w", i+1, err))
			continue
		}
		a.keys = append(a.keys, k)
	}
	for _, t := range c.Tokens {
		if t != "" {
			a.tokens = append(a.tokens, t)
		}
	}
	if len(a.keys) == 0 && len(a.tokens) == 0 {
		errs = append(errs, fmt.Errorf("gitlab webhook: %w", ErrNoSecret))
	}
	return a, errors.Join(errs...)
}
