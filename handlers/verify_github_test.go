package handlers

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// GitHub's documented test vector.
const (
	ghDocSecret = "It's a Secret to Everybody"
	ghDocBody   = "Hello, World!"
	ghDocSig    = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
)

func githubSig(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func TestVerifyGitHub(t *testing.T) {
	sha1Sig := func() string {
		m := hmac.New(sha1.New, []byte(ghDocSecret))
		m.Write([]byte(ghDocBody))
		return "sha1=" + hex.EncodeToString(m.Sum(nil))
	}()
	tests := []struct {
		name    string
		sig     string
		body    string
		secrets []string
		want    error // nil: passes
	}{
		{"documented vector", ghDocSig, ghDocBody, []string{ghDocSecret}, nil},
		{"uppercase hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(ghDocSig, "sha256=")), ghDocBody, []string{ghDocSecret}, nil},
		{"rotation: new secret first", ghDocSig, ghDocBody, []string{"new secret", ghDocSecret}, nil},
		{"rotation: empty slot skipped", ghDocSig, ghDocBody, []string{"", ghDocSecret}, nil},
		{"wrong secret", ghDocSig, ghDocBody, []string{"another secret"}, ErrBadSignature},
		{"body changed by one byte", ghDocSig, "Hello, World?", []string{ghDocSecret}, ErrBadSignature},
		{"trailing newline added", ghDocSig, ghDocBody + "\n", []string{ghDocSecret}, ErrBadSignature},
		{"missing header", "", ghDocBody, []string{ghDocSecret}, ErrNoSignature},
		{"legacy sha1 refused", sha1Sig, ghDocBody, []string{ghDocSecret}, ErrBadSignature},
		{"bare hex without prefix", strings.TrimPrefix(ghDocSig, "sha256="), ghDocBody, []string{ghDocSecret}, ErrBadSignature},
		{"prefix only", "sha256=", ghDocBody, []string{ghDocSecret}, ErrBadSignature},
		{"not hex", "sha256=zz" + strings.Repeat("0", 62), ghDocBody, []string{ghDocSecret}, ErrBadSignature},
		{"truncated", ghDocSig[:len(ghDocSig)-2], ghDocBody, []string{ghDocSecret}, ErrBadSignature},
		{"no secret configured", ghDocSig, ghDocBody, nil, ErrNoSecret},
		{"only empty secrets", githubSig("", []byte(ghDocBody)), ghDocBody, []string{""}, ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyGitHub(tt.sig, []byte(tt.body), tt.secrets)
			if tt.want == nil && err != nil {
				t.Fatalf("VerifyGitHub() = %v, want nil", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifyGitHub() = %v, want %v", err, tt.want)
			}
			for _, s := range tt.secrets {
				if s != "" && err != nil && strings.Contains(err.Error(), s) {
					t.Errorf("error %q repeats a secret", err)
				}
			}
		})
	}
}

func FuzzVerifyGitHub(f *testing.F) {
	f.Add(ghDocSecret, []byte(ghDocBody), ghDocSig)
	f.Add("s", []byte(`{"zen":"x"}`), "sha1=00")
	f.Add("", []byte{}, "sha256=")
	f.Fuzz(func(t *testing.T, secret string, body []byte, sig string) {
		if secret == "" {
			secret = "x"
		}
		want := githubSig(secret, body)
		if err := VerifyGitHub(want, body, []string{secret}); err != nil {
			t.Fatalf("own signature rejected: %v", err)
		}
		// Anything else that passes must denote the same MAC.
		if VerifyGitHub(sig, body, []string{secret}) == nil && !strings.EqualFold(sig, want) {
			t.Fatalf("accepted %q, want only %q", sig, want)
		}
	})
}
