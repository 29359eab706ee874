package gitlab

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/standin/kit"
)

// pathEscape is the GitLab Go client's PathEscape: dots are escaped too
// ("grp/proj" -> "grp%2Fproj", "dir/a.yaml" -> "dir%2Fa%2Eyaml").
func pathEscape(s string) string {
	return strings.ReplaceAll(url.PathEscape(s), ".", "%2E")
}

func branchesPath(project string) string {
	return "projects/" + pathEscape(project) + "/repository/branches"
}

// branchPath escapes the branch name without the dot rule, as the client does.
func branchPath(project, name string) string {
	return branchesPath(project) + "/" + url.PathEscape(name)
}

func filePath(project, file string) string {
	return "projects/" + pathEscape(project) + "/repository/files/" + pathEscape(file)
}

type apiCommit struct {
	ID             string     `json:"id"`
	ShortID        string     `json:"short_id"`
	Title          string     `json:"title"`
	Message        string     `json:"message"`
	AuthorName     string     `json:"author_name"`
	AuthorEmail    string     `json:"author_email"`
	AuthoredDate   *time.Time `json:"authored_date"`
	CommitterName  string     `json:"committer_name"`
	CommitterEmail string     `json:"committer_email"`
	CommittedDate  *time.Time `json:"committed_date"`
	ParentIDs      []string   `json:"parent_ids"`
}

type apiBranch struct {
	Name               string     `json:"name"`
	Merged             bool       `json:"merged"`
	Protected          bool       `json:"protected"`
	Default            bool       `json:"default"`
	CanPush            bool       `json:"can_push"`
	DevelopersCanPush  bool       `json:"developers_can_push"`
	DevelopersCanMerge bool       `json:"developers_can_merge"`
	WebURL             string     `json:"web_url"`
	Commit             *apiCommit `json:"commit"`
}

type apiFile struct {
	FileName        string `json:"file_name"`
	FilePath        string `json:"file_path"`
	Size            int    `json:"size"`
	Encoding        string `json:"encoding"`
	Content         string `json:"content"`
	ContentSHA256   string `json:"content_sha256"`
	Ref             string `json:"ref"`
	BlobID          string `json:"blob_id"`
	CommitID        string `json:"commit_id"`
	LastCommitID    string `json:"last_commit_id"`
	ExecuteFilemode bool   `json:"execute_filemode"`
}

// fileWrite is the client's Create/Update/DeleteFileOptions on the wire:
// author fields are pointers to possibly empty strings, so they are sent
// even when empty.
type fileWrite struct {
	Branch          string  `json:"branch"`
	StartBranch     *string `json:"start_branch,omitempty"`
	Encoding        *string `json:"encoding,omitempty"`
	AuthorEmail     string  `json:"author_email"`
	AuthorName      string  `json:"author_name"`
	Content         *string `json:"content,omitempty"`
	CommitMessage   string  `json:"commit_message"`
	LastCommitID    *string `json:"last_commit_id,omitempty"`
	ExecuteFilemode *bool   `json:"execute_filemode,omitempty"`
}

func createBranch(ctx context.Context, api *kit.Client, project, name, ref string) (*apiBranch, error) {
	resp, err := api.Do(ctx, kit.Request{
		Method: http.MethodPost,
		Path:   branchesPath(project),
		Body:   map[string]string{"branch": name, "ref": ref},
	})
	if err != nil {
		return nil, fmt.Errorf("create branch %q in %s: %w", name, project, err)
	}
	if err := resp.Expect(http.StatusCreated, http.StatusOK); err != nil {
		return nil, fmt.Errorf("create branch %q in %s: %w", name, project, err)
	}
	var b apiBranch
	if err := resp.JSON(&b); err != nil {
		return nil, err
	}
	return &b, nil
}

// getBranch returns nil without error when the branch does not exist.
func getBranch(ctx context.Context, api *kit.Client, project, name string) (*apiBranch, error) {
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodGet, Path: branchPath(project, name)})
	if err != nil {
		return nil, fmt.Errorf("read branch %q of %s: %w", name, project, err)
	}
	if resp.Status == http.StatusNotFound {
		return nil, nil
	}
	if err := resp.Expect(http.StatusOK); err != nil {
		return nil, fmt.Errorf("read branch %q of %s: %w", name, project, err)
	}
	var b apiBranch
	if err := resp.JSON(&b); err != nil {
		return nil, err
	}
	return &b, nil
}

func deleteBranch(ctx context.Context, api *kit.Client, project, name string) error {
	resp, err := api.Do(ctx, kit.Request{Method: http.MethodDelete, Path: branchPath(project, name)})
	if err != nil {
		return fmt.Errorf("delete branch %q of %s: %w", name, project, err)
	}
	if err := resp.Expect(http.StatusNoContent, http.StatusOK); err != nil {
		return fmt.Errorf("delete branch %q of %s: %w", name, project, err)
	}
	return nil
}

// getFile returns nil without error when the file does not exist at ref.
func getFile(ctx context.Context, api *kit.Client, project, file, ref string) (*apiFile, error) {
	resp, err := api.Do(ctx, kit.Request{
		Method: http.MethodGet,
		Path:   filePath(project, file),
		Query:  url.Values{"ref": []string{ref}},
	})
	if err != nil {
		return nil, fmt.Errorf("read %s in %s at %s: %w", file, project, ref, err)
	}
	if resp.Status == http.StatusNotFound {
		return nil, nil
	}
	if err := resp.Expect(http.StatusOK); err != nil {
		return nil, fmt.Errorf("read %s in %s at %s: %w", file, project, ref, err)
	}
	var f apiFile
	if err := resp.JSON(&f); err != nil {
		return nil, err
	}
	return &f, nil
}

// writeFile sends POST (create), PUT (update) or DELETE for a file.
func writeFile(ctx context.Context, api *kit.Client, method, project, file string, w fileWrite) error {
	resp, err := api.Do(ctx, kit.Request{Method: method, Path: filePath(project, file), Body: w})
	if err != nil {
		return fmt.Errorf("%s %s in %s: %w", method, file, project, err)
	}
	if err := resp.Expect(http.StatusOK, http.StatusCreated, http.StatusNoContent); err != nil {
		return fmt.Errorf("%s %s in %s: %w", method, file, project, err)
	}
	return nil
}
