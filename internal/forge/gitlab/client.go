// Package gitlab implements forge.Client for GitLab (gitlab.com or
// self-managed) with go-gitlab. It is the only package besides its GitHub
// sibling that imports a forge SDK (design decision 5).
package gitlab

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	gl "github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
)

// DefaultTimeout bounds every request when Config.HTTPClient sets none, so a
// stalled forge cannot hold a reconcile job forever.
const DefaultTimeout = forge.DefaultTimeout

const (
	publicAPI  = "https://gitlab.com/api/v4/"
	apiSuffix  = "api/v4/"
	notePrefix = "#note_"
)

// Config says where GitLab is and how the bot authenticates.
type Config struct {
	// APIURL is the REST root (".../api/v4/") or the instance root; empty
	// means gitlab.com.
	APIURL string
	// WebURL is where people browse, for links; derived from APIURL when empty.
	WebURL string
	// Token is a personal, project or group access token, sent in the
	// PRIVATE-TOKEN header and never in URLs.
	Token string
	// HTTPClient carries transport settings; nil means a client with
	// DefaultTimeout. A client without a timeout gets DefaultTimeout.
	HTTPClient *http.Client
}

// Client talks to one GitLab instance as the bot.
type Client struct {
	api   *gl.Client
	web   string // with trailing slash
	token string // kept only to scrub it from error messages
	me    self   // the bot's own account, for FindComment
}

var _ forge.Client = (*Client)(nil)

// New checks cfg and returns a Client; it makes no request.
func New(cfg Config) (*Client, error) {
	if cfg.Token == "" {
		return nil, errors.New("gitlab: token is required")
	}
	hc := forge.HTTPClient(cfg.HTTPClient) // a copy: the caller's client stays as it was
	apiURL := publicAPI
	if cfg.APIURL != "" {
		u, err := parseBase("API URL", cfg.APIURL)
		if err != nil {
			return nil, err
		}
		if !strings.HasSuffix(u.Path, "/"+apiSuffix) {
			u.Path += apiSuffix
			u.RawPath = ""
		}
		apiURL = u.String()
	}
	web := cfg.WebURL
	if web == "" {
		web = strings.TrimSuffix(apiURL, apiSuffix)
	}
	wu, err := parseBase("web URL", web)
	if err != nil {
		return nil, err
	}
	api, err := gl.NewClient(cfg.Token,
		gl.WithBaseURL(apiURL),
		gl.WithHTTPClient(hc),
		// No retries inside the client: a POST retried after a 502 may post a
		// comment twice, and waiting out a 429 here would block the worker.
		// Transient errors go back to the pipeline, whose jobs retry with backoff.
		gl.WithoutRetries(),
	)
	if err != nil {
		return nil, fmt.Errorf("gitlab: %w", err)
	}
	return &Client{api: api, web: wu.String(), token: cfg.Token}, nil
}

// parseBase checks a configured base URL with forge.CheckURL (which adds the
// trailing slash) and puts the package name before its errors.
func parseBase(what, s string) (*url.URL, error) {
	u, err := forge.CheckURL(what, s)
	if err != nil {
		return nil, fmt.Errorf("gitlab: %w", err)
	}
	return u, nil
}

// Forge reports event.GitLab.
func (c *Client) Forge() event.Forge { return event.GitLab }

// BranchURL links to a branch's tree.
func (c *Client) BranchURL(repo, branch string) string {
	return c.web + repo + "/-/tree/" + escapeSegments(branch)
}

// CommitURL links to a commit.
func (c *Client) CommitURL(repo, sha string) string {
	return c.web + repo + "/-/commit/" + url.PathEscape(sha)
}

func escapeSegments(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// checkRepo rejects what cannot be a project path or id before go-gitlab
// builds a URL from it.
func checkRepo(repo string) error {
	if repo == "" || strings.HasPrefix(repo, "/") || strings.HasSuffix(repo, "/") {
		return fmt.Errorf("gitlab: project %q must be a path like group/project", repo)
	}
	return nil
}
