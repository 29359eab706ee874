package pipeline

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// mockResource is one resource as the mock engine saw it.
type mockResource struct {
	Type, Name string
	URN        string
	Inputs     resource.PropertyMap
	Provider   string   // "urn::id" of the provider reference
	Deps       []string // URNs the resource depends on
	Parent     string
	DBR        bool // deleteBeforeReplace
}

// recordingMocks records every resource mockResource and answers with its inputs as
// its outputs.
type recordingMocks struct {
	project, stack string

	mu  sync.Mutex
	res []mockResource
}

func (m *recordingMocks) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	r := mockResource{Type: args.TypeToken, Name: args.Name, Inputs: args.Inputs, Provider: args.Provider}
	if rpc := args.RegisterRPC; rpc != nil {
		r.Deps, r.Parent, r.DBR = rpc.GetDependencies(), rpc.GetParent(), rpc.GetDeleteBeforeReplace()
		for _, d := range rpc.GetPropertyDependencies() {
			r.Deps = append(r.Deps, d.GetUrns()...)
		}
	}
	// The URN as the mock engine makes it, for comparing references.
	parentType := tokens.Type("")
	if p := resource.URN(r.Parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	r.URN = string(resource.NewURN(tokens.QName(m.stack), tokens.PackageName(m.project), parentType, tokens.Type(r.Type), r.Name))
	m.mu.Lock()
	m.res = append(m.res, r)
	m.mu.Unlock()
	return args.Name + "_id", args.Inputs, nil
}

func (m *recordingMocks) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return resource.PropertyMap{}, nil
}

