package github

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/expbot/expbot/internal/standin/kit"
)

// Paths are escaped the way go-github escapes them: owner/repo and a
// branch under /branches/ as one segment ("exp%2Fx"), a ref under
// git/ref(s)/ segment by segment (raw "/"), a file path as a URL path.

func repoPath(owner, repo string) string {
	return "repos/" + url.PathEscape(owner) + "/" + url.PathEscape(repo)
}

func refSegments(ref string) string {
	parts := strings.Split(ref, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

func contentsPath(owner, repo, file string) string {
	return repoPath(owner, repo) + "/contents/" + (&url.URL{Path: strings.TrimSuffix(file, "/")}).String()
}

type gitRef struct {
	Ref    string `json:"ref"`
	Object struct {
		SHA  string `json:"sha"`
		Type string `json:"type"`
	} `json:"object"`
}

type repository struct {
	ID            int64  `json:"id"`
	DefaultBranch string `json:"default_branch"`
}

type content struct {
	Type     string `json:"type"`
	Encoding string `json:"encoding"`
	Content  string `json:"content"`
	SHA      string `json:"sha"`
	URL      string `json:"url"`
}

type commit struct {
	SHA    string `json:"sha"`
	Commit struct {
		Message   string `json:"message"`
		Committer struct {
			Name  string `json:"name"`
			Email string `json:"email"`
		} `json:"committer"`
	} `json:"commit"`
}

type person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// fileWrite is go-github's RepositoryContentFileOptions on the wire.
type fileWrite struct {
	Message   string  `json:"message"`
	Content   string  `json:"content,omitempty"`
	SHA       string  `json:"sha,omitempty"`
	Branch    string  `json:"branch,omitempty"`
	Author    *person `json:"author,omitempty"`
	Committer *person `json:"committer,omitempty"`
}

// getJSON GETs path and decodes a 200 into out; found is false on 404.
func (c *conn) getJSON(ctx context.Context, path string, query url.Values, out any) (found bool, err error) {
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodGet, Path: path, Query: query})
	if err != nil {
		return false, err
	}
	if resp.Status == http.StatusNotFound {
		return false, nil
	}
	if err := resp.Expect(http.StatusOK); err != nil {
		return false, err
	}
	return true, resp.JSON(out)
}

