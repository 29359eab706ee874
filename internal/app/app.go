// Package app wires expbot's parts into the running server: store, forge
// clients, pipeline, webhook endpoints, health and metrics.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/expbot/expbot/handlers"
	"github.com/expbot/expbot/internal/ackfirst"
	"github.com/expbot/expbot/internal/allow"
	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	githubforge "github.com/expbot/expbot/internal/forge/github"
	gitlabforge "github.com/expbot/expbot/internal/forge/gitlab"
	"github.com/expbot/expbot/internal/pulumicli"
	"github.com/expbot/expbot/internal/scrub"
	"github.com/expbot/expbot/pipeline"
	"github.com/expbot/expbot/pipeline/store"
)

// Provider plugin versions the pinned SDKs ask the engine for.
const (
	GitHubPluginVersion = "6.12.1"
	GitLabPluginVersion = "8.11.0"
)

// Server is a wired expbot, ready to Serve.
type Server struct {
	cfg     config.Config
	log     zerolog.Logger
	store   store.Store
	handler http.Handler
	cli     pulumicli.CLI
	owner   pulumicli.Owner // marks the Pulumi processes this server starts
	hooks   store.Handlers
	scrub   *scrub.Scrubber
	drift   *pipeline.DriftSchedule
	inbox   *pipeline.Inbox // nil: deliveries are applied before they are acknowledged
	acks    *ackfirst.Gate  // closed while a delivery is acknowledged; the background waits at it
}

// Option changes how New wires the server.
type Option func(*Server)

// WithScrubber makes the server scrub with sc, the scrubber its logger
// writes through (see Scrubber); by default New makes its own.
func WithScrubber(sc *scrub.Scrubber) Option { return func(s *Server) { s.scrub = sc } }

// Scrubber returns a scrubber of every secret in cfg. Runtime secrets
// (tokens the bot obtains while running) are added to it with Add.
func Scrubber(cfg config.Config) *scrub.Scrubber {
	sc := scrub.New()
	sc.Add(scrubbed(cfg)...)
	return sc
}

// scrubbed lists cfg's secrets and, for a GitLab signing secret, also its
// key without the whsec_ prefix.
func scrubbed(cfg config.Config) []string {
	var out []string
	if p := storePassword(cfg.StoreURL); p != "" {
		out = append(out, p)
	}
	for _, v := range cfg.Secrets() {
		out = append(out, v)
		if k, ok := strings.CutPrefix(v, "whsec_"); ok {
			out = append(out, k)
		}
		if strings.Contains(v, "PRIVATE KEY-----") {
			// A PEM key (the GitHub App's): its lines, should a part of it
			// ever be quoted.
			for _, line := range strings.Split(v, "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
					out = append(out, line)
				}
			}
		}
	}
	return out
}

// New opens the store, finds the Pulumi CLI and builds the HTTP handler.
//
// Every text that leaves the process or reaches the database passes
// through the scrubber: the comments the bot posts, what it writes to the
// store, its HTTP answers, and (through the logger's writer, set up by the
// caller) its log.
func New(ctx context.Context, cfg config.Config, log zerolog.Logger, opts ...Option) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if cfg.Pulumi.PluginDir != "" {
		if err := pulumicli.LinkPlugins(cfg.Pulumi.Home, cfg.Pulumi.PluginDir); err != nil {
			return nil, err
		}
	}
	cli, err := pulumicli.Locate(ctx, cfg.Pulumi.CLI)
	if err != nil {
		return nil, err
	}
	backend, err := cfg.BackendURL()
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{cfg: cfg, log: log, cli: cli, scrub: scrub.New(), acks: ackfirst.New(ackfirst.DefaultMaxClosed)}
	for _, o := range opts {
		o(s)
	}
	if short := s.scrub.Add(scrubbed(cfg)...); len(short) > 0 {
		log.Warn().Int("count", len(short)).Int("min_length", scrub.MinLen).
			Msg("secrets shorter than the minimum length are not scrubbed from output: use longer ones")
	}
	st, err := openStore(ctx, cfg, reg, s.acks)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s.store = store.Scrubbed(st, s.scrub)
	// The store holds the data directory now: Pulumi processes marked as
	// an earlier expbot's of this directory are leftovers of a crash.
	if s.owner, err = pulumicli.SelfOwner(cfg.DataDir); err != nil {
		_ = st.Close()
		return nil, err
	}
	if n, err := pulumicli.SweepLeftovers(s.owner); err != nil {
		log.Warn().Err(err).Int("killed", n).Msg("sweep Pulumi processes left by an earlier expbot")
	} else if n > 0 {
		log.Warn().Int("killed", n).Msg("killed Pulumi processes left by an earlier expbot")
	}
	if err := s.wire(ctx, backend, reg); err != nil {
		_ = st.Close()
		return nil, err
	}
	return s, nil
}

