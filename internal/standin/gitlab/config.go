package gitlab

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/expbot/expbot/internal/standin/kit"
)

const defaultBaseURL = "https://gitlab.com/api/v4/"

// settings is the parsed provider configuration.
type settings struct {
	token, baseURL        string
	cacertFile            string
	clientCert, clientKey string
	insecure              bool
	earlyAuthCheck        bool
	retries               int
	headers               map[string]string
}

// parseSettings applies the official defaults: token and baseUrl from
// GITLAB_TOKEN / GITLAB_BASE_URL when unset, earlyAuthCheck true, and the
// GitLab client's 5 retries on 429/5xx.
func parseSettings(cfg resource.PropertyMap, getenv func(string) string) (settings, error) {
	s := settings{
		token:      kit.Str(cfg, "token"),
		baseURL:    kit.Str(cfg, "baseUrl"),
		cacertFile: kit.Str(cfg, "cacertFile"),
		clientCert: kit.Str(cfg, "clientCert"),
		clientKey:  kit.Str(cfg, "clientKey"),
		headers:    map[string]string{},
	}
	if s.token == "" {
		s.token = getenv("GITLAB_TOKEN")
	}
	if s.baseURL == "" {
		s.baseURL = getenv("GITLAB_BASE_URL")
	}
	if s.baseURL == "" {
		s.baseURL = defaultBaseURL
	}
	var err error
	if s.insecure, _, err = kit.Bool(cfg, "insecure"); err != nil {
		return s, err
	}
	early, set, err := kit.Bool(cfg, "earlyAuthCheck")
	if err != nil {
		return s, err
	}
	s.earlyAuthCheck = !set || early
	n, set, err := kit.Int(cfg, "retries")
	if err != nil {
		return s, err
	}
	s.retries = 5
	if set {
		s.retries = n
	}
	if v, ok := cfg["headers"]; ok && kit.Plain(v).IsObject() {
		for k, hv := range kit.Plain(v).ObjectValue() {
			if hv.IsString() {
				s.headers[string(k)] = hv.StringValue()
			}
		}
	}
	return s, nil
}

// apiBase normalises the base URL the way the GitLab Go client does: add a
// trailing slash, then "api/v4/" unless the path already ends with it.
func apiBase(baseURL string) (string, error) {
	if !strings.HasSuffix(baseURL, "/") {
		baseURL += "/"
	}
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("invalid baseUrl %q", baseURL)
	}
	if !strings.HasSuffix(u.Path, "api/v4/") {
		u.Path += "api/v4/"
	}
	return u.String(), nil
}

func (s settings) client(httpc *http.Client) (*kit.Client, error) {
	base, err := apiBase(s.baseURL)
	if err != nil {
		return nil, err
	}
	if httpc == nil {
		tlsCfg, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsCfg
		httpc = &http.Client{Transport: tr, Timeout: 60 * time.Second}
	}
	h := http.Header{}
	h.Set("Accept", "application/json")
	h.Set("User-Agent", "pulumi-resource-gitlab-standin/"+Version)
	for k, v := range s.headers {
		h.Set(k, v)
	}
	if s.token != "" {
		// The provider authenticates with the OAuth method (its token
		// documentation says so): every token kind works as a Bearer token.
		h.Set("Authorization", "Bearer "+s.token)
	}
	c, err := kit.NewClient(kit.ClientOptions{
		BaseURL:    base,
		Header:     h,
		HTTPClient: httpc,
		MaxRetries: s.retries,
		RetryDelay: 100 * time.Millisecond,
		Retryable:  []int{429, 500, 502, 503, 504},
		Parallel:   true,
	})
	if err != nil {
		return nil, fmt.Errorf("gitlab client: %w", err)
	}
	return c, nil
}

func (s settings) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: s.insecure} //nolint:gosec // the official `insecure` option
	if s.cacertFile != "" {
		pem, err := os.ReadFile(s.cacertFile)
		if err != nil {
			return nil, fmt.Errorf("read cacertFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("cacertFile %s holds no PEM certificate", s.cacertFile)
		}
		cfg.RootCAs = pool
	}
	if s.clientCert != "" && s.clientKey != "" {
		pair, err := tls.LoadX509KeyPair(s.clientCert, s.clientKey)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
