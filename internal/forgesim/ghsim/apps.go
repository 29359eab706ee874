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
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// GitHub Apps as GitHub documents them: an app has an id, a slug and the
// public half of its key pair; it authenticates as itself with a JWT signed
// RS256 (iat not in the future, exp in the future and at most 10 minutes
// ahead) and trades that for installation tokens that expire. An
// installation token acts as "<slug>[bot]" on the installation's
// repositories only.

// MaxJWTLifetime is how far ahead of GitHub's clock a JWT's exp may be.
const MaxJWTLifetime = 10 * time.Minute

// DefaultTokenTTL is the lifetime GitHub gives installation tokens.
const DefaultTokenTTL = time.Hour

// JWT error messages, as GitHub words them in 401 bodies.
const (
	msgJWTUndecodable = "A JSON web token could not be decoded"
	msgJWTIat         = "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"
	msgJWTExp         = "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires"
	msgJWTExpTooFar   = "'Expiration time' claim ('exp') is too far in the future"
	msgNoIntegration  = "Integration not found"
	msgNotAccessible  = "Resource not accessible by integration"
)

// App is a registered GitHub App.
type App struct {
	ID            int64
	Slug          string
	Key           *rsa.PublicKey
	WebhookURL    string // where installation events go; empty: none are sent
	WebhookSecret string
}

// BotLogin is the account the app's installation tokens act as.
func (a App) BotLogin() string { return a.Slug + "[bot]" }

// Installation is an app installed on an account, for some repositories.
type Installation struct {
	ID      int64
	AppID   int64
	Account string
	Repos   []string // full names
	Created time.Time
}

// AppStats counts what tests assert on.
type AppStats struct {
	TokensIssued  int // installation tokens created
	ExpiredTokens int // requests refused because their installation token had expired
	JWTRejected   int // JWTs refused
	// FirstExpiry is when the first installation token expired (or will);
	// LastUsed is when an installation token last authenticated a request.
	FirstExpiry, LastUsed time.Time
}

// WebhookSender sends one App webhook (event name and JSON payload) to url,
// signed with secret; forgesim provides it.
type WebhookSender func(ctx context.Context, url, secret, event string, payload []byte)

// Apps holds the GitHub Apps of a simulated GitHub.
type Apps struct {
	f *state.Forge

	mu       sync.Mutex
	apps     map[int64]*App
	installs map[int64]*Installation
	tokens   map[string]*instToken
	ttl      time.Duration
	skew     time.Duration
	send     WebhookSender
	baseURL  func() string // the forge's external URL, for links in payloads
	stats    AppStats
}

type instToken struct {
	install int64
	expires time.Time
}

// NewApps returns an empty registry over f.
func NewApps(f *state.Forge) *Apps {
	return &Apps{f: f, apps: map[int64]*App{}, installs: map[int64]*Installation{}, tokens: map[string]*instToken{}, ttl: DefaultTokenTTL}
}

// SetWebhookSender sets how installation events are delivered, and where
// the forge is (baseURL, e.g. "http://127.0.0.1:8900") for the payloads' links.
func (a *Apps) SetWebhookSender(s WebhookSender, baseURL func() string) {
	a.mu.Lock()
	a.send, a.baseURL = s, baseURL
	a.mu.Unlock()
}

// SetTokenTTL changes the lifetime of installation tokens created from now
// on (tests make it short to prove refreshing).
func (a *Apps) SetTokenTTL(d time.Duration) { a.mu.Lock(); a.ttl = d; a.mu.Unlock() }

// SetClockSkew moves the clock JWTs are checked against, as a GitHub whose
// clock differs from the client's.
func (a *Apps) SetClockSkew(d time.Duration) { a.mu.Lock(); a.skew = d; a.mu.Unlock() }

// IssuedTokens lists every installation token made so far, for tests that
// look for them where they must not be.
func (a *Apps) IssuedTokens() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, 0, len(a.tokens))
	for t := range a.tokens {
		out = append(out, t)
	}
	return out
}

