package spec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// DefaultBranchTemplate names an experiment's branch after its issue number
// (unique in the repository) and its name (readable).
const DefaultBranchTemplate = "exp/{number}-{name}"

// BranchVars are the values a branch template may use.
type BranchVars struct {
	Number int    // {number}: the issue number (GitHub) or iid (GitLab)
	Name   string // {name}: the experiment name, valid by ValidName
	Forge  string // {forge}: "github" or "gitlab"
}

// placeholders are the names a template may use, in the order messages
// list them.
var placeholders = []string{"number", "name", "forge"}

// piece is a literal (placeholder == "") or a placeholder of a template.
type piece struct {
	literal     string
	placeholder string
}

func parseTemplate(tmpl string) ([]piece, error) {
	var out []piece
	rest := tmpl
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			out = append(out, piece{literal: rest})
			break
		}
		if rest[open] == '}' {
			return nil, errors.New("it has a `}` without a `{`")
		}
		if open > 0 {
			out = append(out, piece{literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, errors.New("it has a `{` without a `}`")
		}
		name := rest[open+1 : open+end]
		known := false
		for _, p := range placeholders {
			known = known || name == p
		}
		if !known {
			return nil, fmt.Errorf("it has the unknown placeholder %s; use {number}, {name} or {forge}", code("{"+name+"}"))
		}
		out = append(out, piece{placeholder: name})
		rest = rest[open+end+1:]
	}
	return out, nil
}

// ValidateBranchTemplate reports why tmpl cannot name experiment branches,
// or nil. Configuration loading calls it so that a bad template fails at
// start-up, not at the first request. A template must use {number} or
// {name}, else every experiment would get the same branch; it must not
// start with "refs/", since it names a branch, not a full ref; and it must
// give a valid ref name even for the longest experiment name.
func ValidateBranchTemplate(tmpl string) error {
	pieces, err := parseTemplate(tmpl)
	if err != nil {
		return fmt.Errorf("branch template %q: %w", tmpl, err)
	}
	distinct := false
	for _, p := range pieces {
		distinct = distinct || p.placeholder == "number" || p.placeholder == "name"
	}
	if !distinct {
		return fmt.Errorf("branch template %q: it must use {number} or {name}, or every experiment would get the same branch", tmpl)
	}
	if strings.HasPrefix(tmpl, "refs/") {
		return fmt.Errorf("branch template %q: it names a branch, so leave out %q", tmpl, "refs/")
	}
	// The longest values: a 10-digit number and a name of the maximum length.
	worst := BranchVars{Number: 9999999999, Name: strings.Repeat("n", MaxNameLen), Forge: "gitlab"}
	if err := ValidRefName(expand(pieces, worst)); err != nil {
		return fmt.Errorf("branch template %q does not give a valid branch name: %w", tmpl, err)
	}
	return nil
}

// BranchName fills tmpl with v and checks that the result is a valid branch
// name.
func BranchName(tmpl string, v BranchVars) (string, error) {
	if err := ValidateBranchTemplate(tmpl); err != nil {
		return "", err
	}
	if v.Number <= 0 {
		return "", fmt.Errorf("branch name: issue number %d is not positive", v.Number)
	}
	if err := ValidName(v.Name); err != nil {
		return "", fmt.Errorf("branch name: experiment name %q: %w", v.Name, err)
	}
	if v.Forge != "github" && v.Forge != "gitlab" {
		return "", fmt.Errorf("branch name: unknown forge %q", v.Forge)
	}
	pieces, err := parseTemplate(tmpl)
	if err != nil { // cannot happen after ValidateBranchTemplate; kept for safety
		return "", fmt.Errorf("branch template %q: %w", tmpl, err)
	}
	name := expand(pieces, v)
	if err := ValidRefName(name); err != nil {
		return "", fmt.Errorf("branch name %q: %w", name, err)
	}
	return name, nil
}

func expand(pieces []piece, v BranchVars) string {
	var b strings.Builder
	for _, p := range pieces {
		switch p.placeholder {
		case "":
			b.WriteString(p.literal)
		case "number":
			b.WriteString(strconv.Itoa(v.Number))
		case "name":
			b.WriteString(v.Name)
		case "forge":
			b.WriteString(v.Forge)
		}
	}
	return b.String()
}
