package forgesim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Hooks registered through the API faces carry events; the forge sends a
// hook only what it subscribed to, and organisation/group hooks hear about
// the repositories below them.
func TestDeliveryFollowsSubscriptions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scope    state.Scope
		hook     state.Hook
		wantSent []string // event headers received, in order
	}{
		{"github issues only", state.Scope{Repo: "acme/llm"}, state.Hook{Flavor: GitHub, Events: []string{"issues"}}, []string{"issues"}},
		{"github comments only", state.Scope{Repo: "acme/llm"}, state.Hook{Flavor: GitHub, Events: []string{"issue_comment"}}, []string{"issue_comment"}},
		{"github wildcard", state.Scope{Repo: "acme/llm"}, state.Hook{Flavor: GitHub, Events: []string{"*"}}, []string{"issues", "issue_comment"}},
		{"github nothing", state.Scope{Repo: "acme/llm"}, state.Hook{Flavor: GitHub, Events: []string{}}, nil},
		{"github inactive", state.Scope{Repo: "acme/llm"}, state.Hook{Flavor: GitHub, Events: []string{"*"}, Inactive: true}, nil},
		{"github organisation hook", state.Scope{Namespace: "acme"}, state.Hook{Flavor: GitHub, Events: []string{"issues", "issue_comment"}}, []string{"issues", "issue_comment"}},
		{"other organisation's hook", state.Scope{Namespace: "other"}, state.Hook{Flavor: GitHub, Events: []string{"*"}}, nil},
		{"gitlab issues events", state.Scope{Repo: "acme/llm"}, state.Hook{Flavor: GitLab, Events: []string{"issues_events"}}, []string{"Issue Hook"}},
		{"gitlab note events", state.Scope{Repo: "acme/llm"}, state.Hook{Flavor: GitLab, Events: []string{"note_events", "push_events"}}, []string{"Note Hook"}},
		{"gitlab group hook", state.Scope{Namespace: "acme"}, state.Hook{Flavor: GitLab, Events: []string{"issues_events", "note_events"}}, []string{"Issue Hook", "Note Hook"}},
		{"seeded hook hears all", state.Scope{Repo: "acme/llm"}, state.Hook{Flavor: GitHub}, []string{"issues", "issue_comment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSim(t)
			e.seedBasic(t)
			f := e.srv.Forge()
			f.AddOrg("acme")
			f.AddOrg("other")
			rc := newReceiver(t, http.StatusOK, "")
			tc.hook.URL, tc.hook.Secret = rc.URL, "s3cret"
			if _, err := f.CreateHook(tc.scope, tc.hook); err != nil {
				t.Fatal(err)
			}
			if _, err := f.LabelIssue("acme/llm", 1, "alice", []string{"new-experiment"}, nil); err != nil {
				t.Fatal(err)
			}
			if _, _, err := f.Comment("acme/llm", 1, "", "alice", "hello"); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rc.requests() {
				if tc.hook.Flavor == GitHub {
					got = append(got, r.header.Get("X-GitHub-Event"))
				} else {
					got = append(got, r.header.Get("X-Gitlab-Event"))
				}
			}
			if !slices.Equal(got, tc.wantSent) {
				t.Errorf("receiver got %q, want %q", got, tc.wantSent)
			}
		})
	}
}

func TestAdminOrgMember(t *testing.T) {
	e := newSim(t)
	e.seedBasic(t)
	post := func(path, body string) int {
		t.Helper()
		resp, err := e.ts.Client().Post(e.ts.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("/_sim/orgs/acme/members", `{"login":"alice","access_level":50}`); got != http.StatusNotFound {
		t.Errorf("member of an unknown organisation: %d, want 404", got)
	}
	if got := post("/_sim/orgs", `{"login":"acme"}`); got != http.StatusCreated {
		t.Fatalf("add org: %d", got)
	}
	if got := post("/_sim/orgs/acme/members", `{"login":"alice"}`); got != http.StatusBadRequest {
		t.Errorf("member without level: %d, want 400", got)
	}
	if got := post("/_sim/orgs/acme/members", `{"login":"alice","access_level":"admin"}`); got != http.StatusOK {
		t.Fatalf("add member: %d", got)
	}
	if lvl, err := e.srv.Forge().NamespaceAccess("acme", "alice"); err != nil || lvl != state.Owner {
		t.Errorf("alice's role in acme = %v, %v; want Owner", lvl, err)
	}
}

// A hook created through GitHub's API is pinged before the API answers, and
// the ping is recorded like any delivery (hooks made on the model, as in
// the test above, are not). Deliveries name what the hook is installed on:
// the repository, or the organisation for an organisation's hook.
func TestGitHubAPIHookIsPingedAndNamesItsTarget(t *testing.T) {
	e := newSim(t)
	e.seedBasic(t)
	f := e.srv.Forge()
	f.AddOrg("acme")
	orgID, _ := f.OrgID("acme")
	repo, err := f.Repo("acme/llm")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetAccess("acme/llm", "alice", state.Owner); err != nil {
		t.Fatal(err)
	}
	if err := f.SetNamespaceAccess("acme", "alice", state.Owner); err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(t, http.StatusOK, "")
	target := map[string]string{} // hook id -> "type id" its deliveries must name
	for _, tc := range []struct{ name, path, repo, target string }{
		{"repository", "/api/v3/repos/acme/llm/hooks", "acme/llm", "repository " + strconv.FormatInt(repo.ID, 10)},
		{"organization", "/api/v3/orgs/acme/hooks", "", "organization " + strconv.FormatInt(orgID, 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rc.requests())
			body := `{"name":"web","events":["issues"],"config":{"url":"` + rc.URL + "/" + tc.name + `","content_type":"json","secret":"s3cret"}}`
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.ts.URL+tc.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer alice-token")
			resp, err := e.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var hook struct{ ID int64 }
			err = json.NewDecoder(resp.Body).Decode(&hook)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusCreated {
				t.Fatalf("create hook: %d, %v", resp.StatusCode, err)
			}
			id := strconv.FormatInt(hook.ID, 10)
			target[id] = tc.target
			got := rc.requests()[before:]
			if len(got) != 1 || got[0].header.Get("X-GitHub-Event") != "ping" || got[0].header.Get("X-GitHub-Hook-ID") != id ||
				targetOf(got[0].header) != tc.target {
				t.Fatalf("receiver got %d requests; first headers %v", len(got), got)
			}
			ds := e.srv.Deliveries()
			if d := ds[len(ds)-1]; d.Event != "ping" || d.Status != http.StatusOK || d.HookID != hook.ID || d.Repo != tc.repo || d.Redelivery {
				t.Errorf("recorded ping %+v", d)
			}
		})
	}
	before := len(rc.requests())
	if _, err := f.LabelIssue("acme/llm", 1, "alice", []string{"new-experiment"}, nil); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()[before:]
	if len(got) != 2 {
		t.Fatalf("%d deliveries of the label, want one per hook", len(got))
	}
	for _, r := range got {
		if want := target[r.header.Get("X-GitHub-Hook-ID")]; r.header.Get("X-GitHub-Event") != "issues" || targetOf(r.header) != want {
			t.Errorf("delivery to hook %s names %q, want %q", r.header.Get("X-GitHub-Hook-ID"), targetOf(r.header), want)
		}
	}
}

func targetOf(h http.Header) string {
	return h.Get("X-GitHub-Hook-Installation-Target-Type") + " " + h.Get("X-GitHub-Hook-Installation-Target-ID")
}
