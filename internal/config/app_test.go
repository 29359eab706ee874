package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"strings"
	"testing"
)

func rsaPEM(t *testing.T, pkcs8 bool) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	if !pkcs8 {
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
}

func ecPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: b}))
}

func TestGitHubAppAuthValidation(t *testing.T) {
	key := rsaPEM(t, false)
	dir := t.TempDir()
	keyFile := writeFile(t, dir, "app.pem", key)
	app := func(extra map[string]string) map[string]string {
		m := map[string]string{"EXPBOT_GITHUB_TOKEN": "", "EXPBOT_GITHUB_APP_ID": "4242", "EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": keyFile}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string // "" = valid
	}{
		{"token only", nil, ""},
		{"app with key file", app(nil), ""},
		{"app with key in the environment", app(map[string]string{"EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": "", "EXPBOT_GITHUB_APP_PRIVATE_KEY": key}), ""},
		{"app with a PKCS#8 key", app(map[string]string{"EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": writeFile(t, dir, "p8.pem", rsaPEM(t, true))}), "openssl rsa"},
		{"app with a fixed installation", app(map[string]string{"EXPBOT_GITHUB_APP_INSTALLATION_ID": "77"}), ""},
		{"both token and app", app(map[string]string{"EXPBOT_GITHUB_TOKEN": "ghp_x"}), "use one, either EXPBOT_GITHUB_TOKEN"},
		{"neither", map[string]string{"EXPBOT_GITHUB_TOKEN": ""}, "has no credentials: set EXPBOT_GITHUB_TOKEN or github.token_file, or for a GitHub App github.app_id"},
		{"app id without key", app(map[string]string{"EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": ""}), "needs the app's private key: set EXPBOT_GITHUB_APP_PRIVATE_KEY"},
		{"key without app id", app(map[string]string{"EXPBOT_GITHUB_APP_ID": ""}), "needs the app's id: set github.app_id"},
		{"installation id alone", map[string]string{"EXPBOT_GITHUB_TOKEN": "", "EXPBOT_GITHUB_APP_INSTALLATION_ID": "77"}, "needs the app's id"},
		{"app id not a number", app(map[string]string{"EXPBOT_GITHUB_APP_ID": "my-app"}), "EXPBOT_GITHUB_APP_ID"},
		{"key not PEM", app(map[string]string{"EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": writeFile(t, dir, "junk.pem", "not a key\n")}), "not a PEM block"},
		{"key not RSA", app(map[string]string{"EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": writeFile(t, dir, "ec.pem", ecPEM(t))}), "not an RSA key"},
		{"key file missing", app(map[string]string{"EXPBOT_GITHUB_APP_PRIVATE_KEY_FILE": dir + "/nope.pem"}), "read secret file for EXPBOT_GITHUB_APP_PRIVATE_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(nil, minimalEnv(tc.env), io.Discard)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load() error = %v, want it to mention %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY-----") {
				t.Fatalf("the error quotes the key: %v", err)
			}
			_ = c
		})
	}
}

// The PEM is read whole (its lines are not a list of rotated values), and
// like every secret it never prints.
func TestGitHubAppKeyIsOneSecret(t *testing.T) {
	key := rsaPEM(t, false)
	keyFile := writeFile(t, t.TempDir(), "app.pem", key)
	cfgFile := writeFile(t, t.TempDir(), "c.yaml", fmt.Sprintf("github:\n  app_id: 4242\n  app_installation_id: 9\n  app_private_key_file: %s\n", keyFile))
	c, err := Load([]string{"--config", cfgFile}, minimalEnv(map[string]string{"EXPBOT_GITHUB_TOKEN": ""}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.GitHub.AppPrivateKey.Reveal() != strings.TrimSpace(key) || c.GitHub.AppID != 4242 || c.GitHub.AppInstallationID != 9 || !c.GitHub.AppAuth() {
		t.Fatalf("app settings not loaded: id=%d installation=%d key %d bytes", c.GitHub.AppID, c.GitHub.AppInstallationID, len(c.GitHub.AppPrivateKey.Reveal()))
	}
	body := strings.Split(strings.TrimSpace(key), "\n")[1] // a line of the key's base64
	if out := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(out, body) {
		t.Fatal("the private key printed")
	}
	// Inline in YAML it is refused like any secret.
	inline := writeFile(t, t.TempDir(), "i.yaml", "github:\n  app_private_key: x\n")
	if _, err := Load([]string{"--config", inline}, minimalEnv(nil), io.Discard); err == nil {
		t.Fatal("an inline private key was accepted")
	}
}
