// Package forgesetup sets the forges up for expbot as code: from a forges
// file (package forges) it registers the webhook (events, URL, secret) and
// the trigger label through the Pulumi Automation API and the official
// github and gitlab providers. Running it again changes nothing; a preview
// shows what would change; destroy removes what it made.
package forgesetup

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi-gitlab/sdk/v8/go/gitlab"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/forgesetup/forges"
)

// GitHubEvents are the webhook events the bot handles on GitHub (README,
// "Running against real GitHub or GitLab"), sorted as GitHub lists them.
var GitHubEvents = []string{"issue_comment", "issues", "pull_request", "push"}

// GitLabEvents are the hook switches the bot wants on GitLab; every other
// switch, push events included, is off.
var GitLabEvents = []string{"confidential_issues_events", "issues_events", "merge_requests_events", "note_events", "tag_push_events"}

// Secrets are what the program passes to Pulumi as secrets.
type Secrets struct {
	GitHubToken, GitLabToken                string
	GitHubWebhookSecret, GitLabWebhookToken string
	WriteDelayMs                            int // GitHub provider; 0 = its default
}

// Program is the inline Pulumi program for f.
func Program(f forges.File, s Secrets) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		if f.GitHub != nil {
			if err := githubProgram(ctx, f.Label, *f.GitHub, s); err != nil {
				return err
			}
		}
		if f.GitLab != nil {
			if err := gitlabProgram(ctx, f.Label, *f.GitLab, s); err != nil {
				return err
			}
		}
		return nil
	}
}

func secret(v string) pulumi.StringPtrInput {
	return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput).ToStringPtrOutput()
}

func githubProgram(ctx *pulumi.Context, label forges.Label, g forges.GitHub, s Secrets) error {
	providers := map[string]*github.Provider{}
	provider := func(owner string) (pulumi.ResourceOption, error) {
		key := strings.ToLower(owner)
		if p, ok := providers[key]; ok {
			return pulumi.Provider(p), nil
		}
		// baseUrl always explicit: left empty, the SDK would take it from
		// this process's GITHUB_BASE_URL.
		args := &github.ProviderArgs{Token: secret(s.GitHubToken), Owner: pulumi.StringPtr(owner), BaseUrl: pulumi.StringPtr(g.APIURL)}
		if s.WriteDelayMs > 0 {
			args.WriteDelayMs = pulumi.IntPtr(s.WriteDelayMs)
		}
		p, err := github.NewProvider(ctx, name("github", owner), args)
		if err != nil {
			return nil, fmt.Errorf("github provider for %s: %w", owner, err)
		}
		providers[key] = p
		return pulumi.Provider(p), nil
	}
	events := pulumi.ToStringArray(GitHubEvents)
	for _, org := range g.Organizations {
		opt, err := provider(org)
		if err != nil {
			return err
		}
		if _, err := github.NewOrganizationWebhook(ctx, name("github-org-hook", org), &github.OrganizationWebhookArgs{
			Active: pulumi.BoolPtr(true),
			Events: events,
			Configuration: &github.OrganizationWebhookConfigurationArgs{
				Url: pulumi.String(g.WebhookURL), ContentType: pulumi.StringPtr("json"),
				InsecureSsl: pulumi.BoolPtr(false), Secret: secret(s.GitHubWebhookSecret),
			},
		}, opt); err != nil {
			return fmt.Errorf("webhook of organization %s: %w", org, err)
		}
	}
	hooked := map[string]bool{}
	for _, r := range g.RepoHooks() {
		hooked[r] = true
	}
	for _, r := range g.Repositories {
		owner, repo, _ := strings.Cut(r, "/")
		opt, err := provider(owner)
		if err != nil {
			return err
		}
		if hooked[r] {
			if _, err := github.NewRepositoryWebhook(ctx, name("github-repo-hook", r), &github.RepositoryWebhookArgs{
				Repository: pulumi.String(repo),
				Active:     pulumi.BoolPtr(true),
				Events:     events,
				Configuration: &github.RepositoryWebhookConfigurationArgs{
					Url: pulumi.String(g.WebhookURL), ContentType: pulumi.StringPtr("json"),
					InsecureSsl: pulumi.BoolPtr(false), Secret: secret(s.GitHubWebhookSecret),
				},
			}, opt); err != nil {
				return fmt.Errorf("webhook of repository %s: %w", r, err)
			}
		}
		if _, err := github.NewIssueLabel(ctx, name("github-label", r), &github.IssueLabelArgs{
			Repository:  pulumi.String(repo),
			Name:        pulumi.StringPtr(label.Name),
			Color:       pulumi.String(label.Color),
			Description: pulumi.StringPtr(label.Description),
		}, opt); err != nil {
			return fmt.Errorf("label of repository %s: %w", r, err)
		}
	}
	return nil
}

