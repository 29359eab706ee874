package sweep

import (
	"fmt"
	"strings"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/spec"
)

// placeholders a sweep's branch template may use.
var placeholders = []string{"tag", "name", "forge"}

// sampleTag stands for the tag when a template is checked before any tag
// exists: a release-style tag with the "/" and "." tags often have.
const sampleTag = "release/v1.2.3"

// parseTemplate reads a sweep's branch template, showing an unknown
// placeholder in the error as this package shows text.
func parseTemplate(tmpl string) (spec.Template, error) {
	return spec.ParseTemplate(tmpl, placeholders, code)
}

// fill fills a parsed template with a sweep's values.
func fill(t spec.Template, tag, name, forge string) string {
	return t.Fill(map[string]string{"tag": tag, "name": name, "forge": forge})
}

// ValidateTemplate reports why tmpl cannot name a sweep's branches, or nil.
// The message is Markdown, fit for a reply. A template must use {name},
// else the experiments of one tag would share a branch; it must not start
// with "refs/", since it names a branch; and it must give a valid branch
// name for a typical tag and the longest experiment name.
func ValidateTemplate(tmpl string) error {
	t, err := parseTemplate(tmpl)
	if err != nil {
		return fmt.Errorf("branch template %s: %w", code(tmpl), err)
	}
	if !t.Uses("name") {
		return fmt.Errorf("branch template %s must use {name}, or the experiments of a tag would share one branch", code(tmpl))
	}
	if strings.HasPrefix(tmpl, "refs/") {
		return fmt.Errorf("branch template %s names a branch, so leave out `refs/`", code(tmpl))
	}
	worst := fill(t, sampleTag, strings.Repeat("n", spec.MaxNameLen), "gitlab")
	if err := spec.ValidRefName(worst); err != nil {
		return fmt.Errorf("branch template %s does not give a valid branch name: %w", code(tmpl), err)
	}
	return nil
}

// BranchName fills tmpl (config.DefaultSweepBranchTemplate if "") with the tag that
// started the sweep, an experiment name and the forge ("github" or
// "gitlab"), and checks that the result is a valid branch name. The tag is
// used as it is, "/" and "." included (both are fine in a branch name); a
// leading "refs/tags/" is dropped.
func BranchName(tmpl, tag, name, forge string) (string, error) {
	if tmpl == "" {
		tmpl = config.DefaultSweepBranchTemplate
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
	t, err := parseTemplate(tmpl)
	if err != nil { // cannot happen after ValidateTemplate
		return "", err
	}
	branch := fill(t, tag, name, forge)
	if err := spec.ValidRefName(branch); err != nil {
		return "", fmt.Errorf("branch name %s: %w", code(branch), err)
	}
	return branch, nil
}
