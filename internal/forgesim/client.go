package forgesim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Client drives a forgesim admin API, in this process or another one.
type Client struct {
	base string
	hc   *http.Client
}

// NewClient returns a client for the forge at baseURL (e.g.
// "http://127.0.0.1:8900"); a nil hc gets a client with a timeout longer
// than one webhook delivery, since actions wait for their deliveries.
func NewClient(baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	return &Client{base: strings.TrimSuffix(baseURL, "/"), hc: hc}
}

// APIError is an error answer of the admin API. errors.Is matches it with
// the state error it stands for (state.ErrNotFound, ...).
type APIError struct {
	Status  int
	Message string
	Kind    string
}

func (e *APIError) Error() string { return fmt.Sprintf("forgesim: %d: %s", e.Status, e.Message) }

// Unwrap restores the model's error from the answer's kind.
func (e *APIError) Unwrap() error {
	for _, k := range errorKinds {
		if k.kind == e.Kind {
			return k.err
		}
	}
	return nil
}

// repoPath escapes each part so an owner with subgroups stays one segment.
func repoPath(fullName string) string {
	i := strings.LastIndex(fullName, "/")
	if i < 0 {
		return "/_sim/repos/" + url.PathEscape(fullName)
	}
	return "/_sim/repos/" + url.PathEscape(fullName[:i]) + "/" + url.PathEscape(fullName[i+1:])
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("forgesim %s %s: encoding request: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return fmt.Errorf("forgesim %s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("forgesim %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("forgesim %s %s: reading answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var eb errorBody
		if json.Unmarshal(b, &eb) != nil || eb.Error == "" {
			eb.Error = strings.TrimSpace(string(b))
		}
		return fmt.Errorf("forgesim %s %s: %w", method, path, &APIError{Status: resp.StatusCode, Message: eb.Error, Kind: eb.Kind})
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("forgesim %s %s: decoding answer: %w", method, path, err)
		}
	}
	return nil
}

// AddUser creates or replaces a user.
func (c *Client) AddUser(ctx context.Context, u UserRequest) (state.User, error) {
	var out state.User
	err := c.do(ctx, http.MethodPost, "/_sim/users", u, &out)
	return out, err
}

// AddOrg marks login as an organisation.
func (c *Client) AddOrg(ctx context.Context, login string) (OrgResult, error) {
	var out OrgResult
	err := c.do(ctx, http.MethodPost, "/_sim/orgs", OrgRequest{Login: login}, &out)
	return out, err
}

// CreateRepo creates a repository.
func (c *Client) CreateRepo(ctx context.Context, r RepoRequest) (state.RepoInfo, error) {
	var out state.RepoInfo
	err := c.do(ctx, http.MethodPost, "/_sim/repos", r, &out)
	return out, err
}

// Repo returns a snapshot of a repository.
func (c *Client) Repo(ctx context.Context, fullName string) (RepoState, error) {
	var out RepoState
	err := c.do(ctx, http.MethodGet, repoPath(fullName), nil, &out)
	return out, err
}

// SetMember grants login an access level on a repository.
func (c *Client) SetMember(ctx context.Context, repo, login string, level state.AccessLevel) error {
	return c.do(ctx, http.MethodPost, repoPath(repo)+"/members", MemberRequest{Login: login, AccessLevel: AccessLevel(level)}, nil)
}

// AddHook registers a webhook on a repository.
func (c *Client) AddHook(ctx context.Context, repo string, h HookRequest) (state.Hook, error) {
	var out state.Hook
	err := c.do(ctx, http.MethodPost, repoPath(repo)+"/hooks", h, &out)
	return out, err
}

// OpenIssue opens an issue.
func (c *Client) OpenIssue(ctx context.Context, repo string, r IssueRequest) (IssueResult, error) {
	var out IssueResult
	err := c.do(ctx, http.MethodPost, repoPath(repo)+"/issues", r, &out)
	return out, err
}

// EditIssue changes an issue's title, body or state.
func (c *Client) EditIssue(ctx context.Context, repo string, number int, e IssueEdit) (IssueResult, error) {
	var out IssueResult
	err := c.do(ctx, http.MethodPatch, repoPath(repo)+"/issues/"+strconv.Itoa(number), e, &out)
	return out, err
}

