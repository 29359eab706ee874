package github

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/expbot/expbot/internal/standin/kit"
)

const defaultBaseURL = "https://api.github.com/"

// settings is the parsed provider configuration.
type settings struct {
	token, owner, baseURL string
	insecure, parallel    bool
	writeDelay, readDelay time.Duration
	retryDelay            time.Duration
	maxRetries            int
	retryable             []int
	app                   *appAuth // nil: token authentication
}

// parseSettings applies the official defaults: writeDelayMs 1000,
// readDelayMs 0, maxRetries 3, retryDelayMs 1000, retryable 500/502/503/504.
// As measured with the official plugin, GITHUB_OWNER / GITHUB_ORGANIZATION
// in the plugin's environment win over an explicit owner.
func parseSettings(cfg resource.PropertyMap, getenv func(string) string) (settings, error) {
	s := settings{
		token:   kit.Str(cfg, "token"),
		baseURL: kit.Str(cfg, "baseUrl"),
	}
	if s.token == "" {
		s.token = getenv("GITHUB_TOKEN")
	}
	app, err := parseAppAuth(cfg, getenv)
	if err != nil {
		return s, err
	}
	s.app = app
	if s.baseURL == "" {
		s.baseURL = getenv("GITHUB_BASE_URL")
	}
	if s.baseURL == "" {
		s.baseURL = defaultBaseURL
	}
	for _, o := range []string{getenv("GITHUB_OWNER"), getenv("GITHUB_ORGANIZATION"),
		kit.Str(cfg, "owner"), kit.Str(cfg, "organization")} {
		if o != "" {
			s.owner = o
			break
		}
	}
	if s.insecure, _, err = kit.Bool(cfg, "insecure"); err != nil {
		return s, err
	}
	if s.parallel, _, err = kit.Bool(cfg, "parallelRequests"); err != nil {
		return s, err
	}
	ms := func(key string, def int) (time.Duration, error) {
		n, set, err := kit.Int(cfg, key)
		if !set {
			n = def
		}
		return time.Duration(n) * time.Millisecond, err
	}
	if s.writeDelay, err = ms("writeDelayMs", 1000); err != nil {
		return s, err
	}
	if s.readDelay, err = ms("readDelayMs", 0); err != nil {
		return s, err
	}
	if s.retryDelay, err = ms("retryDelayMs", 1000); err != nil {
		return s, err
	}
	n, set, err := kit.Int(cfg, "maxRetries")
	if err != nil {
		return s, err
	}
	s.maxRetries = 3
	if set {
		s.maxRetries = n
	}
	s.retryable = []int{500, 502, 503, 504}
	if v, ok := cfg["retryableErrors"]; ok && kit.Plain(v).IsArray() {
		s.retryable = nil
		for _, e := range kit.Plain(v).ArrayValue() {
			if e.IsNumber() {
				s.retryable = append(s.retryable, int(e.NumberValue()))
			}
		}
	}
	return s, nil
}

// restBase returns the REST root for a configured base URL: github.com as
// is, anything else is GitHub Enterprise with the API under "api/v3/".
func restBase(baseURL string) (string, error) {
	if !strings.HasSuffix(baseURL, "/") {
		baseURL += "/"
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("invalid baseUrl %q", baseURL)
	}
	if baseURL == defaultBaseURL {
		return baseURL, nil
	}
	return baseURL + "api/v3/", nil
}

func (s settings) client(httpc *http.Client) (*kit.Client, error) {
	base, err := restBase(s.baseURL)
	if err != nil {
		return nil, err
	}
	if httpc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if s.insecure {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the official `insecure` option
		}
		httpc = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	}
	h := http.Header{}
	h.Set("Accept", "application/vnd.github.v3+json")
	h.Set("User-Agent", "pulumi-resource-github-standin/"+Version)
	if s.token != "" {
		h.Set("Authorization", "Bearer "+s.token)
	}
	c, err := kit.NewClient(kit.ClientOptions{
		BaseURL:    base,
		Header:     h,
		HTTPClient: httpc,
		WriteDelay: s.writeDelay,
		ReadDelay:  s.readDelay,
		MaxRetries: s.maxRetries,
		RetryDelay: s.retryDelay,
		Retryable:  s.retryable,
		Parallel:   s.parallel,
	})
	if err != nil {
		return nil, fmt.Errorf("github client: %w", err)
	}
	return c, nil
}
