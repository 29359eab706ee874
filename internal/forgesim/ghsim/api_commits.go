package ghsim

import (
	"mime"
	"net/http"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Repository commits: one commit (JSON, or the bare SHA for the sha media
// type go-github's GetCommitSHA1 asks for) and the commit list.

func wantsSHA(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Accept"))
	return err == nil && (mt == "application/vnd.github.sha" || mt == "application/vnd.github.v3.sha")
}

func noCommitForSHA(ref string) *apiError {
	e := newAPIError(http.StatusUnprocessableEntity, "No commit found for SHA: "+ref)
	e.body.DocumentationURL = "https://docs.github.com/rest/commits/commits#get-a-commit"
	return e
}

func (s *server) getCommit(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	ref := q.r.PathValue("ref")
	var out repoCommitDetailJSON
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		c, found := r.Resolve(ref)
		if !found {
			return noCommitForSHA(ref)
		}
		out.repoCommitJSON = repoCommitObject(q.l, info, c, len(r.Comments(0, c.SHA)))
		out.Files = []commitFileJSON{}
		for _, ch := range changedFiles(r, c) {
			sha := ch.sha
			ep := escapeSegments(ch.path)
			out.Files = append(out.Files, commitFileJSON{
				SHA: &sha, Filename: ch.path, Status: ch.status,
				Additions: ch.additions, Deletions: ch.deletions, Changes: ch.additions + ch.deletions,
				BlobURL:     q.l.repoHTML(info.FullName, "/blob/"+c.SHA+"/"+ep),
				RawURL:      q.l.repoHTML(info.FullName, "/raw/"+c.SHA+"/"+ep),
				ContentsURL: q.l.repoAPI(info.FullName, "/contents/"+ep+"?ref="+c.SHA),
			})
			out.Stats.Additions += ch.additions
			out.Stats.Deletions += ch.deletions
		}
		out.Stats.Total = out.Stats.Additions + out.Stats.Deletions
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	if wantsSHA(q.r) {
		// The ETag is the quoted SHA: GetCommitSHA1 sends it back as If-None-Match.
		etag := `"` + out.SHA + `"`
		q.w.Header().Set("ETag", etag)
		if etagMatches(q.r.Header.Get("If-None-Match"), etag) {
			q.w.WriteHeader(http.StatusNotModified)
			return
		}
		q.w.Header().Set("Content-Type", "application/vnd.github.sha; charset=utf-8")
		q.w.WriteHeader(http.StatusOK)
		_, _ = q.w.Write([]byte(out.SHA))
		return
	}
	q.reply(http.StatusOK, out)
}

// listCommits is GET commits?sha=&path=, newest first.
func (s *server) listCommits(q *request) {
	info, ok := q.repo()
	if !ok {
		return
	}
	ref := q.r.URL.Query().Get("sha")
	if ref == "" {
		ref = info.DefaultBranch
	}
	path := strings.Trim(q.r.URL.Query().Get("path"), "/")
	out := []repoCommitJSON{}
	err := s.f.WithRepo(info.FullName, func(r *state.Repo) error {
		head, found := r.Resolve(ref)
		if !found {
			return notFound()
		}
		for _, c := range history(r, head.SHA) {
			if path != "" && !touches(r, c, path) {
				continue
			}
			out = append(out, repoCommitObject(q.l, info, c, len(r.Comments(0, c.SHA))))
		}
		return nil
	})
	if err != nil {
		q.fail(err)
		return
	}
	q.reply(http.StatusOK, paginate(q, out))
}