// commitMetric registers the store's commit durations. Every
// acknowledgement waits for one commit that syncs, so this histogram shows
// how much of expbot_webhook_ack_seconds is the disk.
func commitMetric(reg prometheus.Registerer) func(synced bool, took time.Duration) {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "expbot_store_commit_seconds",
		Help:    "Commits of the store's write connection, by whether they waited for an fsync.",
		Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, 1},
	}, []string{"fsync"})
	reg.MustRegister(h)
	synced, lazy := h.WithLabelValues("true"), h.WithLabelValues("false")
	return func(fsync bool, took time.Duration) {
		if fsync {
			synced.Observe(took.Seconds())
		} else {
			lazy.Observe(took.Seconds())
		}
	}
}

func (s *Server) wire(ctx context.Context, backend string, reg *prometheus.Registry) error {
	cfg := s.cfg

	clients := map[event.Forge]forge.Client{}
	forges := map[event.Forge]pipeline.Forge{}
	var installations pipeline.Installations // GitHub App only
	if cfg.GitHub.Enabled {
		ghc := githubforge.Config{APIURL: cfg.GitHub.APIURL, WebURL: cfg.GitHub.WebURL, Token: cfg.GitHub.Token.Reveal()}
		if cfg.GitHub.AppAuth() {
			ghc.App = &githubforge.AppConfig{ID: cfg.GitHub.AppID, PrivateKey: []byte(cfg.GitHub.AppPrivateKey.Reveal()),
				InstallationID: cfg.GitHub.AppInstallationID, OnToken: s.addToken}
		}
		c, err := githubforge.New(ghc)
		if err != nil {
			return err
		}
		clients[event.GitHub] = forge.Scrubbed(c, s.scrub.String)
		base := cfg.GitHub.APIURL
		if base == "" {
			base = "https://api.github.com/"
		}
		prov := pipeline.ProviderConfig{Forge: event.GitHub, BaseURL: withSlash(base), Token: cfg.GitHub.Token.Reveal(), WriteDelayMs: cfg.GitHub.WriteDelayMs}
		if in := c.Installations(); in != nil {
			// A wrong key or app id stops start-up here, with GitHub's reason.
			vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			slug, err := in.Verify(vctx)
			cancel()
			if err != nil {
				return err
			}
			s.log.Info().Str("app", slug).Int64("app_id", cfg.GitHub.AppID).Int64("installation", cfg.GitHub.AppInstallationID).
				Msg("GitHub App authentication; comments are signed " + slug + "[bot]")
			prov.App = &pipeline.ProviderApp{ID: cfg.GitHub.AppID, PEM: cfg.GitHub.AppPrivateKey.Reveal(), Installation: in.InstallationOf}
			installations = in
		}
		forges[event.GitHub] = pipeline.Forge{Client: clients[event.GitHub], Provider: prov}
	}
	if cfg.GitLab.Enabled {
		c, err := gitlabforge.New(gitlabforge.Config{APIURL: cfg.GitLab.APIURL, WebURL: cfg.GitLab.WebURL, Token: cfg.GitLab.Token.Reveal()})
		if err != nil {
			return err
		}
		clients[event.GitLab] = forge.Scrubbed(c, s.scrub.String)
		forges[event.GitLab] = pipeline.Forge{Client: clients[event.GitLab], Provider: pipeline.ProviderConfig{
			Forge: event.GitLab, BaseURL: withSlash(cfg.GitLab.APIURL), Token: cfg.GitLab.Token.Reveal(),
		}}
	}

	deleteOnRetire := cfg.Retire == "delete"
	rep := &pipeline.Reporter{Store: s.store, Forges: clients, VariantFile: cfg.VariantFile, Gate: s.acks}
	pm := pipeline.NewMetrics(reg, s.store)
	rec := pipeline.NewReconciler(s.store, forges, pipeline.PulumiEnv{
		CLI:         pulumicli.Supervised(s.cli, pulumicli.Priority{Nice: cfg.Pulumi.Nice, Idle: cfg.Pulumi.Idle}, s.owner),
		Home:        cfg.Pulumi.Home,
		BackendURL:  backend,
		Passphrase:  cfg.Pulumi.Passphrase.Reveal(),
		WorkRoot:    filepath.Join(cfg.DataDir, "pulumi", "work"),
		OneProcess:  cfg.StoreURL == "", // SQLite: the data directory's process alone
		HistoryKeep: cfg.Pulumi.HistoryKeep,
	}, pipeline.VariantFile{Path: cfg.VariantFile}, pm, s.log)
	sweepCfg := pipeline.SweepConfig{TagPattern: cfg.TagPattern, File: cfg.SweepFile, Limit: cfg.SweepLimit, DeleteOnRetire: deleteOnRetire}
	sweeps := &pipeline.Sweeps{Store: s.store, Forges: clients, Cfg: sweepCfg, Log: s.log}
	rank, _ := config.AccessRank(cfg.CommandAccess) // validated with the configuration
	cmds := &pipeline.Commands{Store: s.store, Forges: clients, Reconciler: rec, Log: s.log, Cfg: pipeline.CommandConfig{
		MinAccess: forge.Access(rank), BranchTemplate: cfg.PullTemplate, DeleteOnRetire: deleteOnRetire,
	}}
	var intake *pipeline.Intake // set below; its Reread runs as a queued task
	s.hooks = store.Handlers{Reconcile: rec.Reconcile, Report: rep.Report, Workers: cfg.Workers,
		Tasks: map[string]func(context.Context, json.RawMessage) error{
			pipeline.TaskCommand: cmds.Run,
			pipeline.TaskSweep:   sweeps.Run,
			pipeline.TaskIssue:   func(ctx context.Context, p json.RawMessage) error { return intake.Reread(ctx, p) },
			pipeline.TaskDrift:   rec.RunDrift,
		}}

	allowList, err := allow.Parse(cfg.Allow)
	if err != nil {
		return fmt.Errorf("allow: %w", err)
	}
	intake = &pipeline.Intake{Store: s.store, Allow: allowList, Sweep: sweepCfg, Forges: clients, Installations: installations, Cfg: pipeline.IntakeConfig{
		Label: cfg.Label, BranchTemplate: cfg.BranchTemplate, DeleteOnRetire: deleteOnRetire,
	}}
	// On PostgreSQL an acknowledgement waits for one statement (the inbox)
	// rather than the intake's dozen round trips; on SQLite the intake's
	// transaction runs in the process, group-committed, and costs less
	// than keeping the delivery first would.
	var recorder handlers.Recorder = intake
	if cfg.StoreURL != "" {
		s.inbox = &pipeline.Inbox{Store: s.store, Intake: intake, Log: s.log, Metrics: pipeline.NewInboxMetrics(reg, s.store), Gate: s.acks}
		recorder = s.inbox
	}
	hm := handlers.NewMetrics(reg)
	opts := handlers.Options{MaxBodyBytes: cfg.BodyLimit, Budget: handlers.NewBudget(cfg.BodyBudget), Gate: s.acks}
	mux := http.NewServeMux()
	if cfg.GitHub.Enabled {
		gh := handlers.GitHubConfig{Secrets: reveal(cfg.GitHub.WebhookSecrets), Options: opts}
		if err := gh.Validate(); err != nil {
			return err
		}
		mux.Handle("/webhooks/github", handlers.NewGitHub(gh, recorder, hm, s.log))
	}
	if cfg.GitLab.Enabled {
		gl := handlers.GitLabConfig{Tokens: reveal(cfg.GitLab.WebhookTokens), SigningSecrets: reveal(cfg.GitLab.SigningSecrets), Options: opts}
		if err := gl.Validate(); err != nil {
			return err
		}
		mux.Handle("/webhooks/gitlab", handlers.NewGitLab(gl, recorder, hm, s.log))
	}
	s.drift = &pipeline.DriftSchedule{Store: s.store, Interval: cfg.DriftInterval, Log: s.log}
	if cfg.AdminToken != "" { // off without a token
		mux.Handle("POST /admin/sync", s.adminSync(cfg.AdminToken.Reveal(), forges))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.ready)
	// Uncompressed, so that the answer scrubber reads the text.
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true}))
	s.handler = s.scrub.Handler(mux)
	return nil
}

