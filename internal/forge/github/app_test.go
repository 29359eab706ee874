package github_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/internal/forge"
	"github.com/expbot/expbot/internal/forge/forgetest"
	"github.com/expbot/expbot/internal/forge/github"
	"github.com/expbot/expbot/internal/forgesim/ghsim"
	"github.com/expbot/expbot/internal/forgesim/state"
)

// appSim is a simulated GitHub with an app installed on two organisations'
// repositories (one installation each) and a repository it is not on.
type appSim struct {
	url        string
	forge      *state.Forge
	apps       *ghsim.Apps
	app        ghsim.App
	key        []byte
	acme, beta ghsim.Installation
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func rsaKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	must(t, err)
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func newAppSim(t *testing.T) *appSim {
	t.Helper()
	srv, url := forgetest.Serve(t)
	f := srv.Forge()
	sig := state.Signature{Name: "alice", Email: "alice@example.com"}
	f.AddUser("alice", "Alice", "alice@example.com", "alice-token", false)
	for _, r := range []string{"acme/llm", "beta/vision", "gamma/other"} {
		f.AddOrg(strings.Split(r, "/")[0])
		_, err := f.CreateRepo(r, "main", map[string]string{"README.md": "# " + r + "\n"}, sig)
		must(t, err)
		_, _, err = f.OpenIssue(r, "alice", "request", "body", nil)
		must(t, err)
	}
	k, pemKey := rsaKey(t)
	s := &appSim{url: url, forge: f, apps: srv.Apps(), key: pemKey}
	s.app = s.apps.AddApp("expbot-app", &k.PublicKey, "", "")
	ctx := context.Background()
	var err error
	s.acme, err = s.apps.Install(ctx, s.app.ID, "acme", "acme/llm")
	must(t, err)
	s.beta, err = s.apps.Install(ctx, s.app.ID, "beta", "beta/vision")
	must(t, err)
	return s
}

func (s *appSim) client(t *testing.T, cfg github.AppConfig) *github.Client {
	t.Helper()
	if cfg.ID == 0 {
		cfg.ID = s.app.ID
	}
	if cfg.PrivateKey == nil {
		cfg.PrivateKey = s.key
	}
	c, err := github.New(github.Config{APIURL: s.url + "/", App: &cfg})
	must(t, err)
	return c
}

func TestAppClientActsAsItsBotInEachInstallation(t *testing.T) {
	s := newAppSim(t)
	ctx := context.Background()
	var mu sync.Mutex
	var seen []string
	ids := map[int64]bool{}
	c := s.client(t, github.AppConfig{OnToken: func(id int64, tok string) {
		mu.Lock()
		seen, ids[id] = append(seen, tok), true
		mu.Unlock()
	}})
	slug, err := c.Installations().Verify(ctx)
	if err != nil || slug != "expbot-app" {
		t.Fatalf("Verify = %q, %v", slug, err)
	}
	for _, repo := range []string{"acme/llm", "beta/vision"} {
		com, err := c.CreateComment(ctx, repo, event.Thread{Kind: event.IssueThread, Number: 1}, "hello from the app")
		if err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
		_ = s.forge.WithRepo(repo, func(r *state.Repo) error {
			got, _ := r.Comment(com.ID)
			if got == nil || got.Author != "expbot-app[bot]" {
				t.Errorf("%s: comment by %+v, want expbot-app[bot]", repo, got)
			}
			return nil
		})
	}
	// One token per installation, each handed to the scrubber hook once.
	if st := s.apps.Stats(); st.TokensIssued != 2 || len(seen) != 2 || seen[0] == seen[1] {
		t.Fatalf("tokens issued %d, seen %d", st.TokensIssued, len(seen))
	}
	// Each with its installation, so that the scrubber keeps only the
	// newest tokens of each.
	if !ids[s.acme.ID] || len(ids) != 2 {
		t.Errorf("tokens handed over with installations %v, want acme's (%d) and another", ids, s.acme.ID)
	}
	// Outside every installation: refused without a token being made.
	_, err = c.CreateComment(ctx, "gamma/other", event.Thread{Kind: event.IssueThread, Number: 1}, "x")
	if !errors.Is(err, github.ErrNotInstalled) || forge.IsTransient(err) {
		t.Fatalf("outside: %v (transient %v)", err, forge.IsTransient(err))
	}
	for repo, want := range map[string]bool{"acme/llm": true, "beta/vision": true, "gamma/other": false} {
		if got, err := c.Installations().Installed(ctx, repo); err != nil || got != want {
			t.Errorf("Installed(%s) = %v, %v", repo, got, err)
		}
	}
}

// With github.app_installation_id set, only that installation's
// repositories are served.
func TestAppClientFixedInstallation(t *testing.T) {
	s := newAppSim(t)
	ctx := context.Background()
	c := s.client(t, github.AppConfig{InstallationID: s.acme.ID})
	if _, err := c.Installations().Verify(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Installations().Installed(ctx, "acme/llm"); !ok {
		t.Error("acme/llm not served")
	}
	if ok, _ := c.Installations().Installed(ctx, "beta/vision"); ok {
		t.Error("beta/vision served by another installation")
	}
	bad := s.client(t, github.AppConfig{InstallationID: 999999})
	if _, err := bad.Installations().Verify(ctx); err == nil || !strings.Contains(err.Error(), "no installation 999999") {
		t.Fatalf("unknown installation: %v", err)
	}
}

func TestAppClientVerifyRefusesWrongCredentials(t *testing.T) {
	s := newAppSim(t)
	ctx := context.Background()
	_, otherKey := rsaKey(t)
	for name, tc := range map[string]struct {
		cfg  github.AppConfig
		want string
	}{
		"another app's key": {github.AppConfig{PrivateKey: otherKey}, "A JSON web token could not be decoded"},
		"wrong app id":      {github.AppConfig{ID: s.app.ID + 1000}, "Integration not found"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.client(t, tc.cfg).Installations().Verify(ctx)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "github.app_id") {
				t.Fatalf("Verify: %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatal("the error quotes the key")
			}
		})
	}
	if _, err := github.New(github.Config{APIURL: s.url + "/", App: &github.AppConfig{ID: 1, PrivateKey: []byte("junk")}}); err == nil {
		t.Fatal("an unreadable key was accepted")
	}
}

// The token cache: one token per installation however many requests run at
// once, a new one shortly before the old one expires, and never a request
// with an expired token.
func TestAppTokenCacheRefreshesBeforeExpiry(t *testing.T) {
	s := newAppSim(t)
	ctx := context.Background()
	c := s.client(t, github.AppConfig{})
	in := c.Installations()

	var wg sync.WaitGroup
	toks := make([]string, 16)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := in.Token(ctx, s.acme.ID)
			if err != nil {
				t.Error(err)
			}
			toks[i] = tok
		}()
	}
	wg.Wait()
	for _, tok := range toks {
		if tok != toks[0] {
			t.Fatal("concurrent callers got different tokens")
		}
	}
	if n := s.apps.Stats().TokensIssued; n != 1 {
		t.Fatalf("%d tokens for one installation", n)
	}

	// Tokens now live 62 s: ghinstallation renews a minute ahead, so a
	// token is reused for about a second and then replaced.
	s.apps.SetTokenTTL(62 * time.Second)
	in.Observe(s.acme.ID, nil, nil, true) // forget the hour-long token
	first, err := in.Token(ctx, s.acme.ID)
	must(t, err)
	if again, _ := in.Token(ctx, s.acme.ID); again != first {
		t.Fatal("a fresh token was not reused")
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := c.DefaultBranch(ctx, "acme/llm"); err != nil {
		t.Fatalf("request after the refresh point: %v", err)
	}
	next, _ := in.Token(ctx, s.acme.ID)
	if next == first {
		t.Fatal("the token was not renewed before its expiry")
	}
	if st := s.apps.Stats(); st.ExpiredTokens != 0 || st.TokensIssued != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// Installation events update who is served without asking GitHub.
func TestAppInstallationsObserve(t *testing.T) {
	s := newAppSim(t)
	ctx := context.Background()
	in := s.client(t, github.AppConfig{}).Installations()
	if ok, _ := in.Installed(ctx, "acme/llm"); !ok {
		t.Fatal("acme/llm not installed")
	}
	in.Observe(s.acme.ID, nil, []string{"acme/llm"}, false)
	if ok, _ := in.Installed(ctx, "acme/llm"); ok {
		t.Fatal("a removed repository is still served")
	}
	in.Observe(s.acme.ID, []string{"ACME/llm"}, nil, false)
	if ok, _ := in.Installed(ctx, "acme/llm"); !ok {
		t.Fatal("a re-added repository is not served")
	}
	in.Observe(s.beta.ID, nil, []string{"beta/vision"}, true)
	if ok, _ := in.Installed(ctx, "beta/vision"); ok {
		t.Fatal("a deleted installation's repository is still served")
	}
}
