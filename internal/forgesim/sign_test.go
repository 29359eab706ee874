package forgesim

import (
	"testing"
	"time"
)

func TestGitHubSignatureTestVector(t *testing.T) {
	// GitHub's documented example (docs/forges.md).
	got := GitHubSignature("It's a Secret to Everybody", []byte("Hello, World!"))
	want := "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	if got != want {
		t.Errorf("GitHubSignature = %s, want %s", got, want)
	}
}

func TestStandardWebhookSignature(t *testing.T) {
	tests := []struct {
		name, token, id, ts, body, want string
		wantErr                         bool
	}{
		// The Standard Webhooks reference implementation's test vector.
		{"reference vector", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
			`{"test": 2432232314}`, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", false},
		{"no whsec_ prefix", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "id", "1", "{}", "", true},
		{"not base64", "whsec_***", "id", "1", "{}", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StandardWebhookSignature(tc.token, tc.id, tc.ts, []byte(tc.body))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestForgeHeaders(t *testing.T) {
	body := []byte(`{"a":1}`)
	gh := githubHeaders("issues", "guid-1", 7, "k", body)
	for h, want := range map[string]string{
		"X-GitHub-Event": "issues", "X-GitHub-Delivery": "guid-1", "X-GitHub-Hook-ID": "7",
		"X-Hub-Signature-256": GitHubSignature("k", body), "Content-Type": "application/json",
	} {
		if got := gh.Get(h); got != want {
			t.Errorf("github %s = %q, want %q", h, got, want)
		}
	}
	if gh.Get("X-Hub-Signature") == "" || githubHeaders("issues", "g", 1, "", body).Get("X-Hub-Signature-256") != "" {
		t.Errorf("signatures must be present with a secret and absent without")
	}
	gl, err := gitlabHeaders("Note Hook", "uuid-1", "http://f.test", "tok", "", time.Unix(0, 0), body)
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		"X-Gitlab-Event": "Note Hook", "X-Gitlab-Event-UUID": "uuid-1", "Idempotency-Key": "uuid-1",
		"X-Gitlab-Token": "tok", "X-Gitlab-Instance": "http://f.test",
	} {
		if got := gl.Get(h); got != want {
			t.Errorf("gitlab %s = %q, want %q", h, got, want)
		}
	}
	if gl.Get("webhook-signature") != "" {
		t.Errorf("no signing token, yet signed")
	}
}