// Stats reports counters.
func (a *Apps) Stats() AppStats { a.mu.Lock(); defer a.mu.Unlock(); return a.stats }

func (a *Apps) now() time.Time { return a.f.Now().Add(a.skew) }

// AddApp registers an app and its bot account.
func (a *Apps) AddApp(slug string, key *rsa.PublicKey, webhookURL, webhookSecret string) App {
	app := &App{ID: a.f.NewID(), Slug: slug, Key: key, WebhookURL: webhookURL, WebhookSecret: webhookSecret}
	a.f.AddUser(app.BotLogin(), "", "", "", true)
	a.mu.Lock()
	a.apps[app.ID] = app
	a.mu.Unlock()
	return *app
}

// Install installs app on account for repos and sends "installation created".
func (a *Apps) Install(ctx context.Context, appID int64, account string, repos ...string) (Installation, error) {
	a.mu.Lock()
	app, ok := a.apps[appID]
	if !ok {
		a.mu.Unlock()
		return Installation{}, fmt.Errorf("app %d: %w", appID, state.ErrNotFound)
	}
	in := &Installation{ID: a.f.NewID(), AppID: appID, Account: account, Created: a.f.Now()}
	a.installs[in.ID] = in
	a.mu.Unlock()
	if err := a.grant(*app, repos, state.Developer); err != nil {
		return Installation{}, err
	}
	a.mu.Lock()
	in.Repos = append(in.Repos, repos...)
	cp := *in
	a.mu.Unlock()
	a.notify(ctx, *app, "installation", map[string]any{"action": "created", "repositories": repoList(a.f, repos)}, cp)
	return cp, nil
}

// Uninstall removes an installation; its tokens stop working at once.
func (a *Apps) Uninstall(ctx context.Context, id int64) error {
	a.mu.Lock()
	in, ok := a.installs[id]
	if !ok {
		a.mu.Unlock()
		return fmt.Errorf("installation %d: %w", id, state.ErrNotFound)
	}
	delete(a.installs, id)
	for t, it := range a.tokens {
		if it.install == id {
			delete(a.tokens, t)
		}
	}
	app, cp := *a.apps[in.AppID], *in
	a.mu.Unlock()
	_ = a.grant(app, cp.Repos, state.NoAccess)
	a.notify(ctx, app, "installation", map[string]any{"action": "deleted", "repositories": repoList(a.f, cp.Repos)}, cp)
	return nil
}

// AddRepos adds repositories to an installation ("installation_repositories added").
func (a *Apps) AddRepos(ctx context.Context, id int64, repos ...string) error {
	return a.changeRepos(ctx, id, repos, true)
}

// RemoveRepos takes repositories out of an installation ("installation_repositories removed").
func (a *Apps) RemoveRepos(ctx context.Context, id int64, repos ...string) error {
	return a.changeRepos(ctx, id, repos, false)
}

func (a *Apps) changeRepos(ctx context.Context, id int64, repos []string, add bool) error {
	a.mu.Lock()
	in, ok := a.installs[id]
	if !ok {
		a.mu.Unlock()
		return fmt.Errorf("installation %d: %w", id, state.ErrNotFound)
	}
	app := *a.apps[in.AppID]
	a.mu.Unlock()
	lvl := state.NoAccess
	if add {
		lvl = state.Developer
	}
	if err := a.grant(app, repos, lvl); err != nil {
		return err
	}
	a.mu.Lock()
	for _, r := range repos {
		in.Repos = slices.DeleteFunc(in.Repos, func(x string) bool { return x == r })
		if add {
			in.Repos = append(in.Repos, r)
		}
	}
	cp := *in
	a.mu.Unlock()
	added, removed := []any{}, []any{}
	if add {
		added = repoList(a.f, repos)
	} else {
		removed = repoList(a.f, repos)
	}
	action := map[bool]string{true: "added", false: "removed"}[add]
	a.notify(ctx, app, "installation_repositories", map[string]any{
		"action": action, "repository_selection": "selected", "repositories_added": added, "repositories_removed": removed,
	}, cp)
	return nil
}

