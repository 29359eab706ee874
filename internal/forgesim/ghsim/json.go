package ghsim

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// This file holds GitHub's JSON shapes and the builders shared by the REST
// API and the webhook payloads. Field names and null-versus-absent follow
// GitHub's documented examples.

// ts formats a time the way GitHub does: UTC, whole seconds, "Z".
func ts(t time.Time) string { return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z") }

func tsPtr(t time.Time) *string { s := ts(t); return &s }

// nodeID imitates GitHub's legacy global ids: base64("0<len>:<Type><id>").
func nodeID(kind string, id any) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "0%d:%s%v", len(kind), kind, id))
}

// stableID derives a positive id from parts, for objects the model keeps no
// id for (labels, reactions).
func stableID(parts ...string) int64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return int64(h.Sum64() >> 12) // positive and below JavaScript's 2^53
}

// issueID and pullID give issues and pull requests the distinct global ids
// GitHub has, derived from the repository id and the number.
func issueID(repoID int64, number int) int64 { return repoID*1_000_000 + int64(number) }
func pullID(repoID int64, number int) int64  { return repoID*1_000_000 + 500_000 + int64(number) }

type userJSON struct {
	Login             string  `json:"login"`
	ID                int64   `json:"id"`
	NodeID            string  `json:"node_id"`
	AvatarURL         string  `json:"avatar_url"`
	GravatarID        string  `json:"gravatar_id"`
	URL               string  `json:"url"`
	HTMLURL           string  `json:"html_url"`
	FollowersURL      string  `json:"followers_url"`
	FollowingURL      string  `json:"following_url"`
	GistsURL          string  `json:"gists_url"`
	StarredURL        string  `json:"starred_url"`
	SubscriptionsURL  string  `json:"subscriptions_url"`
	OrganizationsURL  string  `json:"organizations_url"`
	ReposURL          string  `json:"repos_url"`
	EventsURL         string  `json:"events_url"`
	ReceivedEventsURL string  `json:"received_events_url"`
	Type              string  `json:"type"`
	UserViewType      string  `json:"user_view_type"`
	SiteAdmin         bool    `json:"site_admin"`
	Name              *string `json:"name,omitempty"`  // push payloads' repository.owner
	Email             *string `json:"email,omitempty"` // push payloads' repository.owner
}

func accountObject(l links, login string, id int64, typ string) userJSON {
	base := l.api("/users/" + login)
	kind := "User"
	if typ == "Organization" {
		kind = "Organization"
	}
	return userJSON{
		Login: login, ID: id, NodeID: nodeID(kind, id),
		AvatarURL:         l.html(fmt.Sprintf("/avatars/u/%d?v=4", id)),
		URL:               base,
		HTMLURL:           l.html("/" + login),
		FollowersURL:      base + "/followers",
		FollowingURL:      base + "/following{/other_user}",
		GistsURL:          base + "/gists{/gist_id}",
		StarredURL:        base + "/starred{/owner}{/repo}",
		SubscriptionsURL:  base + "/subscriptions",
		OrganizationsURL:  base + "/orgs",
		ReposURL:          base + "/repos",
		EventsURL:         base + "/events{/privacy}",
		ReceivedEventsURL: base + "/received_events",
		Type:              typ,
		UserViewType:      "public",
	}
}

// userObject is a known account; bots keep their login and get type "Bot".
func userObject(l links, u state.User) userJSON {
	typ := "User"
	if u.Bot {
		typ = "Bot"
	}
	return accountObject(l, u.Login, u.ID, typ)
}

// unknownUser stands for a login the caller cannot look up (webhook payloads
// are built without the forge): id 0, type from GitHub's "[bot]" convention.
func unknownUser(l links, login string) userJSON {
	typ := "User"
	if strings.HasSuffix(login, "[bot]") {
		typ = "Bot"
	}
	return accountObject(l, login, 0, typ)
}