// getBranchRef reads refs/heads/{branch}; etag, when set, is sent as
// If-None-Match. It returns the response so callers see 304/404 and ETag.
func (c *conn) getBranchRef(ctx context.Context, repo, branch, etag string) (*kit.Response, *gitRef, error) {
	req := kit.Request{Method: http.MethodGet, Path: repoPath(c.owner, repo) + "/git/ref/heads/" + refSegments(branch)}
	if etag != "" {
		req.Header = http.Header{"If-None-Match": []string{etag}}
	}
	resp, err := c.api.Do(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if resp.Status != http.StatusOK {
		return resp, nil, nil
	}
	var ref gitRef
	if err := resp.JSON(&ref); err != nil {
		return nil, nil, err
	}
	return resp, &ref, nil
}

// sourceSHA resolves the tip of a source branch.
func (c *conn) sourceSHA(ctx context.Context, repo, source string) (string, error) {
	resp, ref, err := c.getBranchRef(ctx, repo, source, "")
	if err != nil {
		return "", fmt.Errorf("query source branch %q of %s/%s: %w", source, c.owner, repo, err)
	}
	if ref == nil {
		return "", fmt.Errorf("query source branch %q of %s/%s: %w", source, c.owner, repo, resp.Expect(http.StatusOK))
	}
	return ref.Object.SHA, nil
}

// createBranchRef creates refs/heads/{branch} at sha. Like the official
// provider, 422 "Reference already exists" counts as success.
func (c *conn) createBranchRef(ctx context.Context, repo, branch, sha string) error {
	resp, err := c.api.Do(ctx, kit.Request{
		Method: http.MethodPost,
		Path:   repoPath(c.owner, repo) + "/git/refs",
		Body:   map[string]string{"ref": "refs/heads/" + branch, "sha": sha},
	})
	if err != nil {
		return fmt.Errorf("create branch %q in %s/%s: %w", branch, c.owner, repo, err)
	}
	if resp.Status == http.StatusUnprocessableEntity && alreadyExists(resp.Body) {
		return nil
	}
	if err := resp.Expect(http.StatusCreated, http.StatusOK); err != nil {
		return fmt.Errorf("create branch %q in %s/%s: %w", branch, c.owner, repo, err)
	}
	return nil
}

func alreadyExists(body []byte) bool {
	var e struct {
		Message string            `json:"message"`
		Errors  []json.RawMessage `json:"errors"`
	}
	return json.Unmarshal(body, &e) == nil && e.Message == "Reference already exists" && len(e.Errors) == 0
}

func (c *conn) deleteBranchRef(ctx context.Context, repo, branch string) error {
	resp, err := c.api.Do(ctx, kit.Request{
		Method: http.MethodDelete,
		Path:   repoPath(c.owner, repo) + "/git/refs/heads/" + refSegments(branch),
	})
	if err != nil {
		return fmt.Errorf("delete branch %q in %s/%s: %w", branch, c.owner, repo, err)
	}
	if err := resp.Expect(http.StatusNoContent, http.StatusOK); err != nil {
		return fmt.Errorf("delete branch %q in %s/%s: %w", branch, c.owner, repo, err)
	}
	return nil
}

func (c *conn) getRepository(ctx context.Context, repo string) (*repository, error) {
	var r repository
	found, err := c.getJSON(ctx, repoPath(c.owner, repo), nil, &r)
	if err != nil {
		return nil, fmt.Errorf("get repository %s/%s: %w", c.owner, repo, err)
	}
	if !found {
		return nil, fmt.Errorf("repository %s/%s not found or not readable", c.owner, repo)
	}
	return &r, nil
}

// branchExists is checkRepositoryBranchExists: GET branches/{branch}.
func (c *conn) branchExists(ctx context.Context, repo, branch string) (bool, error) {
	var b struct {
		Name string `json:"name"`
	}
	found, err := c.getJSON(ctx, repoPath(c.owner, repo)+"/branches/"+url.PathEscape(branch), nil, &b)
	if err != nil {
		return false, fmt.Errorf("check branch %q of %s/%s: %w", branch, c.owner, repo, err)
	}
	return found, nil
}

// getContents reads a file at ref; nil without error when it does not exist.
func (c *conn) getContents(ctx context.Context, repo, file, ref string) (*content, error) {
	var q url.Values
	if ref != "" {
		q = url.Values{"ref": []string{ref}}
	}
	var fc content
	found, err := c.getJSON(ctx, contentsPath(c.owner, repo, file), q, &fc)
	if err != nil {
		return nil, fmt.Errorf("get %s in %s/%s: %w", file, c.owner, repo, err)
	}
	if !found {
		return nil, nil
	}
	return &fc, nil
}

func (fc *content) decoded() (string, error) {
	if fc.Encoding != "base64" {
		return "", fmt.Errorf("unsupported content encoding %q", fc.Encoding)
	}
	b, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\n", "", "\r", "").Replace(fc.Content))
	if err != nil {
		return "", fmt.Errorf("decode content: %w", err)
	}
	return string(b), nil
}

// refOf extracts the ref the way the official provider does: from the
// `ref` query parameter of the content's url (it crashes without one).
func (fc *content) refOf() (string, error) {
	u, err := url.Parse(fc.URL)
	if err != nil {
		return "", fmt.Errorf("parse content url %q: %w", fc.URL, err)
	}
	refs := u.Query()["ref"]
	if len(refs) == 0 {
		return "", fmt.Errorf("content url %q has no ref parameter", fc.URL)
	}
	return refs[0], nil
}

// putContents creates or updates a file and returns the commit SHA.
func (c *conn) putContents(ctx context.Context, repo, file string, w fileWrite) (string, error) {
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodPut, Path: contentsPath(c.owner, repo, file), Body: w})
	if err != nil {
		return "", fmt.Errorf("write %s in %s/%s: %w", file, c.owner, repo, err)
	}
	if err := resp.Expect(http.StatusOK, http.StatusCreated); err != nil {
		return "", fmt.Errorf("write %s in %s/%s: %w", file, c.owner, repo, err)
	}
	var out struct {
		Commit struct {
			SHA string `json:"sha"`
		} `json:"commit"`
	}
	if err := resp.JSON(&out); err != nil {
		return "", err
	}
	return out.Commit.SHA, nil
}

func (c *conn) deleteContents(ctx context.Context, repo, file string, w fileWrite) error {
	resp, err := c.api.Do(ctx, kit.Request{Method: http.MethodDelete, Path: contentsPath(c.owner, repo, file), Body: w})
	if err != nil {
		return fmt.Errorf("delete %s in %s/%s: %w", file, c.owner, repo, err)
	}
	// 404: already gone, which is what we wanted.
	if err := resp.Expect(http.StatusOK, http.StatusNotFound); err != nil {
		return fmt.Errorf("delete %s in %s/%s: %w", file, c.owner, repo, err)
	}
	return nil
}

// getCommit reads a commit by SHA.
func (c *conn) getCommit(ctx context.Context, repo, sha string) (*commit, error) {
	var cm commit
	found, err := c.getJSON(ctx, repoPath(c.owner, repo)+"/commits/"+url.PathEscape(sha), nil, &cm)
	if err != nil {
		return nil, fmt.Errorf("get commit %s of %s/%s: %w", sha, c.owner, repo, err)
	}
	if !found {
		return nil, fmt.Errorf("commit %s of %s/%s not found", sha, c.owner, repo)
	}
	return &cm, nil
}

// lastFileCommit finds the newest commit touching file on ref (import only,
// when no commit SHA is known yet).
func (c *conn) lastFileCommit(ctx context.Context, repo, file, ref string) (*commit, error) {
	var list []commit
	q := url.Values{"sha": []string{ref}, "path": []string{file}, "per_page": []string{"1"}}
	found, err := c.getJSON(ctx, repoPath(c.owner, repo)+"/commits", q, &list)
	if err != nil {
		return nil, fmt.Errorf("list commits of %s in %s/%s: %w", file, c.owner, repo, err)
	}
	if !found || len(list) == 0 {
		return nil, fmt.Errorf("no commit found for %s in %s/%s", file, c.owner, repo)
	}
	return &list[0], nil
}
