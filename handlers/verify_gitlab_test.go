package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks specification's example.
const (
	swSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	swID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	swTS     = "1614265330"
	swBody   = `{"test": 2432232314}`
	swSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var swTime = time.Unix(1614265330, 0)

func mustKey(t testing.TB, secret string) []byte {
	t.Helper()
	k, err := ParseSigningSecret(secret)
	if err != nil {
		t.Fatalf("ParseSigningSecret: %v", err)
	}
	return k
}

// standardSig signs like GitLab does, independently of the code under test.
func standardSig(key []byte, id, ts string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if want == nil && err != nil {
		t.Fatalf("got %v, want nil", err)
	}
	if want != nil && !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

func TestVerifyGitLabToken(t *testing.T) {
	tests := []struct {
		name     string
		token    string
		accepted []string
		want     error
	}{
		{"match", "s3cret-token", []string{"s3cret-token"}, nil},
		{"rotation: second token", "old-token", []string{"new-token", "old-token"}, nil},
		{"mismatch", "s3cret-tokem", []string{"s3cret-token"}, ErrBadSignature},
		{"prefix of the token", "s3cret", []string{"s3cret-token"}, ErrBadSignature},
		{"token plus suffix", "s3cret-token ", []string{"s3cret-token"}, ErrBadSignature},
		{"case differs", "S3CRET-TOKEN", []string{"s3cret-token"}, ErrBadSignature},
		{"missing", "", []string{"s3cret-token"}, ErrNoSignature},
		{"empty accepted slot never matches", "", []string{"", "x"}, ErrNoSignature},
		{"none configured", "anything", nil, ErrNoSecret},
		{"only empty configured", "anything", []string{""}, ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyGitLabToken(tt.token, tt.accepted)
			wantErr(t, err, tt.want)
			if err != nil && tt.token != "" && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q repeats the token", err)
			}
		})
	}
}

func TestParseSigningSecret(t *testing.T) {
	if k := mustKey(t, swSecret); len(k) != 24 {
		t.Errorf("key length = %d, want 24", len(k))
	}
	for _, bad := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_Zm9v!!Q29uZmlkZW50aWFs"} {
		_, err := ParseSigningSecret(bad)
		if err == nil {
			t.Errorf("ParseSigningSecret(%q) = nil error", bad)
			continue
		}
		if key := strings.TrimPrefix(bad, "whsec_"); key != "" && strings.Contains(err.Error(), key) {
			t.Errorf("error %q repeats the secret", err)
		}
	}
}

func TestVerifyGitLabSignature(t *testing.T) {
	key := mustKey(t, swSecret)
	other := mustKey(t, "whsec_"+base64.StdEncoding.EncodeToString([]byte("another key")))
	tests := []struct {
		name string
		sh   SignedHeaders
		body string
		keys [][]byte
		now  time.Time
		tol  time.Duration
		want error
	}{
		{"specification example", SignedHeaders{swID, swTS, swSig}, swBody, [][]byte{key}, swTime, 0, nil},
		{"one of several signatures", SignedHeaders{swID, swTS, "v1,AAAA " + swSig}, swBody, [][]byte{key}, swTime, 0, nil},
		{"rotation: second key", SignedHeaders{swID, swTS, swSig}, swBody, [][]byte{other, key}, swTime, 0, nil},
		{"unknown scheme skipped", SignedHeaders{swID, swTS, "v1a,xyz " + swSig}, swBody, [][]byte{key}, swTime, 0, nil},
		{"at the edge of the default tolerance (past)", SignedHeaders{swID, swTS, swSig}, swBody, [][]byte{key}, swTime.Add(5 * time.Minute), 0, nil},
		{"at the edge of the default tolerance (future)", SignedHeaders{swID, swTS, swSig}, swBody, [][]byte{key}, swTime.Add(-5 * time.Minute), 0, nil},
		{"too old", SignedHeaders{swID, swTS, swSig}, swBody, [][]byte{key}, swTime.Add(5*time.Minute + time.Second), 0, ErrStale},
		{"too far ahead", SignedHeaders{swID, swTS, swSig}, swBody, [][]byte{key}, swTime.Add(-5*time.Minute - time.Second), 0, ErrStale},
		{"custom tolerance", SignedHeaders{swID, swTS, swSig}, swBody, [][]byte{key}, swTime.Add(time.Minute + time.Second), time.Minute, ErrStale},
		{"extreme timestamp", SignedHeaders{swID, "-9223372036854775808", swSig}, swBody, [][]byte{key}, swTime, 0, ErrStale},
		{"wrong key", SignedHeaders{swID, swTS, swSig}, swBody, [][]byte{other}, swTime, 0, ErrBadSignature},
		{"body changed", SignedHeaders{swID, swTS, swSig}, `{"test": 2432232315}`, [][]byte{key}, swTime, 0, ErrBadSignature},
		{"id changed", SignedHeaders{swID + "x", swTS, swSig}, swBody, [][]byte{key}, swTime, 0, ErrBadSignature},
		{"timestamp changed", SignedHeaders{swID, "1614265331", swSig}, swBody, [][]byte{key}, swTime, 0, ErrBadSignature},
		{"no v1 prefix", SignedHeaders{swID, swTS, strings.TrimPrefix(swSig, "v1,")}, swBody, [][]byte{key}, swTime, 0, ErrBadSignature},
		{"not base64", SignedHeaders{swID, swTS, "v1,***"}, swBody, [][]byte{key}, swTime, 0, ErrBadSignature},
		{"timestamp not a number", SignedHeaders{swID, "yesterday", swSig}, swBody, [][]byte{key}, swTime, 0, ErrBadSignature},
		{"id missing", SignedHeaders{"", swTS, swSig}, swBody, [][]byte{key}, swTime, 0, ErrNoSignature},
		{"timestamp missing", SignedHeaders{swID, "", swSig}, swBody, [][]byte{key}, swTime, 0, ErrNoSignature},
		{"signature missing", SignedHeaders{swID, swTS, ""}, swBody, [][]byte{key}, swTime, 0, ErrNoSignature},
		{"no key", SignedHeaders{swID, swTS, swSig}, swBody, nil, swTime, 0, ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, VerifyGitLabSignature(tt.sh, []byte(tt.body), tt.keys, tt.now, tt.tol), tt.want)
		})
	}
}

