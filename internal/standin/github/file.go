package github

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
)

// RepositoryFile is github:index/repositoryFile:RepositoryFile. repository,
// file and branch force replacement; content and the commit properties are
// updated in place (a new commit).
type RepositoryFile struct {
	p *Provider
}

var fileSchema = kit.Schema{
	Token: "github:index/repositoryFile:RepositoryFile",
	Inputs: []string{"autocreateBranch", "autocreateBranchSourceBranch", "autocreateBranchSourceSha",
		"branch", "commitAuthor", "commitEmail", "commitMessage", "content", "file",
		"overwriteOnCreate", "repository"},
	Replace:          []string{"branch", "file", "repository"},
	OptionalComputed: []string{"autocreateBranchSourceSha", "branch", "commitMessage"},
	Outputs:          []string{"commitSha", "ref", "repositoryId", "sha"},
}

var autocreateKeys = []string{"autocreateBranch", "autocreateBranchSourceBranch", "autocreateBranchSourceSha"}

// Schema implements kit.Resource.
func (r *RepositoryFile) Schema() kit.Schema { return fileSchema }

// Check requires repository, file and content and applies the official
// defaults (overwriteOnCreate false, autocreateBranch false,
// autocreateBranchSourceBranch "main").
func (r *RepositoryFile) Check(_ context.Context, in kit.CheckInput) (resource.PropertyMap, kit.Failures, error) {
	news := kit.Copy(in.News)
	var f kit.Failures
	f.Required(news, "repository", "file", "content")
	f.String(news, "repository", "file", "content", "branch", "commitAuthor", "commitEmail",
		"commitMessage", "autocreateBranchSourceBranch", "autocreateBranchSourceSha")
	f.Bool(news, "overwriteOnCreate", "autocreateBranch")
	switch hasAuthor, hasEmail := kit.Has(news, "commitAuthor"), kit.Has(news, "commitEmail"); {
	case hasAuthor && !hasEmail:
		f.Add("commitEmail", "cannot set commitAuthor without setting commitEmail")
	case hasEmail && !hasAuthor:
		f.Add("commitAuthor", "cannot set commitEmail without setting commitAuthor")
	}
	kit.Default(news, "overwriteOnCreate", resource.NewBoolProperty(false))
	kit.Default(news, "autocreateBranch", resource.NewBoolProperty(false))
	kit.Default(news, "autocreateBranchSourceBranch", resource.NewStringProperty("main"))
	return news, f, nil
}

// Diff suppresses the autocreate* properties unless autocreateBranch is set,
// as the official DiffSuppressFunc does.
func (r *RepositoryFile) Diff(_ context.Context, in kit.DiffInput) (*pulumirpc.DiffResponse, error) {
	ignore := slices.Clone(in.IgnoreChanges)
	if !kit.BoolOr(in.News, "autocreateBranch", false) {
		ignore = append(ignore, autocreateKeys...)
	}
	return fileSchema.Diff(in.Olds, in.News, ignore...), nil
}

// Create: GET repo, GET branches/{b} (autocreating it if asked), GET
// contents?ref= (refusing to overwrite unless overwriteOnCreate), PUT
// contents, then read back (GET contents, GET commits/{sha}).
func (r *RepositoryFile) Create(ctx context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	c, err := r.p.connection()
	if err != nil {
		return "", nil, err
	}
	repo, file := kit.Str(news, "repository"), kit.Str(news, "file")
	meta, err := c.getRepository(ctx, repo)
	if err != nil {
		return "", nil, err
	}
	outs := kit.Copy(news)
	kit.SetNum(outs, "repositoryId", float64(meta.ID))
	branch := kit.Str(news, "branch")
	if branch == "" {
		branch = meta.DefaultBranch
	}
	kit.SetStr(outs, "branch", branch)
	if err := ensureBranch(ctx, c, repo, branch, outs); err != nil {
		return "", nil, err
	}
	w, err := writeOptions(news, file)
	if err != nil {
		return "", nil, err
	}
	w.Branch = branch
	if w.Message == "" {
		w.Message = "Add " + file
	}
	existing, err := c.getContents(ctx, repo, file, branch)
	if err != nil {
		return "", nil, err
	}
	if existing != nil {
		if !kit.BoolOr(news, "overwriteOnCreate", false) {
			return "", nil, fmt.Errorf("refusing to overwrite existing file %s in %s/%s: configure `overwriteOnCreate` to `true` to override", file, c.owner, repo)
		}
		w.SHA = existing.SHA
	}
	commitSHA, err := c.putContents(ctx, repo, file, w)
	if err != nil {
		return "", nil, err
	}
	kit.SetStr(outs, "commitSha", commitSHA)
	found, err := readFile(ctx, c, repo, file, branch, outs)
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("file %s in %s/%s vanished right after it was written", file, c.owner, repo)
	}
	return repo + "/" + file, outs, nil
}

