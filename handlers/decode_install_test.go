package handlers

import (
	"reflect"
	"testing"

	"github.com/expbot/expbot/internal/event"
)

func TestDecodeGitHubInstallation(t *testing.T) {
	inst := `"installation":{"id":42,"account":{"login":"acme","id":5,"type":"Organization"},"app_slug":"expbot"}`
	for _, tc := range []struct {
		name, event, body string
		want              *event.InstallationChange
	}{
		{"repositories added", "installation_repositories",
			`{"action":"added",` + inst + `,"repository_selection":"selected","repositories_added":[{"id":1,"full_name":"acme/llm"}],"repositories_removed":[]}`,
			&event.InstallationChange{Action: "added", InstallationID: 42, Account: "acme", Added: []string{"acme/llm"}, Removed: []string{}}},
		{"repositories removed", "installation_repositories",
			`{"action":"removed",` + inst + `,"repositories_added":[],"repositories_removed":[{"id":1,"full_name":"acme/llm"},{"id":2,"full_name":"acme/data"}]}`,
			&event.InstallationChange{Action: "removed", InstallationID: 42, Account: "acme", Added: []string{}, Removed: []string{"acme/llm", "acme/data"}}},
		{"installed", "installation", `{"action":"created",` + inst + `,"repositories":[{"id":1,"full_name":"acme/llm"}]}`,
			&event.InstallationChange{Action: "created", InstallationID: 42, Account: "acme", Added: []string{"acme/llm"}}},
		{"uninstalled", "installation", `{"action":"deleted",` + inst + `,"repositories":[{"id":1,"full_name":"acme/llm"}]}`,
			&event.InstallationChange{Action: "deleted", InstallationID: 42, Account: "acme", Removed: []string{"acme/llm"}, Deleted: true}},
		{"suspended", "installation", `{"action":"suspend",` + inst + `}`,
			&event.InstallationChange{Action: "suspend", InstallationID: 42, Account: "acme", Removed: []string{}, Deleted: true}},
		{"permissions accepted", "installation", `{"action":"new_permissions_accepted",` + inst + `}`,
			&event.InstallationChange{Action: "new_permissions_accepted", InstallationID: 42, Account: "acme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := DecodeGitHub(tc.event, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ev, tc.want) {
				t.Fatalf("got %+v, want %+v", ev, tc.want)
			}
		})
	}
	for _, body := range []string{`{"action":"added"}`, `not json`} {
		if _, err := DecodeGitHub("installation_repositories", []byte(body)); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
}
