// Package handlers receives GitHub and GitLab webhooks: it verifies each
// over the exact bytes received, decodes it into a forge-neutral event and
// hands the ones that matter to a Recorder, answering 202 only once the
// Recorder has made them durable.
package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/event"
)

// Recorder durably records a delivery (deduplicated on Forge+ID), applies it
// to desired state and enqueues work, in one transaction. An error means
// none of it happened; the forge is then asked to retry.
type Recorder interface {
	Record(ctx context.Context, d event.Delivery) (event.Outcome, error)
}

// maxDeliveryID bounds the delivery id we store and echo: both forges send UUIDs.
const maxDeliveryID = 256

// maxErrorText bounds error text in 400 answers.
const maxErrorText = 200

// endpoint is one forge's webhook endpoint; the forge-specific parts are funcs.
type endpoint struct {
	forge       event.Forge
	eventHeader string
	verify      func(h http.Header, body []byte) error
	// early decides from the headers alone when it can: refused (an
	// error), authenticated (true), or the body is needed (false).
	early      func(h http.Header) (bool, error)
	deliveryID func(h http.Header) string
	decode     func(eventName string, h http.Header, body []byte) (event.Event, error)
	opts       Options
	rec        Recorder
	m          *Metrics
	log        zerolog.Logger
}

// NewGitHub returns the handler for POST /webhooks/github. With a config
// that fails Validate it logs the problem and rejects every delivery (401).
func NewGitHub(cfg GitHubConfig, rec Recorder, m *Metrics, log zerolog.Logger) http.Handler {
	if err := cfg.Validate(); err != nil {
		log.Error().Err(err).Msg("github webhook endpoint misconfigured: every delivery will be rejected")
	}
	secrets := append([]string(nil), cfg.Secrets...)
	return newEndpoint(event.GitHub, "X-GitHub-Event", cfg.Options, rec, m, log,
		func(h http.Header, body []byte) error {
			return VerifyGitHub(h.Get("X-Hub-Signature-256"), body, secrets)
		},
		func(h http.Header) (bool, error) {
			// The signature needs the body; its absence does not.
			if h.Get("X-Hub-Signature-256") == "" {
				return false, VerifyGitHub("", nil, secrets)
			}
			return false, nil
		},
		func(h http.Header) string { return h.Get("X-GitHub-Delivery") },
		func(name string, h http.Header, body []byte) (event.Event, error) {
			payload, err := githubJSON(h.Get("Content-Type"), body)
			if err != nil {
				return nil, err
			}
			return DecodeGitHub(name, payload)
		})
}

// NewGitLab returns the handler for POST /webhooks/gitlab. With a config
// that fails Validate it logs the problem and works with what is usable
// (rejecting every delivery if nothing is).
func NewGitLab(cfg GitLabConfig, rec Recorder, m *Metrics, log zerolog.Logger) http.Handler {
	auth, err := cfg.auth()
	if err != nil {
		log.Error().Err(err).Msg("gitlab webhook endpoint misconfigured")
	}
	return newEndpoint(event.GitLab, "X-Gitlab-Event", cfg.Options, rec, m, log,
		auth.verify,
		auth.early,
		gitlabDeliveryID,
		func(name string, _ http.Header, body []byte) (event.Event, error) { return DecodeGitLab(name, body) })
}

