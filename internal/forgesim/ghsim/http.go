package ghsim

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// apiPrefix is where GitHub Enterprise serves REST; links in responses carry
// it although the handler is mounted with it stripped.
const apiPrefix = "/api/v3"

// docsURL is the generic documentation link GitHub puts in error bodies.
const docsURL = "https://docs.github.com/rest"

// maxBody bounds request bodies; GitHub's contents API accepts files up to 100 MB.
const maxBody = 100 << 20

// server holds what every route needs; it has no mutable state of its own.
type server struct {
	f      *state.Forge
	apps   *Apps  // nil: no GitHub Apps
	pinger Pinger // nil: hooks are not pinged
}

// request is one API call after authentication.
type request struct {
	w    http.ResponseWriter
	r    *http.Request
	s    *server
	user state.User
	l    links
}

// links builds the absolute URLs GitHub puts in its JSON: API links under
// /api/v3 and web (html_url) links at the root of the same host.
type links struct{ root string }

func (l links) api(p string) string  { return l.root + apiPrefix + p }
func (l links) html(p string) string { return l.root + p }

// repoAPI is the API URL of something inside a repository.
func (l links) repoAPI(full, p string) string { return l.api("/repos/" + full + p) }

// repoHTML is the web URL of something inside a repository.
func (l links) repoHTML(full, p string) string { return l.html("/" + full + p) }

