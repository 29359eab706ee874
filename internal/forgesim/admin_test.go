package forgesim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestAdminRoutes(t *testing.T) {
	const repo = "/_sim/repos/acme/llm"
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		want                     []string // substrings of the answer
		notWant                  []string
	}{
		{"add user", "POST", "/_sim/users", `{"login":"carol","name":"Carol","token":"carol-pat","bot":true}`, 201, []string{`"login": "carol"`, `"bot": true`}, []string{"carol-pat"}},
		{"user without login", "POST", "/_sim/users", `{"name":"x"}`, 400, []string{"missing login", `"kind": "invalid"`}, nil},
		{"bad JSON", "POST", "/_sim/users", `{"login":`, 400, []string{"bad JSON body"}, nil},
		{"unknown field", "POST", "/_sim/users", `{"lgoin":"x"}`, 400, []string{`unknown field \"lgoin\"`}, nil},
		{"empty body", "POST", "/_sim/users", ``, 400, []string{"missing JSON body"}, nil},
		{"two values", "POST", "/_sim/users", `{"login":"a"}{"login":"b"}`, 400, []string{"more than one value"}, nil},
		{"add org", "POST", "/_sim/orgs", `{"login":"acme"}`, 201, []string{`"login": "acme"`, `"id":`}, nil},
		{"create repo", "POST", "/_sim/repos", `{"full_name":"acme/new","default_branch":"trunk","files":{"a.txt":"A"},"org":true}`, 201, []string{`"full_name": "acme/new"`, `"default_branch": "trunk"`}, nil},
		{"repo exists", "POST", "/_sim/repos", `{"full_name":"acme/llm"}`, 409, []string{"already exists", `"kind": "exists"`}, nil},
		{"repo name without owner", "POST", "/_sim/repos", `{"full_name":"llm"}`, 400, []string{"owner/name"}, nil},
		{"repo state", "GET", repo, ``, 200, []string{`"README.md": "hi\n"`, `"feature": {`, `"v0": "`, `"title": "first"`, `"flavor": "github"`}, []string{"hook-secret"}},
		{"unknown repo", "GET", "/_sim/repos/acme/nope", ``, 404, []string{"acme/nope", `"kind": "not_found"`}, nil},
		{"member by GitHub word", "POST", repo + "/members", `{"login":"alice","access_level":"write"}`, 200, []string{`"access_level": 30`}, nil},
		{"member by number", "POST", repo + "/members", `{"login":"alice","access_level":40}`, 200, []string{`"access_level": 40`}, nil},
		{"member by GitLab name", "POST", repo + "/members", `{"login":"alice","access_level":"Reporter"}`, 200, []string{`"access_level": 20`}, nil},
		{"unknown level", "POST", repo + "/members", `{"login":"alice","access_level":"god"}`, 400, []string{`access level \"god\"`}, nil},
		{"odd level number", "POST", repo + "/members", `{"login":"alice","access_level":35}`, 400, []string{"access level"}, nil},
		{"member without level", "POST", repo + "/members", `{"login":"alice"}`, 400, []string{"missing access_level"}, nil},
		{"unknown member", "POST", repo + "/members", `{"login":"ghost","access_level":30}`, 404, []string{"ghost"}, nil},
		{"hook", "POST", repo + "/hooks", `{"flavor":"gitlab","url":"http://127.0.0.1:1/h","secret":"another-secret"}`, 201, []string{`"flavor": "gitlab"`, `"url": "http://127.0.0.1:1/h"`}, []string{"another-secret"}},
		{"hook of unknown flavour", "POST", repo + "/hooks", `{"flavor":"bitbucket","url":"http://x"}`, 400, []string{"bitbucket"}, nil},
		{"hook without url", "POST", repo + "/hooks", `{"flavor":"github"}`, 400, []string{"missing url"}, nil},
		{"open issue", "POST", repo + "/issues", `{"actor":"alice","title":"t","labels":["x"]}`, 201, []string{`"number": 2`, `"labels": [`, `"deliveries": [`}, nil},
		{"issue without labels", "POST", repo + "/issues", `{"actor":"alice","title":"t"}`, 201, []string{`"labels": []`}, nil},
		{"issue by unknown actor", "POST", repo + "/issues", `{"actor":"ghost","title":"t"}`, 404, []string{`user \"ghost\"`}, nil},
		{"issue without actor and title", "POST", repo + "/issues", `{}`, 400, []string{"missing actor, title"}, nil},
		{"close issue", "PATCH", repo + "/issues/1", `{"actor":"alice","state":"closed"}`, 200, []string{`"state": "closed"`}, nil},
		{"edit and close", "PATCH", repo + "/issues/1", `{"actor":"alice","title":"new","state":"closed"}`, 200, []string{`"title": "new"`, `"state": "closed"`}, nil},
		{"merge an issue", "PATCH", repo + "/issues/1", `{"actor":"alice","state":"merged"}`, 400, []string{"merged"}, nil},
		{"edit unknown issue", "PATCH", repo + "/issues/99", `{"actor":"alice","title":"x"}`, 404, []string{"issue 99"}, nil},
		{"issue number not a number", "PATCH", repo + "/issues/abc", `{"actor":"alice","title":"x"}`, 400, []string{"issue number"}, nil},
		{"nothing to edit", "PATCH", repo + "/issues/1", `{"actor":"alice"}`, 400, []string{"nothing to change"}, nil},
		{"label", "POST", repo + "/issues/1/labels", `{"actor":"alice","add":["new-experiment"]}`, 200, []string{`"new-experiment"`}, nil},
		{"blank label", "POST", repo + "/issues/1/labels", `{"actor":"alice","add":[" "]}`, 400, []string{"empty label"}, nil},
		{"no labels", "POST", repo + "/issues/1/labels", `{"actor":"alice"}`, 400, []string{"nothing to change"}, nil},
		{"comment", "POST", repo + "/issues/1/comments", `{"actor":"alice","body":"/experiment lr=0.1"}`, 201, []string{`"body": "/experiment lr=0.1"`, `"issue": 1`}, nil},
		{"comment on unknown issue", "POST", repo + "/issues/99/comments", `{"actor":"alice","body":"x"}`, 404, []string{"issue 99"}, nil},
		{"pull", "POST", repo + "/pulls", `{"actor":"alice","title":"p","head":"feature"}`, 201, []string{`"is_pull": true`, `"base": "main"`}, nil},
		{"pull from unknown branch", "POST", repo + "/pulls", `{"actor":"alice","title":"p","head":"nope"}`, 404, []string{"branch nope"}, nil},
		{"push", "POST", repo + "/commits", `{"actor":"alice","branch":"exp/a","message":"m","files":{"a.yaml":"x: 1\n","README.md":null}}`, 201, []string{`"sha": "`, `"message": "m"`}, nil},
		{"delete missing file", "POST", repo + "/commits", `{"actor":"alice","branch":"main","message":"m","files":{"nope":null}}`, 404, []string{"file nope"}, nil},
		{"bad path", "POST", repo + "/commits", `{"actor":"alice","branch":"main","message":"m","files":{"../x":"a"}}`, 400, []string{"invalid file path"}, nil},
		{"push nothing", "POST", repo + "/commits", `{"actor":"alice","branch":"main","message":"m"}`, 400, []string{"missing files"}, nil},
		{"tag", "PUT", repo + "/tags/release/v1", `{"actor":"alice","ref":"feature"}`, 200, []string{`"tag": "release/v1"`, `"sha": "`}, nil},
		{"tag unknown ref", "PUT", repo + "/tags/v1", `{"actor":"alice","ref":"nope"}`, 404, []string{"ref nope"}, nil},
		{"delete tag, actor in query", "DELETE", repo + "/tags/v0?actor=alice", ``, 200, []string{`"deliveries": [`}, nil},
		{"delete tag, actor in body", "DELETE", repo + "/tags/v0", `{"actor":"alice"}`, 200, []string{`"deliveries": [`}, nil},
		{"delete unknown tag", "DELETE", repo + "/tags/nope?actor=alice", ``, 404, []string{"tag nope"}, nil},
		{"delete tag without actor", "DELETE", repo + "/tags/v0", ``, 400, []string{"missing actor"}, nil},
		{"commit comment", "POST", repo + "/commits/main/comments", `{"actor":"alice","body":"nice"}`, 201, []string{`"commit_sha": "`}, nil},
		{"comment on unknown commit", "POST", repo + "/commits/0123456789/comments", `{"actor":"alice","body":"x"}`, 404, []string{"commit 0123456789"}, nil},
		{"deliveries", "GET", "/_sim/deliveries?repo=acme/llm", ``, 200, []string{`"deliveries": [`}, nil},
		{"unknown delivery", "GET", "/_sim/deliveries/nope", ``, 404, []string{"delivery nope"}, nil},
		{"redeliver unknown", "POST", "/_sim/deliveries/nope/redeliver", ``, 404, []string{"delivery nope"}, nil},
		{"raw emit without fields", "POST", "/_sim/webhooks", `{"flavor":"github"}`, 400, []string{"missing [url event payload (or body)]"}, nil},
		{"raw emit of unknown flavour", "POST", "/_sim/webhooks", `{"flavor":"gitea","url":"http://x","event":"e","payload":{}}`, 400, []string{"flavor"}, nil},
		{"raw emit to a non-http url", "POST", "/_sim/webhooks", `{"flavor":"github","url":"file:///etc/passwd","event":"e","payload":{}}`, 400, []string{"must be http"}, nil},
		{"unknown admin route", "GET", "/_sim/nothing", ``, 404, []string{"no admin route GET /_sim/nothing"}, nil},
		{"wrong method", "DELETE", "/_sim/users", ``, 404, []string{"no admin route DELETE /_sim/users"}, nil},
		{"index", "GET", "/", ``, 200, []string{"/api/v3/", "/api/v4/", "POST   /_sim/webhooks"}, nil},
		{"not found", "GET", "/nothing", ``, 404, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSim(t, fakeOptions()...)
			e.seedBasic(t)
			f := e.srv.Forge()
			if _, err := f.AddHook("acme/llm", GitHub, "http://127.0.0.1:1/unreachable", "hook-secret"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.PushFiles("acme/llm", "feature", "alice", "feat", []state.FileChange{{Path: "f.txt", Content: []byte("f")}}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.PushTag("acme/llm", "alice", "v0", "main"); err != nil {
				t.Fatal(err)
			}

			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, e.ts.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			got := string(b)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tc.wantStatus, got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("answer lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(got, w) {
					t.Errorf("answer contains %q:\n%s", w, got)
				}
			}
			if strings.HasPrefix(tc.path, "/_sim/") {
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if resp.StatusCode >= 400 {
					var eb errorBody
					if err := json.Unmarshal(b, &eb); err != nil || eb.Error == "" || eb.Kind == "" {
						t.Errorf("error answer %s is not {error, kind}", got)
					}
				}
			}
		})
	}
}

