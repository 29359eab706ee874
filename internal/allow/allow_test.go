package allow

import (
	"strings"
	"testing"
)

func TestAllows(t *testing.T) {
	type check struct {
		host, path string
		want       bool
	}
	tests := []struct {
		name     string
		patterns []string
		checks   []check
	}{
		{"empty list allows all", nil, []check{
			{"github.com", "acme/llm", true},
			{"gitlab.example.com", "a/b/c/d", true},
		}},
		{"exact", []string{"github.com/acme/llm"}, []check{
			{"github.com", "acme/llm", true},
			{"github.com", "acme/llm2", false},
			{"github.com", "acme/llm/sub", false},
			{"gitlab.com", "acme/llm", false},
			{"github.com", "other/llm", false},
		}},
		{"case-insensitive", []string{"GitHub.com/ACME/*"}, []check{
			{"github.com", "acme/llm", true},
			{"GITHUB.COM", "Acme/LLM", true},
		}},
		{"star within a segment", []string{"github.com/acme/llm-*", "github.com/*-ml/*"}, []check{
			{"github.com", "acme/llm-7b", true},
			{"github.com", "acme/llm-", true},
			{"github.com", "acme/other", false},
			{"github.com", "team-ml/x", true},
			{"github.com", "acme/llm-a/b", false},
		}},
		{"question mark and class", []string{"github.com/acme/run[0-9]?"}, []check{
			{"github.com", "acme/run1a", true},
			{"github.com", "acme/run1", false},
			{"github.com", "acme/runxa", false},
		}},
		{"escape", []string{`github.com/acme/a\*`}, []check{
			{"github.com", "acme/a*", true},
			{"github.com", "acme/ab", false},
		}},
		{"double star for subgroups", []string{"gitlab.example.com/ml/**"}, []check{
			{"gitlab.example.com", "ml/proj", true},
			{"gitlab.example.com", "ml/sub/proj", true},
			{"gitlab.example.com", "ml/a/b/c/proj", true},
			{"gitlab.example.com", "mlx/proj", false},
			{"gitlab.com", "ml/proj", false},
		}},
		{"double star in the middle", []string{"gitlab.com/ml/**/exp-*"}, []check{
			{"gitlab.com", "ml/exp-1", true},
			{"gitlab.com", "ml/a/b/exp-2", true},
			{"gitlab.com", "ml/a/b/other", false},
			{"gitlab.com", "ml/exp-1/x", false},
		}},
		{"double star everywhere", []string{"**"}, []check{
			{"github.com", "a/b", true},
			{"x", "a/b/c/d/e", true},
		}},
		{"any host", []string{"*/acme/*"}, []check{
			{"github.com", "acme/x", true},
			{"gitlab.com", "acme/x", true},
			{"gitlab.com", "acme/sub/x", false},
		}},
		{"exclusion after inclusion denies", []string{"github.com/acme/*", "!github.com/acme/secret"}, []check{
			{"github.com", "acme/llm", true},
			{"github.com", "acme/secret", false},
			{"github.com", "ACME/Secret", false},
			{"github.com", "acme/secret/", false},
		}},
		{"last match wins", []string{"**", "!github.com/acme/*", "github.com/acme/public-*"}, []check{
			{"gitlab.com", "x/y", true},
			{"github.com", "acme/llm", false},
			{"github.com", "acme/public-data", true},
		}},
		{"inclusion before exclusion loses", []string{"!github.com/acme/*", "**"}, []check{
			{"github.com", "acme/llm", true},
		}},
		{"no match denies", []string{"github.com/acme/*"}, []check{
			{"github.com", "evil/llm", false},
		}},
		{"blank around pattern", []string{"  github.com/acme/*  ", " !github.com/acme/x", "! github.com/acme/z "}, []check{
			{"github.com", "acme/y", true},
			{"github.com", "acme/x", false},
			{"github.com", "acme/z", false},
		}},
		{"malformed names never pass", nil, []check{
			{"", "acme/llm", false},
			{"github.com", "", false},
			{"github.com", "acme", false},
			{"github.com", "acme//llm", false},
			{"github.com", "acme/../llm", false},
			{"github.com", "./llm", false},
			{"github.com/acme", "llm", false},
			{"github.com", strings.Repeat("a/", MaxSegments) + "x", false},
		}},
		{"malformed names never pass a star list", []string{"**"}, []check{
			{"github.com", "acme/../x", false},
			{"github.com", "acme", false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(tc.patterns)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.patterns, err)
			}
			if l.Empty() != (len(tc.patterns) == 0) {
				t.Errorf("Empty() = %v", l.Empty())
			}
			for _, c := range tc.checks {
				if got := l.Allows(c.host, c.path); got != c.want {
					t.Errorf("Allows(%q, %q) = %v, want %v", c.host, c.path, got, c.want)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := map[string]struct {
		patterns []string
		want     string
	}{
		"empty":           {[]string{""}, "it is empty"},
		"blank":           {[]string{"   "}, "it is empty"},
		"bang only":       {[]string{"**", "!"}, "pattern 2"},
		"leading slash":   {[]string{"/github.com/a/b"}, `starts or ends with "/"`},
		"trailing slash":  {[]string{"github.com/a/"}, `starts or ends with "/"`},
		"empty segment":   {[]string{"github.com//b/c"}, "empty segment"},
		"too short":       {[]string{"github.com/acme"}, `did you mean "github.com/acme/*"?`},
		"one segment":     {[]string{"acme"}, "at least 3"},
		"bad class":       {[]string{"github.com/acme/[a-"}, "not a valid pattern"},
		"bad class later": {[]string{"github.com/acme/x[a-"}, "not a valid pattern"},
		"bad escape":      {[]string{`github.com/acme/x\`}, "not a valid pattern"},
		"mixed double":    {[]string{"github.com/acme/a**"}, `"**" must be a whole segment`},
		"only exclusions": {[]string{"!github.com/acme/*"}, "only exclusions"},
		"too many":        {[]string{strings.Repeat("a/", MaxSegments) + "b"}, "segments; the limit is"},
	}
	for name, tc := range tests {
		l, err := Parse(tc.patterns)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Parse(%q) = %v, want an error with %q", name, tc.patterns, err, tc.want)
		}
		if !l.Empty() {
			t.Errorf("%s: a refused list is not empty", name)
		}
	}
	// Every bad pattern is reported, not only the first.
	_, err := Parse([]string{"", "github.com/ok/*", "x"})
	if err == nil || !strings.Contains(err.Error(), "pattern 1") || !strings.Contains(err.Error(), "pattern 3") {
		t.Errorf("both errors not reported: %v", err)
	}
}

func TestString(t *testing.T) {
	l, err := Parse([]string{"github.com/acme/*", "!github.com/acme/x"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.String(), "github.com/acme/*,!github.com/acme/x"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