// grant gives the app's bot the level on repos (write while installed).
func (a *Apps) grant(app App, repos []string, lvl state.AccessLevel) error {
	for _, r := range repos {
		if err := a.f.SetAccess(r, app.BotLogin(), lvl); err != nil {
			return err
		}
	}
	return nil
}

func repoList(f *state.Forge, repos []string) []any {
	out := []any{}
	for _, r := range repos {
		info, err := f.Repo(r)
		if err != nil {
			continue
		}
		out = append(out, map[string]any{"id": info.ID, "node_id": nodeID("Repository", strconv.FormatInt(info.ID, 10)), "name": info.Name,
			"full_name": info.FullName, "private": false})
	}
	return out
}

// notify sends an installation event to the app's webhook, if it has one.
func (a *Apps) notify(ctx context.Context, app App, event string, fields map[string]any, in Installation) {
	a.mu.Lock()
	send, base := a.send, a.baseURL
	a.mu.Unlock()
	if send == nil || app.WebhookURL == "" {
		return
	}
	l := links{root: "http://github.invalid"}
	if base != nil {
		l.root = base()
	}
	fields["installation"] = installationJSON(l, app, in, a.f)
	fields["sender"] = accountObject(l, in.Account, 0, "User")
	body, err := json.Marshal(fields)
	if err != nil {
		return
	}
	send(ctx, app.WebhookURL, app.WebhookSecret, event, body)
}

func installationJSON(l links, app App, in Installation, f *state.Forge) map[string]any {
	typ, id := "User", int64(0)
	if oid, ok := f.OrgID(in.Account); ok {
		typ, id = "Organization", oid
	} else if u, err := f.UserByLogin(in.Account); err == nil {
		id = u.ID
	}
	return map[string]any{
		"id":                   in.ID,
		"node_id":              nodeID("Installation", strconv.FormatInt(in.ID, 10)),
		"account":              accountObject(l, in.Account, id, typ),
		"repository_selection": "selected",
		"access_tokens_url":    l.api(fmt.Sprintf("/app/installations/%d/access_tokens", in.ID)),
		"repositories_url":     l.api("/installation/repositories"),
		"html_url":             l.html(fmt.Sprintf("/organizations/%s/settings/installations/%d", in.Account, in.ID)),
		"app_id":               app.ID,
		"app_slug":             app.Slug,
		"target_id":            id,
		"target_type":          typ,
		"permissions":          map[string]string{"contents": "write", "issues": "write", "metadata": "read", "pull_requests": "read"},
		"events":               []string{"create", "delete", "issue_comment", "issues", "pull_request", "push"},
		"created_at":           in.Created.UTC().Format(time.RFC3339),
		"updated_at":           in.Created.UTC().Format(time.RFC3339),
		"single_file_name":     nil,
		"suspended_at":         nil,
		"suspended_by":         nil,
	}
}

// tokenUser resolves an installation token: the bot's login and the
// installation, ok=false when the token is not one; err when it expired.
func (a *Apps) tokenUser(token string) (login string, in Installation, ok bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	it, found := a.tokens[token]
	if !found {
		return "", Installation{}, false, nil
	}
	if !a.now().Before(it.expires) {
		a.stats.ExpiredTokens++
		return "", Installation{}, true, state.ErrUnauthorized
	}
	inst, ok := a.installs[it.install]
	if !ok {
		return "", Installation{}, true, state.ErrUnauthorized
	}
	a.stats.LastUsed = a.now()
	return a.apps[inst.AppID].BotLogin(), *inst, true, nil
}

