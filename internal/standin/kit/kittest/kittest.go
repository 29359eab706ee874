// Package kittest holds helpers for testing the stand-in providers: a
// recording HTTP handler, property conversions, provider calls that fail
// the test on error, and the simulated forge behind a recorder. Test
// support only.
package kittest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
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

// Serve serves h with prefix stripped, behind a recorder, until the test
// ends; it returns the recorder and the server's URL. Fakes of a forge's
// API are served so.
func Serve(t testing.TB, prefix string, h http.Handler) (*Recorder, string) {
	t.Helper()
	rec := &Recorder{Next: http.StripPrefix(prefix, h)}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

// Reply answers a fake's request with status and v as JSON (none if nil).
func Reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// WantOutputs fails the test unless each of want's properties has its
// string value in outs.
func WantOutputs(t testing.TB, outs resource.PropertyMap, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := kit.Str(outs, k); got != v {
			t.Errorf("output %s = %q, want %q", k, got, v)
		}
	}
}

// WantCalls fails the test unless the calls recorded since the last look
// are exactly want, in order; it returns them.
func WantCalls(t testing.TB, r *Recorder, step string, want ...string) []Call {
	t.Helper()
	calls := r.Calls()
	var got []string
	for _, c := range calls {
		got = append(got, c.Line())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s made\n  %s\nwant\n  %s", step, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	return calls
}

// Configure configures a provider with args, failing the test on error.
func Configure(t testing.TB, srv pulumirpc.ResourceProviderServer, args map[string]any) {
	t.Helper()
	if _, err := srv.Configure(context.Background(), &pulumirpc.ConfigureRequest{Args: Struct(t, args)}); err != nil {
		t.Fatalf("configure: %v", err)
	}
}

// Check checks news (against olds, if any) with a random seed and returns
// the inputs and the properties that failed.
func Check(t testing.TB, srv pulumirpc.ResourceProviderServer, urn string, olds, news map[string]any, seed string) (resource.PropertyMap, []string) {
	t.Helper()
	req := &pulumirpc.CheckRequest{Urn: urn, News: Struct(t, news), RandomSeed: []byte(seed)}
	if olds != nil {
		req.Olds = Struct(t, olds)
	}
	resp, err := srv.Check(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return Props(t, resp.GetInputs()), Failures(resp)
}

// Failures are the properties a check failed on, in order.
func Failures(resp *pulumirpc.CheckResponse) []string {
	var out []string
	for _, f := range resp.GetFailures() {
		out = append(out, f.GetProperty())
	}
	return out
}

// Diff diffs news against the state olds of resource id.
func Diff(t testing.TB, srv pulumirpc.ResourceProviderServer, urn, id string, olds, news map[string]any) *pulumirpc.DiffResponse {
	t.Helper()
	d, err := srv.Diff(context.Background(), &pulumirpc.DiffRequest{Urn: urn, Id: id, Olds: Struct(t, olds), News: Struct(t, news)})
	if err != nil {
		t.Fatal(err)
	}
	return d
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
