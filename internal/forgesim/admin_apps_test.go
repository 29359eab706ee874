package forgesim

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

func adminDo(t *testing.T, e *simEnv, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// Apps through the admin API; the app's webhook hears about its
// installation and, with the installation named, about events in its
// repositories, signed with its secret.
func TestAdminAppsAndAppWebhooks(t *testing.T) {
	e := newSim(t)
	e.seedBasic(t)
	rc := newReceiver(t, http.StatusOK, "ok")
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	body, _ := json.Marshal(AppRequest{Slug: "bot-app", PublicKey: pubPEM, WebhookURL: rc.URL, WebhookSecret: "app-secret"})
	status, app := adminDo(t, e, "POST", "/_sim/apps", string(body))
	if status != 201 || app["bot"] != "bot-app[bot]" {
		t.Fatalf("POST /_sim/apps: %d %v", status, app)
	}
	if status, m := adminDo(t, e, "POST", "/_sim/apps", `{"slug":"x","public_key":"nope"}`); status != 400 {
		t.Fatalf("bad key: %d %v", status, m)
	}
	appID := int64(app["id"].(float64))
	status, inst := adminDo(t, e, "POST", fmt.Sprintf("/_sim/apps/%d/installations", appID), `{"account":"acme","repositories":["acme/llm"]}`)
	if status != 201 {
		t.Fatalf("install: %d %v", status, inst)
	}
	instID := int64(inst["id"].(float64))
	if _, _, err := e.srv.Forge().OpenIssue("acme/llm", "alice", "t", "b", nil); err != nil {
		t.Fatal(err)
	}
	if status, m := adminDo(t, e, "POST", fmt.Sprintf("/_sim/installations/%d/repositories", instID), `{"remove":["acme/llm"]}`); status != 200 {
		t.Fatalf("remove: %d %v", status, m)
	}
	if _, _, err := e.srv.Forge().OpenIssue("acme/llm", "alice", "after", "b", nil); err != nil { // not the app's any more
		t.Fatal(err)
	}
	if status, m := adminDo(t, e, "PUT", "/_sim/apps/clock", `{"token_ttl":"90s","clock_skew":"-5s"}`); status != 200 {
		t.Fatalf("clock: %d %v", status, m)
	}
	if status, m := adminDo(t, e, "DELETE", fmt.Sprintf("/_sim/installations/%d", instID), ``); status != 200 {
		t.Fatalf("uninstall: %d %v", status, m)
	}

	got := rc.requests()
	var events []string
	for _, r := range got {
		ev := r.header.Get("X-GitHub-Event")
		events = append(events, ev)
		if r.header.Get("X-Hub-Signature-256") != GitHubSignature("app-secret", r.body) {
			t.Errorf("%s: not signed with the app's secret", ev)
		}
		var p struct {
			Installation struct {
				ID int64 `json:"id"`
			} `json:"installation"`
		}
		if err := json.Unmarshal(r.body, &p); err != nil || p.Installation.ID != instID {
			t.Errorf("%s: payload does not name installation %d: %s", ev, instID, r.body)
		}
		if bytes.Contains(r.body, []byte("github.invalid")) {
			t.Errorf("%s: links do not point at the forge: %s", ev, r.body)
		}
	}
	if want := "installation issues installation_repositories installation"; strings.Join(events, " ") != want {
		t.Fatalf("the app heard %q, want %q", events, want)
	}
	if got[1].header.Get("X-GitHub-Hook-Installation-Target-ID") != fmt.Sprint(appID) {
		t.Errorf("issues delivery headers %v", got[1].header)
	}
}
