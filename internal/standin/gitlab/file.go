package gitlab

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"github.com/expbot/expbot/internal/standin/kit"
)

// RepositoryFile is gitlab:index/repositoryFile:RepositoryFile. project,
// filePath and branch force replacement; everything else updates in place.
//
// Content encoding follows the provider: encoding defaults to "base64";
// with "base64", content that is not valid base64 is encoded before sending
// (backwards compatibility for plain text), with "text" it is sent as is.
// Reading decodes the API's base64 back when encoding is "text" or the
// configured content was plain text.
type RepositoryFile struct {
	p *Provider
}

var fileSchema = kit.Schema{
	Token: "gitlab:index/repositoryFile:RepositoryFile",
	Inputs: []string{"authorEmail", "authorName", "branch", "commitMessage", "content",
		"createCommitMessage", "deleteCommitMessage", "encoding", "executeFilemode", "filePath",
		"overwriteOnCreate", "project", "startBranch", "updateCommitMessage"},
	Replace:          []string{"branch", "filePath", "project"},
	OptionalComputed: []string{"encoding", "executeFilemode"},
	Outputs: []string{"blobId", "commitId", "contentSha256", "fileName", "lastCommitId",
		"ref", "size"},
}

// Schema implements kit.Resource.
func (r *RepositoryFile) Schema() kit.Schema { return fileSchema }

// Check requires project, filePath, branch and content, validates encoding
// and the commit message combinations, and defaults encoding to "base64"
// and overwriteOnCreate to false.
func (r *RepositoryFile) Check(_ context.Context, in kit.CheckInput) (resource.PropertyMap, kit.Failures, error) {
	news := kit.Copy(in.News)
	var f kit.Failures
	f.Required(news, "project", "filePath", "branch", "content")
	f.String(news, "project", "filePath", "branch", "content", "encoding", "authorEmail", "authorName",
		"commitMessage", "createCommitMessage", "updateCommitMessage", "deleteCommitMessage", "startBranch")
	f.Bool(news, "executeFilemode", "overwriteOnCreate")
	kit.Default(news, "encoding", resource.NewStringProperty("base64"))
	f.OneOf(news, "encoding", "base64", "text")
	perAction := []string{"createCommitMessage", "updateCommitMessage", "deleteCommitMessage"}
	set := 0
	for _, k := range perAction {
		if kit.Has(news, k) {
			set++
			if kit.Has(news, "commitMessage") {
				f.Add(k, "%q conflicts with commitMessage", k)
			}
		}
	}
	if set > 0 && set < len(perAction) {
		f.Add("createCommitMessage", "createCommitMessage, updateCommitMessage and deleteCommitMessage must be set together")
	}
	if p := kit.Str(news, "filePath"); strings.HasPrefix(p, "/") || strings.HasPrefix(p, "./") {
		f.Add("filePath", "filePath must be relative to the repository root without a leading / or ./")
	}
	kit.Default(news, "overwriteOnCreate", resource.NewBoolProperty(false))
	return news, f, nil
}

// Diff implements kit.Resource.
func (r *RepositoryFile) Diff(_ context.Context, in kit.DiffInput) (*pulumirpc.DiffResponse, error) {
	return fileSchema.Diff(in.Olds, in.News, in.IgnoreChanges...), nil
}

// Create: with overwriteOnCreate, GET the file and PUT over it when it
// exists; otherwise POST. Then read back (GET ?ref=branch).
func (r *RepositoryFile) Create(ctx context.Context, news resource.PropertyMap) (string, resource.PropertyMap, error) {
	api, err := r.p.client()
	if err != nil {
		return "", nil, err
	}
	r.p.files.Lock()
	defer r.p.files.Unlock()
	project, file, branch := kit.Str(news, "project"), kit.Str(news, "filePath"), kit.Str(news, "branch")
	w := writeBody(news, firstSet(news, "commitMessage", "createCommitMessage"))
	if kit.BoolOr(news, "overwriteOnCreate", false) {
		existing, err := getFile(ctx, api, project, file, branch)
		if err != nil {
			return "", nil, err
		}
		if existing != nil {
			w.CommitMessage = firstSet(news, "commitMessage", "updateCommitMessage")
			w.LastCommitID = &existing.LastCommitID
			if err := writeFile(ctx, api, http.MethodPut, project, file, w); err != nil {
				return "", nil, err
			}
			return r.readBack(ctx, api, project, branch, file, news)
		}
	}
	if err := writeFile(ctx, api, http.MethodPost, project, file, w); err != nil {
		return "", nil, err
	}
	return r.readBack(ctx, api, project, branch, file, news)
}

