package allow

import (
	"path"
	"strings"
	"testing"
)

func FuzzAllows(f *testing.F) {
	f.Add("github.com/acme/*", "github.com", "acme/llm")
	f.Add("gitlab.com/ml/**/exp-*", "gitlab.com", "ml/a/b/exp-1")
	f.Add("**", "x", "a/b")
	f.Add("*/[a-c]?/**", "GitHub.com", "B1/x/y")
	f.Add(`h/a\*/b`, "h", "a*/b")
	f.Add("!h/a/b", "h", "a/b")
	f.Add("h/**/**/x", "h", "x/x/x")
	f.Add("h/a/[", "h", "a/[")
	f.Add("h/./b", "h", "./b")
	f.Fuzz(func(t *testing.T, pattern, host, repoPath string) {
		l, err := Parse([]string{pattern})
		allowed := l.Allows(host, repoPath)
		if err != nil {
			if !l.Empty() {
				t.Fatal("refused list is not empty")
			}
			// The refused list is the zero List: it allows any well-formed
			// name, and nothing else.
			if _, ok := split(host, repoPath); allowed != ok {
				t.Fatalf("zero List: Allows(%q, %q) = %v", host, repoPath, allowed)
			}
			return
		}
		p := strings.TrimSpace(pattern)
		if strings.HasPrefix(p, "!") {
			t.Fatalf("Parse accepted a list of only the exclusion %q", pattern)
		}
		name, wellFormed := split(host, repoPath)
		if allowed && !wellFormed {
			t.Fatalf("Allows(%q, %q) for a malformed name", host, repoPath)
		}
		if wellFormed && strings.Count(p, "**") <= 3 {
			if want := naive(strings.Split(strings.ToLower(p), "/"), name); allowed != want {
				t.Fatalf("Allows(%q, %q) with %q = %v, the naive matcher says %v", host, repoPath, pattern, allowed, want)
			}
		}
		// "!x" after "x" denies whatever x allowed, and "**" then "!x"
		// allows exactly what x does not.
		deny, err := Parse([]string{pattern, "!" + p})
		if err != nil {
			t.Fatalf("Parse of %q and its exclusion: %v", pattern, err)
		}
		if deny.Allows(host, repoPath) {
			t.Fatalf("%q then its exclusion allows (%q, %q)", pattern, host, repoPath)
		}
		except, err := Parse([]string{"**", "!" + p})
		if err != nil {
			t.Fatalf("Parse of ** and the exclusion of %q: %v", pattern, err)
		}
		if got := except.Allows(host, repoPath); got != (wellFormed && !allowed) {
			t.Fatalf("** then !%q: Allows(%q, %q) = %v, %q alone: %v", p, host, repoPath, got, p, allowed)
		}
	})
}

// naive is the matcher written the obvious way, by backtracking: fine for
// the few "**" the fuzz test gives it, and a second opinion on match.
func naive(pat, name []string) bool {
	if len(pat) == 0 {
		return len(name) == 0
	}
	if pat[0] == "**" {
		for k := 0; k <= len(name); k++ {
			if naive(pat[1:], name[k:]) {
				return true
			}
		}
		return false
	}
	if len(name) == 0 {
		return false
	}
	ok, err := path.Match(pat[0], name[0])
	return err == nil && ok && naive(pat[1:], name[1:])
}
