package sweep

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expbot/expbot/internal/spec"
)

// MarkdownTable renders the experiments of a sweep as a GitHub/GitLab
// Markdown table for the status comment: one row per experiment, its name
// linked to branchURL(name) (plain when branchURL is nil or returns ""),
// then one column per parameter whose value is not the same in every
// experiment. Parameters are the flattened dotted keys of Params: the
// matrix and include keys in file order first, then any other that
// differs, sorted. Cells are spec.MarkdownTable's cells, so the same
// escaping applies; an experiment without the parameter has an empty cell.
// A table that would pass spec.MaxTableBytes ends with a row counting the
// rest. It returns "" when there are no experiments.
func MarkdownTable(combos []Combination, branchURL func(name string) string) string {
	if len(combos) == 0 {
		return ""
	}
	flat := make([]map[string]any, len(combos))
	for i, c := range combos {
		flat[i] = map[string]any{}
		flatten(flat[i], "", c.Params)
	}
	cols := columns(combos, flat)

	var b strings.Builder
	b.WriteString("| Experiment |")
	for _, k := range cols {
		b.WriteString(" " + cell(k) + " |")
	}
	b.WriteString("\n| --- |" + strings.Repeat(" --- |", len(cols)) + "\n")
	for i, c := range combos {
		name := cell(c.Name)
		if branchURL != nil {
			if u := safeURL(branchURL(c.Name)); u != "" {
				name = "[" + name + "](" + u + ")"
			}
		}
		line := "| " + name + " |"
		for _, k := range cols {
			if v, ok := flat[i][k]; ok {
				line += " " + cell(v) + " |"
			} else {
				line += "  |"
			}
		}
		line += "\n"
		if b.Len()+len(line) > spec.MaxTableBytes {
			fmt.Fprintf(&b, "| … %d more |%s\n", len(combos)-i, strings.Repeat("  |", len(cols)))
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

// flatten maps the dotted key of every value that is not a non-empty map to
// that value, as spec.ParamsTable does.
func flatten(out map[string]any, prefix string, m map[string]any) {
	for k, v := range m {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			flatten(out, path, sub)
			continue
		}
		out[path] = v
	}
}

// columns are the keys whose values differ between experiments.
func columns(combos []Combination, flat []map[string]any) []string {
	differs := func(k string) bool {
		first, had := flat[0][k]
		for _, f := range flat[1:] {
			v, has := f[k]
			if has != had || cell(v) != cell(first) {
				return true
			}
		}
		return false
	}
	var cols []string
	seen := map[string]bool{}
	for _, c := range combos {
		for _, v := range c.Values {
			if !seen[v.Key] {
				seen[v.Key] = true
				if differs(v.Key) {
					cols = append(cols, v.Key)
				}
			}
		}
	}
	var rest []string
	for _, f := range flat {
		for k := range f {
			if !seen[k] {
				seen[k] = true
				if differs(k) {
					rest = append(rest, k)
				}
			}
		}
	}
	slices.Sort(rest)
	return append(cols, rest...)
}

// safeURL percent-encodes what could end a link or a table cell ("|", ")",
// spaces, "<", ...) in a URL the caller built, or is "" for no URL.
func safeURL(u string) string {
	const keep = "-._~:/?#@!$&'*+,;=%"
	var b strings.Builder
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