func (r *RepositoryFile) readBack(ctx context.Context, api *kit.Client, project, branch, file string, props resource.PropertyMap) (string, resource.PropertyMap, error) {
	outs := kit.Copy(props)
	found, err := readFile(ctx, api, project, branch, file, outs)
	if err != nil {
		return "", nil, err
	}
	if !found {
		return "", nil, fmt.Errorf("file %s in %s at %s vanished right after it was written", file, project, branch)
	}
	return fileID(project, branch, file), outs, nil
}

// Read GETs the file at the branch from the ID; 404 means it is gone.
func (r *RepositoryFile) Read(ctx context.Context, in kit.ReadInput) (kit.ReadResult, error) {
	api, err := r.p.client()
	if err != nil {
		return kit.ReadResult{}, err
	}
	project, branch, file, err := parseFileID(in.ID)
	if err != nil {
		return kit.ReadResult{}, err
	}
	outs := kit.Copy(in.State)
	found, err := readFile(ctx, api, project, branch, file, outs)
	if err != nil || !found {
		return kit.ReadResult{}, err
	}
	inputs := kit.Copy(in.Inputs)
	if len(inputs) == 0 {
		inputs = kit.Pick(outs, "project", "filePath", "branch", "content", "encoding")
	}
	return kit.ReadResult{ID: fileID(project, branch, file), Outputs: outs, Inputs: inputs}, nil
}

// Update GETs the file for its last_commit_id, PUTs the new content and
// reads it back.
func (r *RepositoryFile) Update(ctx context.Context, in kit.UpdateInput) (resource.PropertyMap, error) {
	api, err := r.p.client()
	if err != nil {
		return nil, err
	}
	r.p.files.Lock()
	defer r.p.files.Unlock()
	project, branch, file, err := parseFileID(in.ID)
	if err != nil {
		return nil, err
	}
	existing, err := getFile(ctx, api, project, file, branch)
	if err != nil {
		return nil, err
	}
	if existing == nil {
		return nil, fmt.Errorf("file %s in %s at %s no longer exists", file, project, branch)
	}
	w := writeBody(in.News, firstSet(in.News, "commitMessage", "updateCommitMessage"))
	w.Branch = branch
	w.LastCommitID = &existing.LastCommitID
	if err := writeFile(ctx, api, http.MethodPut, project, file, w); err != nil {
		return nil, err
	}
	outs := kit.Copy(in.Olds)
	for k, v := range in.News {
		outs[k] = v
	}
	found, err := readFile(ctx, api, project, branch, file, outs)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("file %s in %s at %s vanished right after it was written", file, project, branch)
	}
	return outs, nil
}

