// Command forgesim runs the simulated forge: GitHub's REST API under
// /api/v3/, GitLab's under /api/v4/, webhooks to the hooks registered on its
// repositories, and an admin API under /_sim/ for tests and demos.
//
// The admin API has no authentication: keep --addr on a loopback address.
//
//	forgesim --seed internal/forgesim/testdata/seed.yaml
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/expbot/expbot/internal/forgesim"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(context.Background(), os.Args[1:], log); err != nil {
		log.Error("forgesim failed", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, log *slog.Logger) error {
	fs := flag.NewFlagSet("forgesim", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8900", "listen address; keep it on loopback, the admin API has no authentication")
	seed := fs.String("seed", "", "YAML or JSON file with users, orgs and repositories to create at start")
	baseURL := fs.String("base-url", "", "external URL used in payload links (default: taken from the first request's Host)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var opts []forgesim.Option
	if *baseURL != "" {
		opts = append(opts, forgesim.WithBaseURL(*baseURL))
	}
	opts = append(opts, forgesim.WithLogger(log))
	srv := forgesim.New(opts...)
	defer srv.Close() // after Shutdown, so deliveries in flight may finish first

	if *seed != "" {
		f, err := os.Open(*seed)
		if err != nil {
			return fmt.Errorf("opening seed: %w", err)
		}
		err = srv.LoadSeed(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("loading seed %s: %w", *seed, err)
		}
		log.Info("seed loaded", "file", *seed)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	if host, _, _ := net.SplitHostPort(ln.Addr().String()); !isLoopback(host) {
		log.Warn("listening beyond loopback: anyone who can reach it can use the unauthenticated admin API", "addr", ln.Addr().String())
	}
	shown := *baseURL
	if shown == "" {
		shown = "http://" + ln.Addr().String()
	}
	shown = strings.TrimSuffix(shown, "/")
	log.Info("forgesim listening",
		"github_api", shown+"/api/v3/",
		"gitlab_api", shown+"/api/v4/",
		"admin_api", shown+"/_sim/")

	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
