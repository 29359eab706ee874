package ghsim

import (
	"context"
	"net/http"
	"slices"
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
