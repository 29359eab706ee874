package forgesim

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// verifyGitHub checks a GitHub signature the way a receiver must: over the
// exact bytes, sha256 only, in constant time.
func verifyGitHub(secret string, h http.Header, body []byte) bool {
	sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hmac.Equal(got, m.Sum(nil))
}

func TestEmitRawWebhook(t *testing.T) {
	broken := `{"action": "labeled", "issue": {` // truncated JSON, sent as is
	tests := []struct {
		name        string
		hook        RawWebhook
		wantBody    string
		wantHeaders map[string]string
		check       func(t *testing.T, h http.Header, body []byte)
	}{
		{
			name:     "github, signed over the exact bytes",
			hook:     RawWebhook{Flavor: GitHub, Secret: "gh-secret", Event: "issues", Payload: json.RawMessage(`{ "action" :"labeled",  "zero":"\u0000" }`), DeliveryID: "guid-42", HookID: 9},
			wantBody: `{ "action" :"labeled",  "zero":"\u0000" }`,
			wantHeaders: map[string]string{
				"X-GitHub-Event": "issues", "X-GitHub-Delivery": "guid-42", "X-GitHub-Hook-ID": "9",
				"Content-Type": "application/json", "User-Agent": githubUserAgent,
			},
			check: func(t *testing.T, h http.Header, body []byte) {
				if !verifyGitHub("gh-secret", h, body) {
					t.Errorf("signature %q does not verify", h.Get("X-Hub-Signature-256"))
				}
				if verifyGitHub("wrong", h, body) {
					t.Errorf("signature verifies under the wrong secret")
				}
			},
		},
		{
			name:     "github, broken body",
			hook:     RawWebhook{Flavor: GitHub, Secret: "another-secret", Event: "issue_comment", Body: &broken},
			wantBody: broken,
			check: func(t *testing.T, h http.Header, body []byte) {
				if !verifyGitHub("another-secret", h, body) {
					t.Errorf("signature does not verify")
				}
				if !uuidRE.MatchString(h.Get("X-GitHub-Delivery")) {
					t.Errorf("default delivery id %q is not a UUID", h.Get("X-GitHub-Delivery"))
				}
			},
		},
		{
			name:     "gitlab, token and signature",
			hook:     RawWebhook{Flavor: GitLab, Secret: "gl-token", Event: "Note Hook", Payload: json.RawMessage(`{"object_kind":"note"}`), DeliveryID: "uuid-7", SigningToken: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
			wantBody: `{"object_kind":"note"}`,
			wantHeaders: map[string]string{
				"X-Gitlab-Event": "Note Hook", "X-Gitlab-Token": "gl-token", "X-Gitlab-Event-UUID": "uuid-7",
				"Idempotency-Key": "uuid-7", "webhook-id": "uuid-7",
			},
			check: func(t *testing.T, h http.Header, body []byte) {
				want, err := StandardWebhookSignature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "uuid-7", h.Get("webhook-timestamp"), body)
				if err != nil || h.Get("webhook-signature") != want {
					t.Errorf("webhook-signature %q, want %q (%v)", h.Get("webhook-signature"), want, err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSim(t, fakeOptions()...)
			rc := newReceiver(t, http.StatusAccepted, "ok")
			tc.hook.URL = rc.URL
			d, err := e.client.Emit(context.Background(), tc.hook)
			if err != nil {
				t.Fatal(err)
			}
			got := rc.requests()
			if len(got) != 1 {
				t.Fatalf("receiver got %d requests", len(got))
			}
			if string(got[0].body) != tc.wantBody {
				t.Errorf("body %q, want %q", got[0].body, tc.wantBody)
			}
			for h, want := range tc.wantHeaders {
				if v := got[0].header.Get(h); v != want {
					t.Errorf("%s = %q, want %q", h, v, want)
				}
			}
			tc.check(t, got[0].header, got[0].body)
			if d.Status != http.StatusAccepted || d.Flavor != tc.hook.Flavor || d.Event != tc.hook.Event || d.URL != rc.URL {
				t.Errorf("delivery %+v", d)
			}
			if tc.hook.DeliveryID != "" && d.ID != tc.hook.DeliveryID {
				t.Errorf("delivery id %q, want %q", d.ID, tc.hook.DeliveryID)
			}
			if strings.Contains(string(mustJSON(t, d)), tc.hook.Secret) {
				t.Errorf("delivery record shows the secret")
			}
			// A raw emit can be redelivered like any other delivery.
			again, err := e.client.Redeliver(context.Background(), d.ID)
			if err != nil || len(again) != 1 || again[0].ID != d.ID {
				t.Fatalf("redeliver: %+v, %v", again, err)
			}
			if got := rc.requests(); len(got) != 2 || string(got[1].body) != tc.wantBody {
				t.Errorf("redelivery did not resend the same body")
			}
		})
	}
}

func TestEmitRecordsNonJSONPayloadAsString(t *testing.T) {
	e := newSim(t, fakeOptions()...)
	rc := newReceiver(t, http.StatusBadRequest, "bad payload")
	body := "not json"
	d, err := e.srv.Emit(context.Background(), RawWebhook{Flavor: GitHub, URL: rc.URL, Event: "push", Body: &body})
	if err != nil {
		t.Fatal(err)
	}
	if string(d.Payload) != `"not json"` || d.Status != http.StatusBadRequest || d.ResponseBody != "bad payload" {
		t.Errorf("delivery payload %s status %d body %q", d.Payload, d.Status, d.ResponseBody)
	}
	if d.Headers.Get("X-Hub-Signature-256") != "" {
		t.Errorf("signed without a secret")
	}
}
