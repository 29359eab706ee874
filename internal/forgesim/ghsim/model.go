package ghsim

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/expbot/expbot/internal/forgesim/state"
)

// Helpers over the model that GitHub's API needs and state does not offer.
// They run inside Forge.WithRepo / Forge.Act callbacks, so they only use
// Repo methods.

func escapeQuery(s string) string { return url.QueryEscape(s) }

// treeSHA stands in for Git's tree id: the model keeps flat path→blob maps,
// so this hashes the sorted entries. It changes exactly when the tree does.
func treeSHA(tree map[string]string) string {
	h := sha1.New()
	for _, p := range slices.Sorted(maps.Keys(tree)) {
		fmt.Fprintf(h, "%s\x00%s\n", p, tree[p])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// subtree returns the entries below dir ("" for the root) as a tree of its own.
func subtree(tree map[string]string, dir string) map[string]string {
	out := map[string]string{}
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	for p, sha := range tree {
		if strings.HasPrefix(p, prefix) {
			out[strings.TrimPrefix(p, prefix)] = sha
		}
	}
	return out
}

// dirEntry is one child of a directory.
type dirEntry struct {
	name, typ, sha string
	size           int
}

// listDir returns the children of dir sorted by name, or false when dir is
// not a directory of the tree.
func listDir(r *state.Repo, tree map[string]string, dir string) ([]dirEntry, bool) {
	sub := subtree(tree, dir)
	if len(sub) == 0 && dir != "" {
		return nil, false
	}
	seen := map[string]dirEntry{}
	for rel, sha := range sub {
		name, _, isDir := strings.Cut(rel, "/")
		if isDir {
			if _, ok := seen[name]; !ok {
				seen[name] = dirEntry{name: name, typ: "dir", sha: treeSHA(subtree(sub, name))}
			}
			continue
		}
		b, _ := r.Blob(sha)
		seen[name] = dirEntry{name: name, typ: "file", sha: sha, size: len(b)}
	}
	out := slices.Collect(maps.Values(seen))
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, true
}

// pathConflict reports whether writing a file at p would clash with the
// tree: p is a directory, or one of its parents is a file.
func pathConflict(tree map[string]string, p string) bool {
	for q := range tree {
		if strings.HasPrefix(q, p+"/") || strings.HasPrefix(p, q+"/") {
			return true
		}
	}
	return false
}

// history lists the commits reachable from head, newest first (by committer
// date, then SHA for a stable order), as GitHub's commit list does.
func history(r *state.Repo, head string) []*state.Commit {
	var out []*state.Commit
	seen := map[string]bool{}
	stack := []string{head}
	for len(stack) > 0 {
		sha := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[sha] {
			continue
		}
		seen[sha] = true
		c, ok := r.Commit(sha)
		if !ok {
			continue
		}
		out = append(out, c)
		stack = append(stack, c.Parents...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Committer.When, out[j].Committer.When
		if !a.Equal(b) {
			return a.After(b)
		}
		return isAncestorOf(r, out[j].SHA, out[i].SHA)
	})
	return out
}

// isAncestorOf reports whether anc is reachable from sha (or equal to it).
func isAncestorOf(r *state.Repo, anc, sha string) bool {
	seen := map[string]bool{}
	stack := []string{sha}
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if s == anc {
			return true
		}
		if seen[s] {
			continue
		}
		seen[s] = true
		if c, ok := r.Commit(s); ok {
			stack = append(stack, c.Parents...)
		}
	}
	return false
}

// newCommits are the commits reachable from after but not from before,
// oldest first: what a push of before→after adds.
func newCommits(r *state.Repo, before, after string) []state.Commit {
	var out []state.Commit
	for _, c := range history(r, after) {
		if before != "" && isAncestorOf(r, c.SHA, before) {
			continue
		}
		out = append(out, *c)
	}
	slices.Reverse(out)
	return out
}

// changedFiles compares a commit with its first parent, as GitHub's commit
// API reports "files". Line counts treat a change as a rewrite of the file.
func changedFiles(r *state.Repo, c *state.Commit) []fileChange {
	var parent map[string]string
	if len(c.Parents) > 0 {
		if p, ok := r.Commit(c.Parents[0]); ok {
			parent = p.Tree
		}
	}
	paths := map[string]bool{}
	for p := range c.Tree {
		paths[p] = true
	}
	for p := range parent {
		paths[p] = true
	}
	var out []fileChange
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		now, inNow := c.Tree[p]
		was, inWas := parent[p]
		var ch fileChange
		switch {
		case inNow && !inWas:
			ch = fileChange{path: p, status: "added", sha: now}
		case !inNow && inWas:
			ch = fileChange{path: p, status: "removed", sha: was}
		case now != was:
			ch = fileChange{path: p, status: "modified", sha: now}
		default:
			continue
		}
		if inNow {
			b, _ := r.Blob(now)
			ch.additions = lineCount(b)
		}
		if inWas {
			b, _ := r.Blob(was)
			ch.deletions = lineCount(b)
		}
		out = append(out, ch)
	}
	return out
}

type fileChange struct {
	path, status, sha    string
	additions, deletions int
}

func lineCount(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	n := bytes.Count(b, []byte("\n"))
	if b[len(b)-1] != '\n' {
		n++
	}
	return n
}

// touches reports whether c changed path relative to its first parent.
func touches(r *state.Repo, c *state.Commit, path string) bool {
	var before string
	if len(c.Parents) > 0 {
		if p, ok := r.Commit(c.Parents[0]); ok {
			before = p.Tree[path]
		}
	}
	if before != c.Tree[path] {
		return true
	}
	// A directory path: any entry below it changed.
	for _, ch := range changedFiles(r, c) {
		if strings.HasPrefix(ch.path, path+"/") {
			return true
		}
	}
	return false
}
