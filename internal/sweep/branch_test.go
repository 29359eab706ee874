package sweep

import (
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/config"
)

func TestBranchName(t *testing.T) {
	for _, tc := range []struct {
		tmpl, tag, name, forge string
		want, err              string
	}{
		{"", "v1.0", "lr-sweep-lr0.1", "github", "exp/v1.0/lr-sweep-lr0.1", ""},
		{config.DefaultSweepBranchTemplate, "release/2024.05", "s", "gitlab", "exp/release/2024.05/s", ""},
		{"{forge}/{tag}-{name}", "refs/tags/v2", "s", "github", "github/v2-s", ""},
		{"sweep-{name}", "whatever", "s", "gitlab", "sweep-s", ""},
		{"exp/{tag}", "v1", "s", "github", "", "must use {name}"},
		{"exp/{number}/{name}", "v1", "s", "github", "", "unknown placeholder `{number}`"},
		{"exp/{name", "v1", "s", "github", "", "without a `}`"},
		{"exp/}{name}", "v1", "s", "github", "", "without a `{`"},
		{"refs/heads/{name}", "v1", "s", "github", "", "leave out `refs/`"},
		{"exp//{name}", "v1", "s", "github", "", "does not give a valid branch name"},
		{"", "bad..tag", "s", "github", "", "tag `bad..tag`"},
		{"", "", "s", "github", "", "tag"},
		{"", "v1", "Bad", "github", "", "experiment name `Bad`"},
		{"", "v1", "s", "gitea", "", "unknown forge `gitea`"},
		{"", "x.lock", "s", "github", "", "tag `x.lock`"},
		{"", strings.Repeat("t", 196), "s", "github", "", "it is 202 bytes long"},
	} {
		got, err := BranchName(tc.tmpl, tc.tag, tc.name, tc.forge)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("BranchName(%q, %q, %q, %q) = %q, %v; want %q", tc.tmpl, tc.tag, tc.name, tc.forge, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || got != "" {
			t.Errorf("BranchName(%q, %q, %q, %q) = %q, %v; want error with %q", tc.tmpl, tc.tag, tc.name, tc.forge, got, err, tc.err)
		}
	}
}

func TestValidateTemplate(t *testing.T) {
	if err := ValidateTemplate(config.DefaultSweepBranchTemplate); err != nil {
		t.Fatal(err)
	}
	// Too long for the longest name: refused up front, not at the first tag.
	if err := ValidateTemplate(strings.Repeat("x", 160) + "/{name}"); err == nil {
		t.Fatal("a template too long for the longest name was accepted")
	}
	// User text in messages is in code spans.
	err := ValidateTemplate("@team {x}")
	if err == nil || !strings.Contains(err.Error(), "`\"@team {x}\"`") {
		t.Fatalf("err = %v", err)
	}
}