// escapeSegments escapes each "/"-separated part, as go-github does for refs
// and GitHub does for paths in its own links.
func escapeSegments(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

func linksFor(r *http.Request) links {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return links{root: scheme + "://" + r.Host}
}

// errorBody is GitHub's error document.
type errorBody struct {
	Message          string       `json:"message"`
	Errors           []fieldError `json:"errors,omitempty"`
	DocumentationURL string       `json:"documentation_url"`
	Status           string       `json:"status"`
}

// fieldError is one entry of a 422 "Validation Failed" body.
type fieldError struct {
	Resource string `json:"resource"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
	Message  string `json:"message,omitempty"`
}

// apiError carries a status and body out of model callbacks to the handler.
type apiError struct {
	status int
	body   errorBody
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.body.Message) }

func newAPIError(status int, msg string) *apiError {
	return &apiError{status: status, body: errorBody{Message: msg, DocumentationURL: docsURL}}
}

func notFound() *apiError { return newAPIError(http.StatusNotFound, "Not Found") }

func validationFailed(resource, field, code string) *apiError {
	e := newAPIError(http.StatusUnprocessableEntity, "Validation Failed")
	e.body.Errors = []fieldError{{Resource: resource, Field: field, Code: code}}
	return e
}

// invalidRequest is the wording GitHub uses for contents API parameter errors.
func invalidRequest(detail string) *apiError {
	return newAPIError(http.StatusUnprocessableEntity, "Invalid request.\n\n"+detail)
}

// fail answers err: an *apiError as it is, model errors by their kind.
func (q *request) fail(err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, state.ErrNotFound):
		ae = notFound()
	case errors.Is(err, state.ErrExists):
		ae = newAPIError(http.StatusUnprocessableEntity, "Validation Failed")
		ae.body.Errors = []fieldError{{Resource: "Repository", Code: "already_exists", Message: err.Error()}}
	case errors.Is(err, state.ErrConflict):
		ae = newAPIError(http.StatusConflict, err.Error())
	case errors.Is(err, state.ErrInvalid):
		ae = newAPIError(http.StatusUnprocessableEntity, err.Error())
	case errors.Is(err, state.ErrUnauthorized):
		ae = newAPIError(http.StatusUnauthorized, "Bad credentials")
	default:
		ae = newAPIError(http.StatusInternalServerError, "Server Error: "+err.Error())
	}
	writeError(q.w, ae)
}

func writeError(w http.ResponseWriter, e *apiError) {
	e.body.Status = strconv.Itoa(e.status)
	b, err := marshal(e.body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// marshal encodes like GitHub: compact and without HTML escaping, so text
// such as "<b>" round-trips byte for byte in bodies.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode JSON: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// reply writes v as JSON. Successful GETs carry an ETag computed from the
// body and honour If-None-Match with 304, as GitHub's conditional requests
// do (the provider sends the ETag of a branch back on refresh).
func (q *request) reply(status int, v any) {
	b, err := marshal(v)
	if err != nil {
		q.fail(err)
		return
	}
	h := q.w.Header()
	if q.r.Method == http.MethodGet && status == http.StatusOK {
		sum := sha256.Sum256(b)
		etag := `W/"` + hex.EncodeToString(sum[:16]) + `"`
		h.Set("ETag", etag)
		h.Set("Cache-Control", "private, max-age=60, s-maxage=60")
		h.Set("Vary", "Accept, Authorization, Cookie, X-GitHub-OTP")
		if etagMatches(q.r.Header.Get("If-None-Match"), etag) {
			q.w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Type", "application/json; charset=utf-8")
	q.w.WriteHeader(status)
	_, _ = q.w.Write(b)
}

// etagMatches compares with the weak comparison HTTP prescribes for If-None-Match.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// decode reads a JSON body; GitHub answers unparsable JSON with 400.
func (q *request) decode(v any) error {
	b, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, maxBody))
	if err != nil {
		return newAPIError(http.StatusBadRequest, "Problems parsing JSON")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return newAPIError(http.StatusBadRequest, "Problems parsing JSON")
	}
	return nil
}

// page is the slice of a list a request asked for, with GitHub's defaults.
type page struct{ number, size int }

func (q *request) page() page {
	p := page{number: 1, size: 30}
	if n, err := strconv.Atoi(q.r.URL.Query().Get("page")); err == nil && n > 0 {
		p.number = n
	}
	if n, err := strconv.Atoi(q.r.URL.Query().Get("per_page")); err == nil && n > 0 {
		p.size = min(n, 100)
	}
	return p
}

// paginate cuts items to the requested page and sets the Link header that
// go-github reads NextPage/LastPage from.
func paginate[T any](q *request, items []T) []T {
	p := q.page()
	last := max(1, (len(items)+p.size-1)/p.size)
	var rels []string
	link := func(n int, rel string) {
		u := *q.r.URL
		v := u.Query()
		v.Set("page", strconv.Itoa(n))
		v.Set("per_page", strconv.Itoa(p.size))
		rels = append(rels, fmt.Sprintf("<%s%s?%s>; rel=%q", q.l.api(""), u.EscapedPath(), v.Encode(), rel))
	}
	if p.number > 1 {
		link(min(p.number-1, last), "prev")
	}
	if p.number < last {
		link(p.number+1, "next")
		link(last, "last")
	}
	if p.number > 1 {
		link(1, "first")
	}
	if len(rels) > 0 {
		q.w.Header().Set("Link", strings.Join(rels, ", "))
	}
	start := (p.number - 1) * p.size
	if start >= len(items) {
		return []T{}
	}
	return items[start:min(start+p.size, len(items))]
}

// authenticate wraps the routes: headers every GitHub response carries, then
// the token check (GitHub accepts "Bearer", "token" and Basic with the token
// as password).
func (s *server) authenticate(next func(*request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCommonHeaders(w)
		token, ok := bearer(r)
		if !ok {
			writeError(w, newAPIError(http.StatusUnauthorized, "Requires authentication"))
			return
		}
		if s.apps != nil {
			if login, in, isInst, err := s.apps.tokenUser(token); isInst {
				u, uerr := s.f.UserByLogin(login)
				switch {
				case err != nil || uerr != nil:
					writeError(w, newAPIError(http.StatusUnauthorized, "Bad credentials"))
				case r.URL.Path == "/user":
					writeError(w, newAPIError(http.StatusForbidden, msgNotAccessible))
				case integrationForbidden(r, in):
					writeError(w, newAPIError(http.StatusForbidden, msgNotAccessible))
				default:
					next(&request{w: w, r: r, s: s, user: u, l: linksFor(r)})
				}
				return
			}
		}
		u, err := s.f.UserByToken(token)
		if err != nil {
			writeError(w, newAPIError(http.StatusUnauthorized, "Bad credentials"))
			return
		}
		w.Header().Set("X-OAuth-Scopes", "repo, read:org")
		next(&request{w: w, r: r, s: s, user: u, l: linksFor(r)})
	})
}

// setCommonHeaders sets the headers every GitHub API answer carries.
func setCommonHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-GitHub-Request-Id", requestID())
	h.Set("X-GitHub-Media-Type", "github.v3; format=json")
	h.Set("X-GitHub-Api-Version-Selected", "2022-11-28")
	h.Set("X-RateLimit-Limit", "5000")
	h.Set("X-RateLimit-Remaining", "4999")
	h.Set("X-RateLimit-Used", "1")
	h.Set("X-RateLimit-Resource", "core")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	h.Set("Server", "GitHub.com")
}

func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	if a == "" {
		return "", false
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return pw, true
	}
	scheme, tok, ok := strings.Cut(a, " ")
	if !ok {
		return "", true // present but malformed: "Bad credentials"
	}
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return strings.TrimSpace(tok), true
	}
	return "", true
}

// requestID imitates GitHub's "XXXX:XXXX:..." request ids.
func requestID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	x := strings.ToUpper(hex.EncodeToString(b))
	return x[0:4] + ":" + x[4:8] + ":" + x[8:14] + ":" + x[14:20]
}
