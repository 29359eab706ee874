// Package ghsim is the GitHub face of the simulated forge: its REST API and
// the webhooks GitHub sends. Test support only.
//
// Every repository is public: any authenticated user may read it and comment
// on its issues; refs and contents need write access (Developer or more).
package ghsim

import (
	"context"
	"net/http"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// NewHandler serves GitHub's REST API over f, with the GitHub Apps of apps
// (nil: none); pinger sends the ping a new webhook gets (nil: none). Mount
// it with the /api/v3 prefix stripped.
func NewHandler(f *state.Forge, apps *Apps, pinger Pinger) http.Handler {
	s := &server{f: f, apps: apps, pinger: pinger}
	mux := http.NewServeMux()
	handle := func(pattern string, fn func(*request)) { mux.Handle(pattern, s.authenticate(fn)) }

	// GitHub Apps: these routes want the app's JWT.
	mux.HandleFunc("GET /app", s.appRoute(s.getApp))
	mux.HandleFunc("GET /app/installations/{id}", s.appRoute(s.getInstallation))
	mux.HandleFunc("POST /app/installations/{id}/access_tokens", s.appRoute(s.createAccessToken))
	mux.HandleFunc("GET /repos/{owner}/{repo}/installation", s.appRoute(s.getRepoInstallation))

	// Accounts.
	handle("GET /user", s.getAuthenticatedUser)
	handle("GET /users/{user}", s.getUser)
	handle("GET /orgs/{org}", s.getOrg)

	// Repository, collaborators, tags.
	handle("GET /repos/{owner}/{repo}", s.getRepo)
	handle("GET /repos/{owner}/{repo}/collaborators/{user}/permission", s.getPermission)
	handle("GET /repos/{owner}/{repo}/collaborators/{user}", s.checkCollaborator)
	handle("GET /repos/{owner}/{repo}/tags", s.listTags)

	// Git data. Ref names keep their "/" raw here (go-github escapes per
	// segment), hence the trailing wildcards.
	handle("GET /repos/{owner}/{repo}/git/ref/{ref...}", s.getRef)
	handle("GET /repos/{owner}/{repo}/git/matching-refs/{ref...}", s.matchingRefs)
	handle("GET /repos/{owner}/{repo}/git/refs", s.listRefs)
	handle("GET /repos/{owner}/{repo}/git/refs/{ref...}", s.listRefs)
	handle("POST /repos/{owner}/{repo}/git/refs", s.createRef)
	handle("PATCH /repos/{owner}/{repo}/git/refs/{ref...}", s.updateRef)
	handle("DELETE /repos/{owner}/{repo}/git/refs/{ref...}", s.deleteRef)
	handle("GET /repos/{owner}/{repo}/git/commits/{sha}", s.getGitCommit)
	handle("GET /repos/{owner}/{repo}/git/blobs/{sha}", s.getBlob)

	// Branches: go-github sends one %2F-escaped segment; raw slashes work too.
	handle("GET /repos/{owner}/{repo}/branches", s.listBranches)
	handle("GET /repos/{owner}/{repo}/branches/{branch...}", s.getBranch)
	handle("POST /repos/{owner}/{repo}/branches/{rest...}", s.renameBranch)

	// Contents.
	handle("GET /repos/{owner}/{repo}/contents", s.getContents)
	handle("GET /repos/{owner}/{repo}/contents/{path...}", s.getContents)
	handle("PUT /repos/{owner}/{repo}/contents/{path...}", s.putContents)
	handle("DELETE /repos/{owner}/{repo}/contents/{path...}", s.deleteContents)

	// Commits and commit comments.
	handle("GET /repos/{owner}/{repo}/commits", s.listCommits)
	handle("GET /repos/{owner}/{repo}/commits/{ref...}", s.getCommit)
	handle("GET /repos/{owner}/{repo}/commits/{sha}/comments", s.listCommitComments)
	handle("POST /repos/{owner}/{repo}/commits/{sha}/comments", s.createCommitComment)
	handle("GET /repos/{owner}/{repo}/comments", s.listRepoCommitComments)
	handle("GET /repos/{owner}/{repo}/comments/{id}", s.getCommitComment)
	handle("PATCH /repos/{owner}/{repo}/comments/{id}", s.editCommitComment)
	handle("GET /repos/{owner}/{repo}/comments/{id}/reactions", s.listCommitCommentReactions)
	handle("POST /repos/{owner}/{repo}/comments/{id}/reactions", s.reactCommitComment)

	// Issues, pull requests, issue comments. "issues/comments/{id}" and
	// "issues/{n}/comments" overlap as patterns, so one route dispatches both.
	handle("GET /repos/{owner}/{repo}/issues/comments", s.listRepoIssueComments)
	handle("GET /repos/{owner}/{repo}/issues/{number}", s.getIssue)
	handle("GET /repos/{owner}/{repo}/issues/{a}/{b}", s.issueSubresource)
	handle("POST /repos/{owner}/{repo}/issues/{a}/{b}", s.issueSubresource)
	handle("PATCH /repos/{owner}/{repo}/issues/{a}/{b}", s.issueSubresource)
	handle("GET /repos/{owner}/{repo}/issues/comments/{id}/reactions", s.listIssueCommentReactions)
	handle("POST /repos/{owner}/{repo}/issues/comments/{id}/reactions", s.reactIssueComment)
	handle("GET /repos/{owner}/{repo}/pulls/{number}", s.getPull)

	// Webhooks and labels, which a forge set-up manages (api_hooks.go, api_labels.go).
	s.hookRoutes(handle, "/repos/{owner}/{repo}", (*request).repoHookTarget)
	s.hookRoutes(handle, "/orgs/{org}", (*request).orgHookTarget)
	handle("GET /repos/{owner}/{repo}/labels", s.listLabels)
	handle("POST /repos/{owner}/{repo}/labels", s.createLabel)
	handle("GET /repos/{owner}/{repo}/labels/{name}", s.getLabel)
	handle("PATCH /repos/{owner}/{repo}/labels/{name}", s.editLabel)
	handle("DELETE /repos/{owner}/{repo}/labels/{name}", s.deleteLabel)

	// GitHub answers unknown routes and methods with its JSON 404.
	handle("/", func(q *request) { q.fail(notFound()) })
	return mux
}

// NewDelivery returns the webhook requests GitHub would send to hook for ev
// (none when GitHub sends none for it). baseURL is the forge's external URL,
// used in the payload's links.
func NewDelivery(ctx context.Context, ev state.Event, hook state.Hook, deliveryID, baseURL string) ([]*http.Request, error) {
	return newDelivery(ctx, ev, hook, deliveryID, baseURL)
}
