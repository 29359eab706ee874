package forgesim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/expbot/expbot/internal/forgesim/ghsim"
	"github.com/expbot/expbot/internal/forgesim/glsim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// maxResponseBody is how much of a receiver's answer a delivery keeps.
const maxResponseBody = 4096

// redacted replaces secret header values in recorded deliveries.
const redacted = "[redacted]"

// secretHeaders carry secrets in plain text; they are kept only for
// redelivery and never shown.
var secretHeaders = []string{"X-Gitlab-Token", "Authorization"}

// Delivery is one webhook request the forge sent and what came back.
type Delivery struct {
	Seq          int64           `json:"seq"`            // position in the log, unique
	ID           string          `json:"id"`             // X-GitHub-Delivery / X-Gitlab-Event-UUID
	Flavor       string          `json:"flavor"`         // github or gitlab
	Event        string          `json:"event"`          // X-GitHub-Event / X-Gitlab-Event
	Kind         state.EventKind `json:"kind,omitempty"` // model event behind it; empty for raw emits
	Repo         string          `json:"repo,omitempty"` // full name; empty for raw emits
	HookID       int64           `json:"hook_id,omitempty"`
	URL          string          `json:"url"`
	Redelivery   bool            `json:"redelivery"`
	At           time.Time       `json:"at"`
	Status       int             `json:"status"` // 0 when no answer came
	ResponseBody string          `json:"response_body"`
	Error        string          `json:"error,omitempty"`
	Duration     time.Duration   `json:"duration_ns"`
	Headers      http.Header     `json:"headers"` // secrets redacted
	Payload      json.RawMessage `json:"payload"` // the body; a JSON string if it was not JSON
}

// sentRequest is what is needed to send a delivery again, secrets included.
type sentRequest struct {
	method string
	url    string
	header http.Header
	body   []byte
}

type record struct {
	d     Delivery
	req   sentRequest
	batch *state.Event // first event of the action that caused it
}

// dispatch is the forge's event sink: it runs in the acting goroutine after
// the model's lock is released and delivers synchronously, so an action
// returns after the receivers have answered.
func (s *Server) dispatch(evs []state.Event) {
	if len(evs) == 0 {
		return
	}
	batch := &evs[0]
	for _, ev := range evs {
		hooks, err := s.forge.DeliveryHooks(ev.Repo.ID)
		if err != nil {
			s.log.Warn("webhook dispatch: repository vanished", "repo", ev.Repo.FullName, "err", err)
			continue
		}
		for _, h := range hooks {
			s.deliver(s.ctx, batch, ev, h)
		}
		for _, ah := range s.apps.HooksFor(ev.Repo.FullName) {
			s.deliverApp(s.ctx, batch, ev, ah)
		}
	}
}

// deliverApp sends a GitHub App the event as GitHub does: to the app's
// webhook, signed with its secret, the installation named in the payload.
func (s *Server) deliverApp(ctx context.Context, batch *state.Event, ev state.Event, ah ghsim.AppHook) {
	id := newUUID()
	h := state.Hook{ID: ah.AppID, Flavor: GitHub, URL: ah.URL, Secret: ah.Secret, Events: ghsim.AppEvents}
	base := Delivery{ID: id, Flavor: GitHub, Kind: ev.Kind, Repo: ev.Repo.FullName, HookID: h.ID, URL: shownURL(h.URL)}
	reqs, err := s.build(ctx, ev, h, id)
	for _, req := range reqs {
		sr, cerr := capture(req)
		if cerr == nil {
			sr.body, cerr = ghsim.WithInstallation(sr.body, ah.InstallationID)
		}
		d := base
		if cerr != nil {
			d.At, d.Error = s.clock(), cerr.Error()
			s.store(record{d: d, batch: batch})
			continue
		}
		if !subscribed(h, sr.header) {
			continue
		}
		signed := githubHeaders(sr.header.Get("X-GitHub-Event"), id, h.ID, h.Secret, sr.body)
		signed.Set("X-GitHub-Hook-Installation-Target-Type", "integration")
		signed.Set("X-GitHub-Hook-Installation-Target-ID", strconv.FormatInt(ah.AppID, 10))
		sr.header = signed
		s.sendRetrying(ctx, d, sr, batch)
	}
	if err != nil {
		base.At, base.Error = s.clock(), err.Error()
		s.store(record{d: base, batch: batch})
	}
}

