// Package allow is the allowlist of repositories expbot acts for.
//
// A list is a sequence of patterns of the form host/owner/repo, matched
// against the repository's host and path (event.Repo's Host and Path):
//
//	github.com/acme/*               every repository of acme on github.com
//	gitlab.example.com/ml/**        every project under the group ml, subgroups included
//	**                              everything
//	!github.com/acme/secret         but not this one
//
// Each pattern is split at "/" into segments. A segment matches one segment
// of the repository with path.Match's syntax ("*", "?", "[a-z]", "\" to
// escape); a segment that is exactly "**" matches any number of segments,
// none included. A leading "!" makes the pattern exclude. As in .gitignore,
// the last pattern that matches decides, so order matters: an exclusion
// after a broader pattern carves out of it, and a pattern after an
// exclusion lets some back in. A repository that no pattern matches is not
// allowed, except that an empty list allows every repository (no allowlist
// configured).
//
// Matching ignores case: host names are case-insensitive, and GitHub and
// GitLab resolve owner and repository names without regard to case, so a
// pattern must not be dodged by writing ACME for acme.
package allow

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// MaxSegments bounds the segments of a pattern and of a repository path.
// GitLab nests groups at most 20 deep; the bound keeps matching cheap.
const MaxSegments = 32

// List is a parsed allowlist. The zero List is empty and allows everything.
type List struct {
	rules []rule
}

type rule struct {
	exclude bool
	segs    []string // lowercased; "**" is any number of segments
	text    string   // as written, for String
}

// Parse reads patterns, in order. Blank patterns and malformed ones are
// errors, since a typo in an allowlist silently letting in or shutting out
// repositories is worse than a refusal to start. A list of only
// exclusions is an error too: it would allow nothing; start it with "**".
func Parse(patterns []string) (List, error) {
	var (
		l    List
		errs []error
	)
	for i, p := range patterns {
		r, err := parseRule(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("allowlist pattern %d %q: %w", i+1, p, err))
			continue
		}
		l.rules = append(l.rules, r)
	}
	if len(errs) > 0 {
		return List{}, errors.Join(errs...)
	}
	if len(l.rules) > 0 && !hasInclude(l.rules) {
		return List{}, errors.New(`allowlist has only exclusions ("!..."), so it allows no repository; start it with "**" to allow all others`)
	}
	return l, nil
}

func hasInclude(rules []rule) bool {
	for _, r := range rules {
		if !r.exclude {
			return true
		}
	}
	return false
}

func parseRule(p string) (rule, error) {
	r := rule{text: p}
	p = strings.TrimSpace(p)
	if rest, ok := strings.CutPrefix(p, "!"); ok {
		// "! x" is "!x": a stray space must not make an exclusion match
		// nothing.
		r.exclude, p = true, strings.TrimSpace(rest)
	}
	if p == "" {
		return rule{}, errors.New("it is empty")
	}
	if strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return rule{}, errors.New(`it starts or ends with "/"; write host/owner/repo`)
	}
	segs := strings.Split(strings.ToLower(p), "/")
	if len(segs) > MaxSegments {
		return rule{}, fmt.Errorf("it has %d segments; the limit is %d", len(segs), MaxSegments)
	}
	double := false
	for _, s := range segs {
		switch {
		case s == "":
			return rule{}, errors.New(`it holds an empty segment ("//")`)
		case s == "**":
			double = true
		case strings.Contains(s, "**"):
			return rule{}, fmt.Errorf(`segment %q: "**" must be a whole segment`, s)
		default:
			// path.Match reports a malformed pattern whatever the name.
			if _, err := path.Match(s, ""); err != nil {
				return rule{}, fmt.Errorf("segment %q is not a valid pattern: %w", s, err)
			}
		}
	}
	// host/owner/repo is three segments at least; a shorter pattern without
	// "**" could never match and is surely a mistake (github.com/acme for
	// github.com/acme/*).
	if !double && len(segs) < 3 {
		return rule{}, fmt.Errorf("it has %d segments but matches host/owner/repo, which has at least 3; did you mean %q?", len(segs), strings.TrimPrefix(r.text, "!")+"/*")
	}
	r.segs = segs
	return r, nil
}

// Allows reports whether the repository repoPath ("owner/repo", or
// "group/subgroup/project") on host may use expbot: the last pattern that
// matches host/repoPath decides, and no match means no. An empty list
// allows every repository. A malformed host or path (empty, or with empty,
// "." or ".." segments) is never allowed, whatever the list: it cannot
// name a real repository, and refusing it keeps a pattern from being
// dodged.
func (l List) Allows(host, repoPath string) bool {
	name, ok := split(host, repoPath)
	if !ok {
		return false
	}
	if len(l.rules) == 0 {
		return true
	}
	for i := len(l.rules) - 1; i >= 0; i-- {
		if match(l.rules[i].segs, name) {
			return !l.rules[i].exclude
		}
	}
	return false
}

// Empty reports whether the list has no patterns, and so allows everything.
func (l List) Empty() bool { return len(l.rules) == 0 }

// String gives the patterns as parsed, comma-separated, for logs.
func (l List) String() string {
	parts := make([]string, len(l.rules))
	for i, r := range l.rules {
		parts[i] = r.text
	}
	return strings.Join(parts, ",")
}

// split joins host and repoPath into lowercased segments.
func split(host, repoPath string) ([]string, bool) {
	if host == "" || strings.Contains(host, "/") {
		return nil, false
	}
	repoPath = strings.Trim(repoPath, "/")
	segs := append([]string{host}, strings.Split(repoPath, "/")...)
	if len(segs) < 3 || len(segs) > MaxSegments {
		return nil, false
	}
	for i, s := range segs {
		if s == "" || s == "." || s == ".." {
			return nil, false
		}
		segs[i] = strings.ToLower(s)
	}
	return segs, true
}

// match reports whether pattern segments pat match name segments, "**"
// matching any number of them. It fills a table of which suffixes match
// which, so that several "**" cost O(len(pat)·len(name)) instead of
// exponential backtracking.
func match(pat, name []string) bool {
	// ok[i][j]: pat[i:] matches name[j:].
	ok := make([][]bool, len(pat)+1)
	for i := range ok {
		ok[i] = make([]bool, len(name)+1)
	}
	ok[len(pat)][len(name)] = true
	for i := len(pat) - 1; i >= 0; i-- {
		for j := len(name); j >= 0; j-- {
			if pat[i] == "**" {
				// Match nothing, or one more segment.
				ok[i][j] = ok[i+1][j] || (j < len(name) && ok[i][j+1])
				continue
			}
			if j < len(name) {
				m, _ := path.Match(pat[i], name[j]) // validated by Parse
				ok[i][j] = m && ok[i+1][j+1]
			}
		}
	}
	return ok[0][0]
}