// TestAdminActionsReturnTheirDeliveries checks each person action reports the
// webhooks it caused, and only those.
func TestAdminActionsReturnTheirDeliveries(t *testing.T) {
	e := newSim(t, fakeOptions()...)
	e.seedBasic(t)
	rc := newReceiver(t, http.StatusAccepted, "queued")
	if _, err := e.srv.Forge().AddHook("acme/llm", GitHub, rc.URL, "k"); err != nil {
		t.Fatal(err)
	}
	const repo = "/_sim/repos/acme/llm"
	steps := []struct {
		method, path, body string
		wantKinds          []state.EventKind
	}{
		{"POST", repo + "/issues", `{"actor":"alice","title":"t"}`, []state.EventKind{state.IssueOpened}},
		{"POST", repo + "/issues/1/labels", `{"actor":"alice","add":["a","b"],"remove":["zzz"]}`, []state.EventKind{state.IssueLabeled, state.IssueLabeled}},
		{"POST", repo + "/issues/1/labels", `{"actor":"alice","add":["a"]}`, nil}, // already there: no event
		{"PATCH", repo + "/issues/1", `{"actor":"alice","body":"b2","state":"closed"}`, []state.EventKind{state.IssueEdited, state.IssueClosed}},
		{"POST", repo + "/issues/1/comments", `{"actor":"expbot","body":"done"}`, []state.EventKind{state.CommentCreated}},
		{"POST", repo + "/commits", `{"actor":"alice","branch":"exp","message":"m","files":{"x":"1"}}`, []state.EventKind{state.BranchPushed}},
		{"POST", repo + "/pulls", `{"actor":"alice","title":"p","head":"exp"}`, []state.EventKind{state.PullOpened}},
		{"PATCH", repo + "/issues/3", `{"actor":"alice","state":"merged"}`, []state.EventKind{state.PullMerged}},
		{"PUT", repo + "/tags/v1", `{"actor":"alice","ref":"main"}`, []state.EventKind{state.TagPushed}},
		{"POST", repo + "/commits/v1/comments", `{"actor":"alice","body":"/experiment"}`, []state.EventKind{state.CommentCreated}},
		{"DELETE", repo + "/tags/v1", `{"actor":"alice"}`, []state.EventKind{state.TagDeleted}},
	}
	total := 0
	for _, st := range steps {
		req, err := http.NewRequest(st.method, e.ts.URL+st.path, strings.NewReader(st.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Deliveries []Delivery `json:"deliveries"`
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err != nil || resp.StatusCode >= 300 {
			t.Fatalf("%s %s: status %d, %v", st.method, st.path, resp.StatusCode, err)
		}
		if out.Deliveries == nil {
			t.Errorf("%s %s: deliveries is null, want a list", st.method, st.path)
		}
		var kinds []state.EventKind
		for _, d := range out.Deliveries {
			kinds = append(kinds, d.Kind)
			if d.Status != http.StatusAccepted || d.ResponseBody != "queued" {
				t.Errorf("%s %s: delivery %d %q, want 202 queued", st.method, st.path, d.Status, d.ResponseBody)
			}
		}
		if !equalKinds(kinds, st.wantKinds) {
			t.Errorf("%s %s: deliveries %v, want %v", st.method, st.path, kinds, st.wantKinds)
		}
		total += len(st.wantKinds)
		// The action answered after its webhooks were answered.
		if n := len(rc.requests()); n != total {
			t.Errorf("%s %s: receiver has %d requests, want %d", st.method, st.path, n, total)
		}
	}
}

func equalKinds(a, b []state.EventKind) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestConcurrentActionsGetOnlyTheirDeliveries runs actions in parallel: each
// answer must list exactly the webhooks of its own action.
func TestConcurrentActionsGetOnlyTheirDeliveries(t *testing.T) {
	e := newSim(t, fakeOptions()...)
	e.seedBasic(t)
	rc := newReceiver(t, http.StatusOK, "")
	for range 2 { // two hooks: each label makes two deliveries
		if _, err := e.srv.Forge().AddHook("acme/llm", GitHub, rc.URL, "k"); err != nil {
			t.Fatal(err)
		}
	}
	const n = 20
	errs := make(chan error, n)
	for i := range n {
		go func() {
			label := fmt.Sprintf("label-%d", i)
			res, err := e.client.LabelIssue(context.Background(), "acme/llm", 1, LabelEdit{Actor: "alice", Add: []string{label}})
			if err != nil {
				errs <- err
				return
			}
			if len(res.Deliveries) != 2 {
				errs <- fmt.Errorf("%s: %d deliveries, want 2", label, len(res.Deliveries))
				return
			}
			for _, d := range res.Deliveries {
				var p map[string]any
				if err := json.Unmarshal(d.Payload, &p); err != nil || p["label"] != label {
					errs <- fmt.Errorf("%s: got a delivery for %v", label, p["label"])
					return
				}
			}
			errs <- nil
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if got := len(e.srv.Deliveries()); got != 2*n {
		t.Errorf("%d deliveries recorded, want %d", got, 2*n)
	}
}
