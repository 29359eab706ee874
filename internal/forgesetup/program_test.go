package forgesetup

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/forgesetup/forges"
)

// The hooks subscribe to exactly what the README tells people who set them
// up by hand.
func TestEventsMatchREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "## Running against real GitHub or GitLab")
	if start < 0 {
		t.Fatal("README has no section on running against real forges")
	}
	section := text[start:]
	// The step that says which events a webhook needs.
	from, to := strings.Index(section, "\n3. "), strings.Index(section, "\n4. ")
	if from < 0 || to < from {
		t.Fatal("README's webhook step (3.) not found")
	}
	section = strings.Join(strings.Fields(section[from:to]), " ")
	words := map[string]string{
		"issues": "*Issues*", "issue_comment": "*Issue comments*", "pull_request": "*Pull requests*", "push": "*Pushes*",
		"issues_events": "*Issues events*", "note_events": "*Comments*", "merge_requests_events": "*Merge request events*",
		"tag_push_events": "*Tag push events*", "confidential_issues_events": "*Confidential issues events*",
	}
	for _, ev := range append(slices.Clone(GitHubEvents), GitLabEvents...) {
		if !strings.Contains(section, words[ev]) || words[ev] == "" {
			t.Errorf("event %s (%q) is not asked for in the README", ev, words[ev])
		}
	}
	if n := strings.Count(section, "*") / 2; n != len(words) {
		t.Errorf("the README names %d events, the set-up subscribes %d", n, len(words))
	}
}

// mocks records what the program registers and answers with its inputs.
type mocks struct {
	mu  sync.Mutex
	res []pulumi.MockResourceArgs
}

func (m *mocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	m.mu.Lock()
	m.res = append(m.res, args)
	m.mu.Unlock()
	return args.Name + "_id", args.Inputs, nil
}

func (m *mocks) Call(pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

// byType lists "name" of each resource of a type token's last part.
func (m *mocks) byType(kind string) map[string]resource.PropertyMap {
	out := map[string]resource.PropertyMap{}
	for _, r := range m.res {
		if strings.HasSuffix(r.TypeToken, ":"+kind) {
			out[r.Name] = r.Inputs
		}
	}
	return out
}

func TestProgram(t *testing.T) {
	f, err := forges.Parse([]byte(`
label: {name: run-me, color: "0e8a16", description: go}
github:
  webhook_url: https://bot.example/webhooks/github
  organizations: [acme]
  repositories: [acme/llm, alice/tools]
gitlab:
  webhook_url: https://bot.example/webhooks/gitlab
  groups: [grp]
  projects: [grp/sub/p, bob/q]
`))
	if err != nil {
		t.Fatal(err)
	}
	sec := Secrets{GitHubToken: "gh-admin-token", GitLabToken: "gl-admin-token", GitHubWebhookSecret: "gh-hook-secret", GitLabWebhookToken: "gl-hook-token"}
	m := &mocks{}
	if err := pulumi.RunErr(Program(f, sec), pulumi.WithMocks("expbot-forge", "forges", m)); err != nil {
		t.Fatal(err)
	}
	count := func(kind string, want int) map[string]resource.PropertyMap {
		t.Helper()
		got := m.byType(kind)
		if len(got) != want {
			t.Errorf("%d %s, want %d: %v", len(got), kind, want, slices.Collect(maps.Keys(got)))
		}
		return got
	}
	// GitHub: a provider per owner, the organisation's hook, a hook for
	// alice/tools only (acme/llm is covered), a label per repository.
	count("github", 2) // pulumi:providers:github, one per owner (acme, alice)
	count("OrganizationWebhook", 1)
	repoHooks := count("RepositoryWebhook", 1)
	count("IssueLabel", 2)
	// GitLab: the group's hook and label; bob/q's own; grp/sub/p is covered.
	count("GroupHook", 1)
	count("GroupLabel", 1)
	projectHooks := count("ProjectHook", 1)
	labels := count("Label", 1)

	for _, in := range repoHooks {
		if in["repository"].StringValue() != "tools" {
			t.Errorf("repository hook on %v, want tools", in["repository"])
		}
		var events []string
		for _, e := range in["events"].ArrayValue() {
			events = append(events, e.StringValue())
		}
		if !slices.Equal(events, GitHubEvents) {
			t.Errorf("events %v, want %v", events, GitHubEvents)
		}
		if !in["configuration"].ContainsSecrets() {
			t.Error("the webhook secret is not passed as a secret")
		}
	}
	for _, in := range projectHooks {
		if in["project"].StringValue() != "bob/q" || !in["token"].IsSecret() {
			t.Errorf("project hook inputs %v", in)
		}
		var on []string
		for k, v := range in {
			if strings.HasSuffix(string(k), "Events") && v.IsBool() && v.BoolValue() {
				on = append(on, string(k))
			}
		}
		slices.Sort(on)
		want := []string{"confidentialIssuesEvents", "issuesEvents", "mergeRequestsEvents", "noteEvents", "tagPushEvents"}
		if !slices.Equal(on, want) || in["pushEvents"].BoolValue() {
			t.Errorf("switches on: %v, want exactly %v", on, want)
		}
	}
	for _, in := range labels {
		if in["color"].StringValue() != "#0e8a16" || in["name"].StringValue() != "run-me" || in["description"].StringValue() != "go" {
			t.Errorf("label inputs %v", in)
		}
	}
	for _, r := range m.res {
		if strings.HasPrefix(r.TypeToken, "pulumi:providers:") {
			if v, ok := r.Inputs["token"]; ok && !v.IsSecret() {
				t.Errorf("provider %s token is not a secret", r.Name)
			}
		}
	}
}