// deliver builds and sends the requests one hook gets for one event.
func (s *Server) deliver(ctx context.Context, batch *state.Event, ev state.Event, h state.Hook) {
	id := newUUID()
	base := Delivery{ID: id, Flavor: h.Flavor, Kind: ev.Kind, Repo: ev.Repo.FullName, HookID: h.ID, URL: shownURL(h.URL)}
	reqs, err := s.build(ctx, ev, h, id)
	if err != nil {
		base.At, base.Error = s.clock(), err.Error()
		s.store(record{d: base, batch: batch})
		s.log.Warn("webhook not built", "flavor", h.Flavor, "kind", ev.Kind, "hook", h.ID, "err", err)
		return
	}
	for _, req := range reqs {
		sr, err := capture(req)
		d := base
		if err != nil {
			d.At, d.Error = s.clock(), err.Error()
			s.store(record{d: d, batch: batch})
			continue
		}
		if !subscribed(h, sr.header) {
			continue
		}
		s.sendRetrying(ctx, d, sr, batch)
	}
}

// ping sends GitHub's ping to a hook (ghsim.Pinger), recorded like any
// delivery but caused by no repository event.
func (s *Server) ping(h state.Hook, repo string, build func(ctx context.Context, deliveryID, baseURL string) (*http.Request, error)) {
	id := newUUID()
	d := Delivery{ID: id, Flavor: GitHub, Repo: repo, HookID: h.ID, URL: shownURL(h.URL)}
	req, err := build(s.ctx, id, s.BaseURL())
	var sr sentRequest
	if err == nil {
		sr, err = capture(req)
	}
	if err != nil {
		d.At, d.Error = s.clock(), err.Error()
		s.store(record{d: d})
		s.log.Warn("webhook ping not built", "hook", h.ID, "err", err)
		return
	}
	s.send(s.ctx, d, sr, nil)
}

// build calls the flavour's builder; a panic there (a bug in ghsim/glsim) is
// recorded as a failed delivery rather than taking the acting request down.
func (s *Server) build(ctx context.Context, ev state.Event, h state.Hook, id string) (reqs []*http.Request, err error) {
	b, ok := s.builders[h.Flavor]
	if !ok {
		return nil, fmt.Errorf("hook %d: unknown flavor %q", h.ID, h.Flavor)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("building %s webhook for %s: panic: %v", h.Flavor, ev.Kind, p)
		}
	}()
	reqs, err = b(ctx, ev, h, id, s.BaseURL())
	if err != nil {
		return nil, fmt.Errorf("building %s webhook for %s: %w", h.Flavor, ev.Kind, err)
	}
	return reqs, nil
}

// capture reads a built request into a form that can be sent (again).
func capture(req *http.Request) (sentRequest, error) {
	sr := sentRequest{method: req.Method, url: req.URL.String(), header: req.Header.Clone()}
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return sr, fmt.Errorf("reading webhook body for %s: %w", safeURL(sr.url), err)
		}
		sr.body = b
	}
	if req.Host != "" && req.Host != req.URL.Host {
		sr.header.Set("Host", req.Host)
	}
	return sr, nil
}

// send makes one HTTP request, records it and returns the record.
func (s *Server) send(ctx context.Context, d Delivery, sr sentRequest, batch *state.Event) Delivery {
	d.At = s.clock()
	d.Headers = redact(sr.header)
	d.Payload = payloadJSON(sr.body)
	switch d.Flavor {
	case GitHub:
		d.Event = sr.header.Get("X-GitHub-Event")
		if v := sr.header.Get("X-GitHub-Delivery"); v != "" {
			d.ID = v
		}
	case GitLab:
		d.Event = sr.header.Get("X-Gitlab-Event")
		if v := sr.header.Get("X-Gitlab-Event-UUID"); v != "" {
			d.ID = v
		}
	}
	start := time.Now()
	status, body, err := s.roundTrip(ctx, sr)
	d.Duration = time.Since(start)
	d.Status, d.ResponseBody = status, body
	if err != nil {
		d.Error = err.Error()
	}
	d = s.store(record{d: d, req: sr, batch: batch})
	attrs := []any{"id", d.ID, "flavor", d.Flavor, "event", d.Event, "url", safeURL(d.URL),
		"status", d.Status, "duration", d.Duration, "redelivery", d.Redelivery}
	if d.Error != "" || d.Status >= 300 {
		s.log.Warn("webhook failed", append(attrs, "err", d.Error)...)
	} else {
		s.log.Info("webhook delivered", attrs...)
	}
	return d
}