func (m *recordingMocks) ofType(typ string) []mockResource {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mockResource
	for _, r := range m.res {
		if r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

func (m *recordingMocks) named(t *testing.T, typ, name string) mockResource {
	t.Helper()
	for _, r := range m.ofType(typ) {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no %s named %s among %d resources", typ, name, len(m.res))
	return mockResource{}
}

// runProgram runs Program against the mock engine.
func runProgram(t *testing.T, pc ProviderConfig, repo store.RepoKey, branches []BranchSpec) (*recordingMocks, error) {
	t.Helper()
	m := &recordingMocks{project: "expbot", stack: StackName(repo)}
	err := pulumi.RunErr(Program(pc, repo, branches), pulumi.WithMocks(m.project, m.stack, m))
	return m, err
}

// mockInput reads a plain input, failing on a secret: only the token may be one.
func mockInput(t *testing.T, r mockResource, key string) resource.PropertyValue {
	t.Helper()
	v, ok := r.Inputs[resource.PropertyKey(key)]
	if !ok {
		t.Errorf("%s %s: no input %q (have %v)", r.Type, r.Name, key, r.Inputs.StableKeys())
		return resource.NewNullProperty()
	}
	if v.IsSecret() {
		t.Errorf("%s %s: input %q is secret", r.Type, r.Name, key)
		return v.SecretValue().Element
	}
	return v
}

func wantString(t *testing.T, r mockResource, key, want string) {
	t.Helper()
	v := mockInput(t, r, key)
	if !v.IsString() || v.StringValue() != want {
		t.Errorf("%s %s: %s = %v, want %q", r.Type, r.Name, key, v, want)
	}
}

func wantBool(t *testing.T, r mockResource, key string, want bool) {
	t.Helper()
	v := mockInput(t, r, key)
	if !v.IsBool() || v.BoolValue() != want {
		t.Errorf("%s %s: %s = %v, want %v", r.Type, r.Name, key, v, want)
	}
}

func wantAbsent(t *testing.T, r mockResource, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := r.Inputs[resource.PropertyKey(k)]; ok && !v.IsNull() {
			t.Errorf("%s %s: unexpected input %s = %v", r.Type, r.Name, k, v)
		}
	}
}

// wantSecretToken checks that the provider got the token, as a secret.
func wantSecretToken(t *testing.T, m *recordingMocks, prov mockResource, token string) {
	t.Helper()
	v, ok := prov.Inputs["token"]
	switch {
	case !ok:
		t.Fatalf("provider has no token input (have %v)", prov.Inputs.StableKeys())
	case !v.IsSecret():
		t.Errorf("provider token is not a secret: %v", v)
	case !v.SecretValue().Element.IsString() || v.SecretValue().Element.StringValue() != token:
		t.Errorf("provider token = %v, want the configured one", v.SecretValue().Element)
	}
	// Nowhere else in plain text.
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, r := range m.res {
		for k, v := range r.Inputs {
			if r.URN == prov.URN && k == "token" {
				continue
			}
			if !v.IsSecret() && strings.Contains(v.String(), token) {
				t.Errorf("%s %s: input %s holds the token in plain text", r.Type, r.Name, k)
			}
		}
	}
}

// providerRef is how resources name their provider: "<urn>::<id>".
func providerRef(p mockResource) string { return p.URN + "::" + p.Name + "_id" }

var testSpecs = []BranchSpec{
	{
		Key: "issue:12", Branch: "exp/12-lr-sweep", BaseSHA: testSHA,
		FilePath: "experiment.yaml", Content: "version: 1\nname: lr-sweep\n",
		Message: "expbot: experiment lr-sweep (https://forge.test/acme/model/issues/12)",
		Author:  "expbot", Email: "expbot@users.noreply.invalid",
	},
	{
		Key: "issue:3", Branch: "exp/3-warmup", BaseSHA: "fedcba9876543210fedcba9876543210fedcba98",
		FilePath: "ci/experiment.yaml", Content: "version: 1\nname: warmup\n",
		Message: "expbot: experiment warmup (https://forge.test/acme/model/issues/3)",
		Author:  "bot", Email: "bot@example.test",
	},
}

func TestProgramGitHub(t *testing.T) {
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	tests := []struct {
		name    string
		pc      ProviderConfig
		baseURL string
	}{
		{"github.com", ProviderConfig{Forge: event.GitHub, Token: "ghs_TOKENVALUE"}, "https://api.github.com/"},
		{"enterprise server with a write delay", ProviderConfig{Forge: event.GitHub, Token: "ghs_TOKENVALUE", BaseURL: "https://ghe.example.test/", WriteDelayMs: 10}, "https://ghe.example.test/"},
	}
	// The program runs inside the bot's process, where the provider SDK
	// reads these; none of them may redirect the provider.
	t.Setenv("GITHUB_BASE_URL", "https://elsewhere.test/")
	t.Setenv("GITHUB_TOKEN", "ENVTOKEN")
	t.Setenv("GITHUB_OWNER", "someone-else")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := runProgram(t, tt.pc, repo, testSpecs)
			if err != nil {
				t.Fatal(err)
			}
			provs := m.ofType("pulumi:providers:github")
			if len(provs) != 1 {
				t.Fatalf("%d github providers, want 1", len(provs))
			}
			prov := provs[0]
			wantSecretToken(t, m, prov, tt.pc.Token)
			wantString(t, prov, "owner", "acme")
			wantString(t, prov, "baseUrl", tt.baseURL)
			if tt.pc.WriteDelayMs > 0 {
				if v := mockInput(t, prov, "writeDelayMs"); !(v.IsNumber() && v.NumberValue() == float64(tt.pc.WriteDelayMs)) &&
					!(v.IsString() && v.StringValue() == "10") {
					t.Errorf("writeDelayMs = %v, want %d", v, tt.pc.WriteDelayMs)
				}
			} else {
				wantAbsent(t, prov, "writeDelayMs")
			}

			branches := m.ofType("github:index/branch:Branch")
			files := m.ofType("github:index/repositoryFile:RepositoryFile")
			if len(branches) != len(testSpecs) || len(files) != len(testSpecs) {
				t.Fatalf("%d branches and %d files, want %d of each", len(branches), len(files), len(testSpecs))
			}
			for _, s := range testSpecs {
				br := m.named(t, "github:index/branch:Branch", resourceName(s.Key, "branch"))
				wantString(t, br, "repository", "model")
				wantString(t, br, "branch", s.Branch)
				wantString(t, br, "sourceSha", s.BaseSHA)
				if br.Provider != providerRef(prov) {
					t.Errorf("branch %s: provider %q, want %q", s.Branch, br.Provider, providerRef(prov))
				}
				if !br.DBR {
					t.Errorf("branch %s: deleteBeforeReplace is not set", s.Branch)
				}

				f := m.named(t, "github:index/repositoryFile:RepositoryFile", resourceName(s.Key, "file"))
				wantString(t, f, "repository", "model")
				wantString(t, f, "branch", s.Branch)
				wantString(t, f, "file", s.FilePath)
				wantString(t, f, "content", s.Content)
				wantString(t, f, "commitMessage", s.Message)
				wantString(t, f, "commitAuthor", s.Author)
				wantString(t, f, "commitEmail", s.Email)
				wantBool(t, f, "overwriteOnCreate", true)
				if f.Provider != providerRef(prov) {
					t.Errorf("file on %s: provider %q, want %q", s.Branch, f.Provider, providerRef(prov))
				}
				if !slices.Contains(f.Deps, br.URN) {
					t.Errorf("file on %s does not depend on its branch %s (deps %v)", s.Branch, br.URN, f.Deps)
				}
			}
		})
	}
}

