package forgetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/forge"
)

// Fake is a forge's client pointed at a fake of the forge's API, for
// failures the simulator does not make.
type Fake struct {
	Prefix     string // of every error: "github: "
	Token      string // the client's, never in an error
	AuthHeader string // the request header that carries it
	// New makes a client for the fake at url (nil hc: the client's default).
	New func(url string, hc *http.Client) (forge.Client, error)
}

// Client serves h and returns a client pointed at it.
func (f Fake) Client(t *testing.T, h http.HandlerFunc) forge.Client {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	c, err := f.New(ts.URL, &http.Client{Timeout: 2 * time.Second})
	must(t, err)
	return c
}

// Failure is one failing answer of a forge's API and what its client must
// make of it.
type Failure struct {
	Name      string
	Status    int
	Header    map[string]string
	Body      string // "{auth}" stands for the request's credentials, echoed back
	Transient bool
	NotFound  bool
}

// Call is one client method, called so that it reaches the API.
type Call func(ctx context.Context, c forge.Client) error

// ErrorClassification drives every call into every failure and checks the
// error is transient, not found, or neither, with the token nowhere in it
// although the fake echoes it back, and that the client sent one request
// (no retries of its own: the pipeline retries).
func ErrorClassification(t *testing.T, f Fake, failures []Failure, calls map[string]Call) {
	for _, tt := range failures {
		for name, call := range calls {
			if name == "Access" && tt.NotFound {
				continue // a 404 there means "no access", not an error
			}
			t.Run(tt.Name+"/"+name, func(t *testing.T) {
				var requests atomic.Int32
				c := f.Client(t, func(w http.ResponseWriter, r *http.Request) {
					requests.Add(1)
					for k, v := range tt.Header {
						w.Header().Set(k, v)
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.Status)
					fmt.Fprint(w, strings.ReplaceAll(tt.Body, "{auth}", r.Header.Get(f.AuthHeader)))
				})
				err := call(context.Background(), c)
				if err == nil {
					t.Fatal("no error")
				}
				if got := forge.IsTransient(err); got != tt.Transient {
					t.Errorf("IsTransient = %v, want %v: %v", got, tt.Transient, err)
				}
				if got := errors.Is(err, forge.ErrNotFound); got != tt.NotFound {
					t.Errorf("Is(ErrNotFound) = %v, want %v: %v", got, tt.NotFound, err)
				}
				if strings.Contains(err.Error(), f.Token) {
					t.Errorf("error contains the token: %v", err)
				}
				if strings.Contains(tt.Body, "{auth}") && !strings.Contains(err.Error(), "[REDACTED]") {
					t.Errorf("echoed token not marked as redacted: %v", err)
				}
				if !strings.HasPrefix(err.Error(), f.Prefix) {
					t.Errorf("error without context: %v", err)
				}
				if n := requests.Load(); n != 1 {
					t.Errorf("%d requests, want 1 (no retries inside the client)", n)
				}
			})
		}
	}
}

// NetworkErrors checks call when no answer comes: nothing listening and a
// client timeout are transient, the caller's cancellation is not.
func NetworkErrors(t *testing.T, f Fake, call Call) {
	t.Run("connection refused", func(t *testing.T) {
		ts := httptest.NewServer(http.NotFoundHandler())
		ts.Close() // nothing listens there any more
		c, err := f.New(ts.URL, nil)
		must(t, err)
		err = call(context.Background(), c)
		if !forge.IsTransient(err) {
			t.Errorf("want transient: %v", err)
		}
		if strings.Contains(err.Error(), f.Token) {
			t.Errorf("error contains the token: %v", err)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		release := make(chan struct{})
		ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		t.Cleanup(ts.Close)
		t.Cleanup(func() { close(release) })
		c, err := f.New(ts.URL, &http.Client{Timeout: 50 * time.Millisecond})
		must(t, err)
		if err := call(context.Background(), c); !forge.IsTransient(err) {
			t.Errorf("want transient: %v", err)
		}
	})
	t.Run("caller cancelled", func(t *testing.T) {
		c := f.Client(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := call(ctx, c); err == nil || forge.IsTransient(err) || !errors.Is(err, context.Canceled) {
			t.Errorf("want a permanent context.Canceled: %v", err)
		}
	})
}