// verifyJWT checks a JWT as GitHub does and returns its app.
func (a *Apps) verifyJWT(tok string) (App, *apiError) {
	app, e := a.checkJWT(tok)
	if e != nil {
		a.mu.Lock()
		a.stats.JWTRejected++
		a.mu.Unlock()
	}
	return app, e
}

func (a *Apps) checkJWT(tok string) (App, *apiError) {
	undecodable := newAPIError(http.StatusUnauthorized, msgJWTUndecodable)
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return App{}, undecodable
	}
	var header struct {
		Alg string `json:"alg"`
	}
	var claims struct {
		Iat json.Number `json:"iat"`
		Exp json.Number `json:"exp"`
		Iss any         `json:"iss"`
	}
	if decodeSegment(parts[0], &header) != nil || decodeSegment(parts[1], &claims) != nil || header.Alg != "RS256" {
		return App{}, undecodable
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return App{}, undecodable
	}
	var appID int64
	switch v := claims.Iss.(type) {
	case json.Number:
		appID, _ = v.Int64()
	case string:
		appID, _ = strconv.ParseInt(v, 10, 64)
	}
	a.mu.Lock()
	app, ok := a.apps[appID]
	now := a.now()
	a.mu.Unlock()
	if !ok {
		return App{}, newAPIError(http.StatusNotFound, msgNoIntegration)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(app.Key, crypto.SHA256, sum[:], sig) != nil {
		return App{}, undecodable
	}
	iat, err := claims.Iat.Int64()
	if err != nil || time.Unix(iat, 0).After(now) {
		return App{}, newAPIError(http.StatusUnauthorized, msgJWTIat)
	}
	exp, err := claims.Exp.Int64()
	if err != nil || !time.Unix(exp, 0).After(now) {
		return App{}, newAPIError(http.StatusUnauthorized, msgJWTExp)
	}
	if time.Unix(exp, 0).After(now.Add(MaxJWTLifetime)) {
		return App{}, newAPIError(http.StatusUnauthorized, msgJWTExpTooFar)
	}
	return *app, nil
}

func decodeSegment(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	return dec.Decode(v)
}

// newToken issues an installation token: "ghs_" and 36 characters.
func (a *Apps) newToken(in Installation) (string, time.Time) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 36)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	tok := "ghs_" + string(b)
	a.mu.Lock()
	defer a.mu.Unlock()
	exp := a.f.Now().Add(a.ttl).Truncate(time.Second)
	a.tokens[tok] = &instToken{install: in.ID, expires: exp}
	a.stats.TokensIssued++
	if a.stats.FirstExpiry.IsZero() {
		a.stats.FirstExpiry = exp
	}
	return tok, exp
}

// appRequest authenticates a route that wants the app's JWT.
func (s *server) appRoute(fn func(q *request, app App)) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		setCommonHeaders(w)
		tok, ok := bearer(r)
		if !ok {
			writeError(w, newAPIError(http.StatusUnauthorized, "Requires authentication"))
			return
		}
		if s.apps == nil {
			writeError(w, newAPIError(http.StatusUnauthorized, msgJWTUndecodable))
			return
		}
		app, e := s.apps.verifyJWT(tok)
		if e != nil {
			writeError(w, e)
			return
		}
		fn(&request{w: w, r: r, s: s, l: linksFor(r)}, app)
	}
}

func (s *server) getApp(q *request, app App) {
	q.reply(http.StatusOK, map[string]any{
		"id": app.ID, "slug": app.Slug, "node_id": nodeID("App", strconv.FormatInt(app.ID, 10)), "name": app.Slug,
		"owner": nil, "description": "", "external_url": q.l.html("/"), "html_url": q.l.html("/apps/" + app.Slug),
		"permissions": map[string]string{"contents": "write", "issues": "write", "metadata": "read", "pull_requests": "read"},
		"events":      []string{"create", "delete", "issue_comment", "issues", "pull_request", "push"},
	})
}

