package forgesim

import (
	"net/http"
	"slices"
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
