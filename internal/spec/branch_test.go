package spec

import (
	"strings"
	"testing"
)

// issueTemplate is config.DefaultBranchTemplate, which spec cannot import.
const issueTemplate = "exp/{number}-{name}"

func TestBranchName(t *testing.T) {
	v := BranchVars{Number: 12, Name: "lr-sweep", Forge: "github"}
	tests := []struct {
		tmpl string
		v    BranchVars
		want string // the branch, or a substring of the error after "!"
	}{
		{issueTemplate, v, "exp/12-lr-sweep"},
		{"{forge}/{number}", v, "github/12"},
		{"experiments/{name}", BranchVars{Number: 1, Name: "x", Forge: "gitlab"}, "experiments/x"},
		{"{name}-{name}", v, "lr-sweep-lr-sweep"},
		{"exp/{number}", BranchVars{Number: 9999999999, Name: "a", Forge: "gitlab"}, "exp/9999999999"},

		{"exp/{num}", v, "!unknown placeholder `{num}`"},
		{"exp/{Number}", v, "!unknown placeholder"},
		{"exp/{}", v, "!unknown placeholder `{}`"},
		{"exp/{number", v, "!`{` without a `}`"},
		{"exp/number}", v, "!`}` without a `{`"},
		{"exp/{forge}", v, "!must use {number} or {name}"},
		{"static", v, "!must use {number} or {name}"},
		{"", v, "!must use {number} or {name}"},
		{"refs/heads/{name}", v, "!leave out \"refs/\""},
		{"exp//{name}", v, "!`//`"},
		{"exp/{name}/", v, "!ends with `/`"},
		{"-{name}", v, "!starts with `-`"},
		{"exp/.{name}", v, "!starts with `.`"},
		{"exp/{name}.lock", v, "!`.lock`"},
		{"exp {name}", v, "!space"},
		{"exp~{name}", v, "!`~`"},
		{"exp/" + strings.Repeat("x", 150) + "{name}", v, "!bytes long"},
		{"x.{name}", BranchVars{Number: 1, Name: "lock", Forge: "github"}, "!ends with `.lock`"},
		{issueTemplate, BranchVars{Number: 0, Name: "a", Forge: "github"}, "!not positive"},
		{issueTemplate, BranchVars{Number: 1, Name: "A", Forge: "github"}, "!lowercase"},
		{issueTemplate, BranchVars{Number: 1, Name: "", Forge: "github"}, "!empty"},
		{issueTemplate, BranchVars{Number: 1, Name: "a", Forge: "gitea"}, "!unknown forge"},
	}
	for _, tt := range tests {
		got, err := BranchName(tt.tmpl, tt.v)
		if msg, isErr := strings.CutPrefix(tt.want, "!"); isErr {
			if err == nil || !strings.Contains(err.Error(), msg) {
				t.Errorf("BranchName(%q, %+v) = %q, %v; want error containing %q", tt.tmpl, tt.v, got, err, msg)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("BranchName(%q, %+v) = %q, %v; want %q", tt.tmpl, tt.v, got, err, tt.want)
		}
	}
}

func TestValidateBranchTemplate(t *testing.T) {
	if err := ValidateBranchTemplate(issueTemplate); err != nil {
		t.Errorf("default template: %v", err)
	}
	for _, tmpl := range []string{"{number}", "{name}", "team/{forge}/{number}-{name}", "a.{number}"} {
		if err := ValidateBranchTemplate(tmpl); err != nil {
			t.Errorf("ValidateBranchTemplate(%q) = %v, want nil", tmpl, err)
		}
	}
	for _, tmpl := range []string{"{nope}", "{name", "x", "refs/{name}", "{name}.", "a..{name}", "@{name}x{", "@{{name}"} {
		if err := ValidateBranchTemplate(tmpl); err == nil {
			t.Errorf("ValidateBranchTemplate(%q) = nil, want an error", tmpl)
		}
	}
}
