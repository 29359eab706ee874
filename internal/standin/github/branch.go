package github

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
)

// Branch is github:index/branch:Branch. Every input forces replacement (the
// Terraform resource has no Update); etag is an input only for bridging
// reasons and never diffed.
type Branch struct {
	p *Provider
}

var branchSchema = kit.Schema{
	Token:            "github:index/branch:Branch",
	Inputs:           []string{"branch", "etag", "repository", "sourceBranch", "sourceSha"},
	Replace:          []string{"branch", "repository", "sourceBranch", "sourceSha"},
	OptionalComputed: []string{"etag", "sourceSha"},
	Outputs:          []string{"ref", "sha"},
}

// Schema implements kit.Resource.
func (b *Branch) Schema() kit.Schema { return branchSchema }

// Check requires repository and branch and defaults sourceBranch to "main".
func (b *Branch) Check(_ context.Context, in kit.CheckInput) (resource.PropertyMap, kit.Failures, error) {
	news := kit.Copy(in.News)
	var f kit.Failures
	f.Required(news, "repository", "branch")
	f.String(news, "repository", "branch", "sourceBranch", "sourceSha", "etag")
	kit.Default(news, "sourceBranch", resource.NewStringProperty("main"))
	return news, f, nil
}

// Diff implements kit.Resource.
func (b *Branch) Diff(_ context.Context, in kit.DiffInput) (*pulumirpc.DiffResponse, error) {
	return branchSchema.Diff(in.Olds, in.News, append(slices.Clone(in.IgnoreChanges), "etag")...), nil
}

// Create resolves the source SHA (unless given), creates the ref and reads it back.
func (b *Branch) Create(ctx context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	c, err := b.p.connection()
	if err != nil {
		return "", nil, err
	}
	repo, branch := kit.Str(news, "repository"), kit.Str(news, "branch")
	sha := kit.Str(news, "sourceSha")
	if sha == "" {
		source := kit.Str(news, "sourceBranch")
		if source == "" {
			source = "main"
		}
		if sha, err = c.sourceSHA(ctx, repo, source); err != nil {
			return "", nil, err
		}
	}
	if err := c.createBranchRef(ctx, repo, branch, sha); err != nil {
		return "", nil, err
	}
	outs := kit.Copy(news)
	kit.SetStr(outs, "sourceSha", sha)
	found, err := readBranch(ctx, c, repo, branch, "", outs)
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("branch %q of %s/%s vanished right after creation", branch, c.owner, repo)
	}
	return repo + ":" + branch, outs, nil
}

// Read refreshes (If-None-Match with the stored etag) or imports the
// branch. Import IDs may be "repository:branch:sourceBranch".
func (b *Branch) Read(ctx context.Context, in kit.ReadInput) (kit.ReadResult, error) {
	c, err := b.p.connection()
	if err != nil {
		return kit.ReadResult{}, err
	}
	repo, branch, source, err := parseBranchID(in.ID)
	if err != nil {
		return kit.ReadResult{}, err
	}
	outs := kit.Copy(in.State)
	found, err := readBranch(ctx, c, repo, branch, kit.Str(in.State, "etag"), outs)
	if err != nil || !found {
		return kit.ReadResult{}, err
	}
	kit.Default(outs, "sourceBranch", resource.NewStringProperty(source))
	inputs := kit.Copy(in.Inputs)
	if len(inputs) == 0 {
		inputs = kit.Pick(outs, "repository", "branch", "sourceBranch")
	}
	return kit.ReadResult{ID: repo + ":" + branch, Outputs: outs, Inputs: inputs}, nil
}

// Update never runs: every diffed input replaces the branch.
func (b *Branch) Update(_ context.Context, in kit.UpdateInput) (resource.PropertyMap, error) {
	outs := kit.Copy(in.Olds)
	for k, v := range in.News {
		outs[k] = v
	}
	return outs, nil
}

// Delete deletes refs/heads/{branch}.
func (b *Branch) Delete(ctx context.Context, in kit.DeleteInput) error {
	c, err := b.p.connection()
	if err != nil {
		return err
	}
	repo, branch, _, err := parseBranchID(in.ID)
	if err != nil {
		return err
	}
	return c.deleteBranchRef(ctx, repo, branch)
}

// readBranch GETs the ref and fills outs; found is false when it is gone.
// A 304 (etag still valid) leaves outs untouched.
func readBranch(ctx context.Context, c *conn, repo, branch, etag string, outs resource.PropertyMap) (bool, error) {
	resp, ref, err := c.getBranchRef(ctx, repo, branch, etag)
	if err != nil {
		return false, fmt.Errorf("read branch %q of %s/%s: %w", branch, c.owner, repo, err)
	}
	switch resp.Status {
	case http.StatusNotModified:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	if ref == nil {
		return false, fmt.Errorf("read branch %q of %s/%s: %w", branch, c.owner, repo, resp.Expect(http.StatusOK))
	}
	kit.SetStr(outs, "etag", resp.Header.Get("ETag"))
	kit.SetStr(outs, "repository", repo)
	kit.SetStr(outs, "branch", branch)
	kit.SetStr(outs, "ref", ref.Ref)
	kit.SetStr(outs, "sha", ref.Object.SHA)
	return true, nil
}

// parseBranchID splits "repository:branch" (official ID) or, on import,
// "repository:branch:sourceBranch"; sourceBranch defaults to "main".
func parseBranchID(id string) (repo, branch, source string, err error) {
	parts := strings.SplitN(id, ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return "", "", "", fmt.Errorf("unexpected branch ID %q, expected repository:branch", id)
	}
	source = "main"
	if len(parts) == 3 && parts[2] != "" {
		source = parts[2]
	}
	return parts[0], parts[1], source, nil
}
