package glsim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xanzy/go-gitlab"

	"github.com/expbot/expbot/internal/forgesim/state"
)

func TestProjectHooks(t *testing.T) {
	fx := newFixture(t)
	maint := fx.client("maint")
	opts := &gitlab.AddProjectHookOptions{
		URL: gitlab.Ptr("https://bot.example/webhooks/gitlab"), Token: gitlab.Ptr("tok3n"),
		PushEvents: gitlab.Ptr(false), IssuesEvents: gitlab.Ptr(true), NoteEvents: gitlab.Ptr(true),
	}
	h, resp, err := maint.Projects.AddProjectHook(project, opts)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("add: %v", err)
	}
	if h.PushEvents || !h.IssuesEvents || !h.NoteEvents || h.MergeRequestsEvents || !h.EnableSSLVerification || int64(h.ProjectID) != fx.repo.ID {
		t.Errorf("added hook = %+v", h)
	}
	stored, err := fx.f.ScopeHook(state.Scope{Repo: project}, int64(h.ID))
	if err != nil || stored.Secret != "tok3n" || !slices.Equal(sortedStrings(stored.Events), []string{"issues_events", "note_events"}) {
		t.Errorf("stored = %+v, %v", stored, err)
	}
	raw := fx.do(http.MethodGet, "/projects/acme%2Fllm/hooks/"+strconv.Itoa(h.ID), "tok-maint", "", "")
	if raw.status != http.StatusOK || strings.Contains(string(raw.body), "tok3n") {
		t.Errorf("GET hook: %d %s (the token must never show)", raw.status, raw.body)
	}

	for _, tc := range []struct {
		name  string
		login string
		opts  *gitlab.AddProjectHookOptions
		want  int
	}{
		{"developer", "dev", opts, http.StatusForbidden},
		{"no url", "maint", &gitlab.AddProjectHookOptions{IssuesEvents: gitlab.Ptr(true)}, http.StatusBadRequest},
		{"bad url", "maint", &gitlab.AddProjectHookOptions{URL: gitlab.Ptr("ftp://x")}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := fx.client(tc.login).Projects.AddProjectHook(project, tc.opts)
			if got := errorStatus(err); got != tc.want {
				t.Errorf("status %d (%v), want %d", got, err, tc.want)
			}
		})
	}

	// GitLab turns push events on unless told otherwise.
	bare, _, err := maint.Projects.AddProjectHook(project, &gitlab.AddProjectHookOptions{URL: gitlab.Ptr("https://other.example/")})
	if err != nil || !bare.PushEvents || bare.IssuesEvents {
		t.Errorf("bare hook = %+v, %v", bare, err)
	}
	edited, _, err := maint.Projects.EditProjectHook(project, h.ID, &gitlab.EditProjectHookOptions{TagPushEvents: gitlab.Ptr(true), NoteEvents: gitlab.Ptr(false)})
	if err != nil || !edited.TagPushEvents || edited.NoteEvents || !edited.IssuesEvents || edited.URL != *opts.URL {
		t.Errorf("edited = %+v, %v", edited, err)
	}
	if resp, err := maint.Projects.DeleteProjectHook(project, h.ID); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete: %v", err)
	}
	if _, _, err := maint.Projects.GetProjectHook(project, h.ID); errorStatus(err) != http.StatusNotFound {
		t.Errorf("get after delete: %v, want 404", err)
	}
}

func sortedStrings(s []string) []string { c := slices.Clone(s); slices.Sort(c); return c }