func newEndpoint(f event.Forge, eventHeader string, opts Options, rec Recorder, m *Metrics, log zerolog.Logger,
	verify func(http.Header, []byte) error, early func(http.Header) (bool, error), id func(http.Header) string,
	decode func(string, http.Header, []byte) (event.Event, error)) *endpoint {
	if rec == nil {
		panic("handlers: nil Recorder") // a wiring bug, caught at start-up
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	return &endpoint{forge: f, eventHeader: eventHeader, verify: verify, early: early, deliveryID: id, decode: decode,
		opts: opts.withDefaults(), rec: rec, m: m, log: log}
}

// gitlabDeliveryID prefers Idempotency-Key, which GitLab keeps stable across
// retries (17.4+); older versions send only the event UUID.
func gitlabDeliveryID(h http.Header) string {
	for _, k := range []string{"Idempotency-Key", "X-Gitlab-Event-UUID", hdrWebhookID} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// reply is the answer to one request and what is logged and counted about it.
type reply struct {
	status   int
	outcome  string
	msg      string // for the answer's "reason"/"error"; never a secret
	err      error  // for the log only
	event    string
	id       string
	repo     *event.Repo // of a recorded event, for the log
	kind     string      // "issue", "pull" or "tag": the log field naming number or tag
	number   int
	tag      string
	received time.Time
}

type answer struct {
	Status   string `json:"status"`
	Delivery string `json:"delivery,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Error    string `json:"error,omitempty"`
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rp := e.handle(r)
	e.write(w, rp)
	took := time.Since(start)
	e.m.observe(e.forge, rp.event, rp.outcome, took.Seconds())
	e.logReply(rp, took)
}

func (e *endpoint) handle(r *http.Request) reply {
	// Header values are sender-controlled until verified: clip before logging.
	rp := reply{
		event:    clip(r.Header.Get(e.eventHeader), maxReason),
		id:       clip(e.deliveryID(r.Header), maxDeliveryID),
		received: e.opts.Now(),
	}
	if r.Method != http.MethodPost {
		return rp.with(http.StatusMethodNotAllowed, outMethodNotAllowed, "only POST", nil)
	}
	// Whatever can be refused on its headers is refused before the body
	// is read; a body that is not yet authenticated is read within the
	// shared budget.
	verified, err := e.early(r.Header)
	if err != nil {
		return rp.with(http.StatusUnauthorized, outUnauthorized, "signature or token invalid", err)
	}
	budget := e.opts.Budget
	if verified {
		budget = nil
	}
	body, release, err := readBody(r.Context(), r, e.opts.MaxBodyBytes, budget)
	defer release()
	if err != nil {
		var tooLarge *http.MaxBytesError
		switch {
		case errors.As(err, &tooLarge):
			return rp.with(http.StatusRequestEntityTooLarge, outTooLarge, "body exceeds "+strconv.FormatInt(e.opts.MaxBodyBytes, 10)+" bytes", err)
		case errors.Is(err, errBusy):
			return rp.with(http.StatusServiceUnavailable, outBusy, "too many unverified deliveries at once; retry later", err)
		case errors.Is(err, os.ErrDeadlineExceeded):
			return rp.with(http.StatusRequestTimeout, outTimeout, "body not received in time", err)
		}
		return rp.with(http.StatusBadRequest, outMalformed, "body could not be read", fmt.Errorf("reading webhook body: %w", err))
	}
	// Authenticate the exact bytes before anything reads them.
	err = e.verify(r.Header, body)
	release() // verified or refused, the body is no longer anyone's to hold
	if err != nil {
		return rp.with(http.StatusUnauthorized, outUnauthorized, "signature or token invalid", err)
	}
	name := r.Header.Get(e.eventHeader)
	if name == "" {
		return rp.with(http.StatusBadRequest, outMalformed, e.eventHeader+" header missing", nil)
	}
	ev, err := e.decode(name, r.Header, body)
	if err != nil {
		return rp.with(http.StatusBadRequest, outMalformed, clip(err.Error(), maxErrorText), err)
	}
	switch ev := ev.(type) {
	case *event.Ping:
		return rp.with(http.StatusOK, outPing, "", nil)
	case *event.Ignored:
		// 2xx: GitLab disables a hook for good after repeated 4xx.
		return rp.with(http.StatusOK, outIgnored, ev.Reason, nil)
	case *event.IssueChange:
		rp.repo, rp.kind, rp.number = &ev.Repo, "issue", ev.Number
		return e.record(r, rp, name, ev)
	case *event.CommentCreated:
		rp.repo, rp.kind, rp.number = &ev.Repo, "pull", ev.Thread.Number
		return e.record(r, rp, name, ev)
	case *event.PullChange:
		rp.repo, rp.kind, rp.number = &ev.Repo, "pull", ev.Number
		return e.record(r, rp, name, ev)
	case *event.TagPush:
		rp.repo, rp.kind, rp.tag = &ev.Repo, "tag", ev.Tag
		return e.record(r, rp, name, ev)
	case *event.InstallationChange:
		e.m.observeInstallation(ev.Action)
		rp = e.record(r, rp, name, ev)
		if rp.status < 300 {
			rp.msg = installationSummary(ev)
		}
		return rp
	default:
		return rp.with(http.StatusInternalServerError, outError, "internal error", fmt.Errorf("decoder returned unexpected %T", ev))
	}
}

// installationSummary is the log line's reason for an installation event:
// what changed, by repository name (public, not secret).
func installationSummary(ev *event.InstallationChange) string {
	msg := fmt.Sprintf("installation %d (%s) %s", ev.InstallationID, clip(ev.Account, maxReason), clip(ev.Action, maxReason))
	if len(ev.Added) > 0 {
		msg += "; added: " + strings.Join(ev.Added, ", ")
	}
	if len(ev.Removed) > 0 {
		msg += "; removed: " + strings.Join(ev.Removed, ", ")
	}
	return clip(msg, maxErrorText)
}

// record hands an event expbot acts on to the Recorder and answers from its
// result: 202 only once it is durable (or was already), 503 if it is not.
func (e *endpoint) record(r *http.Request, rp reply, name string, ev event.Event) reply {
	id := e.deliveryID(r.Header)
	switch {
	case id == "":
		return rp.with(http.StatusBadRequest, outMalformed, "delivery id header missing", nil)
	case len(id) > maxDeliveryID:
		return rp.with(http.StatusBadRequest, outMalformed, "delivery id too long", nil)
	}
	ctx, cancel := context.WithTimeout(r.Context(), e.opts.RecordTimeout)
	defer cancel()
	exit := e.opts.Gate.Enter()
	defer exit()
	out, err := e.rec.Record(ctx, event.Delivery{Forge: e.forge, ID: id, Event: name, ReceivedAt: rp.received, Payload: ev})
	if err != nil {
		return rp.with(http.StatusServiceUnavailable, outError, "delivery not recorded; retry later", fmt.Errorf("recording delivery: %w", err))
	}
	switch out {
	case event.OutcomeAccepted:
		return rp.with(http.StatusAccepted, outAccepted, "", nil)
	case event.OutcomeDuplicate:
		return rp.with(http.StatusAccepted, outDuplicate, "", nil)
	case event.OutcomeIgnored:
		return rp.with(http.StatusOK, outIgnored, "nothing to do", nil)
	case event.OutcomeStale:
		return rp.with(http.StatusAccepted, outStale, "older than what was applied; nothing changed", nil)
	default:
		// A Recorder bug; asking for a retry keeps the delivery from being lost.
		return rp.with(http.StatusServiceUnavailable, outError, "delivery not recorded; retry later", fmt.Errorf("recorder returned unknown %v", out))
	}
}

func (e *endpoint) write(w http.ResponseWriter, rp reply) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	switch rp.status {
	case http.StatusMethodNotAllowed:
		h.Set("Allow", http.MethodPost)
	case http.StatusRequestTimeout:
		h.Set("Connection", "close") // the rest of the body is not worth waiting for
	case http.StatusServiceUnavailable:
		h.Set("Retry-After", strconv.Itoa(int(e.opts.RetryAfter/time.Second)))
	}
	a := answer{Status: rp.outcome}
	switch {
	case rp.status >= 400:
		a.Error = rp.msg
	default:
		a.Reason = rp.msg
	}
	// Echo the id only once the request proved it came from the forge.
	if rp.status < 300 || rp.status == http.StatusServiceUnavailable && rp.outcome != outBusy {
		a.Delivery = rp.id
	}
	w.WriteHeader(rp.status)
	_ = json.NewEncoder(w).Encode(a) // the client may be gone; nothing to do then
}

// logReply writes the one line per delivery: never a secret, a signature
// or token header, or the body.
func (e *endpoint) logReply(rp reply, took time.Duration) {
	var ev *zerolog.Event
	switch {
	case rp.status >= 500:
		ev = e.log.Error()
	case rp.status >= 400:
		ev = e.log.Warn()
	default:
		ev = e.log.Info()
	}
	ev = ev.Str("forge", string(e.forge)).Str("event", rp.event).Str("delivery", rp.id).
		Str("outcome", rp.outcome).Int("status", rp.status).Dur("duration", took)
	if rp.repo != nil {
		ev = ev.Str("repo", rp.repo.Host+"/"+rp.repo.Path)
		if rp.kind == "tag" {
			ev = ev.Str("tag", clip(rp.tag, maxReason))
		} else {
			ev = ev.Int(rp.kind, rp.number)
		}
	}
	if rp.msg != "" {
		ev = ev.Str("reason", rp.msg)
	}
	if rp.err != nil {
		ev = ev.Err(rp.err)
	}
	ev.Msg("webhook delivery")
}

func (rp reply) with(status int, outcome, msg string, err error) reply {
	rp.status, rp.outcome, rp.msg, rp.err = status, outcome, msg, err
	return rp
}
