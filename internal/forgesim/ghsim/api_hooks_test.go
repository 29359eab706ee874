package ghsim

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-github/v60/github"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestRepositoryHooks(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	olga := fx.client(tokOlga) // owns olga/tools: admin
	in := &github.Hook{
		Events: []string{"push", "issues"},
		Config: &github.HookConfig{URL: github.String("https://bot.example/webhooks/github"), ContentType: github.String("json"), Secret: github.String("s3cret")},
	}
	h, resp, err := olga.Repositories.CreateHook(ctx, "olga", "tools", in)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %v (%v)", err, resp)
	}
	if h.GetType() != "Repository" || !h.GetActive() || h.Config.GetSecret() != "********" || h.Config.GetContentType() != "json" ||
		!slices.Equal(h.Events, []string{"push", "issues"}) {
		t.Errorf("created hook = %+v", h)
	}
	stored, err := fx.f.ScopeHook(state.Scope{Repo: "olga/tools"}, h.GetID())
	if err != nil || stored.Secret != "s3cret" || stored.URL != "https://bot.example/webhooks/github" {
		t.Errorf("stored hook = %+v, %v", stored, err)
	}

	for _, tc := range []struct {
		name  string
		token string
		repo  string
		hook  *github.Hook
		want  int
	}{
		{"same URL again", tokOlga, "tools", in, http.StatusUnprocessableEntity},
		{"no URL", tokOlga, "tools", &github.Hook{Events: []string{"push"}, Config: &github.HookConfig{ContentType: github.String("json")}}, http.StatusUnprocessableEntity},
		{"bad content type", tokOlga, "tools", &github.Hook{Config: &github.HookConfig{URL: github.String("https://x.example/"), ContentType: github.String("xml")}}, http.StatusUnprocessableEntity},
		{"maintainer is not admin", tokMaint, "llm", in, http.StatusNotFound},
		{"developer", tokDev, "llm", in, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owner := "olga"
			if tc.repo == "llm" {
				owner = "acme"
			}
			_, _, err := fx.client(tc.token).Repositories.CreateHook(ctx, owner, tc.repo, tc.hook)
			if got := statusOf(err); got != tc.want {
				t.Errorf("status %d (%v), want %d", got, err, tc.want)
			}
		})
	}

	// Created without events, a hook hears pushes only, as on GitHub.
	bare, _, err := olga.Repositories.CreateHook(ctx, "olga", "tools", &github.Hook{Config: &github.HookConfig{URL: github.String("https://other.example/")}})
	if err != nil || !slices.Equal(bare.Events, []string{"push"}) || bare.Config.GetContentType() != "form" {
		t.Errorf("bare hook = %+v, %v", bare, err)
	}

	got, _, err := olga.Repositories.GetHook(ctx, "olga", "tools", h.GetID())
	if err != nil || got.GetURL() != h.GetURL() {
		t.Fatalf("get: %+v %v", got, err)
	}
	edited, _, err := olga.Repositories.EditHook(ctx, "olga", "tools", h.GetID(), &github.Hook{Events: []string{"issue_comment"}, Active: github.Bool(false)})
	if err != nil || edited.GetActive() || !slices.Equal(edited.Events, []string{"issue_comment"}) || edited.Config.GetSecret() != "********" {
		t.Errorf("edited = %+v, %v", edited, err)
	}
	list, _, err := olga.Repositories.ListHooks(ctx, "olga", "tools", nil)
	if err != nil || len(list) != 2 {
		t.Errorf("list = %d hooks, %v", len(list), err)
	}
	if resp, err := olga.Repositories.DeleteHook(ctx, "olga", "tools", h.GetID()); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %v", err)
	}
	if _, _, err := olga.Repositories.GetHook(ctx, "olga", "tools", h.GetID()); statusOf(err) != http.StatusNotFound {
		t.Errorf("get after delete: %v, want 404", err)
	}
	if _, err := olga.Repositories.DeleteHook(ctx, "olga", "tools", h.GetID()); statusOf(err) != http.StatusNotFound {
		t.Errorf("second delete: %v, want 404", err)
	}
}

