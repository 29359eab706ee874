package forge

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"testing"
)

// sdkError stands for a forge SDK's own error type.
type sdkError struct{ kind ErrorKind }

func (e *sdkError) Error() string { return "sdk error" }

func readSDK(err error) (ErrorKind, bool) {
	var se *sdkError
	if errors.As(err, &se) {
		return se.kind, true
	}
	return Permanent, false
}

func TestClassify(t *testing.T) {
	urlErr := &url.Error{Op: "Get", URL: "https://forge.example/", Err: errors.New("connection refused")}
	tests := []struct {
		name string
		err  error
		sdk  func(error) (ErrorKind, bool)
		want ErrorKind
	}{
		{"canceled", context.Canceled, readSDK, Permanent},
		{"canceled inside a url.Error", &url.Error{Op: "Get", URL: "u", Err: context.Canceled}, readSDK, Permanent},
		{"canceled before the SDK", fmt.Errorf("%w %w", context.Canceled, &sdkError{Transient}), readSDK, Permanent},
		{"deadline", context.DeadlineExceeded, readSDK, Transient},
		{"deadline before the SDK", fmt.Errorf("%w %w", context.DeadlineExceeded, &sdkError{NotFound}), readSDK, Transient},
		{"SDK not found", fmt.Errorf("wrapped: %w", &sdkError{NotFound}), readSDK, NotFound},
		{"SDK transient", &sdkError{Transient}, readSDK, Transient},
		{"SDK permanent before transport", fmt.Errorf("%w %w", &sdkError{Permanent}, urlErr), readSDK, Permanent},
		{"url.Error", urlErr, readSDK, Transient},
		{"net.Error", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}, readSDK, Transient},
		{"transport without SDK reader", urlErr, nil, Transient},
		{"SDK error without SDK reader", &sdkError{NotFound}, nil, Permanent},
		{"anything else", errors.New("boom"), readSDK, Permanent},
		{"fs error", fs.ErrNotExist, readSDK, Permanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err, tt.sdk); got != tt.want {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

func TestStatusKind(t *testing.T) {
	for code, want := range map[int]ErrorKind{
		200: Permanent, 202: Permanent, 400: Permanent, 401: Permanent, 403: Permanent, 422: Permanent,
		404: NotFound,
		408: Transient, 429: Transient, 500: Transient, 502: Transient, 503: Transient, 504: Transient, 599: Transient,
	} {
		if got := StatusKind(code); got != want {
			t.Errorf("StatusKind(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestFail(t *testing.T) {
	const secret = "tok-0123456789"
	cause := &sdkError{}
	echo := fmt.Errorf("401 rejected %s: %w", secret, cause)
	tests := []struct {
		name          string
		err           error
		kind          ErrorKind
		secret        string
		wantMsg       string
		wantTransient bool
		wantNotFound  bool
	}{
		{"permanent", cause, Permanent, secret, "forge: read a: sdk error", false, false},
		{"not found", cause, NotFound, secret, "forge: read a: not found (sdk error)", false, true},
		{"transient", cause, Transient, secret, "forge: read a: sdk error", true, false},
		{"secret echoed", echo, Permanent, secret, "forge: read a: 401 rejected [REDACTED]: sdk error", false, false},
		{"secret echoed, transient", echo, Transient, secret, "forge: read a: 401 rejected [REDACTED]: sdk error", true, false},
		{"secret echoed, not found", echo, NotFound, secret, "forge: read a: not found (401 rejected [REDACTED]: sdk error)", false, true},
		{"no secret", echo, Permanent, "", "forge: read a: 401 rejected " + secret + ": sdk error", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Fail(tt.err, tt.kind, tt.secret, "forge: read a")
			if got := err.Error(); got != tt.wantMsg {
				t.Errorf("message = %q, want %q", got, tt.wantMsg)
			}
			if got := IsTransient(err); got != tt.wantTransient {
				t.Errorf("IsTransient = %v, want %v", got, tt.wantTransient)
			}
			if got := errors.Is(err, ErrNotFound); got != tt.wantNotFound {
				t.Errorf("Is(ErrNotFound) = %v, want %v", got, tt.wantNotFound)
			}
			var se *sdkError
			if !errors.As(err, &se) || se != cause {
				t.Errorf("cause lost from the chain: %v", err)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("message contains the secret: %v", err)
			}
		})
	}
}
