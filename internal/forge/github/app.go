package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"

	"github.com/expbot/expbot/internal/forge"
)

// AppConfig makes the client authenticate as a GitHub App: every request
// carries an installation token of the repository's installation, made
// from a JWT signed with the app's key and refreshed before it expires.
type AppConfig struct {
	ID         int64
	PrivateKey []byte // PEM, PKCS#1 or PKCS#8
	// InstallationID fixes the installation; 0 looks each repository's
	// installation up (GET /repos/{owner}/{repo}/installation), so one bot
	// can serve several organisations.
	InstallationID int64
	// OnToken, when set, receives every installation token the client
	// obtains with its installation, so that a scrubber can keep it out of
	// logs and comments (and forget the installation's older ones).
	OnToken func(installationID int64, token string)
}

// ErrNotInstalled is wrapped by errors for a repository the app is not
// installed on.
var ErrNotInstalled = errors.New("the GitHub App is not installed on this repository")

// How long a repository's installation (or its absence) is believed
// without an installation event saying otherwise: events keep it current,
// these bound the damage of one that never came.
const (
	installedTTL    = time.Hour
	notInstalledTTL = 5 * time.Minute
)

// Installations hands out installation tokens: one token cache per
// installation (ghinstallation refreshes a token a minute before it
// expires, one refresh at a time), and the repository → installation map,
// which installation events keep up to date. Safe for concurrent use.
type Installations struct {
	app     *ghinstallation.AppsTransport
	base    http.RoundTripper
	jwt     *http.Client // requests signed with the app's JWT
	root    string       // REST root without the trailing slash
	rootURL string       // REST root with it, as configured
	fixed   int64
	onToken func(int64, string)

	mu     sync.Mutex
	caches map[int64]*tokenCache
	repos  map[string]repoInstallation // lower-case owner/name
}

type tokenCache struct {
	tr   *ghinstallation.Transport
	mu   sync.Mutex
	last string
}

type repoInstallation struct {
	id   int64 // 0: not installed
	seen time.Time
}

func newInstallations(cfg AppConfig, base http.RoundTripper, apiURL string, timeout time.Duration) (*Installations, error) {
	if cfg.ID <= 0 {
		return nil, errors.New("github: GitHub App id is required")
	}
	app, err := ghinstallation.NewAppsTransport(base, cfg.ID, cfg.PrivateKey)
	if err != nil {
		// ghinstallation's message names the problem without quoting the key.
		return nil, fmt.Errorf("github: GitHub App private key: %w", err)
	}
	root := strings.TrimSuffix(apiURL, "/")
	app.BaseURL = root
	return &Installations{
		app: app, base: base, jwt: &http.Client{Transport: app, Timeout: timeout},
		root: root, rootURL: root + "/", fixed: cfg.InstallationID, onToken: cfg.OnToken,
		caches: map[int64]*tokenCache{}, repos: map[string]repoInstallation{},
	}, nil
}

// appError carries how an App authentication failure should be treated.
type appError struct {
	kind forge.ErrorKind
	err  error
}

func (e *appError) Error() string { return e.err.Error() }
func (e *appError) Unwrap() error { return e.err }

// Verify checks the app's credentials with GET /app (and the fixed
// installation, if any) and returns the app's slug. A wrong key, a wrong
// app id or a clock far off fail here, with GitHub's own reason.
func (in *Installations) Verify(ctx context.Context) (string, error) {
	var app struct {
		Slug string `json:"slug"`
	}
	if err := in.getJWT(ctx, "/app", &app); err != nil {
		return "", fmt.Errorf("github: GitHub App %s: GitHub refused the app's credentials (check github.app_id, that the private key is this app's, and this machine's clock): %w", in.appID(), err)
	}
	if in.fixed != 0 {
		if err := in.getJWT(ctx, "/app/installations/"+strconv.FormatInt(in.fixed, 10), nil); err != nil {
			return "", fmt.Errorf("github: GitHub App %s has no installation %d (github.app_installation_id): %w", in.appID(), in.fixed, err)
		}
	}
	return app.Slug, nil
}

func (in *Installations) appID() string { return strconv.FormatInt(in.app.AppID(), 10) }

// statusError is a non-2xx answer to a JWT request.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string {
	if e.msg == "" {
		return strconv.Itoa(e.status) + " " + http.StatusText(e.status)
	}
	return strconv.Itoa(e.status) + " " + e.msg
}

