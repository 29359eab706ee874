package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/pipeline"
)

// syncRepo runs `expbot sync --repo github:acme/llm`: it asks the running
// bot, through its admin API, for a drift check of the whole repository.
func syncRepo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("expbot sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	repoFlag := fs.String("repo", "", "repository to check, <forge>:<path>, e.g. github:acme/llm")
	urlFlag := fs.String("url", "", "the bot's base URL (env EXPBOT_ADMIN_URL; default http:// plus EXPBOT_LISTEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sync: unexpected arguments: %v", fs.Args())
	}
	repo, err := pipeline.ParseRepo(*repoFlag)
	if err != nil {
		return fmt.Errorf("sync: --repo: %w", err)
	}
	admin, err := config.LoadAdminClient(getenv)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	base := admin.URL
	if *urlFlag != "" {
		base = strings.TrimSuffix(*urlFlag, "/")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	target := base + "/admin/sync?repo=" + url.QueryEscape(string(repo.Forge)+":"+repo.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, nil)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+admin.Token.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	msg := strings.TrimSpace(string(body))
	switch resp.StatusCode {
	case http.StatusAccepted:
		fmt.Fprintln(stdout, msg)
		return nil
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return errors.New("sync: the bot's admin API is off: start it with EXPBOT_ADMIN_TOKEN (or EXPBOT_ADMIN_TOKEN_FILE) set")
	default:
		return fmt.Errorf("sync: the bot answered %s: %s", resp.Status, msg)
	}
}
