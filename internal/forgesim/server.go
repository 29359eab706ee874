// Package forgesim is a simulated forge for tests and demos: one HTTP server
// that serves GitHub's REST API under /api/v3/ and GitLab's under /api/v4/
// over one in-memory model (package state), sends webhooks as the real
// services do, records every delivery, and offers an admin API under /_sim/
// for tests and for people driving it with curl. Test support only: it is
// never on the production path.
//
// The admin API has no authentication: bind the server to a loopback address.
package forgesim

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expbot/expbot/internal/forgesim/ghsim"
	"github.com/expbot/expbot/internal/forgesim/glsim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// DeliveryBuilder makes the webhook requests one forge flavour sends to hook
// for ev; ghsim.NewDelivery and glsim.NewDelivery are the real ones.
type DeliveryBuilder func(ctx context.Context, ev state.Event, hook state.Hook, deliveryID, baseURL string) ([]*http.Request, error)

// Flavours of forge, as in state.Hook.Flavor.
const (
	GitHub = "github"
	GitLab = "gitlab"
)

// deliveryTimeout is how long GitHub and GitLab wait for a webhook answer.
const deliveryTimeout = 10 * time.Second

// defaultMaxDeliveries bounds the in-memory delivery log of a long-running demo.
const defaultMaxDeliveries = 10000

// fallbackBaseURL is used in payload links until a base URL is known; the
// .invalid name makes a forgotten SetBaseURL obvious.
const fallbackBaseURL = "http://forgesim.invalid"

// Server is a simulated forge with its webhook dispatcher and admin API.
type Server struct {
	forge    *state.Forge
	apps     *ghsim.Apps
	client   *http.Client
	builders map[string]DeliveryBuilder
	log      *slog.Logger
	clock    func() time.Time
	ctx      context.Context // parent of every delivery; cancelled by Close
	cancel   context.CancelFunc
	maxKeep  int
	mux      *http.ServeMux
	retry    RetryPolicy
	retrying atomic.Int64 // deliveries waiting to be sent again

	mu      sync.Mutex
	baseURL string
	seq     int64
	records []record
	faults  []*fault
}

// Option configures a Server.
type Option func(*Server)

// WithBaseURL sets the forge's external URL (e.g. "http://127.0.0.1:8900"),
// used for links in payloads and API answers.
func WithBaseURL(u string) Option { return func(s *Server) { s.baseURL = strings.TrimSuffix(u, "/") } }

// WithHTTPClient replaces the client that sends webhooks (default: 10 s
// timeout, redirects not followed, as the real services behave).
func WithHTTPClient(c *http.Client) Option { return func(s *Server) { s.client = c } }

// WithDeliveryBuilder replaces the webhook builder of one flavour, for tests
// of the dispatcher itself.
func WithDeliveryBuilder(flavor string, b DeliveryBuilder) Option {
	return func(s *Server) { s.builders[flavor] = b }
}

// WithLogger sets where deliveries are logged (default: nowhere).
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithClock replaces time.Now for the model and the delivery log.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.clock = now } }

// WithMaxDeliveries bounds how many deliveries are kept (oldest dropped).
func WithMaxDeliveries(n int) Option { return func(s *Server) { s.maxKeep = n } }

// WithContext sets the parent context of all deliveries; cancelling it (or
// calling Close) aborts those in flight.
func WithContext(ctx context.Context) Option { return func(s *Server) { s.ctx = ctx } }

// New returns a Server over a new, empty forge.
func New(opts ...Option) *Server {
	s := &Server{
		client: &http.Client{
			Timeout: deliveryTimeout,
			// Neither GitHub nor GitLab follows redirects when delivering.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		builders: map[string]DeliveryBuilder{GitHub: ghsim.NewDelivery, GitLab: glsim.NewDelivery},
		log:      slog.New(slog.DiscardHandler),
		clock:    time.Now,
		ctx:      context.Background(),
		maxKeep:  defaultMaxDeliveries,
	}
	for _, o := range opts {
		o(s)
	}
	s.ctx, s.cancel = context.WithCancel(s.ctx)
	s.forge = state.New(state.WithClock(s.clock), state.WithEventSink(s.dispatch))
	s.mux = http.NewServeMux()
	s.apps = ghsim.NewApps(s.forge)
	s.apps.SetWebhookSender(func(ctx context.Context, url, secret, event string, payload []byte) {
		if _, err := s.Emit(ctx, RawWebhook{Flavor: GitHub, URL: url, Secret: secret, Event: event, Payload: payload}); err != nil {
			s.log.Warn("app webhook not sent", "event", event, "err", err)
		}
	}, s.BaseURL)
	s.mux.Handle("/api/v3/", http.StripPrefix("/api/v3", ghsim.NewHandler(s.forge, s.apps, s.ping)))
	s.mux.Handle("/api/v4/", http.StripPrefix("/api/v4", glsim.NewHandler(s.forge)))
	s.routeAdmin(s.mux)
	s.mux.HandleFunc("GET /{$}", s.index)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	return s
}

// Forge returns the model, for tests that act on it directly; events caused
// through it are delivered like those caused through the APIs.
func (s *Server) Forge() *state.Forge { return s.forge }

// Apps returns the simulated GitHub's Apps, for tests that register one.
func (s *Server) Apps() *ghsim.Apps { return s.apps }

// Handler serves the GitHub API (/api/v3/), the GitLab API (/api/v4/), the
// admin API (/_sim/) and a short index page (/).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.learnBaseURL(r)
		if s.injectFault(w, r) {
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// SetBaseURL sets the external URL once it is known (httptest servers get
// theirs after the handler exists).
func (s *Server) SetBaseURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.baseURL = strings.TrimSuffix(u, "/")
}

// BaseURL returns the external URL used in payload links.
func (s *Server) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.baseURL == "" {
		return fallbackBaseURL
	}
	return s.baseURL
}

// learnBaseURL takes the base URL from the first request when none was set.
func (s *Server) learnBaseURL(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.baseURL != "" || r.Host == "" {
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	s.baseURL = scheme + "://" + r.Host
}

// Close aborts deliveries in flight; the Server must not be used afterwards.
func (s *Server) Close() { s.cancel() }

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	base := s.BaseURL()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "forgesim: a simulated GitHub and GitLab, for tests and demos.\n\n"+
		"GitHub REST API: "+base+"/api/v3/\n"+
		"GitLab REST API: "+base+"/api/v4/\n"+
		"Admin API:       "+base+"/_sim/ (no authentication: keep it on loopback)\n\n"+adminRoutes)
}