// Read: GET branches/{b} (gone when the branch is), GET contents?ref=
// (gone on 404), GET commits/{commitSha}.
func (r *RepositoryFile) Read(ctx context.Context, in kit.ReadInput) (kit.ReadResult, error) {
	c, err := r.p.connection()
	if err != nil {
		return kit.ReadResult{}, err
	}
	repo, file, err := splitRepoFilePath(in.ID)
	if err != nil {
		return kit.ReadResult{}, err
	}
	outs := kit.Copy(in.State)
	branch := kit.Str(outs, "branch")
	if branch == "" {
		branch = kit.Str(in.Inputs, "branch")
	}
	if branch != "" {
		exists, err := c.branchExists(ctx, repo, branch)
		if err != nil {
			return kit.ReadResult{}, err
		}
		if !exists {
			if !kit.BoolOr(outs, "autocreateBranch", false) {
				return kit.ReadResult{}, nil
			}
			branch = kit.Str(outs, "autocreateBranchSourceBranch")
		}
	}
	if !kit.Has(outs, "repositoryId") {
		meta, err := c.getRepository(ctx, repo)
		if err != nil {
			return kit.ReadResult{}, err
		}
		kit.SetNum(outs, "repositoryId", float64(meta.ID))
	}
	found, err := readFile(ctx, c, repo, file, branch, outs)
	if err != nil || !found {
		return kit.ReadResult{}, err
	}
	kit.SetStr(outs, "repository", repo)
	kit.SetStr(outs, "file", file)
	kit.Default(outs, "branch", outs["ref"])
	kit.Default(outs, "overwriteOnCreate", resource.NewBoolProperty(false))
	inputs := kit.Copy(in.Inputs)
	if len(inputs) == 0 {
		inputs = kit.Pick(outs, "repository", "file", "branch", "content", "overwriteOnCreate")
	}
	return kit.ReadResult{ID: repo + "/" + file, Outputs: outs, Inputs: inputs}, nil
}

// Update: GET branches/{b}, PUT contents with the current blob sha, read back.
func (r *RepositoryFile) Update(ctx context.Context, in kit.UpdateInput) (resource.PropertyMap, error) {
	c, err := r.p.connection()
	if err != nil {
		return nil, err
	}
	repo, file := kit.Str(in.News, "repository"), kit.Str(in.News, "file")
	outs := kit.Copy(in.Olds)
	for k, v := range in.News {
		outs[k] = v
	}
	branch := kit.Str(outs, "branch")
	if err := ensureBranch(ctx, c, repo, branch, outs); err != nil {
		return nil, err
	}
	w, err := writeOptions(in.News, file)
	if err != nil {
		return nil, err
	}
	w.Branch = branch
	w.SHA = kit.Str(in.Olds, "sha")
	if w.Message == "" {
		w.Message = kit.Str(in.Olds, "commitMessage")
	}
	if w.Message == "" || w.Message == "Add "+file {
		w.Message = "Update " + file
	}
	commitSHA, err := c.putContents(ctx, repo, file, w)
	if err != nil {
		return nil, err
	}
	kit.SetStr(outs, "commitSha", commitSHA)
	found, err := readFile(ctx, c, repo, file, branch, outs)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("file %s in %s/%s vanished right after it was written", file, c.owner, repo)
	}
	return outs, nil
}

