package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/expbot/expbot/internal/standin/kit"
)

const (
	// Name is the Pulumi package name.
	Name = "github"
	// Version is the official plugin version this stand-in impersonates.
	Version = "6.12.1"
)

// Options are the stand-in's dependencies.
type Options struct {
	// Getenv reads GITHUB_TOKEN, GITHUB_OWNER, ... like the official plugin.
	// Defaults to os.Getenv.
	Getenv func(string) string
	// HTTPClient replaces the client built from the config (tests).
	HTTPClient *http.Client
}

// Provider holds the configuration state of one plugin process.
type Provider struct {
	opts Options

	mu   sync.RWMutex
	conn *conn
}

// conn is a configured API connection.
type conn struct {
	api   *kit.Client
	owner string
}

// New returns the gRPC server of the stand-in github provider.
func New(opts Options) *kit.Server {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	p := &Provider{opts: opts}
	return kit.NewServer(Name, Version, p, &Branch{p: p}, &RepositoryFile{p: p},
		newRepositoryWebhook(p), newOrganizationWebhook(p), &IssueLabel{p: p})
}

// IsStringConfig implements kit.Configurer.
func (p *Provider) IsStringConfig(key string) bool {
	switch key {
	case "token", "owner", "organization", "baseUrl":
		return true
	}
	return false
}

// CheckConfig implements kit.Configurer.
func (p *Provider) CheckConfig(_ context.Context, news resource.PropertyMap) (resource.PropertyMap, kit.Failures, error) {
	var f kit.Failures
	f.String(news, "token", "owner", "organization", "baseUrl")
	f.Bool(news, "insecure", "parallelRequests")
	f.Int(news, "writeDelayMs", "readDelayMs", "maxRetries", "retryDelayMs", "maxPerPage")
	if kit.Known(news, "baseUrl") {
		if _, err := restBase(kit.Str(news, "baseUrl")); err != nil {
			f.Add("baseUrl", "%v", err)
		}
	}
	if kit.Known(news, "appAuth") {
		if _, err := parseAppAuth(news, p.opts.Getenv); err != nil {
			f.Add("appAuth", "%v", err)
		}
	}
	return news, f, nil
}

// Configure implements kit.Configurer: it builds the API client and, like the
// official provider, looks the owner up (GET /orgs/{owner}, or GET /user
// when no owner is configured).
func (p *Provider) Configure(ctx context.Context, cfg resource.PropertyMap) error {
	s, err := parseSettings(cfg, p.opts.Getenv)
	if err != nil {
		return err
	}
	if s.app != nil { // as the official provider: the app's token replaces any other
		base, err := restBase(s.baseURL)
		if err != nil {
			return err
		}
		httpc := p.opts.HTTPClient
		if httpc == nil {
			httpc = &http.Client{Timeout: 60 * time.Second}
		}
		if s.token, err = s.app.token(ctx, httpc, base); err != nil {
			return err
		}
	}
	api, err := s.client(p.opts.HTTPClient)
	if err != nil {
		return err
	}
	c := &conn{api: api, owner: s.owner}
	if err := c.lookupOwner(ctx, s.token != ""); err != nil {
		return err
	}
	p.mu.Lock()
	p.conn = c
	p.mu.Unlock()
	return nil
}

func (p *Provider) connection() (*conn, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.conn == nil {
		return nil, errors.New("the github provider is not configured")
	}
	if p.conn.owner == "" {
		return nil, errors.New("the github provider has no owner: set owner (or a token whose user owns the repositories)")
	}
	return p.conn, nil
}

func (c *conn) lookupOwner(ctx context.Context, authenticated bool) error {
	if c.owner != "" {
		resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: "orgs/" + url.PathEscape(c.owner)})
		if err != nil {
			return fmt.Errorf("look up owner %q: %w", c.owner, err)
		}
		// 404 means the owner is a user account, which is fine.
		if err := resp.Expect(http.StatusOK, http.StatusNotFound); err != nil {
			return fmt.Errorf("look up owner %q: %w", c.owner, err)
		}
		return nil
	}
	if !authenticated {
		return nil
	}
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: "user"})
	if err != nil {
		return fmt.Errorf("look up authenticated user: %w", err)
	}
	if err := resp.Expect(http.StatusOK); err != nil {
		return fmt.Errorf("look up authenticated user: %w", err)
	}
	var u struct {
		Login string `json:"login"`
	}
	if err := resp.JSON(&u); err != nil {
		return err
	}
	c.owner = u.Login
	return nil
}
