// Package forges reads the forges file of `expbot setup`: the repositories,
// organisations, projects and groups to set up, the bot's webhook URLs and
// the trigger label. It is strict (unknown keys are errors) and fills in
// the defaults from internal/config.
package forges

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/expbot/expbot/internal/config"
)

// File is the forges file (deploy/forge/forges.example.yaml).
type File struct {
	Stack  string  `yaml:"stack"`
	Label  Label   `yaml:"label"`
	GitHub *GitHub `yaml:"github"`
	GitLab *GitLab `yaml:"gitlab"`
}

// Label is the trigger label; its name must be the bot's `label` setting.
type Label struct {
	Name        string `yaml:"name"`
	Color       string `yaml:"color"` // RRGGBB
	Description string `yaml:"description"`
}

// GitHub lists what to set up on one GitHub.
type GitHub struct {
	APIURL        string   `yaml:"api_url"`     // the bot's github.api_url; empty = github.com
	WebhookURL    string   `yaml:"webhook_url"` // https://<bot>/webhooks/github
	Organizations []string `yaml:"organizations"`
	Repositories  []string `yaml:"repositories"` // owner/name
}

// GitLab lists what to set up on one GitLab.
type GitLab struct {
	APIURL     string   `yaml:"api_url"`     // ends in /api/v4/
	WebhookURL string   `yaml:"webhook_url"` // https://<bot>/webhooks/gitlab
	Groups     []string `yaml:"groups"`
	Projects   []string `yaml:"projects"` // group/.../project
}

// Load reads a forges file strictly: unknown keys are errors, and so is
// anything Validate rejects. Defaults are filled in.
func Load(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("read forges file: %w", err)
	}
	f, err := Parse(b)
	if err != nil {
		return File{}, fmt.Errorf("forges file %s: %w", path, err)
	}
	return f, nil
}

// Parse decodes and validates a forges file's content.
func Parse(b []byte) (File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return File{}, errors.New("empty: list github repositories/organizations or gitlab projects/groups")
		}
		return File{}, err
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return File{}, errors.New("holds more than one YAML document")
	}
	f.defaults()
	if err := f.Validate(); err != nil {
		return File{}, err
	}
	return f, nil
}

func (f *File) defaults() {
	if f.Stack == "" {
		f.Stack = config.SetupStack
	}
	if f.Label.Name == "" {
		f.Label.Name = config.Defaults().Label
	}
	if f.Label.Color == "" {
		f.Label.Color = config.LabelColor
	}
	f.Label.Color = strings.ToLower(strings.TrimPrefix(f.Label.Color, "#"))
	if f.Label.Description == "" {
		f.Label.Description = config.LabelDescription
	}
	if f.GitHub != nil && f.GitHub.APIURL == "" {
		f.GitHub.APIURL = config.GitHubAPIURL
	}
	if f.GitLab != nil && f.GitLab.APIURL == "" {
		f.GitLab.APIURL = config.Defaults().GitLab.APIURL
	}
}

var (
	hexColor  = regexp.MustCompile(`^[0-9a-f]{6}$`)
	stackName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	// segment is one owner, repository, group or project path element.
	segment = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)
)

// Validate reports every problem at once.
func (f File) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !stackName.MatchString(f.Stack) {
		add("stack %q: use letters, digits, '-', '_' and '.'", f.Stack)
	}
	if !hexColor.MatchString(f.Label.Color) {
		add("label.color %q must be six hex digits (RRGGBB)", f.Label.Color)
	}
	if strings.TrimSpace(f.Label.Name) != f.Label.Name || strings.Contains(f.Label.Name, ",") {
		add("label.name %q must not have surrounding spaces or commas", f.Label.Name)
	}
	if f.GitHub == nil && f.GitLab == nil {
		add("nothing to set up: add a github or gitlab section")
	}
	if g := f.GitHub; g != nil {
		if len(g.Organizations)+len(g.Repositories) == 0 {
			add("github: list organizations or repositories")
		}
		checkURL(add, "github.api_url", g.APIURL, true)
		checkURL(add, "github.webhook_url", g.WebhookURL, false)
		checkPaths(add, "github.organizations", g.Organizations, 1, 1)
		checkPaths(add, "github.repositories", g.Repositories, 2, 2)
	}
	if g := f.GitLab; g != nil {
		if len(g.Groups)+len(g.Projects) == 0 {
			add("gitlab: list groups or projects")
		}
		checkURL(add, "gitlab.api_url", g.APIURL, true)
		if !strings.HasSuffix(g.APIURL, "/api/v4/") {
			add("gitlab.api_url %q must end in /api/v4/", g.APIURL)
		}
		checkURL(add, "gitlab.webhook_url", g.WebhookURL, false)
		checkPaths(add, "gitlab.groups", g.Groups, 1, 20)
		checkPaths(add, "gitlab.projects", g.Projects, 2, 20)
	}
	return errors.Join(errs...)
}

func checkURL(add func(string, ...any), key, v string, slash bool) {
	u, err := url.Parse(v)
	switch {
	case v == "":
		add("%s is required", key)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		add("%s %q must be an absolute http(s) URL", key, v)
	case u.User != nil:
		add("%s must not hold credentials", key)
	case slash && !strings.HasSuffix(v, "/"):
		add("%s %q must end with a slash", key, v)
	}
}

// checkPaths wants min..max path elements per entry and no duplicates.
func checkPaths(add func(string, ...any), key string, paths []string, min, max int) {
	seen := map[string]bool{}
	for _, p := range paths {
		parts := strings.Split(p, "/")
		ok := len(parts) >= min && len(parts) <= max
		for _, s := range parts {
			ok = ok && segment.MatchString(s)
		}
		if !ok {
			want := "owner/name"
			switch {
			case min == 1 && max == 1:
				want = "a single name"
			case min == 1:
				want = "a group path"
			case max > 2:
				want = "group/.../project"
			}
			add("%s: %q must be %s", key, p, want)
		}
		if seen[strings.ToLower(p)] {
			add("%s: %q is listed twice", key, p)
		}
		seen[strings.ToLower(p)] = true
	}
}

// RepoHooks are the GitHub repositories that get a hook of their own: those
// whose owner is not a listed organisation (its hook covers them already,
// and two hooks would deliver every event twice).
func (g GitHub) RepoHooks() []string {
	var out []string
	for _, r := range g.Repositories {
		owner, _, _ := strings.Cut(r, "/")
		if !slices.ContainsFunc(g.Organizations, func(o string) bool { return strings.EqualFold(o, owner) }) {
			out = append(out, r)
		}
	}
	return out
}

// OwnProjects are the GitLab projects outside every listed group: they get
// a hook and a label of their own. Projects inside a group are covered by
// its hook and its group label.
func (g GitLab) OwnProjects() []string {
	var out []string
	for _, p := range g.Projects {
		if !slices.ContainsFunc(g.Groups, func(grp string) bool {
			return strings.HasPrefix(strings.ToLower(p), strings.ToLower(grp)+"/")
		}) {
			out = append(out, p)
		}
	}
	return out
}