// Delete: GET branches/{b}, DELETE contents with {message, sha, branch}.
// Unlike the official provider, which ignores delete errors, failures other
// than 404 are reported, so tests notice a forge that rejects the call.
func (r *RepositoryFile) Delete(ctx context.Context, in kit.DeleteInput) error {
	c, err := r.p.connection()
	if err != nil {
		return err
	}
	repo, file, err := splitRepoFilePath(in.ID)
	if err != nil {
		return err
	}
	w := fileWrite{Message: kit.Str(in.State, "commitMessage"), SHA: kit.Str(in.State, "sha")}
	if w.Message == "" {
		w.Message = "Delete " + file
	}
	if branch := kit.Str(in.State, "branch"); branch != "" {
		if err := ensureBranch(ctx, c, repo, branch, in.State); err != nil {
			return err
		}
		w.Branch = branch
	}
	return c.deleteContents(ctx, repo, file, w)
}

// ensureBranch is checkRepositoryBranchExists plus the deprecated
// autocreateBranch behaviour.
func ensureBranch(ctx context.Context, c *conn, repo, branch string, props resource.PropertyMap) error {
	exists, err := c.branchExists(ctx, repo, branch)
	if err != nil || exists {
		return err
	}
	if !kit.BoolOr(props, "autocreateBranch", false) {
		return fmt.Errorf("branch %s not found in repository %s/%s or repository is not readable", branch, c.owner, repo)
	}
	sha := kit.Str(props, "autocreateBranchSourceSha")
	if sha == "" {
		source := kit.Str(props, "autocreateBranchSourceBranch")
		if source == "" {
			source = "main"
		}
		if sha, err = c.sourceSHA(ctx, repo, source); err != nil {
			return err
		}
		kit.SetStr(props, "autocreateBranchSourceSha", sha)
	}
	return c.createBranchRef(ctx, repo, branch, sha)
}

// writeOptions builds the PUT body shared by create and update.
func writeOptions(props resource.PropertyMap, file string) (fileWrite, error) {
	w := fileWrite{
		Message: kit.Str(props, "commitMessage"),
		Content: base64.StdEncoding.EncodeToString([]byte(kit.Str(props, "content"))),
	}
	author, email := kit.Str(props, "commitAuthor"), kit.Str(props, "commitEmail")
	switch {
	case author != "" && email == "":
		return w, fmt.Errorf("%s: cannot set commitAuthor without setting commitEmail", file)
	case email != "" && author == "":
		return w, fmt.Errorf("%s: cannot set commitEmail without setting commitAuthor", file)
	case author != "":
		w.Author = &person{Name: author, Email: email}
		w.Committer = &person{Name: author, Email: email}
	}
	return w, nil
}

// readFile reads the file at branch and its commit into outs.
func readFile(ctx context.Context, c *conn, repo, file, branch string, outs resource.PropertyMap) (bool, error) {
	fc, err := c.getContents(ctx, repo, file, branch)
	if err != nil || fc == nil {
		return false, err
	}
	text, err := fc.decoded()
	if err != nil {
		return false, fmt.Errorf("read %s in %s/%s: %w", file, c.owner, repo, err)
	}
	ref, err := fc.refOf()
	if err != nil {
		return false, fmt.Errorf("read %s in %s/%s: %w", file, c.owner, repo, err)
	}
	var cm *commit
	if sha := kit.Str(outs, "commitSha"); sha != "" {
		cm, err = c.getCommit(ctx, repo, sha)
	} else {
		cm, err = c.lastFileCommit(ctx, repo, file, ref)
	}
	if err != nil {
		return false, err
	}
	kit.SetStr(outs, "content", text)
	kit.SetStr(outs, "sha", fc.SHA)
	kit.SetStr(outs, "ref", ref)
	kit.SetStr(outs, "commitSha", cm.SHA)
	kit.SetStr(outs, "commitMessage", cm.Commit.Message)
	return true, nil
}

// splitRepoFilePath splits the official ID "repository/path/to/file".
func splitRepoFilePath(id string) (repo, file string, err error) {
	repo, file, ok := strings.Cut(id, "/")
	if !ok || repo == "" || file == "" {
		return "", "", fmt.Errorf("unexpected repository file ID %q, expected repository/file", id)
	}
	return repo, file, nil
}
