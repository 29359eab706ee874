package kit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// BaseURL is the API root; paths are appended to it. It must end in "/".
	BaseURL string
	// Header is sent with every request (auth, Accept). Never logged.
	Header http.Header
	// HTTPClient defaults to a client with a 60 s timeout.
	HTTPClient *http.Client
	// WriteDelay is the minimum interval between two writes (non-GET requests).
	WriteDelay time.Duration
	// ReadDelay is slept before every GET.
	ReadDelay time.Duration
	// MaxRetries is how often a response with a Retryable status is retried.
	MaxRetries int
	// RetryDelay is slept before each retry.
	RetryDelay time.Duration
	// Retryable lists the statuses worth retrying.
	Retryable []int
	// Parallel lets requests overlap; otherwise they are serialised.
	Parallel bool
}

// Client is a small JSON-over-HTTP client with the pacing, serialisation and
// retry behaviour of the official providers' HTTP transports.
type Client struct {
	base  string
	opts  ClientOptions
	httpc *http.Client
	// serial serialises requests unless opts.Parallel.
	serial sync.Mutex
	// pace guards lastWrite.
	pace      sync.Mutex
	lastWrite time.Time
}

// NewClient validates opts and returns a client.
func NewClient(opts ClientOptions) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("invalid base URL %q", opts.BaseURL)
	}
	if !strings.HasSuffix(opts.BaseURL, "/") {
		return nil, fmt.Errorf("base URL %q must end with a slash", opts.BaseURL)
	}
	httpc := opts.HTTPClient
	if httpc == nil {
		httpc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{base: opts.BaseURL, opts: opts, httpc: httpc}, nil
}

// Request is one API call. Path is relative to the base URL and already
// escaped the way the official client escapes it (it is sent verbatim).
type Request struct {
	Method string
	Path   string
	Query  url.Values
	// Body, when non-nil, is sent as JSON.
	Body   any
	Header http.Header
}

// Response is a buffered API response.
type Response struct {
	Method, Path string
	Status       int
	Header       http.Header
	Body         []byte
}

// Do performs req with pacing and retries. Only transport failures are
// errors; callers inspect the status (see Response.Expect).
func (c *Client) Do(ctx context.Context, req Request) (*Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := json.Marshal(req.Body)
		if err != nil {
			return nil, fmt.Errorf("encode %s %s body: %w", req.Method, req.Path, err)
		}
		body = b
	}
	if !c.opts.Parallel {
		c.serial.Lock()
		defer c.serial.Unlock()
	}
	for attempt := 0; ; attempt++ {
		if err := c.wait(ctx, req.Method); err != nil {
			return nil, err
		}
		resp, err := c.once(ctx, req, body)
		if err != nil {
			return nil, err
		}
		if attempt >= c.opts.MaxRetries || !slices.Contains(c.opts.Retryable, resp.Status) {
			return resp, nil
		}
		if err := sleep(ctx, c.opts.RetryDelay); err != nil {
			return nil, err
		}
	}
}

func (c *Client) wait(ctx context.Context, method string) error {
	if method == http.MethodGet || method == http.MethodHead {
		return sleep(ctx, c.opts.ReadDelay)
	}
	c.pace.Lock()
	defer c.pace.Unlock()
	if !c.lastWrite.IsZero() {
		if err := sleep(ctx, time.Until(c.lastWrite.Add(c.opts.WriteDelay))); err != nil {
			return err
		}
	}
	c.lastWrite = time.Now()
	return nil
}

func (c *Client) once(ctx context.Context, req Request, body []byte) (*Response, error) {
	target := c.base + req.Path
	if len(req.Query) > 0 {
		target += "?" + req.Query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.Method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("build %s %s: %w", req.Method, req.Path, err)
	}
	for k, vs := range c.opts.Header {
		hreq.Header[k] = slices.Clone(vs)
	}
	for k, vs := range req.Header {
		hreq.Header[k] = slices.Clone(vs)
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hresp, err := c.httpc.Do(hreq)
	if err != nil {
		// The URL holds no credentials; the error is safe to return.
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	defer func() { _ = hresp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(hresp.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s %s response: %w", req.Method, req.Path, err)
	}
	return &Response{Method: req.Method, Path: req.Path, Status: hresp.StatusCode, Header: hresp.Header, Body: b}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Expect returns a *StatusError unless the status is one of want.
func (r *Response) Expect(want ...int) error {
	if slices.Contains(want, r.Status) {
		return nil
	}
	return &StatusError{Method: r.Method, Path: r.Path, Status: r.Status, Message: apiMessage(r.Body)}
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %s %s response: %w", r.Method, r.Path, err)
	}
	return nil
}

// StatusError is an unexpected API status.
type StatusError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// IsStatus reports whether err is a *StatusError with the given status.
func IsStatus(err error, status int) bool {
	var se *StatusError
	return errors.As(err, &se) && se.Status == status
}

// apiMessage extracts the human message GitHub ("message") and GitLab
// ("message" or "error", sometimes an object) put in error bodies.
func apiMessage(body []byte) string {
	var m struct {
		Message json.RawMessage `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &m) == nil {
		for _, raw := range []json.RawMessage{m.Message, m.Error} {
			if len(raw) == 0 {
				continue
			}
			var s string
			if json.Unmarshal(raw, &s) == nil {
				return s
			}
			return string(raw)
		}
	}
	const limit = 200
	if len(body) > limit {
		return string(body[:limit]) + "..."
	}
	return string(body)
}
