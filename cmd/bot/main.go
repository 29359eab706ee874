// Command expbot turns training-variant requests on GitHub and GitLab into
// experiment branches managed by Pulumi.
//
//	expbot serve [flags]   run the webhook server (see README for settings)
//	expbot demo            run a self-contained walk-through on a simulated forge
//	expbot setup --config forges.yaml [--preview|--destroy]
//	                       register the webhooks and labels on the forges
//	expbot healthcheck     ask a running server's /healthz (the image's HEALTHCHECK)
//	expbot sync --repo github:acme/llm
//	                       ask the running bot for a drift check of a repository
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/rs/zerolog"

	"github.com/expbot/expbot/internal/app"
	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/cpuslice"
	"github.com/expbot/expbot/internal/pulumicli"
)

func main() {
	pulumicli.GuardMain() // when started as the guard of a Pulumi CLI run
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "expbot:", err)
		os.Exit(1)
	}
}

const usage = `usage: expbot <command> [flags]

commands:
  serve   run the webhook server
  demo    walk through label -> branch -> comment -> edit -> close on a simulated forge
  setup   register webhooks and the trigger label on the forges: setup --config forges.yaml [--preview|--destroy]
  healthcheck  exit 0 when a running server answers /healthz (for container HEALTHCHECKs)
  sync    ask the running bot (admin API, EXPBOT_ADMIN_TOKEN) for a drift check of a repository: sync --repo github:acme/llm
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], getenv, stderr)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "setup":
		return setup(ctx, args[1:], getenv, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], getenv, stderr)
	case "sync":
		return syncRepo(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return err
	}
	// Every line written to stderr is scrubbed of the configured secrets:
	// the bot's log, and what libraries write through the standard log
	// and slog (the job queue).
	sc := app.Scrubber(cfg)
	out := sc.Writer(stderr)
	stdlog.SetOutput(out)
	log, err := newLogger(out, cfg.LogLevel)
	if err != nil {
		return err
	}
	// Before the server starts its threads, so that they all inherit it.
	if err := cpuslice.Shorten(cpuslice.Short); err != nil {
		log.Info().Err(err).Msg("short CPU slices unavailable: a webhook may wait for background work's slice to end")
	}
	// The container image points TMPDIR into the data volume (its root
	// file system is read-only), and a fresh volume lacks the directory.
	if dir := getenv("TMPDIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("TMPDIR: %w", err)
		}
	}
	srv, err := app.New(ctx, cfg, log, app.WithScrubber(sc))
	if err != nil {
		return sc.Error(err)
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return sc.Error(srv.Serve(ctx, l))
}

func newLogger(w io.Writer, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil {
		return zerolog.Logger{}, fmt.Errorf("log level %q: %w", level, err)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("service", "expbot").Logger(), nil
}