func TestOrganizationHooks(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	hook := &github.Hook{Events: []string{"issues"}, Config: &github.HookConfig{URL: github.String("https://bot.example/h"), ContentType: github.String("json")}}
	if _, _, err := fx.client(tokMaint).Organizations.CreateHook(ctx, "acme", hook); statusOf(err) != http.StatusNotFound {
		t.Errorf("non-owner created an organisation hook: %v", err)
	}
	if _, _, err := fx.client(tokOlga).Organizations.CreateHook(ctx, "nope", hook); statusOf(err) != http.StatusNotFound {
		t.Errorf("hook on an unknown organisation: %v, want 404", err)
	}
	must(t, fx.f.SetNamespaceAccess("acme", "maint", state.Owner))
	h, resp, err := fx.client(tokMaint).Organizations.CreateHook(ctx, "acme", hook)
	if err != nil || resp.StatusCode != http.StatusCreated || h.GetType() != "Organization" {
		t.Fatalf("create: %+v %v", h, err)
	}
	if got, err := fx.f.ScopeHooks(state.Scope{Namespace: "acme"}); err != nil || len(got) != 1 {
		t.Errorf("organisation hooks = %+v, %v", got, err)
	}
	if _, err := fx.client(tokMaint).Organizations.DeleteHook(ctx, "acme", h.GetID()); err != nil {
		t.Errorf("delete: %v", err)
	}
}

func TestRepositoryLabels(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	dev := fx.client(tokDev)
	lb, resp, err := dev.Issues.CreateLabel(ctx, "acme", "llm", &github.Label{Name: github.String("new-experiment"), Color: github.String("#1D76DB"), Description: github.String("ask")})
	if err != nil || resp.StatusCode != http.StatusCreated || lb.GetColor() != "1d76db" || lb.GetDescription() != "ask" {
		t.Fatalf("create: %+v %v", lb, err)
	}
	for _, tc := range []struct {
		name  string
		token string
		label *github.Label
		want  int
	}{
		{"same name, other case", tokDev, &github.Label{Name: github.String("New-Experiment"), Color: github.String("ffffff")}, http.StatusUnprocessableEntity},
		{"bad colour", tokDev, &github.Label{Name: github.String("x"), Color: github.String("blue")}, http.StatusUnprocessableEntity},
		{"no name", tokDev, &github.Label{Color: github.String("ffffff")}, http.StatusUnprocessableEntity},
		{"guest", tokGus, &github.Label{Name: github.String("y"), Color: github.String("ffffff")}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := fx.client(tc.token).Issues.CreateLabel(ctx, "acme", "llm", tc.label)
			if got := statusOf(err); got != tc.want {
				t.Errorf("status %d (%v), want %d", got, err, tc.want)
			}
		})
	}
	got, _, err := fx.client(tokGus).Issues.GetLabel(ctx, "acme", "llm", "NEW-experiment")
	if err != nil || got.GetName() != "new-experiment" {
		t.Errorf("get by other case: %+v %v", got, err)
	}
	edited, _, err := dev.Issues.EditLabel(ctx, "acme", "llm", "new-experiment", &github.Label{Name: github.String("new-experiment"), Color: github.String("0e8a16"), Description: github.String("")})
	if err != nil || edited.GetColor() != "0e8a16" || edited.GetDescription() != "" {
		t.Errorf("edit: %+v %v", edited, err)
	}
	if _, err := dev.Issues.DeleteLabel(ctx, "acme", "llm", "new-experiment"); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, _, err := dev.Issues.GetLabel(ctx, "acme", "llm", "new-experiment"); statusOf(err) != http.StatusNotFound {
		t.Errorf("get after delete: %v, want 404", err)
	}
}

