package glsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// obj is a JSON object under construction; maps keep null fields (nil)
// visible, which GitLab's entities have plenty of.
type obj = map[string]any

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, fmt.Sprintf(`{"message":"500 Internal Server Error: %v"}`, err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *call) json(status int, v any) { writeJSON(c.w, status, v) }

// fail answers as GitLab's render_api_error! and not_found! do.
func (c *call) fail(status int, message string) {
	c.json(status, obj{"message": message})
}

// badParam answers as Grape's parameter validation does.
func (c *call) badParam(message string) {
	c.json(http.StatusBadRequest, obj{"error": message})
}

func (c *call) noContent() { c.w.WriteHeader(http.StatusNoContent) }

// apiError carries a GitLab error response out of a Forge callback.
type apiError struct {
	status  int
	message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s", e.status, e.message) }

func errStatus(status int, message string) error { return &apiError{status: status, message: message} }

// failErr maps an error from a Forge call: an apiError as is, a model
// error to the status GitLab would give, anything else to a 500.
func (c *call) failErr(err error, notFound string) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		c.fail(ae.status, ae.message)
	case errors.Is(err, state.ErrNotFound):
		c.fail(http.StatusNotFound, "404 "+notFound+" Not Found")
	case errors.Is(err, state.ErrExists), errors.Is(err, state.ErrInvalid), errors.Is(err, state.ErrConflict):
		c.fail(http.StatusBadRequest, err.Error())
	default:
		c.fail(http.StatusInternalServerError, "500 Internal Server Error")
	}
}

// params holds request parameters: the query string merged with a JSON or
// form body (body values win, as in Rack). JSON scalars keep their types.
type params map[string]any

func readParams(r *http.Request) (params, error) {
	p := params{}
	for k, v := range r.URL.Query() {
		if len(v) > 0 {
			p[k] = v[len(v)-1]
		}
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead || r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case ct == "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, fmt.Errorf("parsing form body: %w", err)
		}
		for k, v := range form {
			if len(v) > 0 {
				p[k] = v[len(v)-1]
			}
		}
	case ct == "application/json" || bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("parsing JSON body: %w", err)
		}
		for k, v := range m {
			if v != nil {
				p[k] = v
			}
		}
	}
	return p, nil
}

// str returns a parameter as a string, converting JSON numbers and bools
// the way Grape coerces them for String parameters.
func (p params) str(k string) (string, bool) {
	switch v := p[k].(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	default:
		return "", false
	}
}

func (p params) get(k string) string { s, _ := p.str(k); return s }

// boolean coerces a Grape Boolean parameter; ok is false when it is absent
// and err set when it is present but not a boolean.
func (p params) boolean(k string) (v, ok bool, err error) {
	switch x := p[k].(type) {
	case nil:
		return false, false, nil
	case bool:
		return x, true, nil
	}
	s, _ := p.str(k)
	switch strings.ToLower(s) {
	case "true", "1", "t", "yes", "y":
		return true, true, nil
	case "false", "0", "f", "no", "n":
		return false, true, nil
	}
	return false, true, fmt.Errorf("%s is invalid", k)
}

// spec is one required parameter; blankOK mirrors Grape's allow_blank.
type spec struct {
	name    string
	blankOK bool
}

// paramErrors checks required parameters with Grape's messages ("branch
// is missing, branch is empty"); callers add their own validators' messages
// and answer with rejectParams, so all problems are reported at once.
func (c *call) paramErrors(specs ...spec) []string {
	var errs []string
	for _, sp := range specs {
		v, ok := c.params.str(sp.name)
		if !ok {
			if _, present := c.params[sp.name]; present {
				errs = append(errs, sp.name+" is invalid")
				continue
			}
			errs = append(errs, sp.name+" is missing")
			if !sp.blankOK {
				errs = append(errs, sp.name+" is empty")
			}
			continue
		}
		if !sp.blankOK && strings.TrimSpace(v) == "" {
			errs = append(errs, sp.name+" is empty")
		}
	}
	return errs
}

// rejectParams answers 400 when errs is not empty and reports whether it did.
func (c *call) rejectParams(errs []string) bool {
	if len(errs) == 0 {
		return false
	}
	c.badParam(strings.Join(errs, ", "))
	return true
}

// require is paramErrors and rejectParams in one; it returns true when the
// request may go on.
func (c *call) require(specs ...spec) bool { return !c.rejectParams(c.paramErrors(specs...)) }

// intVar parses a numeric path parameter; GitLab's Integer requirements make
// anything else a 400.
func (c *call) intVar(name string) (int64, bool) {
	n, err := strconv.ParseInt(c.vars[name], 10, 64)
	if err != nil || n < 0 {
		c.badParam(name + " is invalid")
		return 0, false
	}
	return n, true
}

// paginate cuts items to the requested page and sets GitLab's offset
// pagination headers (X-Page, X-Per-Page, X-Total, X-Total-Pages,
// X-Next-Page, X-Prev-Page, Link).
func paginate[T any](c *call, items []T) []T {
	page, err := strconv.Atoi(c.params.get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	per, err := strconv.Atoi(c.params.get("per_page"))
	if err != nil || per < 1 {
		per = 20
	}
	if per > 100 {
		per = 100
	}
	total := len(items)
	pages := (total + per - 1) / per
	if pages == 0 {
		pages = 1
	}
	h := c.w.Header()
	h.Set("X-Page", strconv.Itoa(page))
	h.Set("X-Per-Page", strconv.Itoa(per))
	h.Set("X-Total", strconv.Itoa(total))
	h.Set("X-Total-Pages", strconv.Itoa(pages))
	h.Set("X-Next-Page", "")
	h.Set("X-Prev-Page", "")
	var links []string
	link := func(n int, rel string) {
		q := c.r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(per))
		links = append(links, fmt.Sprintf("<%s%s%s?%s>; rel=%q", c.base(), apiPrefix, c.r.URL.EscapedPath(), q.Encode(), rel))
	}
	if page > 1 {
		h.Set("X-Prev-Page", strconv.Itoa(page-1))
		link(page-1, "prev")
	}
	if page < pages {
		h.Set("X-Next-Page", strconv.Itoa(page+1))
		link(page+1, "next")
	}
	link(1, "first")
	link(pages, "last")
	h.Set("Link", strings.Join(links, ", "))
	start := (page - 1) * per
	if start >= total {
		return []T{}
	}
	return items[start:min(start+per, total)]
}

// apiTime formats a time as GitLab's REST entities do (ISO 8601 with
// milliseconds); go-gitlab parses it into *time.Time.
func apiTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.Format("2006-01-02T15:04:05.000Z07:00")
}

// hookTime formats a time as GitLab's webhook payloads do for model
// timestamps ("2006-01-02 15:04:05 UTC").
func hookTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
