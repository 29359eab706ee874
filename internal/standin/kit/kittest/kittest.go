// Package kittest holds helpers for testing the stand-in providers: a
// recording HTTP handler and property conversions. Test support only.
package kittest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/expbot/expbot/internal/standin/kit"
)

// Call is one recorded request.
type Call struct {
	Method string
	// Path is the escaped path as sent (e.g. ".../branches/exp%2Fx").
	Path   string
	Query  string
	Body   string
	Header http.Header
}

// Line renders the call as "METHOD path[?query]" for sequence assertions.
func (c Call) Line() string {
	if c.Query == "" {
		return c.Method + " " + c.Path
	}
	return c.Method + " " + c.Path + "?" + c.Query
}

// Recorder wraps a handler and records every request it serves.
type Recorder struct {
	Next http.Handler

	mu    sync.Mutex
	calls []Call
}

// ServeHTTP implements http.Handler.
func (r *Recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.calls = append(r.calls, Call{
		Method: req.Method, Path: req.URL.EscapedPath(), Query: req.URL.RawQuery,
		Body: string(body), Header: req.Header.Clone(),
	})
	r.mu.Unlock()
	r.Next.ServeHTTP(w, req)
}

// Calls returns the recorded calls and forgets them.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.calls
	r.calls = nil
	return out
}

// Lines returns the recorded calls as lines and forgets them.
func (r *Recorder) Lines() []string {
	var out []string
	for _, c := range r.Calls() {
		out = append(out, c.Line())
	}
	return out
}

// Struct converts a Go map to a gRPC property struct.
func Struct(t testing.TB, m map[string]any) *structpb.Struct {
	t.Helper()
	s, err := kit.Marshal(resource.NewPropertyMapFromMap(m), "test")
	if err != nil {
		t.Fatalf("marshal %v: %v", m, err)
	}
	return s
}

// StructOf converts a property map to a gRPC property struct.
func StructOf(t testing.TB, pm resource.PropertyMap) *structpb.Struct {
	t.Helper()
	s, err := kit.Marshal(pm, "test")
	if err != nil {
		t.Fatalf("marshal %v: %v", pm, err)
	}
	return s
}

// Props converts a gRPC property struct back to a property map.
func Props(t testing.TB, s *structpb.Struct) resource.PropertyMap {
	t.Helper()
	pm, err := kit.Unmarshal(s, "test")
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return pm
}