// Handler is the HTTP surface: webhooks, /healthz, /readyz, /metrics.
func (s *Server) Handler() http.Handler { return s.handler }

// ready answers 200 when the store answers and Pulumi can run; otherwise 503
// with the reasons, so an orchestrator holds traffic back.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var problems []error
	if err := s.store.Ping(ctx); err != nil {
		problems = append(problems, fmt.Errorf("store: %w", err))
	}
	if _, err := os.Stat(s.cli.Path); err != nil {
		problems = append(problems, fmt.Errorf("pulumi CLI: %w", err))
	}
	if s.cfg.GitHub.Enabled {
		problems = append(problems, s.pluginPresent("github", GitHubPluginVersion))
	}
	if s.cfg.GitLab.Enabled {
		problems = append(problems, s.pluginPresent("gitlab", GitLabPluginVersion))
	}
	if err := errors.Join(problems...); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// pluginPresent looks where the engine looks: the exact version directory in
// PULUMI_HOME, or an ambient plugin on PATH.
func (s *Server) pluginPresent(name, version string) error {
	home := s.cfg.Pulumi.Home
	if home == "" {
		if h := os.Getenv("PULUMI_HOME"); h != "" {
			home = h
		} else if u, err := os.UserHomeDir(); err == nil {
			home = filepath.Join(u, ".pulumi")
		}
	}
	bin := "pulumi-resource-" + name
	if _, err := os.Stat(filepath.Join(home, "plugins", "resource-"+name+"-v"+version, bin)); err == nil {
		return nil
	}
	if _, err := exec.LookPath(bin); err == nil {
		return nil
	}
	return fmt.Errorf("provider plugin %s %s is not installed (pulumi plugin install resource %s %s)", name, version, name, version)
}

