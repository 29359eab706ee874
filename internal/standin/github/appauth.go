package github

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"

	"github.com/expbot/expbot/internal/standin/kit"
)

// appAuth is the official provider's appAuth block: a GitHub App's id, the
// installation to act for and the PEM contents of the app's private key.
// As the official provider does, Configure trades them for one
// installation token, used for the rest of the plugin's life.
type appAuth struct {
	id, installationID, pem string
}

// parseAppAuth reads appAuth (an object, or the JSON text SDKs may send for
// object-typed provider config); fields left empty fall back to
// GITHUB_APP_ID, GITHUB_APP_INSTALLATION_ID and GITHUB_APP_PEM_FILE.
func parseAppAuth(cfg resource.PropertyMap, getenv func(string) string) (*appAuth, error) {
	v, ok := cfg["appAuth"]
	if !ok {
		return nil, nil
	}
	p := kit.Plain(v)
	var obj resource.PropertyMap
	switch {
	case p.IsNull():
		return nil, nil
	case p.IsObject():
		obj = p.ObjectValue()
	case p.IsArray() && len(p.ArrayValue()) == 1 && p.ArrayValue()[0].IsObject(): // a one-element block list
		obj = p.ArrayValue()[0].ObjectValue()
	case p.IsString():
		if strings.TrimSpace(p.StringValue()) == "" {
			return nil, nil
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(p.StringValue()), &m); err != nil {
			return nil, errors.New("appAuth: not an object")
		}
		obj = resource.NewPropertyMapFromMap(m)
	default:
		return nil, errors.New("appAuth: not an object")
	}
	a := &appAuth{id: kit.Str(obj, "id"), installationID: kit.Str(obj, "installationId"), pem: kit.Str(obj, "pemFile")}
	for _, f := range []struct {
		v   *string
		env string
	}{{&a.id, "GITHUB_APP_ID"}, {&a.installationID, "GITHUB_APP_INSTALLATION_ID"}, {&a.pem, "GITHUB_APP_PEM_FILE"}} {
		if *f.v == "" {
			*f.v = getenv(f.env)
		}
	}
	// Some platforms cannot hold newlines in variables: the official
	// provider reads a literal \n as a newline.
	a.pem = strings.ReplaceAll(a.pem, `\n`, "\n")
	for _, f := range []struct{ name, v string }{{"id", a.id}, {"installationId", a.installationID}, {"pemFile", a.pem}} {
		if f.v == "" {
			return nil, fmt.Errorf("appAuth.%s must be set and contain a non-empty value", f.name)
		}
	}
	return a, nil
}

// token signs a JWT (RS256, iat a minute back against clock drift, exp
// well inside GitHub's ten minutes) and asks for an installation token.
func (a *appAuth) token(ctx context.Context, httpc *http.Client, restBase string) (string, error) {
	key, err := parseRSAKey(a.pem)
	if err != nil {
		return "", err
	}
	now := time.Now()
	jwt, err := signJWT(key, map[string]any{"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(5 * time.Minute).Unix(), "iss": a.id})
	if err != nil {
		return "", err
	}
	u := restBase + "app/installations/" + url.PathEscape(a.installationID) + "/access_tokens"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+jwt)
	req.Header.Set("Accept", "application/vnd.github.v3+json")
	req.Header.Set("User-Agent", "pulumi-resource-github-standin/"+Version)
	resp, err := httpc.Do(req)
	if err != nil {
		return "", fmt.Errorf("installation token: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("failed to create OAuth token from GitHub App: %s", body)
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Token == "" {
		return "", errors.New("installation token: no token in the answer")
	}
	return out.Token, nil
}

// parseRSAKey reads the key as the official provider does: PKCS#1 only.
func parseRSAKey(text string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("no decodeable PEM data found")
	}
	return x509.ParsePKCS1PrivateKey(block.Bytes)
}

func signJWT(key *rsa.PrivateKey, claims map[string]any) (string, error) {
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b), err
	}
	h, err := enc(map[string]string{"alg": "RS256", "typ": "JWT"})
	if err != nil {
		return "", err
	}
	c, err := enc(claims)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(h + "." + c))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign JWT: %w", err)
	}
	return h + "." + c + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
