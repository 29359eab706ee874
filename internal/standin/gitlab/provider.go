package gitlab

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/expbot/expbot/internal/standin/kit"
)

const (
	// Name is the Pulumi package name.
	Name = "gitlab"
	// Version is the official plugin version this stand-in impersonates.
	Version = "8.11.0"
)

// Options are the stand-in's dependencies.
type Options struct {
	// Getenv reads GITLAB_TOKEN and GITLAB_BASE_URL like the official
	// plugin. Defaults to os.Getenv.
	Getenv func(string) string
	// HTTPClient replaces the client built from the config (tests).
	HTTPClient *http.Client
}

// Provider holds the configuration state of one plugin process.
type Provider struct {
	opts Options

	mu  sync.RWMutex
	api *kit.Client

	// files serialises repository file writes: GitLab rejects concurrent
	// commits to one repository, so the official provider queues them too.
	files sync.Mutex
}

// New returns the gRPC server of the stand-in gitlab provider.
func New(opts Options) *kit.Server {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	p := &Provider{opts: opts}
	return kit.NewServer(Name, Version, p, &Branch{p: p}, &RepositoryFile{p: p},
		newProjectHook(p), newGroupHook(p),
		newLabel(p, "gitlab:index/label:Label", "project"), newLabel(p, "gitlab:index/groupLabel:GroupLabel", "group"))
}

// IsStringConfig implements kit.Configurer.
func (p *Provider) IsStringConfig(key string) bool {
	switch key {
	case "token", "baseUrl", "cacertFile", "clientCert", "clientKey":
		return true
	}
	return false
}

// CheckConfig implements kit.Configurer.
func (p *Provider) CheckConfig(_ context.Context, news resource.PropertyMap) (resource.PropertyMap, kit.Failures, error) {
	var f kit.Failures
	f.String(news, "token", "baseUrl", "cacertFile", "clientCert", "clientKey")
	f.Bool(news, "insecure", "earlyAuthCheck")
	f.Int(news, "retries")
	if kit.Known(news, "baseUrl") {
		if _, err := apiBase(kit.Str(news, "baseUrl")); err != nil {
			f.Add("baseUrl", "%v", err)
		}
	}
	if kit.Has(news, "clientCert") != kit.Has(news, "clientKey") {
		f.Add("clientKey", "clientCert and clientKey must be set together")
	}
	return news, f, nil
}

// Configure implements kit.Configurer: it builds the API client and, unless
// earlyAuthCheck is false, checks the token with GET /user.
func (p *Provider) Configure(ctx context.Context, cfg resource.PropertyMap) error {
	s, err := parseSettings(cfg, p.opts.Getenv)
	if err != nil {
		return err
	}
	api, err := s.client(p.opts.HTTPClient)
	if err != nil {
		return err
	}
	if s.earlyAuthCheck {
		resp, err := api.Do(ctx, kit.Request{Method: http.MethodGet, Path: "user"})
		if err != nil {
			return fmt.Errorf("check GitLab credentials: %w", err)
		}
		if err := resp.Expect(http.StatusOK); err != nil {
			return fmt.Errorf("check GitLab credentials: %w", err)
		}
	}
	p.mu.Lock()
	p.api = api
	p.mu.Unlock()
	return nil
}

func (p *Provider) client() (*kit.Client, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.api == nil {
		return nil, errors.New("the gitlab provider is not configured")
	}
	return p.api, nil
}
