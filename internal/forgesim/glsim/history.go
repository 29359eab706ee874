package glsim

import (
	"sort"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// History walks over the model's commit graph. They run inside WithRepo or
// Act callbacks, so they only use Repo methods.

// ancestors returns every commit reachable from sha, itself included, in
// breadth-first order.
func ancestors(r *state.Repo, sha string) []string {
	var out []string
	seen := map[string]bool{}
	queue := []string{sha}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if seen[s] {
			continue
		}
		cm, ok := r.Commit(s)
		if !ok {
			continue
		}
		seen[s] = true
		out = append(out, s)
		queue = append(queue, cm.Parents...)
	}
	return out
}

// isAncestor reports whether anc is reachable from desc.
func isAncestor(r *state.Repo, anc, desc string) bool {
	for _, s := range ancestors(r, desc) {
		if s == anc {
			return true
		}
	}
	return false
}

// mergeBase returns the nearest common ancestor of a and b ("" if none).
func mergeBase(r *state.Repo, a, b string) string {
	inA := map[string]bool{}
	for _, s := range ancestors(r, a) {
		inA[s] = true
	}
	for _, s := range ancestors(r, b) {
		if inA[s] {
			return s
		}
	}
	return ""
}

// mergedToDefault is GitLab's Branch#merged: the branch head is reachable
// from the default branch without being its head.
func mergedToDefault(r *state.Repo, head string) bool {
	def, ok := r.Branch(r.DefaultBranch)
	if !ok || def == head {
		return false
	}
	return isAncestor(r, head, def)
}

// parentTree is the tree of a commit's first parent (empty for a root).
func parentTree(r *state.Repo, cm *state.Commit) map[string]string {
	if len(cm.Parents) == 0 {
		return map[string]string{}
	}
	p, ok := r.Commit(cm.Parents[0])
	if !ok {
		return map[string]string{}
	}
	return p.Tree
}

// changedPaths lists paths added, modified and removed between two trees.
func changedPaths(before, after map[string]string) (added, modified, removed []string) {
	added, modified, removed = []string{}, []string{}, []string{}
	for p, blob := range after {
		old, ok := before[p]
		switch {
		case !ok:
			added = append(added, p)
		case old != blob:
			modified = append(modified, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			removed = append(removed, p)
		}
	}
	sort.Strings(added)
	sort.Strings(modified)
	sort.Strings(removed)
	return added, modified, removed
}

// diffStats counts added and deleted lines between a commit and its first
// parent. Lines are compared as multisets, which equals git's numstat for
// the edits the simulator sees (whole-file writes) in all but reorderings.
func diffStats(r *state.Repo, cm *state.Commit) (additions, deletions int) {
	before := parentTree(r, cm)
	lines := func(blob string) map[string]int {
		m := map[string]int{}
		if blob == "" {
			return m
		}
		b, _ := r.Blob(blob)
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if l != "" {
				m[l]++
			}
		}
		return m
	}
	paths := map[string]bool{}
	for p := range before {
		paths[p] = true
	}
	for p := range cm.Tree {
		paths[p] = true
	}
	for p := range paths {
		if before[p] == cm.Tree[p] {
			continue
		}
		old, cur := lines(before[p]), lines(cm.Tree[p])
		for l, n := range cur {
			additions += max(0, n-old[l])
		}
		for l, n := range old {
			deletions += max(0, n-cur[l])
		}
	}
	return additions, deletions
}

// branchConflict reports an existing branch that git's ref storage would
// clash with ("a" and "a/b" cannot both exist).
func branchConflict(r *state.Repo, name string) bool {
	for _, b := range r.Branches() {
		if strings.HasPrefix(name, b+"/") || strings.HasPrefix(b, name+"/") {
			return true
		}
	}
	return false
}
