package forgesim

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// User agents as the real services send them (versions of the era the
// providers in docs/forges.md were checked against).
const (
	githubUserAgent = "GitHub-Hookshot/c3ff9b2"
	gitlabUserAgent = "GitLab/17.11.0"
)

// githubHeaders are the headers github.com puts on a webhook, signed with
// secret when there is one (GitHub then sends both the SHA-256 and the
// legacy SHA-1 signature).
func githubHeaders(event, deliveryID string, hookID int64, secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("Accept", "*/*")
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", githubUserAgent)
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", deliveryID)
	h.Set("X-GitHub-Hook-ID", strconv.FormatInt(hookID, 10))
	if secret != "" {
		h.Set("X-Hub-Signature", "sha1="+hexHMAC(sha1.New, secret, body))
		h.Set("X-Hub-Signature-256", GitHubSignature(secret, body))
	}
	return h
}

// GitHubSignature is the X-Hub-Signature-256 value for body under secret.
func GitHubSignature(secret string, body []byte) string {
	return "sha256=" + hexHMAC(sha256.New, secret, body)
}

func hexHMAC(h func() hash.Hash, key string, body []byte) string {
	m := hmac.New(h, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// gitlabHeaders are the headers GitLab puts on a webhook: the secret token
// in plain text and, when a signing token is given, the Standard Webhooks
// signature headers.
func gitlabHeaders(event, deliveryID, instance, secret, signingToken string, now time.Time, body []byte) (http.Header, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", gitlabUserAgent)
	h.Set("X-Gitlab-Event", event)
	h.Set("X-Gitlab-Event-UUID", deliveryID)
	h.Set("X-Gitlab-Webhook-UUID", newUUID())
	h.Set("X-Gitlab-Instance", instance)
	h.Set("Idempotency-Key", deliveryID)
	if secret != "" {
		h.Set("X-Gitlab-Token", secret)
	}
	if signingToken != "" {
		ts := strconv.FormatInt(now.Unix(), 10)
		sig, err := StandardWebhookSignature(signingToken, deliveryID, ts, body)
		if err != nil {
			return nil, err
		}
		h.Set("webhook-id", deliveryID)
		h.Set("webhook-timestamp", ts)
		h.Set("webhook-signature", sig)
	}
	return h, nil
}

// StandardWebhookSignature is the webhook-signature value ("v1,<base64>")
// for a "whsec_<base64 key>" signing token, as newer GitLab sends it.
func StandardWebhookSignature(signingToken, id, timestamp string, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(signingToken, "whsec_"))
	if err != nil || !strings.HasPrefix(signingToken, "whsec_") {
		// The token itself is never repeated in the error.
		return "", fmt.Errorf("signing token must be whsec_<base64 key>: %w", state.ErrInvalid)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%s.", id, timestamp)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}