func (s *Server) roundTrip(ctx context.Context, sr sentRequest) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, sr.method, sr.url, bytes.NewReader(sr.body))
	if err != nil {
		return 0, "", fmt.Errorf("webhook request to %s: %w", safeURL(sr.url), err)
	}
	req.Header = sr.header.Clone()
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
		req.Header.Del("Host")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may carry credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, "", fmt.Errorf("sending webhook to %s: %w", safeURL(sr.url), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	body := truncate(b)
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, body, fmt.Errorf("reading webhook answer from %s: %w", safeURL(sr.url), err)
	}
	return resp.StatusCode, body, nil
}

// store appends a record, numbering it and dropping the oldest beyond the cap.
func (s *Server) store(r record) Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	r.d.Seq = s.seq
	if r.d.At.IsZero() {
		r.d.At = s.clock()
	}
	s.records = append(s.records, r)
	if s.maxKeep > 0 && len(s.records) > s.maxKeep {
		s.records = slices.Delete(s.records, 0, len(s.records)-s.maxKeep)
	}
	return copyDelivery(r.d)
}

// Deliveries returns every recorded delivery, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.records))
	for i, r := range s.records {
		out[i] = copyDelivery(r.d)
	}
	return out
}

// deliveriesOf returns the deliveries caused by the action whose events are
// evs. It relies on Forge.Act handing the sink the very slice the action
// returns, which identifies the action even when others run concurrently.
func (s *Server) deliveriesOf(evs []state.Event) []Delivery {
	out := []Delivery{}
	if len(evs) == 0 {
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.records {
		if r.batch == &evs[0] {
			out = append(out, copyDelivery(r.d))
		}
	}
	return out
}

// Redeliver sends a delivery again with the same id, headers and body, as
// GitHub's "Redeliver" and GitLab's "Resend request" do. A forge event that
// took several requests under one id is sent again in full.
func (s *Server) Redeliver(ctx context.Context, id string) ([]Delivery, error) {
	s.mu.Lock()
	var again []record
	for _, r := range s.records {
		if r.d.ID == id && !r.d.Redelivery && r.req.url != "" {
			again = append(again, r)
		}
	}
	s.mu.Unlock()
	if len(again) == 0 {
		return nil, fmt.Errorf("delivery %s: %w", id, state.ErrNotFound)
	}
	out := make([]Delivery, 0, len(again))
	for _, r := range again {
		d := Delivery{ID: r.d.ID, Flavor: r.d.Flavor, Kind: r.d.Kind, Repo: r.d.Repo, HookID: r.d.HookID, URL: r.d.URL, Redelivery: true}
		out = append(out, s.send(ctx, d, r.req, nil))
	}
	return out, nil
}

// ResendAs sends a delivery's exact bytes again under a new delivery id,
// as a forge does when it sends the same payload as a new delivery (a retry
// after a timeout by another worker, a replica that answered slowly): the
// receiver cannot tell it from a repeat by the id. Only the id headers
// change; a delivery signed over its id (GitLab's signing token) is refused,
// as its signature would no longer match.
func (s *Server) ResendAs(ctx context.Context, id, newID string) (Delivery, error) {
	s.mu.Lock()
	var again *record
	for i := range s.records {
		if r := s.records[i]; r.d.ID == id && !r.d.Redelivery && r.req.url != "" {
			again = &r
			break
		}
	}
	s.mu.Unlock()
	if again == nil {
		return Delivery{}, fmt.Errorf("delivery %s: %w", id, state.ErrNotFound)
	}
	sr := again.req
	sr.header = sr.header.Clone()
	if sr.header.Get("webhook-signature") != "" {
		return Delivery{}, fmt.Errorf("delivery %s is signed over its id: %w", id, state.ErrInvalid)
	}
	for _, h := range []string{"X-GitHub-Delivery", "X-Gitlab-Event-UUID", "Idempotency-Key"} {
		if sr.header.Get(h) != "" {
			sr.header.Set(h, newID)
		}
	}
	d := Delivery{ID: newID, Flavor: again.d.Flavor, Kind: again.d.Kind, Repo: again.d.Repo, HookID: again.d.HookID, URL: again.d.URL}
	return s.send(ctx, d, sr, nil), nil
}

// RawWebhook is a webhook to send as-is, for testing receivers with hostile
// or unusual payloads.
type RawWebhook struct {
	Flavor     string          `json:"flavor"`                // github or gitlab
	URL        string          `json:"url"`                   // receiver
	Secret     string          `json:"secret,omitempty"`      // HMAC key (github) or token (gitlab)
	Event      string          `json:"event"`                 // X-GitHub-Event / X-Gitlab-Event value
	Payload    json.RawMessage `json:"payload,omitempty"`     // sent byte for byte
	Body       *string         `json:"body,omitempty"`        // instead of payload: any bytes, e.g. broken JSON
	DeliveryID string          `json:"delivery_id,omitempty"` // default: a fresh UUID
	HookID     int64           `json:"hook_id,omitempty"`     // X-GitHub-Hook-ID
	// SigningToken (gitlab, "whsec_<base64 key>") adds Standard Webhooks
	// signature headers, as GitLab does for hooks with a signing token.
	SigningToken string `json:"signing_token,omitempty"`
}

func (w RawWebhook) validate() error {
	var missing []string
	if w.Flavor != GitHub && w.Flavor != GitLab {
		return fmt.Errorf("flavor must be %q or %q, got %q: %w", GitHub, GitLab, w.Flavor, state.ErrInvalid)
	}
	if w.URL == "" {
		missing = append(missing, "url")
	}
	if w.Event == "" {
		missing = append(missing, "event")
	}
	if len(w.Payload) == 0 && w.Body == nil {
		missing = append(missing, "payload (or body)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing %v: %w", missing, state.ErrInvalid)
	}
	if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("url %q must be http(s): %w", w.URL, state.ErrInvalid)
	}
	return nil
}