// TestGitLabAuthPolicy covers which of token and signature decides.
func TestGitLabAuthPolicy(t *testing.T) {
	const token = "gl-token"
	key := mustKey(t, swSecret)
	now := func() time.Time { return swTime }
	signed := func(h http.Header) http.Header {
		h.Set(hdrWebhookID, swID)
		h.Set(hdrWebhookTimestamp, swTS)
		h.Set(hdrWebhookSignature, swSig)
		return h
	}
	withToken := func(h http.Header, v string) http.Header { h.Set(hdrGitLabToken, v); return h }
	stale := func(h http.Header) http.Header {
		h.Set(hdrWebhookTimestamp, strconv.FormatInt(swTime.Unix()-3600, 10))
		return h
	}
	badSig := func(h http.Header) http.Header { h.Set(hdrWebhookSignature, "v1,AAAA"); return h }
	tokenOnly := gitlabAuth{tokens: []string{token}, now: now}
	keyOnly := gitlabAuth{keys: [][]byte{key}, now: now}
	both := gitlabAuth{tokens: []string{token}, keys: [][]byte{key}, now: now}
	tests := []struct {
		name string
		auth gitlabAuth
		h    http.Header
		want error
	}{
		{"tokens only: good token", tokenOnly, withToken(http.Header{}, token), nil},
		{"tokens only: bad token", tokenOnly, withToken(http.Header{}, "nope"), ErrBadSignature},
		{"tokens only: a signature does not replace the token", tokenOnly, signed(http.Header{}), ErrNoSignature},
		{"keys only: good signature", keyOnly, signed(http.Header{}), nil},
		{"keys only: token alone refused", keyOnly, withToken(http.Header{}, token), ErrNoSignature},
		{"both: good signature, no token", both, signed(http.Header{}), nil},
		{"both: no signature, good token", both, withToken(http.Header{}, token), nil},
		{"both: bad signature, good token refused", both, withToken(badSig(signed(http.Header{})), token), ErrBadSignature},
		{"both: stale signature with good token refused (replay)", both, withToken(stale(signed(http.Header{})), token), ErrStale},
		{"nothing configured", gitlabAuth{now: now}, withToken(signed(http.Header{}), token), ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.auth.verify(tt.h, []byte(swBody)), tt.want)
		})
	}
}

func TestGitLabConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  GitLabConfig
		ok   bool
	}{
		{"token", GitLabConfig{Tokens: []string{"t"}}, true},
		{"signing secret", GitLabConfig{SigningSecrets: []string{swSecret}}, true},
		{"nothing", GitLabConfig{}, false},
		{"empty values only", GitLabConfig{Tokens: []string{""}, SigningSecrets: []string{""}}, false},
		{"bad signing secret next to a token", GitLabConfig{Tokens: []string{"t"}, SigningSecrets: []string{"whsec_!!"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if err := (GitHubConfig{}).Validate(); !errors.Is(err, ErrNoSecret) {
		t.Errorf("GitHubConfig{}.Validate() = %v, want ErrNoSecret", err)
	}
	if err := (GitHubConfig{Secrets: []string{"s"}}).Validate(); err != nil {
		t.Errorf("GitHubConfig with a secret: Validate() = %v", err)
	}
}

func FuzzVerifyGitLabSignature(f *testing.F) {
	f.Add(swID, swTS, swSig, []byte(swBody), int64(0))
	f.Add("", "", "v1,", []byte{}, int64(-1))
	f.Add("id", "99999999999999999999", "v1,AAAA v2,BBBB", []byte("{}"), int64(300))
	key := mustKey(f, swSecret)
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, skew int64) {
		now := swTime.Add(time.Duration(skew%600) * time.Second)
		err := VerifyGitLabSignature(SignedHeaders{id, ts, sig}, body, [][]byte{key}, now, 0)
		if err == nil && !strings.Contains(" "+sig+" ", " "+standardSig(key, id, ts, body)+" ") {
			t.Fatalf("accepted a signature list without the right MAC: %q", sig)
		}
		if id != "" {
			own := standardSig(key, id, swTS, body)
			if err := VerifyGitLabSignature(SignedHeaders{id, swTS, own}, body, [][]byte{key}, swTime, 0); err != nil {
				t.Fatalf("own signature rejected: %v", err)
			}
		}
	})
}