// Delete GETs the file for its last_commit_id and DELETEs it with a JSON
// body; the message is "[DELETE]: <commitMessage>" or deleteCommitMessage.
func (r *RepositoryFile) Delete(ctx context.Context, in kit.DeleteInput) error {
	api, err := r.p.client()
	if err != nil {
		return err
	}
	r.p.files.Lock()
	defer r.p.files.Unlock()
	project, branch, file, err := parseFileID(in.ID)
	if err != nil {
		return err
	}
	existing, err := getFile(ctx, api, project, file, branch)
	if err != nil {
		return err
	}
	if existing == nil {
		return fmt.Errorf("delete %s in %s at %s: file not found", file, project, branch)
	}
	w := fileWrite{
		Branch:        kit.Str(in.State, "branch"),
		AuthorEmail:   kit.Str(in.State, "authorEmail"),
		AuthorName:    kit.Str(in.State, "authorName"),
		CommitMessage: kit.Str(in.State, "deleteCommitMessage"),
		LastCommitID:  &existing.LastCommitID,
	}
	if w.Branch == "" {
		w.Branch = branch
	}
	if msg := kit.Str(in.State, "commitMessage"); msg != "" {
		w.CommitMessage = "[DELETE]: " + msg
	}
	return writeFile(ctx, api, http.MethodDelete, project, file, w)
}

// writeBody builds the POST/PUT body shared by create and update.
func writeBody(props resource.PropertyMap, message string) fileWrite {
	encoding := kit.Str(props, "encoding")
	if encoding == "" {
		encoding = "base64"
	}
	text := kit.Str(props, "content")
	if encoding == "base64" && !isBase64(text) {
		text = base64.StdEncoding.EncodeToString([]byte(text))
	}
	w := fileWrite{
		Branch:        kit.Str(props, "branch"),
		Encoding:      &encoding,
		AuthorEmail:   kit.Str(props, "authorEmail"),
		AuthorName:    kit.Str(props, "authorName"),
		Content:       &text,
		CommitMessage: message,
	}
	if sb := kit.Str(props, "startBranch"); sb != "" {
		w.StartBranch = &sb
	}
	if x, set, _ := kit.Bool(props, "executeFilemode"); set {
		w.ExecuteFilemode = &x
	}
	return w
}

// readFile reads the file at branch into outs; found is false on 404.
func readFile(ctx context.Context, api *kit.Client, project, branch, file string, outs resource.PropertyMap) (bool, error) {
	f, err := getFile(ctx, api, project, file, branch)
	if err != nil || f == nil {
		return false, err
	}
	text, encoding := f.Content, f.Encoding
	configured := kit.Str(outs, "content")
	if kit.Str(outs, "encoding") == "text" || (configured != "" && !isBase64(configured)) {
		b, err := base64.StdEncoding.DecodeString(f.Content)
		if err != nil {
			return false, fmt.Errorf("decode %s in %s at %s: %w", file, project, branch, err)
		}
		text = string(b)
		if kit.Str(outs, "encoding") == "text" {
			encoding = "text"
		}
	}
	kit.SetStr(outs, "project", project)
	kit.SetStr(outs, "branch", f.Ref)
	kit.SetStr(outs, "filePath", f.FilePath)
	kit.SetStr(outs, "fileName", f.FileName)
	kit.SetNum(outs, "size", float64(f.Size))
	kit.SetStr(outs, "encoding", encoding)
	kit.SetStr(outs, "content", text)
	kit.SetStr(outs, "contentSha256", f.ContentSHA256)
	kit.SetStr(outs, "ref", f.Ref)
	kit.SetStr(outs, "blobId", f.BlobID)
	kit.SetStr(outs, "commitId", f.CommitID)
	kit.SetStr(outs, "lastCommitId", f.LastCommitID)
	kit.SetBool(outs, "executeFilemode", f.ExecuteFilemode)
	return true, nil
}

func isBase64(s string) bool {
	_, err := base64.StdEncoding.DecodeString(s)
	return err == nil
}

func firstSet(pm resource.PropertyMap, keys ...string) string {
	for _, k := range keys {
		if v := kit.Str(pm, k); v != "" {
			return v
		}
	}
	return ""
}

func fileID(project, branch, file string) string {
	return project + ":" + branch + ":" + file
}

// parseFileID splits the official ID "project:branch:filePath".
func parseFileID(id string) (project, branch, file string, err error) {
	parts := strings.SplitN(id, ":", 3)
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return "", "", "", fmt.Errorf("unexpected repository file ID %q, expected project:branch:filePath", id)
	}
	return parts[0], parts[1], parts[2], nil
}
