package ghsim

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// signJWT makes a JWT with the given header algorithm and claims, signed
// RS256 with key.
func signJWT(t *testing.T, key *rsa.PrivateKey, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		must(t, err)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(map[string]string{"alg": alg, "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	must(t, err)
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	return k
}

func TestAppJWTRules(t *testing.T) {
	fx := newFixture(t)
	key, other := newKey(t), newKey(t)
	app := fx.apps.AddApp("expbot-app", &key.PublicKey, "", "")
	now := func() int64 { return fx.f.Now().Unix() }
	ok := func() map[string]any { return map[string]any{"iat": now() - 60, "exp": now() + 300, "iss": app.ID} }
	with := func(k string, v any) map[string]any { c := ok(); c[k] = v; return c }
	for _, tc := range []struct {
		name   string
		token  func() string
		status int
		msg    string
	}{
		{"valid, numeric iss", func() string { return signJWT(t, key, "RS256", ok()) }, 200, ""},
		{"valid, iss as a string", func() string { return signJWT(t, key, "RS256", with("iss", fmt.Sprint(app.ID))) }, 200, ""},
		{"not a JWT", func() string { return "ghp_plainly-not-a-jwt" }, 401, msgJWTUndecodable},
		{"signed by another key", func() string { return signJWT(t, other, "RS256", ok()) }, 401, msgJWTUndecodable},
		{"alg none", func() string { return signJWT(t, key, "none", ok()) }, 401, msgJWTUndecodable},
		{"unknown app id", func() string { return signJWT(t, key, "RS256", with("iss", app.ID+1000)) }, 404, msgNoIntegration},
		{"iat in the future (clock ahead)", func() string { return signJWT(t, key, "RS256", with("iat", now()+120)) }, 401, msgJWTIat},
		{"iat missing", func() string { c := ok(); delete(c, "iat"); return signJWT(t, key, "RS256", c) }, 401, msgJWTIat},
		{"exp passed", func() string { return signJWT(t, key, "RS256", with("exp", now()-5)) }, 401, msgJWTExp},
		{"exp more than 10 minutes ahead", func() string { return signJWT(t, key, "RS256", with("exp", now()+11*60)) }, 401, msgJWTExpTooFar},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := fx.do("GET", "/app", tc.token(), nil)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.msg != "" {
				var body errorBody
				r.json(t, &body)
				if body.Message != tc.msg || body.DocumentationURL == "" {
					t.Fatalf("body %s, want message %q", r.body, tc.msg)
				}
			}
		})
	}
}

// A GitHub whose clock runs behind the client's sees a freshly made iat in
// the future; the documented 60 s backdating absorbs small drift only.
func TestAppJWTClockDrift(t *testing.T) {
	fx := newFixture(t)
	key := newKey(t)
	app := fx.apps.AddApp("expbot-app", &key.PublicKey, "", "")
	now := fx.f.Now().Unix()
	tok := signJWT(t, key, "RS256", map[string]any{"iat": now - 60, "exp": now + 540, "iss": app.ID})
	fx.apps.SetClockSkew(-30 * time.Second)
	if r := fx.do("GET", "/app", tok, nil); r.status != 200 {
		t.Fatalf("30 s of drift: %d %s", r.status, r.body)
	}
	fx.apps.SetClockSkew(-2 * time.Minute)
	if r := fx.do("GET", "/app", tok, nil); r.status != 401 || !strings.Contains(string(r.body), "'Issued at'") {
		t.Fatalf("2 min of drift: %d %s", r.status, r.body)
	}
	fx.apps.SetClockSkew(2 * time.Minute) // GitHub ahead: exp 9 min ahead of the client is 7 min for GitHub
	if r := fx.do("GET", "/app", tok, nil); r.status != 200 {
		t.Fatalf("GitHub ahead: %d %s", r.status, r.body)
	}
}

