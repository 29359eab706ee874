package forge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ErrorKind is how the pipeline should treat a failed forge call.
type ErrorKind int

const (
	Permanent ErrorKind = iota
	NotFound
	Transient
)

// Classify decides how the pipeline treats err. Context errors come first:
// a cancelled call is permanent (the caller gave up; retrying is its
// decision), a deadline is transient. Then sdk, which reads the forge SDK's
// own error types and reports ok=false for errors it does not recognise; sdk
// may be nil. Transport errors (connection refused or reset, TLS, timeouts)
// are transient, and anything else is permanent.
func Classify(err error, sdk func(error) (k ErrorKind, ok bool)) ErrorKind {
	switch {
	case errors.Is(err, context.Canceled):
		return Permanent
	case errors.Is(err, context.DeadlineExceeded):
		return Transient
	}
	if sdk != nil {
		if k, ok := sdk(err); ok {
			return k
		}
	}
	var (
		uerr *url.Error
		nerr net.Error
	)
	if errors.As(err, &uerr) || errors.As(err, &nerr) {
		return Transient
	}
	return Permanent
}

// StatusKind classifies an HTTP status the forge answered with: 404 is
// NotFound; 408, 429 and 5xx are Transient; the rest is Permanent.
func StatusKind(code int) ErrorKind {
	switch {
	case code == http.StatusNotFound:
		return NotFound
	case code == http.StatusTooManyRequests, code == http.StatusRequestTimeout, code >= 500:
		return Transient
	}
	return Permanent
}

// Fail wraps err with what was being done ("github: read a.yaml"): it wraps
// ErrNotFound too when k is NotFound, and the result is a *TransientError
// when k is Transient. secret (the bot's token) never appears in the
// message, whatever the server echoed back; the chain stays intact for
// errors.Is and errors.As.
func Fail(err error, k ErrorKind, secret, what string) error {
	var out error
	if k == NotFound {
		out = fmt.Errorf("%s: %w (%w)", what, ErrNotFound, err)
	} else {
		out = fmt.Errorf("%s: %w", what, err)
	}
	out = redact(out, secret)
	if k == Transient {
		out = &TransientError{Err: out}
	}
	return out
}

// redacted hides a secret in the message while keeping the chain for
// errors.Is and errors.As.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

func redact(err error, secret string) error {
	if secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redacted{msg: strings.ReplaceAll(err.Error(), secret, "[REDACTED]"), err: err}
}