func (in *Installations) getJWT(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.root+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	resp, err := in.jwt.Do(req)
	if err != nil {
		return &appError{forge.Transient, err}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &e)
		return &appError{forge.StatusKind(resp.StatusCode), &statusError{resp.StatusCode, e.Message}}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

// Installed reports whether the app is installed on repo ("owner/name")
// and, with a fixed installation, whether it is that one.
func (in *Installations) Installed(ctx context.Context, repo string) (bool, error) {
	id, err := in.installationOf(ctx, repo)
	if err != nil {
		return false, err
	}
	return id != 0 && (in.fixed == 0 || id == in.fixed), nil
}

// InstallationOf returns repo's installation id; an error wrapping
// ErrNotInstalled when there is none.
func (in *Installations) InstallationOf(ctx context.Context, repo string) (int64, error) {
	if in.fixed != 0 {
		return in.fixed, nil
	}
	id, err := in.installationOf(ctx, repo)
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, &appError{forge.Permanent, fmt.Errorf("%s: %w", repo, ErrNotInstalled)}
	}
	return id, nil
}

func (in *Installations) installationOf(ctx context.Context, repo string) (int64, error) {
	key := strings.ToLower(repo)
	in.mu.Lock()
	e, ok := in.repos[key]
	in.mu.Unlock()
	if ok && ((e.id != 0 && time.Since(e.seen) < installedTTL) || time.Since(e.seen) < notInstalledTTL) {
		return e.id, nil
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	var got struct {
		ID int64 `json:"id"`
	}
	err = in.getJWT(ctx, "/repos/"+escapeSegments(owner)+"/"+escapeSegments(name)+"/installation", &got)
	var ae *appError
	switch {
	case errors.As(err, &ae) && ae.kind == forge.NotFound:
		got.ID = 0
	case err != nil:
		return 0, fmt.Errorf("github: installation of %s: %w", repo, err)
	}
	in.mu.Lock()
	in.repos[key] = repoInstallation{id: got.ID, seen: time.Now()}
	in.mu.Unlock()
	return got.ID, nil
}

// Observe applies an installation event: repositories added to an
// installation (or a new installation) are served by it, removed ones (or
// a deleted installation's) are not.
func (in *Installations) Observe(installationID int64, added, removed []string, deleted bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	now := time.Now()
	for _, r := range added {
		in.repos[strings.ToLower(r)] = repoInstallation{id: installationID, seen: now}
	}
	for _, r := range removed {
		in.repos[strings.ToLower(r)] = repoInstallation{seen: now}
	}
	if deleted {
		delete(in.caches, installationID)
		for k, v := range in.repos {
			if v.id == installationID {
				in.repos[k] = repoInstallation{seen: now}
			}
		}
	}
}

// Token returns a valid installation token of the installation, made or
// refreshed when needed.
func (in *Installations) Token(ctx context.Context, installationID int64) (string, error) {
	in.mu.Lock()
	c, ok := in.caches[installationID]
	if !ok {
		tr := ghinstallation.NewFromAppsTransport(in.app, installationID)
		tr.BaseURL = in.root
		c = &tokenCache{tr: tr}
		in.caches[installationID] = c
	}
	in.mu.Unlock()
	tok, err := c.tr.Token(ctx)
	if err != nil {
		kind := forge.Transient
		var he *ghinstallation.HTTPError
		if errors.As(err, &he) && he.Response != nil {
			kind = forge.StatusKind(he.Response.StatusCode)
			if kind == forge.NotFound {
				kind = forge.Permanent // the installation is gone, not a ref
			}
		}
		return "", &appError{kind, fmt.Errorf("github: installation token of installation %d: %w", installationID, err)}
	}
	c.mu.Lock()
	fresh := tok != c.last
	c.last = tok
	c.mu.Unlock()
	if fresh && in.onToken != nil {
		in.onToken(installationID, tok)
	}
	return tok, nil
}

// transport authenticates each API request with the installation token of
// the repository the request is about.
type appTransport struct {
	in      *Installations
	apiPath string // path of the REST root, e.g. "/" or "/api/v3/"
}

func (t *appTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	repo, ok := repoOfPath(strings.TrimPrefix(req.URL.Path, strings.TrimSuffix(t.apiPath, "/")))
	var id int64
	var err error
	switch {
	case ok:
		id, err = t.in.InstallationOf(req.Context(), repo)
	case t.in.fixed != 0:
		id = t.in.fixed
	default:
		err = &appError{forge.Permanent, fmt.Errorf("github: %s is not about a repository: no installation to act for", req.URL.Path)}
	}
	if err == nil {
		var tok string
		if tok, err = t.in.Token(req.Context(), id); err == nil {
			out := req.Clone(req.Context())
			out.Header.Set("Authorization", "Bearer "+tok)
			return t.in.base.RoundTrip(out)
		}
	}
	if req.Body != nil { // a RoundTripper closes the body, even on failure
		_ = req.Body.Close()
	}
	return nil, err
}

// repoOfPath reads "owner/name" from "/repos/{owner}/{name}/...".
func repoOfPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/repos/")
	if !ok {
		return "", false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", false
	}
	return parts[0] + "/" + parts[1], true
}