func TestGroupHooksAndLabels(t *testing.T) {
	fx := newFixture(t)
	maint := fx.client("maint")
	hook := &gitlab.AddGroupHookOptions{URL: gitlab.Ptr("https://bot.example/h"), IssuesEvents: gitlab.Ptr(true)}
	if _, _, err := maint.Groups.AddGroupHook("acme", hook); errorStatus(err) != http.StatusForbidden {
		t.Errorf("non-owner added a group hook: %v", err)
	}
	if _, _, err := maint.Groups.AddGroupHook("nope", hook); errorStatus(err) != http.StatusNotFound {
		t.Errorf("hook on an unknown group: %v, want 404", err)
	}
	if err := fx.f.SetNamespaceAccess("acme", "maint", state.Owner); err != nil {
		t.Fatal(err)
	}
	h, _, err := maint.Groups.AddGroupHook("acme", hook)
	if err != nil || !h.IssuesEvents || !h.PushEvents {
		t.Fatalf("add: %+v %v", h, err)
	}
	id, _ := fx.f.OrgID("acme")
	if got, _, err := maint.Groups.GetGroupHook(strconv.FormatInt(id, 10), h.ID); err != nil || got.GroupID != int(id) {
		t.Errorf("get by group id: %+v %v", got, err)
	}
	lb, _, err := maint.GroupLabels.CreateGroupLabel("acme", &gitlab.CreateGroupLabelOptions{Name: gitlab.Ptr("new-experiment"), Color: gitlab.Ptr("#0e8a16")})
	if err != nil || lb.Color != "#0e8a16" {
		t.Fatalf("group label: %+v %v", lb, err)
	}
	if got, _, err := maint.GroupLabels.GetGroupLabel("acme", "new-experiment"); err != nil || got.ID != lb.ID {
		t.Errorf("get group label: %+v %v", got, err)
	}
	if _, err := maint.GroupLabels.DeleteGroupLabel("acme", lb.ID, nil); err != nil {
		t.Errorf("delete group label: %v", err)
	}
	if _, err := maint.Groups.DeleteGroupHook("acme", h.ID); err != nil {
		t.Errorf("delete group hook: %v", err)
	}
}

func TestProjectLabels(t *testing.T) {
	fx := newFixture(t)
	dev := fx.client("dev")
	lb, resp, err := dev.Labels.CreateLabel(project, &gitlab.CreateLabelOptions{Name: gitlab.Ptr("new-experiment"), Color: gitlab.Ptr("#1d76db"), Description: gitlab.Ptr("ask")})
	if err != nil || resp.StatusCode != http.StatusCreated || lb.Color != "#1d76db" || lb.Description != "ask" {
		t.Fatalf("create: %+v %v", lb, err)
	}
	for _, tc := range []struct {
		name  string
		login string
		opts  *gitlab.CreateLabelOptions
		want  int
	}{
		{"exists", "dev", &gitlab.CreateLabelOptions{Name: gitlab.Ptr("new-experiment"), Color: gitlab.Ptr("red")}, http.StatusConflict},
		{"bad colour", "dev", &gitlab.CreateLabelOptions{Name: gitlab.Ptr("x"), Color: gitlab.Ptr("#12")}, http.StatusBadRequest},
		{"no colour", "dev", &gitlab.CreateLabelOptions{Name: gitlab.Ptr("x")}, http.StatusBadRequest},
		{"guest", "guest", &gitlab.CreateLabelOptions{Name: gitlab.Ptr("y"), Color: gitlab.Ptr("red")}, http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := fx.client(tc.login).Labels.CreateLabel(project, tc.opts)
			if got := errorStatus(err); got != tc.want {
				t.Errorf("status %d (%v), want %d", got, err, tc.want)
			}
		})
	}
	for _, key := range []any{"new-experiment", lb.ID} {
		if got, _, err := dev.Labels.GetLabel(project, key); err != nil || got.ID != lb.ID {
			t.Errorf("get %v: %+v %v", key, got, err)
		}
	}
	up, _, err := dev.Labels.UpdateLabel(project, "new-experiment", &gitlab.UpdateLabelOptions{Color: gitlab.Ptr("#0e8a16")})
	if err != nil || up.Color != "#0e8a16" || up.Description != "ask" {
		t.Errorf("update: %+v %v", up, err)
	}
	if _, _, err := dev.Labels.UpdateLabel(project, "new-experiment", &gitlab.UpdateLabelOptions{}); errorStatus(err) != http.StatusBadRequest {
		t.Errorf("empty update: %v, want 400", err)
	}
	if _, err := dev.Labels.DeleteLabel(project, "new-experiment", nil); err != nil {
		t.Errorf("delete: %v", err)
	}
	if _, _, err := dev.Labels.GetLabel(project, "new-experiment"); errorStatus(err) != http.StatusNotFound {
		t.Errorf("get after delete: %v, want 404", err)
	}
}
