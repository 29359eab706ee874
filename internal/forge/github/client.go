// Package github implements forge.Client for GitHub and GitHub Enterprise
// Server with go-github. It is the only package besides its GitLab sibling
// that imports a forge SDK (design decision 5).
package github

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
)

// DefaultTimeout bounds every request when Config.HTTPClient sets none, so a
// stalled forge cannot hold a reconcile job forever.
const DefaultTimeout = forge.DefaultTimeout

const (
	publicAPI = "https://api.github.com/"
	publicWeb = "https://github.com/"
)

// Config says where GitHub is and how the bot authenticates.
type Config struct {
	// APIURL is empty for github.com. Anything else is GitHub Enterprise:
	// the instance root ("https://ghe.example.com/") or its REST root
	// ("https://ghe.example.com/api/v3/"); REST is served under <root>api/v3/.
	APIURL string
	// WebURL is where people browse ("https://ghe.example.com/"), for
	// BranchURL and CommitURL; derived from APIURL when empty.
	WebURL string
	// Token is the bot's token, sent as a bearer token and never in URLs.
	Token string
	// App authenticates as a GitHub App instead of with Token.
	App *AppConfig
	// HTTPClient carries transport settings; nil means a client with
	// DefaultTimeout. A client without a timeout gets DefaultTimeout.
	HTTPClient *http.Client
}

// Client talks to one GitHub instance as the bot.
type Client struct {
	api   *gh.Client
	web   string // with trailing slash
	token string // kept only to scrub it from error messages
	apps  *Installations
	me    self // the bot's own account, for FindComment
}

var _ forge.Client = (*Client)(nil)

// New checks cfg and returns a Client; it makes no request.
func New(cfg Config) (*Client, error) {
	switch {
	case cfg.Token != "" && cfg.App != nil:
		return nil, errors.New("github: use a token or a GitHub App, not both")
	case cfg.Token == "" && cfg.App == nil:
		return nil, errors.New("github: token is required")
	}
	hc := forge.HTTPClient(cfg.HTTPClient) // a copy: the caller's client stays as it was
	api := gh.NewClient(hc)
	if cfg.Token != "" {
		api = api.WithAuthToken(cfg.Token)
	}

	apiURL := publicAPI
	if cfg.APIURL != "" {
		u, err := parseBase("API URL", cfg.APIURL)
		if err != nil {
			return nil, err
		}
		apiURL = u.String()
		if u.Host != "api.github.com" {
			// Adds "api/v3/" unless already there (or the host is "api.*").
			if api, err = api.WithEnterpriseURLs(apiURL, apiURL); err != nil {
				return nil, fmt.Errorf("github: API URL: %w", err)
			}
		}
	}

	web := cfg.WebURL
	if web == "" {
		web = webFromAPI(apiURL)
	}
	wu, err := parseBase("web URL", web)
	if err != nil {
		return nil, err
	}
	c := &Client{api: api, web: wu.String(), token: cfg.Token}
	if cfg.App != nil {
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		if c.apps, err = newInstallations(*cfg.App, base, api.BaseURL.String(), hc.Timeout); err != nil {
			return nil, err
		}
		// go-github keeps a copy of its http.Client: make a second client
		// whose requests carry their repository's installation token.
		ahc := *hc
		ahc.Transport = &appTransport{in: c.apps, apiPath: api.BaseURL.Path}
		authed := gh.NewClient(&ahc)
		authed.BaseURL, authed.UploadURL = api.BaseURL, api.UploadURL
		c.api = authed
	}
	return c, nil
}

// parseBase checks a configured base URL with forge.CheckURL (which adds the
// trailing slash) and puts the package name before its errors.
func parseBase(what, s string) (*url.URL, error) {
	u, err := forge.CheckURL(what, s)
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	return u, nil
}

// webFromAPI derives the browsing URL: api.github.com → github.com,
// api.<x> (GHE.com) → <x>, <root>api/v3/ → <root>.
func webFromAPI(apiURL string) string {
	u, err := url.Parse(apiURL)
	if err != nil {
		return apiURL
	}
	switch {
	case u.Host == "api.github.com":
		return publicWeb
	case strings.HasPrefix(u.Host, "api."):
		u.Host = strings.TrimPrefix(u.Host, "api.")
	default:
		u.Path = strings.TrimSuffix(u.Path, "api/v3/")
	}
	u.RawPath = ""
	return u.String()
}

// Installations is the GitHub App's token source, nil with token auth.
func (c *Client) Installations() *Installations { return c.apps }

// Forge reports event.GitHub.
func (c *Client) Forge() event.Forge { return event.GitHub }

// BranchURL links to a branch's tree; each segment of the name is escaped
// and its slashes kept, as GitHub's own links do.
func (c *Client) BranchURL(repo, branch string) string {
	return c.web + repo + "/tree/" + escapeSegments(branch)
}

// CommitURL links to a commit.
func (c *Client) CommitURL(repo, sha string) string {
	return c.web + repo + "/commit/" + url.PathEscape(sha)
}

func escapeSegments(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// splitRepo turns "owner/name" into its parts.
func splitRepo(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("github: repository %q must be owner/name", repo)
	}
	return owner, name, nil
}
