package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// Verification errors. They never carry a header value or a secret, so they
// are safe to log and to wrap.
var (
	ErrNoSecret     = errors.New("no webhook secret configured")
	ErrNoSignature  = errors.New("signature missing")
	ErrBadSignature = errors.New("signature invalid")
	ErrStale        = errors.New("signature timestamp outside tolerance")
)

// githubSigPrefix is the only scheme accepted: the legacy X-Hub-Signature
// (sha1=) is never consulted, unlike go-github's ValidatePayload, which falls
// back to it silently.
const githubSigPrefix = "sha256="

// VerifyGitHub checks an X-Hub-Signature-256 header value against the exact
// body received, under each accepted secret (several during rotation).
func VerifyGitHub(signature string, body []byte, secrets []string) error {
	if !anyNonEmpty(secrets) {
		return ErrNoSecret
	}
	if signature == "" {
		return fmt.Errorf("X-Hub-Signature-256: %w", ErrNoSignature)
	}
	hexSig, ok := strings.CutPrefix(signature, githubSigPrefix)
	if !ok {
		return fmt.Errorf("X-Hub-Signature-256 is not sha256=<hex>: %w", ErrBadSignature)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("X-Hub-Signature-256 is not a hex SHA-256 HMAC: %w", ErrBadSignature)
	}
	match := false
	for _, s := range secrets {
		if s == "" {
			continue // an unset rotation slot must not become the empty key
		}
		m := hmac.New(sha256.New, []byte(s))
		m.Write(body)
		// No early exit: which secret matched should not show in timing.
		if hmac.Equal(got, m.Sum(nil)) {
			match = true
		}
	}
	if !match {
		return fmt.Errorf("X-Hub-Signature-256: %w", ErrBadSignature)
	}
	return nil
}

func anyNonEmpty(ss []string) bool {
	for _, s := range ss {
		if s != "" {
			return true
		}
	}
	return false
}
