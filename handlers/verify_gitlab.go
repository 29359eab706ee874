package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a signed GitLab webhook's timestamp may be
// from our clock, either way, before it counts as a replay.
const DefaultTolerance = 5 * time.Minute

// Standard Webhooks header names, as GitLab sends them for signed hooks.
const (
	hdrWebhookID        = "webhook-id"
	hdrWebhookTimestamp = "webhook-timestamp"
	hdrWebhookSignature = "webhook-signature"
	hdrGitLabToken      = "X-Gitlab-Token"
)

// VerifyGitLabToken checks an X-Gitlab-Token value against the accepted
// tokens. Both sides are hashed first so that the comparison runs on equal
// lengths and the token's length does not leak through timing.
func VerifyGitLabToken(token string, accepted []string) error {
	if !anyNonEmpty(accepted) {
		return ErrNoSecret
	}
	if token == "" {
		return fmt.Errorf("%s: %w", hdrGitLabToken, ErrNoSignature)
	}
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, a := range accepted {
		if a == "" {
			continue
		}
		want := sha256.Sum256([]byte(a))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match != 1 {
		return fmt.Errorf("%s: %w", hdrGitLabToken, ErrBadSignature)
	}
	return nil
}

// ParseSigningSecret decodes a Standard Webhooks secret ("whsec_<base64 key>")
// into its HMAC key. The error never repeats the secret.
func ParseSigningSecret(secret string) ([]byte, error) {
	b64, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, errors.New("signing secret must look like whsec_<base64 key>")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) == 0 {
		return nil, errors.New("signing secret: the part after whsec_ is not base64")
	}
	return key, nil
}

// SignedHeaders are the Standard Webhooks headers of one request.
type SignedHeaders struct {
	ID        string // webhook-id
	Timestamp string // webhook-timestamp, unix seconds
	Signature string // webhook-signature, space-separated "v1,<base64>" entries
}

func signedHeaders(h http.Header) SignedHeaders {
	return SignedHeaders{ID: h.Get(hdrWebhookID), Timestamp: h.Get(hdrWebhookTimestamp), Signature: h.Get(hdrWebhookSignature)}
}

// VerifyGitLabSignature checks a Standard Webhooks signature: an HMAC-SHA256
// of "{id}.{timestamp}.{body}" under any of keys, matched by any "v1," entry
// of the signature list, with the timestamp within tolerance of now in both
// directions (a captured request cannot be replayed later, nor pre-dated).
func VerifyGitLabSignature(sh SignedHeaders, body []byte, keys [][]byte, now time.Time, tolerance time.Duration) error {
	if len(keys) == 0 {
		return ErrNoSecret
	}
	if sh.Signature == "" || sh.ID == "" || sh.Timestamp == "" {
		return fmt.Errorf("webhook-id, webhook-timestamp and webhook-signature are all required: %w", ErrNoSignature)
	}
	ts, err := strconv.ParseInt(sh.Timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp is not unix seconds: %w", ErrBadSignature)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	// Bounds are computed from our clock, never by subtracting the sender's
	// value, so a hostile timestamp cannot overflow the arithmetic.
	tol := int64(tolerance / time.Second)
	if ts < now.Unix()-tol || ts > now.Unix()+tol {
		return fmt.Errorf("webhook-timestamp: %w", ErrStale)
	}
	macs := make([][]byte, len(keys))
	for i, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(sh.ID + "." + sh.Timestamp + "."))
		m.Write(body)
		macs[i] = m.Sum(nil)
	}
	match := false
	for _, entry := range strings.Fields(sh.Signature) {
		b64, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue // other schemes (e.g. v1a, asymmetric) are not configured here
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			continue
		}
		for _, want := range macs {
			if hmac.Equal(got, want) {
				match = true
			}
		}
	}
	if !match {
		return fmt.Errorf("webhook-signature: %w", ErrBadSignature)
	}
	return nil
}

// early applies verify's policy to the headers alone: a delivery that the
// token decides is accepted or refused before its body is read; one that a
// signature decides needs the body (false, nil).
func (a gitlabAuth) early(h http.Header) (bool, error) {
	if len(a.keys) > 0 && signedHeaders(h).Signature != "" {
		return false, nil
	}
	if err := a.verify(h, nil); err != nil {
		return false, err
	}
	return true, nil
}

// gitlabAuth is the GitLab verification policy over prepared secrets.
type gitlabAuth struct {
	tokens    []string
	keys      [][]byte
	tolerance time.Duration
	now       func() time.Time
}

// verify passes a request with a valid signature or a valid token:
//   - signing secrets configured and a signature present: the signature
//     decides. A bad or stale one is rejected even if the token is right,
//     because a replayed capture carries the (static) token too.
//   - otherwise, tokens configured: the token decides.
//   - only signing secrets configured and no signature: rejected.
func (a gitlabAuth) verify(h http.Header, body []byte) error {
	sh := signedHeaders(h)
	switch {
	case len(a.keys) > 0 && sh.Signature != "":
		return VerifyGitLabSignature(sh, body, a.keys, a.now(), a.tolerance)
	case len(a.tokens) > 0:
		return VerifyGitLabToken(h.Get(hdrGitLabToken), a.tokens)
	case len(a.keys) > 0:
		return fmt.Errorf("webhook-signature: %w", ErrNoSignature)
	default:
		return ErrNoSecret
	}
}