// LabelIssue adds and removes labels.
func (c *Client) LabelIssue(ctx context.Context, repo string, number int, e LabelEdit) (IssueResult, error) {
	var out IssueResult
	err := c.do(ctx, http.MethodPost, repoPath(repo)+"/issues/"+strconv.Itoa(number)+"/labels", e, &out)
	return out, err
}

// Comment posts a comment on an issue or pull request.
func (c *Client) Comment(ctx context.Context, repo string, number int, r CommentRequest) (CommentResult, error) {
	var out CommentResult
	err := c.do(ctx, http.MethodPost, repoPath(repo)+"/issues/"+strconv.Itoa(number)+"/comments", r, &out)
	return out, err
}

// OpenPull opens a pull/merge request.
func (c *Client) OpenPull(ctx context.Context, repo string, r PullRequestRequest) (IssueResult, error) {
	var out IssueResult
	err := c.do(ctx, http.MethodPost, repoPath(repo)+"/pulls", r, &out)
	return out, err
}

// Push commits files to a branch.
func (c *Client) Push(ctx context.Context, repo string, r PushRequest) (CommitResult, error) {
	var out CommitResult
	err := c.do(ctx, http.MethodPost, repoPath(repo)+"/commits", r, &out)
	return out, err
}

// CommentCommit posts a comment on a commit.
func (c *Client) CommentCommit(ctx context.Context, repo, sha string, r CommentRequest) (CommentResult, error) {
	var out CommentResult
	err := c.do(ctx, http.MethodPost, repoPath(repo)+"/commits/"+url.PathEscape(sha)+"/comments", r, &out)
	return out, err
}

// PushTag creates or moves a tag.
func (c *Client) PushTag(ctx context.Context, repo, tag string, r TagRequest) (TagResult, error) {
	var out TagResult
	err := c.do(ctx, http.MethodPut, repoPath(repo)+"/tags/"+url.PathEscape(tag), r, &out)
	return out, err
}

// DeleteTag deletes a tag as actor.
func (c *Client) DeleteTag(ctx context.Context, repo, tag, actor string) ([]Delivery, error) {
	var out DeliveriesResult
	err := c.do(ctx, http.MethodDelete, repoPath(repo)+"/tags/"+url.PathEscape(tag), ActorRequest{Actor: actor}, &out)
	return out.Deliveries, err
}

// DeleteBranch deletes a branch as actor.
func (c *Client) DeleteBranch(ctx context.Context, repo, branch, actor string) ([]Delivery, error) {
	var out DeliveriesResult
	err := c.do(ctx, http.MethodDelete, repoPath(repo)+"/branches/"+url.PathEscape(branch), ActorRequest{Actor: actor}, &out)
	return out.Deliveries, err
}

// Deliveries lists recorded deliveries, of one repository when repo is set.
func (c *Client) Deliveries(ctx context.Context, repo string) ([]Delivery, error) {
	path := "/_sim/deliveries"
	if repo != "" {
		path += "?repo=" + url.QueryEscape(repo)
	}
	var out DeliveriesResult
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Deliveries, err
}

// Delivery lists the records of one delivery id (the original and any
// redeliveries).
func (c *Client) Delivery(ctx context.Context, id string) ([]Delivery, error) {
	var out DeliveriesResult
	err := c.do(ctx, http.MethodGet, "/_sim/deliveries/"+url.PathEscape(id), nil, &out)
	return out.Deliveries, err
}

// Redeliver sends a delivery again with the same id.
func (c *Client) Redeliver(ctx context.Context, id string) ([]Delivery, error) {
	var out DeliveriesResult
	err := c.do(ctx, http.MethodPost, "/_sim/deliveries/"+url.PathEscape(id)+"/redeliver", nil, &out)
	return out.Deliveries, err
}

// Emit sends a raw webhook as the given forge would, Payload byte for byte.
func (c *Client) Emit(ctx context.Context, w RawWebhook) (Delivery, error) {
	if len(w.Payload) > 0 && w.Body == nil {
		// json.Marshal would compact the payload; as a string it stays exact.
		body := string(w.Payload)
		w.Payload, w.Body = nil, &body
	}
	var out DeliveryResult
	err := c.do(ctx, http.MethodPost, "/_sim/webhooks", w, &out)
	return out.Delivery, err
}