// Emit sends a raw webhook with the headers, signature or token the given
// forge would add, and records it like any other delivery.
func (s *Server) Emit(ctx context.Context, w RawWebhook) (Delivery, error) {
	if err := w.validate(); err != nil {
		return Delivery{}, err
	}
	body := []byte(w.Payload)
	if w.Body != nil {
		body = []byte(*w.Body)
	}
	id := w.DeliveryID
	if id == "" {
		id = newUUID()
	}
	var h http.Header
	if w.Flavor == GitHub {
		h = githubHeaders(w.Event, id, w.HookID, w.Secret, body)
	} else {
		var err error
		h, err = gitlabHeaders(w.Event, id, s.BaseURL(), w.Secret, w.SigningToken, s.clock(), body)
		if err != nil {
			return Delivery{}, err
		}
	}
	d := Delivery{ID: id, Flavor: w.Flavor, HookID: w.HookID, URL: shownURL(w.URL)}
	return s.send(ctx, d, sentRequest{method: http.MethodPost, url: w.URL, header: h, body: body}, nil), nil
}

func copyDelivery(d Delivery) Delivery {
	d.Headers = d.Headers.Clone()
	d.Payload = slices.Clone(d.Payload)
	return d
}

func redact(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range secretHeaders {
		if out.Get(k) != "" {
			out.Set(k, redacted)
		}
	}
	return out
}

func payloadJSON(b []byte) json.RawMessage {
	if len(b) > 0 && json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := json.Marshal(string(b)) // a string always marshals
	return s
}

func truncate(b []byte) string {
	if len(b) <= maxResponseBody {
		return string(b)
	}
	n := maxResponseBody
	for n > maxResponseBody-utf8.UTFMax && !utf8.RuneStart(b[n]) { // do not cut a rune in half
		n--
	}
	return string(b[:n]) + "…(truncated)"
}

// safeURL drops credentials and the query (which may carry tokens) for logs
// and error messages.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// shownURL hides a password embedded in a hook URL.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable url)"
	}
	return u.Redacted()
}

// newUUID returns a random (version 4) UUID, the form both forges use for
// delivery ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// subscribed tells whether a hook asked for the event a request carries:
// GitHub hooks list event names ("*" for all), GitLab hooks one flag per
// kind of hook. Seeded hooks (no events) hear everything.
func subscribed(h state.Hook, header http.Header) bool {
	if h.Events == nil {
		return true
	}
	switch h.Flavor {
	case GitHub:
		ev := header.Get("X-GitHub-Event")
		return slices.Contains(h.Events, "*") || slices.Contains(h.Events, ev)
	case GitLab:
		flag, ok := glsim.EventFlag(header.Get("X-Gitlab-Event"))
		return ok && slices.Contains(h.Events, flag)
	}
	return false
}