// installationFor finds app's installation holding repo.
func (a *Apps) installationFor(appID int64, repo string) (Installation, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, in := range a.installs {
		if in.AppID == appID && slices.ContainsFunc(in.Repos, func(r string) bool { return strings.EqualFold(r, repo) }) {
			return *in, true
		}
	}
	return Installation{}, false
}

func (s *server) getRepoInstallation(q *request, app App) {
	in, ok := s.apps.installationFor(app.ID, q.r.PathValue("owner")+"/"+q.r.PathValue("repo"))
	if !ok {
		q.fail(notFound())
		return
	}
	q.reply(http.StatusOK, installationJSON(q.l, app, in, s.f))
}

func (s *server) getInstallation(q *request, app App) {
	in, ok := s.apps.installation(app.ID, q.r.PathValue("id"))
	if !ok {
		q.fail(notFound())
		return
	}
	q.reply(http.StatusOK, installationJSON(q.l, app, in, s.f))
}

func (a *Apps) installation(appID int64, id string) (Installation, bool) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return Installation{}, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	in, ok := a.installs[n]
	if !ok || in.AppID != appID {
		return Installation{}, false
	}
	return *in, true
}

func (s *server) createAccessToken(q *request, app App) {
	in, ok := s.apps.installation(app.ID, q.r.PathValue("id"))
	if !ok {
		q.fail(notFound())
		return
	}
	var body struct {
		Repositories []string `json:"repositories"`
	}
	if err := q.decode(&body); err != nil {
		q.fail(err)
		return
	}
	for _, r := range body.Repositories {
		if !slices.Contains(in.Repos, in.Account+"/"+r) {
			q.fail(validationFailed("Installation", "repositories", "invalid"))
			return
		}
	}
	tok, exp := s.apps.newToken(in)
	q.reply(http.StatusCreated, map[string]any{
		"token":                tok,
		"expires_at":           exp.UTC().Format(time.RFC3339),
		"permissions":          map[string]string{"contents": "write", "issues": "write", "metadata": "read", "pull_requests": "read"},
		"repository_selection": "selected",
	})
}

// integrationForbidden is the 403 an installation token gets for a write
// to a repository outside its installation (reads of public repositories
// are allowed, as on GitHub).
func integrationForbidden(r *http.Request, in Installation) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/repos/")
	if !ok {
		return false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return false
	}
	full := parts[0] + "/" + parts[1]
	return !slices.ContainsFunc(in.Repos, func(x string) bool { return strings.EqualFold(x, full) })
}

// AppHook is where an app hears about events in a repository it is
// installed on: its webhook, with the installation named in each payload.
type AppHook struct {
	AppID, InstallationID int64
	URL, Secret           string
}

// AppEvents are the repository events the simulated apps subscribe to.
var AppEvents = []string{"create", "delete", "issue_comment", "issues", "pull_request", "push"}

// HooksFor lists the app webhooks that hear about events in repo.
func (a *Apps) HooksFor(repo string) []AppHook {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []AppHook
	for _, in := range a.installs {
		app := a.apps[in.AppID]
		if app.WebhookURL != "" && slices.ContainsFunc(in.Repos, func(r string) bool { return strings.EqualFold(r, repo) }) {
			out = append(out, AppHook{AppID: app.ID, InstallationID: in.ID, URL: app.WebhookURL, Secret: app.WebhookSecret})
		}
	}
	slices.SortFunc(out, func(x, y AppHook) int { return int(x.InstallationID - y.InstallationID) })
	return out
}

// WithInstallation adds the "installation" member GitHub puts in the
// payloads it sends to an app.
func WithInstallation(payload []byte, installationID int64) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	inst, err := json.Marshal(map[string]any{"id": installationID, "node_id": nodeID("Installation", installationID)})
	if err != nil {
		return nil, err
	}
	m["installation"] = inst
	return marshal(m)
}
