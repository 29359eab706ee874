package spec

import (
	"strings"
	"testing"
)

// The valid/invalid verdicts below agree with `git check-ref-format
// --allow-onelevel` (git 2.39), except where a comment says the rule is ours.
func TestValidRefName(t *testing.T) {
	tests := []struct {
		name string
		want string // substring of the error; "" for valid
	}{
		{"main", ""},
		{"exp/12-lr-sweep", ""},
		{"refs/heads/main", ""},
		{"release/v1.2.3", ""},
		{"HEAD", ""},
		{"a./b", ""}, // only the whole name may not end with "."
		{"a@b", ""},
		{"@x", ""},
		{"a{b}", ""},
		{"deadbeef", ""},
		{"ünïcode/branch", ""},
		{"a-", ""},
		{"x.lockx", ""},
		{"#hash!", ""},
		{"back`tick", ""},
		{strings.Repeat("a", MaxRefNameBytes), ""},

		{"", "empty"},
		{strings.Repeat("a", MaxRefNameBytes+1), "201 bytes"}, // ours
		{"a\xffb", "UTF-8"}, // ours
		{"@", "reserves"},
		{"-x", "starts with `-`"}, // git check-ref-format --branch
		{"/a", "starts with `/`"},
		{"a/", "ends with `/`"},
		{"a.", "ends with `.`"},
		{"a/b.", "ends with `.`"},
		{"a..b", "`..`"},
		{"a//b", "`//`"},
		{"a@{b", "`@{`"},
		{"@{", "`@{`"},
		{"a\x00b", "control character"},
		{"a\x1fb", "control character"},
		{"a\x7fb", "control character"},
		{"a b", "space"},
		{"a~1", "`~`"},
		{"a^2", "`^`"},
		{"a:b", "`:`"},
		{"a?", "`?`"},
		{"a*", "`*`"},
		{"a[b", "`[`"},
		{`a\b`, "`\\`"},
		{".a", "starts with `.`"},
		{"a/.b", "starts with `.`"},
		{"a/.", "ends with `.`"},
		{"a.lock", "ends with `.lock`"},
		{"a.lock/b", "ends with `.lock`"},
		{"a/b.lock", "ends with `.lock`"},
		{".lock", "starts with `.`"},
	}
	for _, tt := range tests {
		err := ValidRefName(tt.name)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidRefName(%q) = %v, want valid", tt.name, err)
		case tt.want != "" && err == nil:
			t.Errorf("ValidRefName(%q) = nil, want error containing %q", tt.name, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("ValidRefName(%q) = %q, want it to contain %q", tt.name, err, tt.want)
		}
	}
}

func TestLooksLikeSHA(t *testing.T) {
	for s, want := range map[string]bool{
		"0123456": true,
		"0123456789abcdef0123456789ABCDEF01234567": true,
		strings.Repeat("a", 64):                    true,
		"012345":                                   false,
		strings.Repeat("a", 65):                    false,
		"012345g":                                  false,
		"main":                                     false,
	} {
		if got := LooksLikeSHA(s); got != want {
			t.Errorf("LooksLikeSHA(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"a", ""},
		{"0", ""},
		{"lr-sweep_2.b", ""},
		{strings.Repeat("a", MaxNameLen), ""},
		{"", "empty"},
		{strings.Repeat("a", MaxNameLen+1), "49 characters"},
		{"Lr", "lowercase"},
		{"a b", "lowercase"},
		{"a/b", "lowercase"},
		{"_a", "start with"},
		{"-a", "start with"},
		{".a", "start with"},
		{"a..b", "`..`"},
		{"a.", "ends with `.`"},
		{"a.lock", "`.lock`"},
		{"ü", "lowercase"},
	}
	for _, tt := range tests {
		err := ValidName(tt.name)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ValidName(%q) = %v, want valid", tt.name, err)
			}
			// Every valid name is a valid one-level ref: it becomes part of a branch.
			if err := ValidRefName(tt.name); err != nil {
				t.Errorf("valid name %q is not a valid ref: %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ValidName(%q) = %v, want error containing %q", tt.name, err, tt.want)
		}
	}
}
