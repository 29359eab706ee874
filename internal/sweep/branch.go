package sweep

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expbot/expbot/internal/spec"
)

// DefaultBranchTemplate groups a sweep's branches under its tag; the name
// tells them apart.
const DefaultBranchTemplate = "exp/{tag}/{name}"

// placeholders a sweep's branch template may use.
var placeholders = []string{"tag", "name", "forge"}

// sampleTag stands for the tag when a template is checked before any tag
// exists: a release-style tag with the "/" and "." tags often have.
const sampleTag = "release/v1.2.3"

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
			return nil, fmt.Errorf("it has the unknown placeholder %s; use {tag}, {name} or {forge}", code("{"+name+"}"))
		}
		out = append(out, piece{placeholder: name})
		rest = rest[open+end+1:]
	}
	return out, nil
}

func fill(pieces []piece, tag, name, forge string) string {
	var b strings.Builder
	for _, p := range pieces {
		switch p.placeholder {
		case "":
			b.WriteString(p.literal)
		case "tag":
			b.WriteString(tag)
		case "name":
			b.WriteString(name)
		case "forge":
			b.WriteString(forge)
		}
	}
	return b.String()
}

// ValidateTemplate reports why tmpl cannot name a sweep's branches, or nil.
// The message is Markdown, fit for a reply. A template must use {name},
// else the experiments of one tag would share a branch; it must not start
// with "refs/", since it names a branch; and it must give a valid branch
// name for a typical tag and the longest experiment name.
func ValidateTemplate(tmpl string) error {
	pieces, err := parseTemplate(tmpl)
	if err != nil {
		return fmt.Errorf("branch template %s: %w", code(tmpl), err)
	}
	hasName := false
	for _, p := range pieces {
		hasName = hasName || p.placeholder == "name"
	}
	if !hasName {
		return fmt.Errorf("branch template %s must use {name}, or the experiments of a tag would share one branch", code(tmpl))
	}
	if strings.HasPrefix(tmpl, "refs/") {
		return fmt.Errorf("branch template %s names a branch, so leave out `refs/`", code(tmpl))
	}
	worst := fill(pieces, sampleTag, strings.Repeat("n", spec.MaxNameLen), "gitlab")
	if err := spec.ValidRefName(worst); err != nil {
		return fmt.Errorf("branch template %s does not give a valid branch name: %w", code(tmpl), err)
	}
	return nil
}

// BranchName fills tmpl (DefaultBranchTemplate if "") with the tag that
// started the sweep, an experiment name and the forge ("github" or
// "gitlab"), and checks that the result is a valid branch name. The tag is
// used as it is, "/" and "." included (both are fine in a branch name); a
// leading "refs/tags/" is dropped.
func BranchName(tmpl, tag, name, forge string) (string, error) {
	if tmpl == "" {
		tmpl = DefaultBranchTemplate
	}
	if err := ValidateTemplate(tmpl); err != nil {
		return "", err
	}
	tag = strings.TrimPrefix(tag, "refs/tags/")
	if err := spec.ValidRefName(tag); err != nil {
		return "", fmt.Errorf("branch name: tag %s: %w", code(tag), err)
	}
	if err := spec.ValidName(name); err != nil {
		return "", fmt.Errorf("branch name: experiment name %s: %w", code(name), err)
	}
	if forge != "github" && forge != "gitlab" {
		return "", fmt.Errorf("branch name: unknown forge %s", code(forge))
	}
	pieces, err := parseTemplate(tmpl)
	if err != nil { // cannot happen after ValidateTemplate
		return "", err
	}
	branch := fill(pieces, tag, name, forge)
	if err := spec.ValidRefName(branch); err != nil {
		return "", fmt.Errorf("branch name %s: %w", code(branch), err)
	}
	return branch, nil
}
