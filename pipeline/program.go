package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pulumi/pulumi-github/sdk/v6/go/github"
	"github.com/pulumi/pulumi-gitlab/sdk/v8/go/gitlab"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/expbot/expbot/internal/event"
	"github.com/expbot/expbot/pipeline/store"
)

// ProviderConfig is how the Pulumi provider of one forge reaches it.
type ProviderConfig struct {
	Forge event.Forge
	// BaseURL is the provider's baseUrl: for GitHub the web root of an
	// Enterprise server ("https://ghe.example.com/", REST under api/v3/) or
	// empty for github.com; for GitLab the API root ending in "/api/v4/".
	BaseURL string
	Token   string
	// App, for GitHub, authenticates the provider as a GitHub App (its
	// appAuth settings) instead of with Token.
	App *ProviderApp
	// WriteDelayMs is the GitHub provider's pause between writes; 0 keeps the
	// provider's default (1000 ms), which real GitHub wants.
	WriteDelayMs int
}

// ProviderApp is the GitHub provider's appAuth: the provider trades it
// for a fresh installation token whenever it is configured, so each
// Pulumi run (update, preview, refresh) has a token that lasts it through,
// and the state holds no token that expires. The key is a secret there.
type ProviderApp struct {
	ID  int64
	PEM string
	// Installation returns the installation id of a repository ("owner/name").
	Installation func(ctx context.Context, repo string) (int64, error)
}

// BranchSpec is one experiment branch as the stack should hold it.
type BranchSpec struct {
	Key      string // store key, e.g. "issue:12"
	Branch   string
	BaseSHA  string
	FilePath string
	Content  string
	Message  string // commit message of the variant file
	Author   string // commit author name
	Email    string // commit author email
}

// resourceName is a stable Pulumi name for a key: readable, and unique even
// when two keys sanitise to the same text.
func resourceName(key, kind string) string {
	return sanitize(key) + "-" + shortHash(key) + "-" + kind
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func sanitize(s string) string { return strings.Trim(unsafeName.ReplaceAllString(s, "-"), "-") }

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:4])
}

// StackName names the stack of one repository: readable and collision-free.
func StackName(repo store.RepoKey) string {
	readable := sanitize(string(repo.Forge) + "." + strings.ReplaceAll(repo.Path, "/", "."))
	if len(readable) > 60 {
		readable = readable[:60]
	}
	return readable + "-" + shortHash(string(repo.Forge)+"\x00"+repo.Path)
}

// Program is the inline Pulumi program of one repository: per experiment a
// Branch from its pinned base commit plus a RepositoryFile committing the
// variant file onto it, through the official resources.
func Program(pc ProviderConfig, repo store.RepoKey, branches []BranchSpec) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		switch pc.Forge {
		case event.GitHub:
			return githubProgram(ctx, pc, repo, branches)
		case event.GitLab:
			return gitlabProgram(ctx, pc, repo, branches)
		default:
			return fmt.Errorf("unknown forge %q", pc.Forge)
		}
	}
}