func gitlabProgram(ctx *pulumi.Context, label forges.Label, g forges.GitLab, s Secrets) error {
	p, err := gitlab.NewProvider(ctx, "gitlab", &gitlab.ProviderArgs{Token: secret(s.GitLabToken), BaseUrl: pulumi.StringPtr(g.APIURL)})
	if err != nil {
		return fmt.Errorf("gitlab provider: %w", err)
	}
	opt := pulumi.Provider(p)
	on := pulumi.BoolPtr(true)
	off := pulumi.BoolPtr(false)
	color := "#" + label.Color
	for _, grp := range g.Groups {
		if _, err := gitlab.NewGroupHook(ctx, name("gitlab-group-hook", grp), &gitlab.GroupHookArgs{
			Group: pulumi.String(grp), Url: pulumi.String(g.WebhookURL), Token: secret(s.GitLabWebhookToken),
			PushEvents: off, IssuesEvents: on, ConfidentialIssuesEvents: on, NoteEvents: on,
			MergeRequestsEvents: on, TagPushEvents: on, EnableSslVerification: on,
		}, opt); err != nil {
			return fmt.Errorf("hook of group %s: %w", grp, err)
		}
		if _, err := gitlab.NewGroupLabel(ctx, name("gitlab-group-label", grp), &gitlab.GroupLabelArgs{
			Group: pulumi.String(grp), Name: pulumi.StringPtr(label.Name), Color: pulumi.String(color),
			Description: pulumi.StringPtr(label.Description),
		}, opt); err != nil {
			return fmt.Errorf("label of group %s: %w", grp, err)
		}
	}
	for _, proj := range g.OwnProjects() {
		if _, err := gitlab.NewProjectHook(ctx, name("gitlab-project-hook", proj), &gitlab.ProjectHookArgs{
			Project: pulumi.String(proj), Url: pulumi.String(g.WebhookURL), Token: secret(s.GitLabWebhookToken),
			PushEvents: off, IssuesEvents: on, ConfidentialIssuesEvents: on, NoteEvents: on,
			MergeRequestsEvents: on, TagPushEvents: on, EnableSslVerification: on,
		}, opt); err != nil {
			return fmt.Errorf("hook of project %s: %w", proj, err)
		}
		if _, err := gitlab.NewLabel(ctx, name("gitlab-label", proj), &gitlab.LabelArgs{
			Project: pulumi.String(proj), Name: pulumi.StringPtr(label.Name), Color: pulumi.String(color),
			Description: pulumi.StringPtr(label.Description),
		}, opt); err != nil {
			return fmt.Errorf("label of project %s: %w", proj, err)
		}
	}
	return nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// name is a stable, readable resource name for a path, unique even when
// two paths sanitise alike; case-insensitive as the forges' paths are.
func name(kind, path string) string {
	p := strings.ToLower(path)
	sum := sha256.Sum256([]byte(p))
	return kind + "-" + strings.Trim(unsafeName.ReplaceAllString(p, "-"), "-") + "-" + hex.EncodeToString(sum[:4])
}
