package forgesim

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A fault set through the admin API fails the matching API requests, with
// a message that repeats the request's credentials, then stops.
func TestFaultEchoesCredentials(t *testing.T) {
	e := newSim(t)
	e.seedBasic(t)
	post := func(method, path, body string, hdr map[string]string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, e.ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, body := post("POST", "/_sim/faults", `{"method":"POST","path_suffix":"/git/refs","echo_auth":true,"times":1}`, nil); st != http.StatusCreated {
		t.Fatalf("add fault: %d %s", st, body)
	}
	if st, body := post("POST", "/_sim/faults", `{"path_suffix":"/x","status":200}`, nil); st != http.StatusBadRequest {
		t.Errorf("a fault that is not an error: %d %s", st, body)
	}
	refs := `{"ref":"refs/heads/x","sha":"0000000000000000000000000000000000000000"}`
	st, body := post("POST", "/api/v3/repos/acme/llm/git/refs", refs, map[string]string{"Authorization": "Bearer bot-token"})
	if st != http.StatusUnprocessableEntity {
		t.Fatalf("faulted request: %d %s", st, body)
	}
	for _, want := range []string{"Authorization=Bearer bot-token", "escaped=bot-token",
		"basic=" + base64.StdEncoding.EncodeToString([]byte("x-access-token:bot-token")), `"documentation_url"`} {
		if !strings.Contains(body, want) {
			t.Errorf("answer lacks %q: %s", want, body)
		}
	}
	// times: 1, so the next one reaches the API (and fails there on the SHA).
	if st, body := post("POST", "/api/v3/repos/acme/llm/git/refs", refs, map[string]string{"Authorization": "Bearer bot-token"}); strings.Contains(body, "bot-token") || strings.Contains(body, "request had") {
		t.Errorf("second request still faulted: %d %s", st, body)
	}
	if st, _ := post("POST", "/_sim/faults", `{"path_suffix":"/repository/branches","echo_auth":true}`, nil); st != http.StatusCreated {
		t.Fatal("add gitlab fault")
	}
	st, body = post("POST", "/api/v4/projects/acme%2Fllm/repository/branches", `{"branch":"x","ref":"main"}`, map[string]string{"PRIVATE-TOKEN": "bot-token"})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body, "Private-Token=bot-token") || strings.Contains(body, "documentation_url") {
		t.Errorf("gitlab faulted request: %d %s", st, body)
	}
	if st, _ := post("DELETE", "/_sim/faults", "", nil); st != http.StatusOK {
		t.Fatal("clear faults")
	}
	if st, body := post("POST", "/api/v4/projects/acme%2Fllm/repository/branches", `{"branch":"x","ref":"main"}`, map[string]string{"PRIVATE-TOKEN": "bot-token"}); strings.Contains(body, "request had") {
		t.Errorf("after clearing: %d %s", st, body)
	}
}
