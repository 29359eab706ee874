package forge

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds every request when a client's configuration sets
// none, so a stalled forge cannot hold a reconcile job forever.
const DefaultTimeout = 30 * time.Second

// HTTPClient returns the client a forge implementation should use for c: a
// new client with DefaultTimeout when c is nil, otherwise a copy of c (the
// caller's client stays as it was) with DefaultTimeout if c has no timeout.
func HTTPClient(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: DefaultTimeout}
	}
	cp := *c
	if cp.Timeout == 0 {
		cp.Timeout = DefaultTimeout
	}
	return &cp
}

// CheckURL accepts an absolute http(s) URL without credentials (a token in
// a URL would end up in every error message), query or fragment, and returns
// it with a trailing slash on its path. what names the setting in errors
// ("API URL"); the caller adds its own prefix.
func CheckURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole URL, credentials included: say less.
		return nil, fmt.Errorf("%s: not a valid URL", what)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s %q must be an absolute http(s) URL", what, raw)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s must not contain credentials", what)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%s must not have a query or fragment", what)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	return u, nil
}
