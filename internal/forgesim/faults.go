package forgesim

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Fault makes the forge answer matching API requests with an error instead
// of serving them, for tests of how a client copes with a forge's errors.
type Fault struct {
	Method     string `json:"method"`      // e.g. POST; empty matches any
	PathSuffix string `json:"path_suffix"` // of the decoded path, e.g. /git/refs or /repository/branches
	Status     int    `json:"status"`      // default 422
	// EchoAuth makes the error message repeat the request's credentials,
	// as a careless server or proxy might: the Authorization or
	// PRIVATE-TOKEN header as sent, the token URL-escaped, and base64 of
	// x-access-token:<token> and oauth2:<token>.
	EchoAuth bool `json:"echo_auth"`
	Times    int  `json:"times"` // requests to fail; 0 = until cleared
}

// fault is an active Fault and how many requests it has failed.
type fault struct {
	Fault
	hits int
}

// AddFault makes matching API requests (under /api/v3/ or /api/v4/) fail.
func (s *Server) AddFault(f Fault) error {
	if f.PathSuffix == "" {
		return fmt.Errorf("a fault needs a path_suffix: %w", state.ErrInvalid)
	}
	if f.Status == 0 {
		f.Status = http.StatusUnprocessableEntity
	}
	if f.Status < 400 || f.Status > 599 {
		return fmt.Errorf("fault status %d is not an error: %w", f.Status, state.ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{Fault: f})
	return nil
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// injectFault answers r with the first matching fault, if any.
func (s *Server) injectFault(w http.ResponseWriter, r *http.Request) bool {
	if !strings.HasPrefix(r.URL.Path, "/api/v3/") && !strings.HasPrefix(r.URL.Path, "/api/v4/") {
		return false
	}
	s.mu.Lock()
	var hit *fault
	for _, f := range s.faults {
		if (f.Method == "" || strings.EqualFold(f.Method, r.Method)) && strings.HasSuffix(r.URL.Path, f.PathSuffix) &&
			(f.Times == 0 || f.hits < f.Times) {
			f.hits++
			hit = f
			break
		}
	}
	s.mu.Unlock()
	if hit == nil {
		return false
	}
	msg := http.StatusText(hit.Status)
	if hit.EchoAuth {
		msg += ": " + echoAuth(r.Header)
	}
	body := map[string]string{"message": msg}
	if strings.HasPrefix(r.URL.Path, "/api/v3/") {
		body["documentation_url"] = "https://docs.github.com/rest"
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(hit.Status)
	_ = json.NewEncoder(w).Encode(body) // the client went away; nothing to do
	return true
}

// echoAuth repeats a request's credentials in the encodings a server might.
func echoAuth(h http.Header) string {
	var parts []string
	for _, name := range []string{"Authorization", "Private-Token"} {
		v := h.Get(name)
		if v == "" {
			continue
		}
		fields := strings.Fields(v)
		tok := fields[len(fields)-1]
		parts = append(parts,
			name+"="+v,
			"escaped="+url.QueryEscape(tok),
			"basic="+base64.StdEncoding.EncodeToString([]byte("x-access-token:"+tok)),
			"oauth2="+base64.RawURLEncoding.EncodeToString([]byte("oauth2:"+tok)))
	}
	if len(parts) == 0 {
		return "no credentials sent"
	}
	return "request had " + strings.Join(parts, " ")
}

func (s *Server) postFault(r *http.Request) (int, any, error) {
	var f Fault
	if err := decode(r, &f); err != nil {
		return 0, nil, err
	}
	if err := s.AddFault(f); err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, f, nil
}

func (s *Server) deleteFaults(*http.Request) (int, any, error) {
	s.ClearFaults()
	return http.StatusOK, map[string]string{"status": "cleared"}, nil
}
