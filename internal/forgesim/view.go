package forgesim

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// RepoState returns a consistent snapshot of a repository for assertions.
func (s *Server) RepoState(fullName string) (RepoState, error) {
	var st RepoState
	err := s.forge.WithRepo(fullName, func(r *state.Repo) error {
		st = RepoState{
			ID: r.ID, FullName: r.FullName, DefaultBranch: r.DefaultBranch,
			Branches: map[string]string{}, Tags: map[string]string{},
			Files: map[string]map[string]string{}, Commits: []CommitInfo{},
			Issues: []state.Issue{}, Comments: []state.Comment{}, Hooks: r.Hooks(),
		}
		var heads []string
		for _, b := range r.Branches() {
			sha, _ := r.Branch(b)
			st.Branches[b] = sha
			heads = append(heads, sha)
			files := map[string]string{}
			if c, ok := r.Commit(sha); ok {
				for p, blob := range c.Tree {
					content, _ := r.Blob(blob)
					files[p] = string(content)
				}
			}
			st.Files[b] = files
		}
		for _, t := range r.Tags() {
			sha, _ := r.Tag(t)
			st.Tags[t] = sha
			heads = append(heads, sha)
		}
		st.Commits = reachable(r, heads)
		for _, i := range r.Issues() {
			st.Issues = append(st.Issues, issueOut(*i))
		}
		for _, c := range r.AllComments() {
			cc := *c
			cc.Reactions = slices.Clone(c.Reactions)
			st.Comments = append(st.Comments, cc)
		}
		return nil
	})
	if err != nil {
		return RepoState{}, fmt.Errorf("reading repository: %w", err)
	}
	return st, nil
}

// reachable lists the commits reachable from heads, newest first: ordered by
// generation (one more than the highest parent's), so a child always comes
// before its parents, then by date and SHA for a stable order.
func reachable(r *state.Repo, heads []string) []CommitInfo {
	gen := map[string]int{}
	var visit func(sha string) int
	visit = func(sha string) int {
		if g, ok := gen[sha]; ok {
			return g
		}
		c, ok := r.Commit(sha)
		if !ok {
			return 0
		}
		gen[sha] = 0 // histories are acyclic; this only guards against a corrupt model
		g := 1
		for _, p := range c.Parents {
			g = max(g, visit(p)+1)
		}
		gen[sha] = g
		return g
	}
	for _, h := range heads {
		visit(h)
	}
	out := make([]CommitInfo, 0, len(gen))
	for sha := range gen {
		if c, ok := r.Commit(sha); ok {
			out = append(out, commitInfo(c))
		}
	}
	slices.SortFunc(out, func(a, b CommitInfo) int {
		return cmp.Or(cmp.Compare(gen[b.SHA], gen[a.SHA]), b.Committer.When.Compare(a.Committer.When), cmp.Compare(a.SHA, b.SHA))
	})
	return out
}

func commitInfo(c *state.Commit) CommitInfo {
	return CommitInfo{SHA: c.SHA, Parents: append([]string{}, c.Parents...), Message: c.Message, Author: c.Author, Committer: c.Committer}
}
