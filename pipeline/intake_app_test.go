package pipeline

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/expbot/expbot/internal/event"
)

// fakeInstallations serves the repositories in installed; installation
// events change it as the real one does.
type fakeInstallations struct {
	installed map[string]bool
	err       error
	asked     []string
}

func (f *fakeInstallations) Installed(_ context.Context, repo string) (bool, error) {
	f.asked = append(f.asked, repo)
	return f.installed[repo], f.err
}

func (f *fakeInstallations) Observe(_ int64, added, removed []string, _ bool) {
	for _, r := range added {
		f.installed[r] = true
	}
	for _, r := range removed {
		delete(f.installed, r)
	}
}

func TestIntakeServesOnlyInstalledRepositories(t *testing.T) {
	ctx := context.Background()
	label := []string{"new-experiment"}
	db := openStore(t)
	inst := &fakeInstallations{installed: map[string]bool{}}
	in := &Intake{Store: db, Installations: inst}

	// Not installed: nothing recorded, nothing queued, nothing said.
	if out := deliverIssue(t, in, "d-1", issueChange(event.GitHub, validBody, nil, label)); out != event.OutcomeIgnored {
		t.Fatalf("outside the installation: outcome %v, want Ignored", out)
	}
	if jobs := db.jobs(t); len(jobs) != 0 {
		t.Fatalf("jobs %q for a repository outside the installation", jobs)
	}

	// Added to the installation by an installation_repositories event.
	out, err := in.Record(ctx, event.Delivery{Forge: event.GitHub, ID: "i-1", Event: "installation_repositories",
		Payload: &event.InstallationChange{Action: "added", InstallationID: 7, Added: []string{"acme/model"}}})
	if err != nil || out != event.OutcomeIgnored {
		t.Fatalf("installation event: %v %v", out, err)
	}
	if out := deliverIssue(t, in, "d-2", issueChange(event.GitHub, validBody, nil, label)); out != event.OutcomeAccepted {
		t.Fatalf("installed: outcome %v, want Accepted", out)
	}
	jobs := len(db.jobs(t))

	// Removed again: its requests get no answer; what it had stays.
	inst.Observe(7, nil, []string{"acme/model"}, false)
	if out := deliverIssue(t, in, "d-3", issueChange(event.GitHub, noBaseBody, nil, label)); out != event.OutcomeIgnored {
		t.Fatalf("removed: outcome %v, want Ignored", out)
	}
	if n := len(db.jobs(t)); n != jobs {
		t.Fatalf("a removed repository's request queued work (%d jobs, was %d)", n, jobs)
	}

	// GitLab is not a GitHub App's business; a failed lookup asks for a redelivery.
	if out := deliverIssue(t, in, "d-4", issueChange(event.GitLab, validBody, nil, label)); out != event.OutcomeAccepted {
		t.Fatalf("gitlab: outcome %v", out)
	}
	if slices.Contains(inst.asked, "") {
		t.Fatal("asked about an empty repository")
	}
	inst.err = errors.New("github down")
	if _, err := in.Record(ctx, event.Delivery{Forge: event.GitHub, ID: "d-5", Event: "issues",
		Payload: issueChange(event.GitHub, validBody, nil, label)}); err == nil {
		t.Fatal("a failed installation lookup was acknowledged")
	}
}