// Serve runs the job workers and the HTTP server on l until ctx ends, then
// shuts down gracefully: stop taking requests, let running jobs finish
// within shutdown_grace, interrupt those still running (they run again at
// the next start).
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	// The workers outlive ctx (SIGTERM): Stop below gives running jobs
	// shutdown_grace before it interrupts them.
	if err := s.store.Start(context.WithoutCancel(ctx), s.hooks); err != nil {
		return fmt.Errorf("start workers: %w", err)
	}
	schedCtx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	go func() { defer close(schedDone); s.drift.Run(schedCtx) }()
	inboxCtx, stopInbox := context.WithCancel(context.WithoutCancel(ctx))
	inboxDone := make(chan struct{})
	go func() {
		defer close(inboxDone)
		if s.inbox != nil {
			s.inbox.Run(inboxCtx)
		}
	}()
	srv := s.httpServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	s.log.Info().Str("addr", l.Addr().String()).Msg("expbot serving")

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	grace, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownGrace)
	defer cancel()
	s.log.Info().Msg("shutting down")
	if err := srv.Shutdown(grace); err != nil {
		s.log.Warn().Err(err).Msg("http shutdown")
	}
	stopSched() // it queues work: stopped before the queue is
	<-schedDone
	// Applies what it claimed; what it did not stays kept for the next
	// start or another replica.
	stopInbox()
	select {
	case <-inboxDone:
	case <-grace.Done():
		s.log.Warn().Msg("the inbox did not stop within shutdown_grace")
	}
	if err := s.store.Stop(grace); err != nil {
		s.log.Warn().Err(err).Msg("stop workers")
	} else {
		s.log.Info().Msg("running jobs finished")
	}
	if err := s.store.Close(); err != nil {
		s.log.Warn().Err(err).Msg("close store")
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// httpServer bounds what a client can hold: the whole request (headers and
// body) must arrive within body_timeout (a slower one gets 408 and its
// connection closed), the answer must be taken within the time a webhook
// may need, and an idle keep-alive connection is closed after a minute.
func (s *Server) httpServer() *http.Server {
	return &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: min(10*time.Second, s.cfg.BodyTimeout),
		ReadTimeout:       s.cfg.BodyTimeout,
		WriteTimeout:      s.cfg.BodyTimeout + handlers.DefaultRecordTimeout + 10*time.Second,
		IdleTimeout:       time.Minute,
	}
}

// addToken receives the GitHub App's installation tokens, which exist only
// at run time: the scrubber keeps them out of logs, comments and the
// database like the configured secrets, each installation's current and
// previous one (a token lives an hour; keeping all would grow for good).
func (s *Server) addToken(installationID int64, tok string) {
	s.scrub.Rotate("github-installation-"+strconv.FormatInt(installationID, 10), tok)
}

func reveal(ss []config.Secret) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.Reveal()
	}
	return out
}

func withSlash(u string) string {
	if u == "" || u[len(u)-1] == '/' {
		return u
	}
	return u + "/"
}