func TestProgramGitLab(t *testing.T) {
	repo := store.RepoKey{Forge: event.GitLab, Path: "acme/ml/model"}
	t.Setenv("GITLAB_BASE_URL", "https://elsewhere.test/api/v4/")
	t.Setenv("GITLAB_TOKEN", "ENVTOKEN")
	tests := []struct {
		name string
		pc   ProviderConfig
	}{
		{"gitlab.com", ProviderConfig{Forge: event.GitLab, Token: "glpat-TOKENVALUE"}},
		{"self-managed", ProviderConfig{Forge: event.GitLab, Token: "glpat-TOKENVALUE", BaseURL: "https://gitlab.example.test/api/v4/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := runProgram(t, tt.pc, repo, testSpecs)
			if err != nil {
				t.Fatal(err)
			}
			provs := m.ofType("pulumi:providers:gitlab")
			if len(provs) != 1 {
				t.Fatalf("%d gitlab providers, want 1", len(provs))
			}
			prov := provs[0]
			wantSecretToken(t, m, prov, tt.pc.Token)
			if tt.pc.BaseURL != "" {
				wantString(t, prov, "baseUrl", tt.pc.BaseURL)
			} else {
				wantAbsent(t, prov, "baseUrl")
			}
			if n := len(m.ofType("pulumi:providers:github")); n != 0 {
				t.Errorf("%d github providers in a gitlab program", n)
			}

			branches := m.ofType("gitlab:index/branch:Branch")
			files := m.ofType("gitlab:index/repositoryFile:RepositoryFile")
			if len(branches) != len(testSpecs) || len(files) != len(testSpecs) {
				t.Fatalf("%d branches and %d files, want %d of each", len(branches), len(files), len(testSpecs))
			}
			for _, s := range testSpecs {
				br := m.named(t, "gitlab:index/branch:Branch", resourceName(s.Key, "branch"))
				wantString(t, br, "project", "acme/ml/model")
				wantString(t, br, "name", s.Branch)
				wantString(t, br, "ref", s.BaseSHA)
				if br.Provider != providerRef(prov) {
					t.Errorf("branch %s: provider %q, want %q", s.Branch, br.Provider, providerRef(prov))
				}
				if !br.DBR {
					t.Errorf("branch %s: deleteBeforeReplace is not set", s.Branch)
				}

				f := m.named(t, "gitlab:index/repositoryFile:RepositoryFile", resourceName(s.Key, "file"))
				wantString(t, f, "project", "acme/ml/model")
				wantString(t, f, "branch", s.Branch)
				wantString(t, f, "filePath", s.FilePath)
				wantString(t, f, "content", s.Content)
				wantString(t, f, "encoding", "text")
				wantString(t, f, "commitMessage", s.Message)
				wantString(t, f, "authorName", s.Author)
				wantString(t, f, "authorEmail", s.Email)
				wantBool(t, f, "overwriteOnCreate", true)
				if f.Provider != providerRef(prov) {
					t.Errorf("file on %s: provider %q, want %q", s.Branch, f.Provider, providerRef(prov))
				}
				if !slices.Contains(f.Deps, br.URN) {
					t.Errorf("file on %s does not depend on its branch %s (deps %v)", s.Branch, br.URN, f.Deps)
				}
			}
		})
	}
}

