package forges

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const gh = "github:\n  webhook_url: https://bot.example/webhooks/github\n"
	for _, tc := range []struct {
		name, doc string
		wantErr   []string // substrings; none = valid
	}{
		{name: "minimal github", doc: gh + "  repositories: [acme/llm]\n"},
		{name: "minimal gitlab", doc: "gitlab:\n  webhook_url: https://bot.example/webhooks/gitlab\n  projects: [a/b/c]\n"},
		{name: "empty", doc: "", wantErr: []string{"empty"}},
		{name: "unknown top-level key", doc: gh + "  repositories: [acme/llm]\nlabels: {}\n", wantErr: []string{"field labels not found"}},
		{name: "unknown nested key", doc: gh + "  repositories: [acme/llm]\n  secret: x\n", wantErr: []string{"field secret not found"}},
		{name: "misspelt label key", doc: gh + "  repositories: [acme/llm]\nlabel: {colour: ff0000}\n", wantErr: []string{"field colour not found"}},
		{name: "two documents", doc: gh + "  repositories: [acme/llm]\n---\nstack: x\n", wantErr: []string{"more than one"}},
		{name: "no forge", doc: "stack: x\n", wantErr: []string{"nothing to set up"}},
		{name: "nothing listed", doc: gh, wantErr: []string{"list organizations or repositories"}},
		{name: "no webhook url", doc: "github:\n  repositories: [acme/llm]\n", wantErr: []string{"github.webhook_url is required"}},
		{name: "relative webhook url", doc: "github:\n  webhook_url: /webhooks/github\n  repositories: [acme/llm]\n", wantErr: []string{"absolute http(s) URL"}},
		{name: "credentials in url", doc: "github:\n  webhook_url: https://u:p@bot/webhooks/github\n  repositories: [acme/llm]\n", wantErr: []string{"credentials"}},
		{name: "api url without slash", doc: gh + "  api_url: https://ghe.example\n  repositories: [acme/llm]\n", wantErr: []string{"end with a slash"}},
		{name: "gitlab api url", doc: "gitlab:\n  api_url: https://gl.example/\n  webhook_url: https://bot/webhooks/gitlab\n  groups: [g]\n", wantErr: []string{"/api/v4/"}},
		{name: "repo without owner", doc: gh + "  repositories: [llm]\n", wantErr: []string{`"llm" must be owner/name`}},
		{name: "nested github repo", doc: gh + "  repositories: [a/b/c]\n", wantErr: []string{"owner/name"}},
		{name: "org with slash", doc: gh + "  organizations: [a/b]\n", wantErr: []string{"single name"}},
		{name: "duplicate repo", doc: gh + "  repositories: [acme/llm, Acme/LLM]\n", wantErr: []string{"listed twice"}},
		{name: "gitlab project without group", doc: "gitlab:\n  webhook_url: https://bot/webhooks/gitlab\n  projects: [p]\n", wantErr: []string{"group/.../project"}},
		{name: "bad colour", doc: gh + "  repositories: [acme/llm]\nlabel: {color: red}\n", wantErr: []string{"six hex digits"}},
		{name: "bad stack", doc: "stack: a b\n" + gh + "  repositories: [acme/llm]\n", wantErr: []string{"stack"}},
		{name: "every problem at once", doc: "github:\n  repositories: [x]\nlabel: {color: nope}\n", wantErr: []string{"webhook_url", "owner/name", "six hex"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one saying %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	f, err := Parse([]byte("label: {color: '#0E8A16'}\ngithub:\n  webhook_url: https://bot/webhooks/github\n  repositories: [a/b]\ngitlab:\n  webhook_url: https://bot/webhooks/gitlab\n  groups: [g]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Stack != "forges" || f.Label.Name != "new-experiment" || f.Label.Color != "0e8a16" || f.Label.Description == "" {
		t.Errorf("defaults not filled: %+v", f)
	}
	if f.GitHub.APIURL != "https://api.github.com/" || f.GitLab.APIURL != "https://gitlab.com/api/v4/" {
		t.Errorf("API URLs %q %q", f.GitHub.APIURL, f.GitLab.APIURL)
	}
}

func TestCoverage(t *testing.T) {
	gh := GitHub{Organizations: []string{"Acme"}, Repositories: []string{"acme/llm", "alice/x", "acmeco/y"}}
	if got, want := gh.RepoHooks(), []string{"alice/x", "acmeco/y"}; !slices.Equal(got, want) {
		t.Errorf("RepoHooks = %v, want %v", got, want)
	}
	gl := GitLab{Groups: []string{"acme/ml"}, Projects: []string{"acme/ml/vision", "acme/ml/deep/seg", "acme/mlx", "acme/other"}}
	if got, want := gl.OwnProjects(), []string{"acme/mlx", "acme/other"}; !slices.Equal(got, want) {
		t.Errorf("OwnProjects = %v, want %v", got, want)
	}
}

func TestExampleFileLoads(t *testing.T) {
	f, err := Load(filepath.Join("..", "..", "..", "deploy", "forge", "forges.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if f.GitHub == nil || f.GitLab == nil || len(f.GitHub.Repositories) == 0 || len(f.GitLab.Groups) == 0 {
		t.Errorf("example lost its entries: %+v", f)
	}
}