// A new hook gets GitHub's ping whatever events it listens to: a line of
// zen, the hook as the API shows it, its repository or organisation and
// the sender, with the headers and signature of any delivery. The hook's
// ping URL sends it again; an inactive hook gets none.
func TestHookPing(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	olga := fx.client(tokOlga)
	must(t, fx.f.SetNamespaceAccess("acme", "olga", state.Owner))
	orgID, _ := fx.f.OrgID("acme")
	tools, err := fx.f.Repo("olga/tools")
	must(t, err)
	const url = "https://bot.example/h"
	in := func(active bool) *github.Hook {
		return &github.Hook{Events: []string{"issues"}, Active: github.Bool(active),
			Config: &github.HookConfig{URL: github.String(url), ContentType: github.String("json"), Secret: github.String(hookSecret)}}
	}
	repoHook, _, err := olga.Repositories.CreateHook(ctx, "olga", "tools", in(true))
	must(t, err)
	repoPings := fx.takePings()
	orgHook, _, err := olga.Organizations.CreateHook(ctx, "acme", in(true))
	must(t, err)
	orgPings := fx.takePings()
	pingURL := func(path string) func(t *testing.T) []*http.Request {
		return func(t *testing.T) []*http.Request {
			if r := fx.do(http.MethodPost, path+"/pings", tokOlga, nil); r.status != http.StatusNoContent {
				t.Fatalf("POST %s/pings: %d %s", path, r.status, r.body)
			}
			return fx.takePings()
		}
	}
	repoPath := "/repos/olga/tools/hooks/" + strconv.FormatInt(repoHook.GetID(), 10)
	orgPath := "/orgs/acme/hooks/" + strconv.FormatInt(orgHook.GetID(), 10)
	for _, tc := range []struct {
		name     string
		pings    func(t *testing.T) []*http.Request
		hook     *github.Hook
		path     string // the hook's API path
		target   string // X-GitHub-Hook-Installation-Target-Type
		targetID int64
	}{
		{"repository hook created", func(*testing.T) []*http.Request { return repoPings }, repoHook, repoPath, "repository", tools.ID},
		{"organisation hook created", func(*testing.T) []*http.Request { return orgPings }, orgHook, orgPath, "organization", orgID},
		{"repository hook's ping URL", pingURL(repoPath), repoHook, repoPath, "repository", tools.ID},
		{"organisation hook's ping URL", pingURL(orgPath), orgHook, orgPath, "organization", orgID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pings := tc.pings(t)
			if len(pings) != 1 {
				t.Fatalf("%d pings, want 1", len(pings))
			}
			d := received(t, pings[0], state.Hook{ID: tc.hook.GetID(), URL: url, Secret: hookSecret}, "guid-ping", tc.target, tc.targetID)
			e, ok := d.payload.(*github.PingEvent)
			if d.event != "ping" || !ok {
				t.Fatalf("event %q, payload %T", d.event, d.payload)
			}
			h := e.GetHook()
			if e.GetZen() == "" || e.GetHookID() != tc.hook.GetID() || h.GetID() != tc.hook.GetID() || h.GetType() != tc.hook.GetType() ||
				h.GetURL() != "http://forge.test/api/v3"+tc.path || h.GetPingURL() != h.GetURL()+"/pings" ||
				!slices.Equal(h.Events, []string{"issues"}) || h.Config.GetURL() != url || h.Config.GetSecret() != "********" {
				t.Errorf("ping %+v, hook %+v", e, h)
			}
			repo, _ := d.raw["repository"].(map[string]any)
			org, _ := d.raw["organization"].(map[string]any)
			sender, _ := d.raw["sender"].(map[string]any)
			switch {
			case sender["login"] != "olga":
				t.Errorf("sender %v", sender)
			case tc.target == "repository" && (repo["full_name"] != "olga/tools" || org != nil):
				t.Errorf("repository hook's ping: repository %v, organization %v", repo, org)
			case tc.target == "organization" && (org["login"] != "acme" || org["id"] != float64(orgID) || repo != nil):
				t.Errorf("organisation hook's ping: organization %v, repository %v", org, repo)
			}
		})
	}

	t.Run("inactive hook", func(t *testing.T) {
		h, _, err := olga.Repositories.CreateHook(ctx, "olga", "tools", &github.Hook{Active: github.Bool(false),
			Config: &github.HookConfig{URL: github.String("https://other.example/h")}})
		must(t, err)
		pingURL("/repos/olga/tools/hooks/" + strconv.FormatInt(h.GetID(), 10))(t)
		if n := len(fx.takePings()); n != 0 {
			t.Errorf("an inactive hook got %d pings", n)
		}
	})
	for _, tc := range []struct{ name, path, token string }{
		{"missing hook", "/repos/olga/tools/hooks/999999/pings", tokOlga},
		{"not an admin", repoPath + "/pings", tokMaint},
		{"not an organisation owner", orgPath + "/pings", tokMaint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := fx.do(http.MethodPost, tc.path, tc.token, nil); r.status != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", tc.path, r.status)
			}
			if n := len(fx.takePings()); n != 0 {
				t.Errorf("%d pings sent", n)
			}
		})
	}
}