func TestProgramWithoutBranches(t *testing.T) {
	for _, f := range []event.Forge{event.GitHub, event.GitLab} {
		m, err := runProgram(t, ProviderConfig{Forge: f, Token: "t"}, store.RepoKey{Forge: f, Path: "acme/model"}, nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		m.mu.Lock()
		n := len(m.res)
		m.mu.Unlock()
		if n != 1 || len(m.ofType("pulumi:providers:"+string(f))) != 1 {
			t.Errorf("%s: %d resources, want only the provider", f, n)
		}
	}
}

func TestProgramErrors(t *testing.T) {
	tests := []struct {
		name string
		pc   ProviderConfig
		repo store.RepoKey
		want string
	}{
		{"unknown forge", ProviderConfig{Forge: "gitea", Token: "t"}, store.RepoKey{Forge: "gitea", Path: "acme/model"}, `unknown forge "gitea"`},
		{"empty forge", ProviderConfig{Token: "t"}, store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, "unknown forge"},
		{"github path without owner", ProviderConfig{Forge: event.GitHub, Token: "t"}, store.RepoKey{Forge: event.GitHub, Path: "model"}, "is not owner/name"},
		{"github path with a group", ProviderConfig{Forge: event.GitHub, Token: "t"}, store.RepoKey{Forge: event.GitHub, Path: "acme/ml/model"}, "is not owner/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := runProgram(t, tt.pc, tt.repo, testSpecs)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if n := len(m.ofType("github:index/branch:Branch")) + len(m.ofType("gitlab:index/branch:Branch")); n != 0 {
				t.Errorf("%d branches mockResource despite the error", n)
			}
		})
	}
}

var safePulumiName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func TestResourceName(t *testing.T) {
	keys := []string{"issue:12", "issue:1", "issue/1", "issue 1", "issue:1:", "mr:12", "tag:v1.0", "issue:ünï"}
	seen := map[string]string{}
	for _, key := range keys {
		for _, kind := range []string{"branch", "file"} {
			name := resourceName(key, kind)
			if name != resourceName(key, kind) {
				t.Errorf("resourceName(%q, %q) is not stable", key, kind)
			}
			if !safePulumiName.MatchString(name) {
				t.Errorf("resourceName(%q, %q) = %q has unsafe characters", key, kind, name)
			}
			if !strings.HasPrefix(name, resourcePrefix(key)) || !strings.HasSuffix(name, "-"+kind) {
				t.Errorf("resourceName(%q, %q) = %q does not start with %q and end with the kind", key, kind, name, resourcePrefix(key))
			}
			if prev, dup := seen[name]; dup {
				t.Errorf("resourceName(%q, %q) = %q, same as for %s", key, kind, name, prev)
			}
			seen[name] = key + " " + kind
		}
	}
	if got := resourceName("issue:12", "branch"); !strings.HasPrefix(got, "issue-12-") {
		t.Errorf("resourceName(issue:12) = %q, want it readable as issue-12-…", got)
	}
	// The prefix of one key never starts another key's names.
	for _, a := range keys {
		for _, b := range keys {
			if a != b && strings.HasPrefix(resourceName(b, "branch"), resourcePrefix(a)) {
				t.Errorf("resource of %q carries the prefix of %q", b, a)
			}
		}
	}
}