func TestInstallationTokens(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	key := newKey(t)
	app := fx.apps.AddApp("expbot-app", &key.PublicKey, "", "")
	in, err := fx.apps.Install(ctx, app.ID, "acme", "acme/llm")
	must(t, err)
	jwt := func() string {
		now := fx.f.Now().Unix()
		return signJWT(t, key, "RS256", map[string]any{"iat": now - 30, "exp": now + 90, "iss": app.ID})
	}

	// The repository's installation, by JWT; none for a repository outside.
	r := fx.do("GET", "/repos/acme/llm/installation", jwt(), nil)
	var got struct {
		ID    int64  `json:"id"`
		AppID int64  `json:"app_id"`
		Slug  string `json:"app_slug"`
	}
	r.json(t, &got)
	if r.status != 200 || got.ID != in.ID || got.AppID != app.ID || got.Slug != "expbot-app" {
		t.Fatalf("installation: %d %s", r.status, r.body)
	}
	if r := fx.do("GET", "/repos/olga/tools/installation", jwt(), nil); r.status != 404 {
		t.Fatalf("outside: %d %s", r.status, r.body)
	}
	// An installation token is not a JWT.
	if r := fx.do("GET", "/repos/acme/llm/installation", tokBot, nil); r.status != 401 {
		t.Fatalf("token as JWT: %d %s", r.status, r.body)
	}

	fx.apps.SetTokenTTL(10 * time.Minute)
	r = fx.do("POST", fmt.Sprintf("/app/installations/%d/access_tokens", in.ID), jwt(), nil)
	var tok struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	r.json(t, &tok)
	if r.status != 201 || !strings.HasPrefix(tok.Token, "ghs_") || tok.ExpiresAt.IsZero() {
		t.Fatalf("access token: %d %s", r.status, r.body)
	}
	if r := fx.do("POST", "/app/installations/999999/access_tokens", jwt(), nil); r.status != 404 {
		t.Fatalf("unknown installation: %d %s", r.status, r.body)
	}

	// The token acts as <slug>[bot] inside the installation.
	r = fx.do("POST", "/repos/acme/llm/issues/1/comments", tok.Token, map[string]string{"body": "hi"})
	if r.status == 404 { // no issue 1 in the fixture: make one
		_ = fx.f.WithRepo("acme/llm", func(rp *state.Repo) error { rp.NewIssue(fx.f.Now(), "t", "b", "olga", nil, "", ""); return nil })
		r = fx.do("POST", "/repos/acme/llm/issues/1/comments", tok.Token, map[string]string{"body": "hi"})
	}
	var c struct {
		User struct {
			Login string `json:"login"`
			Type  string `json:"type"`
		} `json:"user"`
	}
	r.json(t, &c)
	if r.status != 201 || c.User.Login != "expbot-app[bot]" || c.User.Type != "Bot" {
		t.Fatalf("comment: %d %s", r.status, r.body)
	}
	// Outside the installation: reads of a public repository work, writes are refused.
	if r := fx.do("GET", "/repos/olga/tools", tok.Token, nil); r.status != 200 {
		t.Fatalf("read outside: %d %s", r.status, r.body)
	}
	r = fx.do("POST", "/repos/olga/tools/git/refs", tok.Token, map[string]string{"ref": "refs/heads/x", "sha": fx.head("olga/tools", "trunk")})
	if r.status != http.StatusForbidden || !strings.Contains(string(r.body), msgNotAccessible) {
		t.Fatalf("write outside: %d %s", r.status, r.body)
	}
	if r := fx.do("GET", "/user", tok.Token, nil); r.status != http.StatusForbidden {
		t.Fatalf("/user: %d %s", r.status, r.body)
	}

	// Removed from the installation: writes there are refused too.
	must(t, fx.apps.RemoveRepos(ctx, in.ID, "acme/llm"))
	r = fx.do("POST", "/repos/acme/llm/issues/1/comments", tok.Token, map[string]string{"body": "hi"})
	if r.status != http.StatusForbidden {
		t.Fatalf("after removal: %d %s", r.status, r.body)
	}
	must(t, fx.apps.AddRepos(ctx, in.ID, "acme/llm"))

	// Expired: 401 Bad credentials, counted.
	fx.apps.SetClockSkew(11 * time.Minute)
	r = fx.do("GET", "/repos/acme/llm", tok.Token, nil)
	if r.status != 401 || !strings.Contains(string(r.body), "Bad credentials") {
		t.Fatalf("expired: %d %s", r.status, r.body)
	}
	if s := fx.apps.Stats(); s.TokensIssued != 1 || s.ExpiredTokens != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestInstallationWebhooks(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	type sent struct {
		url, secret, event string
		payload            map[string]any
	}
	var got []sent
	fx.apps.SetWebhookSender(func(_ context.Context, url, secret, event string, payload []byte) {
		var m map[string]any
		must(t, json.Unmarshal(payload, &m))
		got = append(got, sent{url, secret, event, m})
	}, func() string { return "http://sim.test" })
	key := newKey(t)
	app := fx.apps.AddApp("expbot-app", &key.PublicKey, "http://bot.invalid/webhooks/github", "s3cret")
	in, err := fx.apps.Install(ctx, app.ID, "acme", "acme/llm")
	must(t, err)
	must(t, fx.apps.AddRepos(ctx, in.ID, "olga/tools"))
	must(t, fx.apps.RemoveRepos(ctx, in.ID, "acme/llm"))
	must(t, fx.apps.Uninstall(ctx, in.ID))
	want := []struct{ event, action, key, repo string }{
		{"installation", "created", "repositories", "acme/llm"},
		{"installation_repositories", "added", "repositories_added", "olga/tools"},
		{"installation_repositories", "removed", "repositories_removed", "acme/llm"},
		{"installation", "deleted", "repositories", "olga/tools"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d webhooks, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		inst, _ := g.payload["installation"].(map[string]any)
		repos, _ := g.payload[w.key].([]any)
		if g.event != w.event || g.payload["action"] != w.action || g.url != app.WebhookURL || g.secret != "s3cret" ||
			inst == nil || int64(inst["id"].(float64)) != in.ID || inst["app_slug"] != "expbot-app" || len(repos) != 1 ||
			repos[0].(map[string]any)["full_name"] != w.repo || !strings.HasPrefix(inst["access_tokens_url"].(string), "http://sim.test/api/v3/") {
			t.Errorf("webhook %d: %s %v", i, g.event, g.payload)
		}
	}
}