func githubProgram(ctx *pulumi.Context, pc ProviderConfig, repo store.RepoKey, branches []BranchSpec) error {
	owner, name, ok := strings.Cut(repo.Path, "/")
	if !ok || strings.Contains(name, "/") {
		return fmt.Errorf("github repository %q is not owner/name", repo.Path)
	}
	// Always explicit: left empty, the SDK would fill baseUrl from this
	// process's GITHUB_BASE_URL (the program runs inside the bot) and send
	// the token wherever that points.
	baseURL := pc.BaseURL
	if baseURL == "" {
		baseURL = "https://api.github.com/"
	}
	args := &github.ProviderArgs{
		Owner:   pulumi.StringPtr(owner),
		BaseUrl: pulumi.StringPtr(baseURL),
	}
	if pc.App != nil {
		inst, err := pc.App.Installation(ctx.Context(), repo.Path)
		if err != nil {
			return fmt.Errorf("github app installation of %s: %w", repo.Path, err)
		}
		// The whole block is secret: a secret nested in an object input
		// does not keep the object secret.
		args.AppAuth = pulumi.ToSecret(github.ProviderAppAuthArgs{
			Id:             pulumi.String(strconv.FormatInt(pc.App.ID, 10)),
			InstallationId: pulumi.String(strconv.FormatInt(inst, 10)),
			PemFile:        pulumi.String(pc.App.PEM),
		}.ToProviderAppAuthPtrOutput()).(github.ProviderAppAuthPtrOutput)
	} else {
		args.Token = pulumi.ToSecret(pulumi.String(pc.Token)).(pulumi.StringOutput).ToStringPtrOutput()
	}
	if pc.WriteDelayMs > 0 {
		args.WriteDelayMs = pulumi.IntPtr(pc.WriteDelayMs)
	}
	prov, err := github.NewProvider(ctx, "github", args)
	if err != nil {
		return fmt.Errorf("github provider: %w", err)
	}
	for _, b := range branches {
		opts := []pulumi.ResourceOption{pulumi.Provider(prov)}
		br, err := github.NewBranch(ctx, resourceName(b.Key, "branch"), &github.BranchArgs{
			Repository: pulumi.String(name),
			Branch:     pulumi.String(b.Branch),
			SourceSha:  pulumi.StringPtr(b.BaseSHA),
		}, append(opts, pulumi.DeleteBeforeReplace(true))...)
		if err != nil {
			return fmt.Errorf("branch %s: %w", b.Branch, err)
		}
		if _, err := github.NewRepositoryFile(ctx, resourceName(b.Key, "file"), &github.RepositoryFileArgs{
			Repository:        pulumi.String(name),
			Branch:            br.Branch,
			File:              pulumi.String(b.FilePath),
			Content:           pulumi.String(b.Content),
			CommitMessage:     pulumi.StringPtr(b.Message),
			CommitAuthor:      pulumi.StringPtr(b.Author),
			CommitEmail:       pulumi.StringPtr(b.Email),
			OverwriteOnCreate: pulumi.BoolPtr(true),
		}, append(opts, fileOptions()...)...); err != nil {
			return fmt.Errorf("variant file on %s: %w", b.Branch, err)
		}
	}
	return nil
}

func gitlabProgram(ctx *pulumi.Context, pc ProviderConfig, repo store.RepoKey, branches []BranchSpec) error {
	args := &gitlab.ProviderArgs{Token: pulumi.ToSecret(pulumi.String(pc.Token)).(pulumi.StringOutput).ToStringPtrOutput()}
	if pc.BaseURL != "" {
		args.BaseUrl = pulumi.StringPtr(pc.BaseURL)
	}
	prov, err := gitlab.NewProvider(ctx, "gitlab", args)
	if err != nil {
		return fmt.Errorf("gitlab provider: %w", err)
	}
	for _, b := range branches {
		opts := []pulumi.ResourceOption{pulumi.Provider(prov), pulumi.DeleteBeforeReplace(true)}
		br, err := gitlab.NewBranch(ctx, resourceName(b.Key, "branch"), &gitlab.BranchArgs{
			Project: pulumi.String(repo.Path),
			Name:    pulumi.String(b.Branch), // always named: omitted, GitLab's provider invents one
			Ref:     pulumi.String(b.BaseSHA),
		}, opts...)
		if err != nil {
			return fmt.Errorf("branch %s: %w", b.Branch, err)
		}
		if _, err := gitlab.NewRepositoryFile(ctx, resourceName(b.Key, "file"), &gitlab.RepositoryFileArgs{
			Project:           pulumi.String(repo.Path),
			Branch:            br.Name,
			FilePath:          pulumi.String(b.FilePath),
			Content:           pulumi.String(b.Content),
			Encoding:          pulumi.StringPtr("text"),
			CommitMessage:     pulumi.StringPtr(b.Message),
			AuthorName:        pulumi.StringPtr(b.Author),
			AuthorEmail:       pulumi.StringPtr(b.Email),
			OverwriteOnCreate: pulumi.BoolPtr(true),
		}, append(opts, fileOptions()...)...); err != nil {
			return fmt.Errorf("variant file on %s: %w", b.Branch, err)
		}
	}
	return nil
}

// fileOptions make a new base replace the variant file, deleted before its
// branch is: updating it in place would write to a branch that was just
// recreated without it. The commit message names the base and nothing that
// changes otherwise, so only a new base triggers it.
func fileOptions() []pulumi.ResourceOption {
	return []pulumi.ResourceOption{
		pulumi.DeleteBeforeReplace(true),
		pulumi.ReplaceOnChanges([]string{"commitMessage"}),
	}
}

// resourcePrefix starts the names of an experiment's resources, so engine
// diagnostics can be attributed to one experiment.
func resourcePrefix(key string) string { return sanitize(key) + "-" + shortHash(key) + "-" }