func TestStackName(t *testing.T) {
	long := strings.Repeat("very-long-group-name/", 12) + "project"
	tests := []struct {
		repo     store.RepoKey
		readable string // the start of the name
	}{
		{store.RepoKey{Forge: event.GitHub, Path: "acme/model"}, "github.acme.model-"},
		{store.RepoKey{Forge: event.GitHub, Path: "acme.model"}, "github.acme.model-"},
		{store.RepoKey{Forge: event.GitHub, Path: "Acme/Model"}, "github.Acme.Model-"},
		{store.RepoKey{Forge: event.GitLab, Path: "acme/model"}, "gitlab.acme.model-"},
		{store.RepoKey{Forge: event.GitLab, Path: "acme/ml/model"}, "gitlab.acme.ml.model-"},
		{store.RepoKey{Forge: event.GitLab, Path: "acme/ml.model"}, "gitlab.acme.ml.model-"},
		{store.RepoKey{Forge: event.GitLab, Path: "acme/ml model"}, "gitlab.acme.ml-model-"},
		{store.RepoKey{Forge: event.GitLab, Path: "acme/ml-model"}, "gitlab.acme.ml-model-"},
		{store.RepoKey{Forge: event.GitLab, Path: "acme/mödel"}, "gitlab.acme.m-del-"},
		{store.RepoKey{Forge: event.GitLab, Path: long}, "gitlab.very-long-group-name.very-long-group-name."},
		{store.RepoKey{Forge: event.GitLab, Path: long + "2"}, "gitlab.very-long-group-name.very-long-group-name."},
	}
	seen := map[string]store.RepoKey{}
	for _, tt := range tests {
		got := StackName(tt.repo)
		if got != StackName(tt.repo) {
			t.Errorf("StackName(%v) is not deterministic", tt.repo)
		}
		if !strings.HasPrefix(got, tt.readable) {
			t.Errorf("StackName(%v) = %q, want it to start with %q", tt.repo, got, tt.readable)
		}
		if len(got) > 100 {
			t.Errorf("StackName(%v) = %q is %d characters, Pulumi allows 100", tt.repo, got, len(got))
		}
		if !safePulumiName.MatchString(got) {
			t.Errorf("StackName(%v) = %q has characters Pulumi refuses", tt.repo, got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("StackName(%v) = %q, same as for %v", tt.repo, got, prev)
		}
		seen[got] = tt.repo
	}
}

// With a GitHub App the provider gets appAuth (the repository's
// installation, the key as a secret) and no token.
func TestProgramGitHubApp(t *testing.T) {
	repo := store.RepoKey{Forge: event.GitHub, Path: "acme/model"}
	const pemText = "-----BEGIN RSA PRIVATE KEY-----\nMIIEKEYBODY\n-----END RSA PRIVATE KEY-----"
	var asked []string
	pc := ProviderConfig{Forge: event.GitHub, BaseURL: "https://ghe.example.test/", App: &ProviderApp{ID: 4242, PEM: pemText,
		Installation: func(_ context.Context, r string) (int64, error) { asked = append(asked, r); return 77, nil }}}
	m, err := runProgram(t, pc, repo, testSpecs)
	if err != nil {
		t.Fatal(err)
	}
	prov := m.ofType("pulumi:providers:github")[0]
	wantAbsent(t, prov, "token")
	if len(asked) != 1 || asked[0] != "acme/model" {
		t.Fatalf("installation looked up for %v", asked)
	}
	v, ok := prov.Inputs["appAuth"]
	if !ok {
		t.Fatalf("no appAuth (have %v)", prov.Inputs.StableKeys())
	}
	if !v.ContainsSecrets() {
		t.Errorf("appAuth is not secret: %v", v)
	}
	auth := v
	for auth.IsSecret() || auth.IsOutput() {
		if auth.IsSecret() {
			auth = auth.SecretValue().Element
		} else {
			auth = auth.OutputValue().Element
		}
	}
	if !auth.IsObject() {
		t.Fatalf("appAuth = %v", v)
	}
	o := auth.ObjectValue()
	if o["id"].StringValue() != "4242" || o["installationId"].StringValue() != "77" || o["pemFile"].StringValue() != pemText {
		t.Errorf("appAuth = %v", o)
	}
	pc.App.Installation = func(context.Context, string) (int64, error) { return 0, errors.New("not installed") }
	if _, err := runProgram(t, pc, repo, testSpecs); err == nil || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("program without an installation: %v", err)
	}
}
