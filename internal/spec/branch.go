package spec

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// BranchVars are the values a branch template may use.
type BranchVars struct {
	Number int    // {number}: the issue number (GitHub) or iid (GitLab)
	Name   string // {name}: the experiment name, valid by ValidName
	Forge  string // {forge}: "github" or "gitlab"
}

// placeholders are the names a template may use, in the order messages
// list them.
var placeholders = []string{"number", "name", "forge"}

// TemplatePiece is a literal (Placeholder == "") or a {placeholder} of a
// template.
type TemplatePiece struct {
	Literal     string
	Placeholder string
}

// Template is a parsed template: literals and {placeholders}, in order.
type Template []TemplatePiece

// ParseTemplate reads tmpl, a text with {placeholders} such as a branch
// template, allowing only the placeholders named in allowed (at least one).
// Errors are Markdown, fit for a reply, and read "it has …"; quote shows
// an unknown placeholder in them (Code, or the caller's own quoting).
func ParseTemplate(tmpl string, allowed []string, quote func(string) string) (Template, error) {
	var out Template
	rest := tmpl
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			out = append(out, TemplatePiece{Literal: rest})
			break
		}
		if rest[open] == '}' {
			return nil, errors.New("it has a `}` without a `{`")
		}
		if open > 0 {
			out = append(out, TemplatePiece{Literal: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, errors.New("it has a `{` without a `}`")
		}
		name := rest[open+1 : open+end]
		if !slices.Contains(allowed, name) {
			return nil, fmt.Errorf("it has the unknown placeholder %s; use %s", quote("{"+name+"}"), placeholderList(allowed))
		}
		out = append(out, TemplatePiece{Placeholder: name})
		rest = rest[open+end+1:]
	}
	return out, nil
}

// placeholderList lists names as "{a}, {b} or {c}".
func placeholderList(names []string) string {
	braced := make([]string, len(names))
	for i, n := range names {
		braced[i] = "{" + n + "}"
	}
	if len(braced) < 2 {
		return strings.Join(braced, "")
	}
	return strings.Join(braced[:len(braced)-1], ", ") + " or " + braced[len(braced)-1]
}

// Uses reports whether t has the placeholder name.
func (t Template) Uses(name string) bool {
	for _, p := range t {
		if p.Placeholder == name {
			return true
		}
	}
	return false
}

// Fill writes t with each placeholder replaced by its value in values.
func (t Template) Fill(values map[string]string) string {
	var b strings.Builder
	for _, p := range t {
		if p.Placeholder == "" {
			b.WriteString(p.Literal)
		} else {
			b.WriteString(values[p.Placeholder])
		}
	}
	return b.String()
}

// ValidateBranchTemplate reports why tmpl cannot name experiment branches,
// or nil. Configuration loading calls it so that a bad template fails at
// start-up, not at the first request. A template must use {number} or
// {name}, else every experiment would get the same branch; it must not
// start with "refs/", since it names a branch, not a full ref; and it must
// give a valid ref name even for the longest experiment name.
func ValidateBranchTemplate(tmpl string) error {
	t, err := ParseTemplate(tmpl, placeholders, Code)
	if err != nil {
		return fmt.Errorf("branch template %q: %w", tmpl, err)
	}
	if !t.Uses("number") && !t.Uses("name") {
		return fmt.Errorf("branch template %q: it must use {number} or {name}, or every experiment would get the same branch", tmpl)
	}
	if strings.HasPrefix(tmpl, "refs/") {
		return fmt.Errorf("branch template %q: it names a branch, so leave out %q", tmpl, "refs/")
	}
	// The longest values: a 10-digit number and a name of the maximum length.
	worst := BranchVars{Number: 9999999999, Name: strings.Repeat("n", MaxNameLen), Forge: "gitlab"}
	if err := ValidRefName(expand(t, worst)); err != nil {
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
	t, err := ParseTemplate(tmpl, placeholders, Code)
	if err != nil { // cannot happen after ValidateBranchTemplate; kept for safety
		return "", fmt.Errorf("branch template %q: %w", tmpl, err)
	}
	name := expand(t, v)
	if err := ValidRefName(name); err != nil {
		return "", fmt.Errorf("branch name %q: %w", name, err)
	}
	return name, nil
}

// expand fills t with v.
func expand(t Template, v BranchVars) string {
	return t.Fill(map[string]string{"number": strconv.Itoa(v.Number), "name": v.Name, "forge": v.Forge})
}