// profileJSON is GET /user and GET /users/{u}.
type profileJSON struct {
	userJSON
	Name        *string `json:"name"`
	Company     *string `json:"company"`
	Blog        string  `json:"blog"`
	Location    *string `json:"location"`
	Email       *string `json:"email"`
	Hireable    *bool   `json:"hireable"`
	Bio         *string `json:"bio"`
	PublicRepos int     `json:"public_repos"`
	PublicGists int     `json:"public_gists"`
	Followers   int     `json:"followers"`
	Following   int     `json:"following"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// orgSimpleJSON is an organisation as webhook payloads show it.
type orgSimpleJSON struct {
	Login            string  `json:"login"`
	ID               int64   `json:"id"`
	NodeID           string  `json:"node_id"`
	URL              string  `json:"url"`
	ReposURL         string  `json:"repos_url"`
	EventsURL        string  `json:"events_url"`
	HooksURL         string  `json:"hooks_url"`
	IssuesURL        string  `json:"issues_url"`
	MembersURL       string  `json:"members_url"`
	PublicMembersURL string  `json:"public_members_url"`
	AvatarURL        string  `json:"avatar_url"`
	Description      *string `json:"description"`
}

func orgSimpleObject(l links, login string, id int64) orgSimpleJSON {
	base := l.api("/orgs/" + login)
	return orgSimpleJSON{
		Login: login, ID: id, NodeID: nodeID("Organization", id), URL: base,
		ReposURL: base + "/repos", EventsURL: base + "/events", HooksURL: base + "/hooks",
		IssuesURL: base + "/issues", MembersURL: base + "/members{/member}",
		PublicMembersURL: base + "/public_members{/member}", AvatarURL: l.html("/avatars/u/" + login),
	}
}

// orgJSON is an organisation as GET /orgs/{org} shows it.
type orgJSON struct {
	orgSimpleJSON
	Name            string  `json:"name"`
	Company         *string `json:"company"`
	Blog            string  `json:"blog"`
	Location        *string `json:"location"`
	Email           *string `json:"email"`
	IsVerified      bool    `json:"is_verified"`
	HasOrgProjects  bool    `json:"has_organization_projects"`
	HasRepoProjects bool    `json:"has_repository_projects"`
	PublicRepos     int     `json:"public_repos"`
	PublicGists     int     `json:"public_gists"`
	Followers       int     `json:"followers"`
	Following       int     `json:"following"`
	HTMLURL         string  `json:"html_url"`
	CreatedAt       string  `json:"created_at"`
	UpdatedAt       string  `json:"updated_at"`
	ArchivedAt      *string `json:"archived_at"`
	Type            string  `json:"type"`
}

type permissionsJSON struct {
	Admin    bool `json:"admin"`
	Maintain bool `json:"maintain"`
	Push     bool `json:"push"`
	Triage   bool `json:"triage"`
	Pull     bool `json:"pull"`
}

func permissionsFor(lvl state.AccessLevel) *permissionsJSON {
	return &permissionsJSON{
		Admin: lvl >= state.Owner, Maintain: lvl >= state.Maintainer, Push: lvl >= state.Developer,
		Triage: lvl >= state.Reporter, Pull: true, // every repository here is public
	}
}

type repoJSON struct {
	ID               int64            `json:"id"`
	NodeID           string           `json:"node_id"`
	Name             string           `json:"name"`
	FullName         string           `json:"full_name"`
	Private          bool             `json:"private"`
	Owner            userJSON         `json:"owner"`
	HTMLURL          string           `json:"html_url"`
	Description      *string          `json:"description"`
	Fork             bool             `json:"fork"`
	URL              string           `json:"url"`
	ForksURL         string           `json:"forks_url"`
	KeysURL          string           `json:"keys_url"`
	CollaboratorsURL string           `json:"collaborators_url"`
	TeamsURL         string           `json:"teams_url"`
	HooksURL         string           `json:"hooks_url"`
	IssueEventsURL   string           `json:"issue_events_url"`
	EventsURL        string           `json:"events_url"`
	AssigneesURL     string           `json:"assignees_url"`
	BranchesURL      string           `json:"branches_url"`
	TagsURL          string           `json:"tags_url"`
	BlobsURL         string           `json:"blobs_url"`
	GitTagsURL       string           `json:"git_tags_url"`
	GitRefsURL       string           `json:"git_refs_url"`
	TreesURL         string           `json:"trees_url"`
	StatusesURL      string           `json:"statuses_url"`
	LanguagesURL     string           `json:"languages_url"`
	StargazersURL    string           `json:"stargazers_url"`
	ContributorsURL  string           `json:"contributors_url"`
	SubscribersURL   string           `json:"subscribers_url"`
	SubscriptionURL  string           `json:"subscription_url"`
	CommitsURL       string           `json:"commits_url"`
	GitCommitsURL    string           `json:"git_commits_url"`
	CommentsURL      string           `json:"comments_url"`
	IssueCommentURL  string           `json:"issue_comment_url"`
	ContentsURL      string           `json:"contents_url"`
	CompareURL       string           `json:"compare_url"`
	MergesURL        string           `json:"merges_url"`
	ArchiveURL       string           `json:"archive_url"`
	DownloadsURL     string           `json:"downloads_url"`
	IssuesURL        string           `json:"issues_url"`
	PullsURL         string           `json:"pulls_url"`
	MilestonesURL    string           `json:"milestones_url"`
	NotificationsURL string           `json:"notifications_url"`
	LabelsURL        string           `json:"labels_url"`
	ReleasesURL      string           `json:"releases_url"`
	DeploymentsURL   string           `json:"deployments_url"`
	CreatedAt        any              `json:"created_at"` // unix seconds in push payloads
	UpdatedAt        string           `json:"updated_at"`
	PushedAt         any              `json:"pushed_at"` // unix seconds in push payloads
	GitURL           string           `json:"git_url"`
	SSHURL           string           `json:"ssh_url"`
	CloneURL         string           `json:"clone_url"`
	SvnURL           string           `json:"svn_url"`
	Homepage         *string          `json:"homepage"`
	Size             int              `json:"size"`
	StargazersCount  int              `json:"stargazers_count"`
	WatchersCount    int              `json:"watchers_count"`
	Language         *string          `json:"language"`
	HasIssues        bool             `json:"has_issues"`
	HasProjects      bool             `json:"has_projects"`
	HasDownloads     bool             `json:"has_downloads"`
	HasWiki          bool             `json:"has_wiki"`
	HasPages         bool             `json:"has_pages"`
	HasDiscussions   bool             `json:"has_discussions"`
	ForksCount       int              `json:"forks_count"`
	MirrorURL        *string          `json:"mirror_url"`
	Archived         bool             `json:"archived"`
	Disabled         bool             `json:"disabled"`
	OpenIssuesCount  int              `json:"open_issues_count"`
	License          *struct{}        `json:"license"`
	AllowForking     bool             `json:"allow_forking"`
	IsTemplate       bool             `json:"is_template"`
	SignoffRequired  bool             `json:"web_commit_signoff_required"`
	Topics           []string         `json:"topics"`
	Visibility       string           `json:"visibility"`
	Forks            int              `json:"forks"`
	OpenIssues       int              `json:"open_issues"`
	Watchers         int              `json:"watchers"`
	DefaultBranch    string           `json:"default_branch"`
	Stargazers       *int             `json:"stargazers,omitempty"`    // push payloads
	MasterBranch     string           `json:"master_branch,omitempty"` // push payloads
	Organization     string           `json:"organization,omitempty"`  // push payloads of org repositories
	Permissions      *permissionsJSON `json:"permissions,omitempty"`   // REST, for the caller
	CustomProperties map[string]any   `json:"custom_properties"`
}

// repoFacts are the parts of a repository object that need the model or
// the caller; webhooks fill what they know.
type repoFacts struct {
	owner      userJSON
	pushedAt   time.Time
	openIssues int
	perms      *permissionsJSON
}

func repoObject(l links, info state.RepoInfo, f repoFacts) repoJSON {
	full := info.FullName
	api := func(p string) string { return l.repoAPI(full, p) }
	host := l.root
	if _, h, ok := strings.Cut(l.root, "://"); ok {
		host = h
	}
	pushed := f.pushedAt
	if pushed.IsZero() {
		pushed = info.CreatedAt
	}
	return repoJSON{
		ID: info.ID, NodeID: nodeID("Repository", info.ID), Name: info.Name, FullName: full,
		Owner: f.owner, HTMLURL: l.repoHTML(full, ""), URL: api(""),
		ForksURL: api("/forks"), KeysURL: api("/keys{/key_id}"), CollaboratorsURL: api("/collaborators{/collaborator}"),
		TeamsURL: api("/teams"), HooksURL: api("/hooks"), IssueEventsURL: api("/issues/events{/number}"),
		EventsURL: api("/events"), AssigneesURL: api("/assignees{/user}"), BranchesURL: api("/branches{/branch}"),
		TagsURL: api("/tags"), BlobsURL: api("/git/blobs{/sha}"), GitTagsURL: api("/git/tags{/sha}"),
		GitRefsURL: api("/git/refs{/sha}"), TreesURL: api("/git/trees{/sha}"), StatusesURL: api("/statuses/{sha}"),
		LanguagesURL: api("/languages"), StargazersURL: api("/stargazers"), ContributorsURL: api("/contributors"),
		SubscribersURL: api("/subscribers"), SubscriptionURL: api("/subscription"), CommitsURL: api("/commits{/sha}"),
		GitCommitsURL: api("/git/commits{/sha}"), CommentsURL: api("/comments{/number}"),
		IssueCommentURL: api("/issues/comments{/number}"), ContentsURL: api("/contents/{+path}"),
		CompareURL: api("/compare/{base}...{head}"), MergesURL: api("/merges"), ArchiveURL: api("/{archive_format}{/ref}"),
		DownloadsURL: api("/downloads"), IssuesURL: api("/issues{/number}"), PullsURL: api("/pulls{/number}"),
		MilestonesURL: api("/milestones{/number}"), NotificationsURL: api("/notifications{?since,all,participating}"),
		LabelsURL: api("/labels{/name}"), ReleasesURL: api("/releases{/id}"), DeploymentsURL: api("/deployments"),
		CreatedAt: ts(info.CreatedAt), UpdatedAt: ts(pushed), PushedAt: ts(pushed),
		GitURL:   "git://" + host + "/" + full + ".git",
		SSHURL:   "git@" + host + ":" + full + ".git",
		CloneURL: l.repoHTML(full, ".git"), SvnURL: l.repoHTML(full, ""),
		HasIssues: true, HasProjects: true, HasDownloads: true, HasWiki: true, AllowForking: true,
		Topics: []string{}, Visibility: "public",
		OpenIssuesCount: f.openIssues, OpenIssues: f.openIssues,
		DefaultBranch: info.DefaultBranch, Permissions: f.perms,
		CustomProperties: map[string]any{},
	}
}

type sigJSON struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Date  string `json:"date"`
}

func sigObject(s state.Signature) sigJSON {
	return sigJSON{Name: s.Name, Email: s.Email, Date: ts(s.When)}
}

type shaURL struct {
	SHA string `json:"sha"`
	URL string `json:"url"`
}

type parentJSON struct {
	SHA     string `json:"sha"`
	URL     string `json:"url"`
	HTMLURL string `json:"html_url"`
}

type verificationJSON struct {
	Verified   bool    `json:"verified"`
	Reason     string  `json:"reason"`
	Signature  *string `json:"signature"`
	Payload    *string `json:"payload"`
	VerifiedAt *string `json:"verified_at"`
}

var unsigned = verificationJSON{Reason: "unsigned"}

// gitCommitJSON is a Git commit object (git/commits, contents responses).
type gitCommitJSON struct {
	SHA          string           `json:"sha"`
	NodeID       string           `json:"node_id"`
	URL          string           `json:"url"`
	HTMLURL      string           `json:"html_url"`
	Author       sigJSON          `json:"author"`
	Committer    sigJSON          `json:"committer"`
	Tree         shaURL           `json:"tree"`
	Message      string           `json:"message"`
	Parents      []parentJSON     `json:"parents"`
	Verification verificationJSON `json:"verification"`
}

func parentsOf(l links, full string, c *state.Commit) []parentJSON {
	out := make([]parentJSON, 0, len(c.Parents))
	for _, p := range c.Parents {
		out = append(out, parentJSON{SHA: p, URL: l.repoAPI(full, "/commits/"+p), HTMLURL: l.repoHTML(full, "/commit/"+p)})
	}
	return out
}

func gitCommitObject(l links, info state.RepoInfo, c *state.Commit) gitCommitJSON {
	full := info.FullName
	parents := parentsOf(l, full, c)
	for i := range parents {
		parents[i].URL = l.repoAPI(full, "/git/commits/"+parents[i].SHA)
	}
	tree := treeSHA(c.Tree)
	return gitCommitJSON{
		SHA: c.SHA, NodeID: nodeID("Commit", fmt.Sprintf("%d:%s", info.ID, c.SHA)),
		URL: l.repoAPI(full, "/git/commits/"+c.SHA), HTMLURL: l.repoHTML(full, "/commit/"+c.SHA),
		Author: sigObject(c.Author), Committer: sigObject(c.Committer),
		Tree:    shaURL{SHA: tree, URL: l.repoAPI(full, "/git/trees/"+tree)},
		Message: c.Message, Parents: parents, Verification: unsigned,
	}
}

// innerCommitJSON is the "commit" member of a repository commit.
type innerCommitJSON struct {
	Author       sigJSON          `json:"author"`
	Committer    sigJSON          `json:"committer"`
	Message      string           `json:"message"`
	Tree         shaURL           `json:"tree"`
	URL          string           `json:"url"`
	CommentCount int              `json:"comment_count"`
	Verification verificationJSON `json:"verification"`
}

// repoCommitJSON is GET /repos/{o}/{r}/commits/{ref} and list entries.
// author and committer are the GitHub accounts behind the signatures; the
// model records only names and e-mails, so they are null as for commits
// whose e-mail matches no account.
type repoCommitJSON struct {
	SHA         string          `json:"sha"`
	NodeID      string          `json:"node_id"`
	Commit      innerCommitJSON `json:"commit"`
	URL         string          `json:"url"`
	HTMLURL     string          `json:"html_url"`
	CommentsURL string          `json:"comments_url"`
	Author      *userJSON       `json:"author"`
	Committer   *userJSON       `json:"committer"`
	Parents     []parentJSON    `json:"parents"`
}

type commitStatsJSON struct {
	Total     int `json:"total"`
	Additions int `json:"additions"`
	Deletions int `json:"deletions"`
}

type commitFileJSON struct {
	SHA         *string `json:"sha"`
	Filename    string  `json:"filename"`
	Status      string  `json:"status"`
	Additions   int     `json:"additions"`
	Deletions   int     `json:"deletions"`
	Changes     int     `json:"changes"`
	BlobURL     string  `json:"blob_url"`
	RawURL      string  `json:"raw_url"`
	ContentsURL string  `json:"contents_url"`
}

// repoCommitDetailJSON is the single-commit form, with stats and files.
type repoCommitDetailJSON struct {
	repoCommitJSON
	Stats commitStatsJSON  `json:"stats"`
	Files []commitFileJSON `json:"files"`
}

func repoCommitObject(l links, info state.RepoInfo, c *state.Commit, comments int) repoCommitJSON {
	full := info.FullName
	tree := treeSHA(c.Tree)
	return repoCommitJSON{
		SHA: c.SHA, NodeID: nodeID("Commit", fmt.Sprintf("%d:%s", info.ID, c.SHA)),
		Commit: innerCommitJSON{
			Author: sigObject(c.Author), Committer: sigObject(c.Committer), Message: c.Message,
			Tree: shaURL{SHA: tree, URL: l.repoAPI(full, "/git/trees/"+tree)},
			URL:  l.repoAPI(full, "/git/commits/"+c.SHA), CommentCount: comments, Verification: unsigned,
		},
		URL: l.repoAPI(full, "/commits/"+c.SHA), HTMLURL: l.repoHTML(full, "/commit/"+c.SHA),
		CommentsURL: l.repoAPI(full, "/commits/"+c.SHA+"/comments"),
		Parents:     parentsOf(l, full, c),
	}
}

type refJSON struct {
	Ref    string `json:"ref"`
	NodeID string `json:"node_id"`
	URL    string `json:"url"`
	Object struct {
		SHA  string `json:"sha"`
		Type string `json:"type"`
		URL  string `json:"url"`
	} `json:"object"`
}

func refObject(l links, info state.RepoInfo, ref, sha string) refJSON {
	var o refJSON
	o.Ref = ref
	o.NodeID = nodeID("Ref", fmt.Sprintf("%d:%s", info.ID, ref))
	o.URL = l.repoAPI(info.FullName, "/git/"+escapeSegments(ref))
	o.Object.SHA, o.Object.Type = sha, "commit"
	o.Object.URL = l.repoAPI(info.FullName, "/git/commits/"+sha)
	return o
}

type branchLinks struct {
	Self string `json:"self"`
	HTML string `json:"html"`
}

// branchJSON is GET /repos/{o}/{r}/branches/{b}.
type branchJSON struct {
	Name       string         `json:"name"`
	Commit     repoCommitJSON `json:"commit"`
	Links      branchLinks    `json:"_links"`
	Protected  bool           `json:"protected"`
	Protection struct {
		Enabled              bool `json:"enabled"`
		RequiredStatusChecks struct {
			EnforcementLevel string   `json:"enforcement_level"`
			Contexts         []string `json:"contexts"`
			Checks           []string `json:"checks"`
		} `json:"required_status_checks"`
	} `json:"protection"`
	ProtectionURL string `json:"protection_url"`
}

func branchObject(l links, info state.RepoInfo, name string, c *state.Commit) branchJSON {
	var b branchJSON
	b.Name = name
	b.Commit = repoCommitObject(l, info, c, 0)
	b.Links = branchLinks{
		Self: l.repoAPI(info.FullName, "/branches/"+escapeSegments(name)),
		HTML: l.repoHTML(info.FullName, "/tree/"+escapeSegments(name)),
	}
	b.Protection.RequiredStatusChecks.EnforcementLevel = "off"
	b.Protection.RequiredStatusChecks.Contexts = []string{}
	b.Protection.RequiredStatusChecks.Checks = []string{}
	b.ProtectionURL = l.repoAPI(info.FullName, "/branches/"+escapeSegments(name)+"/protection")
	return b
}

// shortBranchJSON is an entry of GET /repos/{o}/{r}/branches or /tags.
type shortBranchJSON struct {
	Name       string `json:"name"`
	Commit     shaURL `json:"commit"`
	Protected  *bool  `json:"protected,omitempty"`
	ZipballURL string `json:"zipball_url,omitempty"`
	TarballURL string `json:"tarball_url,omitempty"`
	NodeID     string `json:"node_id,omitempty"`
}

type contentLinks struct {
	Self string  `json:"self"`
	Git  string  `json:"git"`
	HTML *string `json:"html"`
}

// contentJSON is a file or a directory entry of the contents API.
type contentJSON struct {
	Type        string       `json:"type"`
	Encoding    string       `json:"encoding,omitempty"`
	Size        int          `json:"size"`
	Name        string       `json:"name"`
	Path        string       `json:"path"`
	Content     *string      `json:"content,omitempty"`
	SHA         string       `json:"sha"`
	URL         string       `json:"url"`
	GitURL      string       `json:"git_url"`
	HTMLURL     *string      `json:"html_url"`
	DownloadURL *string      `json:"download_url"`
	Links       contentLinks `json:"_links"`
}

// contentObject describes path at ref. The url carries "?ref=" even for the
// default branch: the GitHub provider reads the ref back from it.
func contentObject(l links, full, ref, path, typ, sha string, size int) contentJSON {
	ep := escapeSegments(path)
	self := l.repoAPI(full, "/contents/"+ep) + "?ref=" + escapeQuery(ref)
	kind := "blob"
	gitURL := l.repoAPI(full, "/git/blobs/"+sha)
	if typ == "dir" {
		kind = "tree"
		gitURL = l.repoAPI(full, "/git/trees/"+sha)
	}
	html := l.repoHTML(full, "/"+kind+"/"+escapeSegments(ref)+"/"+ep)
	c := contentJSON{
		Type: typ, Size: size, Name: path[strings.LastIndex(path, "/")+1:], Path: path, SHA: sha,
		URL: self, GitURL: gitURL, HTMLURL: &html,
		Links: contentLinks{Self: self, Git: gitURL, HTML: &html},
	}
	if typ == "file" {
		dl := l.html("/raw/" + full + "/" + escapeSegments(ref) + "/" + ep)
		c.DownloadURL = &dl
	}
	return c
}

// wrap64 encodes like GitHub's contents API: base64 in lines of 60
// characters, each ending in "\n".
func wrap64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(s) > 60 {
		sb.WriteString(s[:60])
		sb.WriteByte('\n')
		s = s[60:]
	}
	if s != "" {
		sb.WriteString(s)
		sb.WriteByte('\n')
	}
	return sb.String()
}

type labelJSON struct {
	ID          int64   `json:"id"`
	NodeID      string  `json:"node_id"`
	URL         string  `json:"url"`
	Name        string  `json:"name"`
	Color       string  `json:"color"`
	Default     bool    `json:"default"`
	Description *string `json:"description"`
}

func labelObject(l links, info state.RepoInfo, name string) labelJSON {
	id := stableID(info.FullName, "label", name)
	return labelJSON{
		ID: id, NodeID: nodeID("Label", id), URL: l.repoAPI(info.FullName, "/labels/"+escapeSegments(name)),
		Name: name, Color: fmt.Sprintf("%06x", id&0xffffff),
	}
}

type reactionsJSON struct {
	URL        string `json:"url"`
	TotalCount int    `json:"total_count"`
	PlusOne    int    `json:"+1"`
	MinusOne   int    `json:"-1"`
	Laugh      int    `json:"laugh"`
	Hooray     int    `json:"hooray"`
	Confused   int    `json:"confused"`
	Heart      int    `json:"heart"`
	Rocket     int    `json:"rocket"`
	Eyes       int    `json:"eyes"`
}

func reactionsSummary(url string, entries []string) reactionsJSON {
	r := reactionsJSON{URL: url}
	for _, e := range entries {
		content, _, _ := strings.Cut(e, ":")
		r.TotalCount++
		switch content {
		case "+1":
			r.PlusOne++
		case "-1":
			r.MinusOne++
		case "laugh":
			r.Laugh++
		case "hooray":
			r.Hooray++
		case "confused":
			r.Confused++
		case "heart":
			r.Heart++
		case "rocket":
			r.Rocket++
		case "eyes":
			r.Eyes++
		}
	}
	return r
}

type issuePullLinks struct {
	URL      string  `json:"url"`
	HTMLURL  string  `json:"html_url"`
	DiffURL  string  `json:"diff_url"`
	PatchURL string  `json:"patch_url"`
	MergedAt *string `json:"merged_at"`
}

type issueJSON struct {
	URL               string          `json:"url"`
	RepositoryURL     string          `json:"repository_url"`
	LabelsURL         string          `json:"labels_url"`
	CommentsURL       string          `json:"comments_url"`
	EventsURL         string          `json:"events_url"`
	HTMLURL           string          `json:"html_url"`
	ID                int64           `json:"id"`
	NodeID            string          `json:"node_id"`
	Number            int             `json:"number"`
	Title             string          `json:"title"`
	User              userJSON        `json:"user"`
	Labels            []labelJSON     `json:"labels"`
	State             string          `json:"state"`
	Locked            bool            `json:"locked"`
	Assignee          *userJSON       `json:"assignee"`
	Assignees         []userJSON      `json:"assignees"`
	Milestone         *struct{}       `json:"milestone"`
	Comments          int             `json:"comments"`
	CreatedAt         string          `json:"created_at"`
	UpdatedAt         string          `json:"updated_at"`
	ClosedAt          *string         `json:"closed_at"`
	AuthorAssociation string          `json:"author_association"`
	ActiveLockReason  *string         `json:"active_lock_reason"`
	Draft             *bool           `json:"draft,omitempty"`
	PullRequest       *issuePullLinks `json:"pull_request,omitempty"`
	Body              *string         `json:"body"`
	Reactions         reactionsJSON   `json:"reactions"`
	TimelineURL       string          `json:"timeline_url"`
	PerformedVia      *struct{}       `json:"performed_via_github_app"`
	StateReason       *string         `json:"state_reason"`
}

// githubState maps the model's states onto GitHub's open/closed.
func githubState(s string) string {
	if s == "open" {
		return "open"
	}
	return "closed"
}

func issueObject(l links, info state.RepoInfo, i *state.Issue, author userJSON, assoc string, comments int) issueJSON {
	full := info.FullName
	n := fmt.Sprint(i.Number)
	api := l.repoAPI(full, "/issues/"+n)
	o := issueJSON{
		URL: api, RepositoryURL: l.repoAPI(full, ""), LabelsURL: api + "/labels{/name}",
		CommentsURL: api + "/comments", EventsURL: api + "/events", HTMLURL: l.repoHTML(full, "/issues/"+n),
		ID: issueID(info.ID, i.Number), NodeID: nodeID("Issue", issueID(info.ID, i.Number)),
		Number: i.Number, Title: i.Title, User: author, Labels: []labelJSON{}, State: githubState(i.State),
		Assignees: []userJSON{}, Comments: comments, CreatedAt: ts(i.CreatedAt), UpdatedAt: ts(i.UpdatedAt),
		AuthorAssociation: assoc, Body: strPtr(i.Body),
		Reactions:   reactionsSummary(api+"/reactions", nil),
		TimelineURL: api + "/timeline",
	}
	for _, name := range i.Labels {
		o.Labels = append(o.Labels, labelObject(l, info, name))
	}
	if i.State != "open" {
		o.ClosedAt = tsPtr(i.UpdatedAt)
		reason := "completed"
		o.StateReason = &reason
	}
	if i.IsPull {
		o.HTMLURL = l.repoHTML(full, "/pull/"+n)
		draft := false
		o.Draft = &draft
		o.PullRequest = &issuePullLinks{
			URL: l.repoAPI(full, "/pulls/"+n), HTMLURL: o.HTMLURL,
			DiffURL: o.HTMLURL + ".diff", PatchURL: o.HTMLURL + ".patch",
		}
		if i.State == "merged" {
			o.PullRequest.MergedAt = tsPtr(i.UpdatedAt)
		}
	}
	return o
}

type prBranchJSON struct {
	Label string    `json:"label"`
	Ref   string    `json:"ref"`
	SHA   string    `json:"sha,omitempty"`
	User  userJSON  `json:"user"`
	Repo  *repoJSON `json:"repo"`
}

type hrefJSON struct {
	Href string `json:"href"`
}

type pullJSON struct {
	URL                 string              `json:"url"`
	ID                  int64               `json:"id"`
	NodeID              string              `json:"node_id"`
	HTMLURL             string              `json:"html_url"`
	DiffURL             string              `json:"diff_url"`
	PatchURL            string              `json:"patch_url"`
	IssueURL            string              `json:"issue_url"`
	Number              int                 `json:"number"`
	State               string              `json:"state"`
	Locked              bool                `json:"locked"`
	Title               string              `json:"title"`
	User                userJSON            `json:"user"`
	Body                *string             `json:"body"`
	CreatedAt           string              `json:"created_at"`
	UpdatedAt           string              `json:"updated_at"`
	ClosedAt            *string             `json:"closed_at"`
	MergedAt            *string             `json:"merged_at"`
	MergeCommitSHA      *string             `json:"merge_commit_sha"`
	Assignee            *userJSON           `json:"assignee"`
	Assignees           []userJSON          `json:"assignees"`
	RequestedReviewers  []userJSON          `json:"requested_reviewers"`
	RequestedTeams      []struct{}          `json:"requested_teams"`
	Labels              []labelJSON         `json:"labels"`
	Milestone           *struct{}           `json:"milestone"`
	Draft               bool                `json:"draft"`
	CommitsURL          string              `json:"commits_url"`
	ReviewCommentsURL   string              `json:"review_comments_url"`
	ReviewCommentURL    string              `json:"review_comment_url"`
	CommentsURL         string              `json:"comments_url"`
	StatusesURL         string              `json:"statuses_url"`
	Head                prBranchJSON        `json:"head"`
	Base                prBranchJSON        `json:"base"`
	Links               map[string]hrefJSON `json:"_links"`
	AuthorAssociation   string              `json:"author_association"`
	AutoMerge           *struct{}           `json:"auto_merge"`
	ActiveLockReason    *string             `json:"active_lock_reason"`
	Merged              bool                `json:"merged"`
	Mergeable           *bool               `json:"mergeable"`
	Rebaseable          *bool               `json:"rebaseable"`
	MergeableState      string              `json:"mergeable_state"`
	MergedBy            *userJSON           `json:"merged_by"`
	Comments            int                 `json:"comments"`
	ReviewComments      int                 `json:"review_comments"`
	MaintainerCanModify bool                `json:"maintainer_can_modify"`
	Commits             int                 `json:"commits"`
	Additions           int                 `json:"additions"`
	Deletions           int                 `json:"deletions"`
	ChangedFiles        int                 `json:"changed_files"`
}

// pullFacts are what a pull request object needs beyond the issue.
type pullFacts struct {
	author   userJSON
	assoc    string
	repo     repoJSON
	headSHA  string // empty when unknown (webhooks) or the branch is gone
	baseSHA  string
	comments int
}

func pullObject(l links, info state.RepoInfo, i *state.Issue, f pullFacts) pullJSON {
	full := info.FullName
	n := fmt.Sprint(i.Number)
	api := l.repoAPI(full, "/pulls/"+n)
	html := l.repoHTML(full, "/pull/"+n)
	issueAPI := l.repoAPI(full, "/issues/"+n)
	repo := f.repo
	p := pullJSON{
		URL: api, ID: pullID(info.ID, i.Number), NodeID: nodeID("PullRequest", pullID(info.ID, i.Number)),
		HTMLURL: html, DiffURL: html + ".diff", PatchURL: html + ".patch", IssueURL: issueAPI,
		Number: i.Number, State: githubState(i.State), Title: i.Title, User: f.author, Body: strPtr(i.Body),
		CreatedAt: ts(i.CreatedAt), UpdatedAt: ts(i.UpdatedAt),
		Assignees: []userJSON{}, RequestedReviewers: []userJSON{}, RequestedTeams: []struct{}{}, Labels: []labelJSON{},
		CommitsURL: api + "/commits", ReviewCommentsURL: api + "/comments",
		ReviewCommentURL: l.repoAPI(full, "/pulls/comments{/number}"), CommentsURL: issueAPI + "/comments",
		Head: prBranchJSON{Label: info.Owner + ":" + i.Head, Ref: i.Head, SHA: f.headSHA, User: repo.Owner, Repo: &repo},
		Base: prBranchJSON{Label: info.Owner + ":" + i.Base, Ref: i.Base, SHA: f.baseSHA, User: repo.Owner, Repo: &repo},
		Links: map[string]hrefJSON{
			"self": {api}, "html": {html}, "issue": {issueAPI}, "comments": {issueAPI + "/comments"},
			"review_comments": {api + "/comments"}, "review_comment": {l.repoAPI(full, "/pulls/comments{/number}")},
			"commits": {api + "/commits"}, "statuses": {l.repoAPI(full, "/statuses/"+f.headSHA)},
		},
		AuthorAssociation: f.assoc, Merged: i.State == "merged", MergeableState: "unknown",
		Comments: f.comments, MaintainerCanModify: false,
	}
	if f.headSHA != "" {
		p.StatusesURL = l.repoAPI(full, "/statuses/"+f.headSHA)
	}
	for _, name := range i.Labels {
		p.Labels = append(p.Labels, labelObject(l, info, name))
	}
	if i.State != "open" {
		p.ClosedAt = tsPtr(i.UpdatedAt)
	}
	if i.State == "merged" {
		p.MergedAt = tsPtr(i.UpdatedAt)
		if f.baseSHA != "" {
			p.MergeCommitSHA = &f.baseSHA
		}
	}
	return p
}

// commentJSON is an issue comment; commitCommentJSON adds the commit fields.
type commentJSON struct {
	URL               string        `json:"url"`
	HTMLURL           string        `json:"html_url"`
	IssueURL          string        `json:"issue_url,omitempty"`
	ID                int64         `json:"id"`
	NodeID            string        `json:"node_id"`
	User              userJSON      `json:"user"`
	CreatedAt         string        `json:"created_at"`
	UpdatedAt         string        `json:"updated_at"`
	AuthorAssociation string        `json:"author_association"`
	Body              string        `json:"body"`
	Reactions         reactionsJSON `json:"reactions"`
	PerformedVia      *struct{}     `json:"performed_via_github_app"`
}

type commitCommentJSON struct {
	commentJSON
	Path     *string `json:"path"`
	Position *int    `json:"position"`
	Line     *int    `json:"line"`
	CommitID string  `json:"commit_id"`
}

// issueCommentObject needs to know whether the issue is a pull request only
// for html_url, which GitHub points at /pull/N for those.
func issueCommentObject(l links, info state.RepoInfo, c *state.Comment, isPull bool, author userJSON, assoc string) commentJSON {
	full := info.FullName
	id := fmt.Sprint(c.ID)
	kind := "/issues/"
	if isPull {
		kind = "/pull/"
	}
	api := l.repoAPI(full, "/issues/comments/"+id)
	return commentJSON{
		URL: api, HTMLURL: l.repoHTML(full, fmt.Sprintf("%s%d#issuecomment-%d", kind, c.Issue, c.ID)),
		IssueURL: l.repoAPI(full, fmt.Sprintf("/issues/%d", c.Issue)),
		ID:       c.ID, NodeID: nodeID("IssueComment", c.ID), User: author,
		CreatedAt: ts(c.CreatedAt), UpdatedAt: ts(c.UpdatedAt), AuthorAssociation: assoc, Body: c.Body,
		Reactions: reactionsSummary(api+"/reactions", c.Reactions),
	}
}

func commitCommentObject(l links, info state.RepoInfo, c *state.Comment, author userJSON, assoc string) commitCommentJSON {
	full := info.FullName
	api := l.repoAPI(full, fmt.Sprintf("/comments/%d", c.ID))
	return commitCommentJSON{
		commentJSON: commentJSON{
			URL: api, HTMLURL: l.repoHTML(full, fmt.Sprintf("/commit/%s#commitcomment-%d", c.CommitSHA, c.ID)),
			ID: c.ID, NodeID: nodeID("CommitComment", c.ID), User: author,
			CreatedAt: ts(c.CreatedAt), UpdatedAt: ts(c.UpdatedAt), AuthorAssociation: assoc, Body: c.Body,
			Reactions: reactionsSummary(api+"/reactions", c.Reactions),
		},
		CommitID: c.CommitSHA,
	}
}

type reactionJSON struct {
	ID        int64    `json:"id"`
	NodeID    string   `json:"node_id"`
	User      userJSON `json:"user"`
	Content   string   `json:"content"`
	CreatedAt string   `json:"created_at"`
}

// reactionContents are the reactions GitHub accepts.
var reactionContents = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

type permissionJSON struct {
	Permission string   `json:"permission"`
	RoleName   string   `json:"role_name"`
	User       userJSON `json:"user"`
}

// permissionNames maps an access level to GitHub's (permission, role_name):
// GitHub reports the maintain role's permission as "write" and triage's as "read".
func permissionNames(lvl state.AccessLevel) (string, string) {
	switch {
	case lvl >= state.Owner:
		return "admin", "admin"
	case lvl >= state.Maintainer:
		return "write", "maintain"
	case lvl >= state.Developer:
		return "write", "write"
	case lvl >= state.Reporter:
		return "read", "triage"
	case lvl >= state.Guest:
		return "read", "read"
	}
	return "none", "none"
}
