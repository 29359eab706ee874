package command

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/expbot/expbot/internal/spec"
)

// MaxComparedExperiments bounds the columns of ParamsComparison: a wider
// table is unreadable, and the table must fit in a comment.
const MaxComparedExperiments = 20

// maxCellRunes is where a cell is cut, as in spec.MarkdownTable.
const maxCellRunes = 80

// differs marks the rows whose values are not all the same.
const differs = "≠"

// ParamsComparison renders the params of several experiments side by side
// as a GitHub/GitLab Markdown table: one column per experiment (names[i]
// heads the column of params[i]), one row per parameter, flattened to dotted
// keys as in spec.ParamsTable, rows sorted by key. A row whose values are not
// all equal (a parameter missing from some experiment counts) has its key
// marked "≠", explained under the table; a missing value shows as "—".
// Keys, values and names are user input, so each is one code span, escaped
// as spec.MarkdownTable does. It returns "" when there is no experiment or
// no parameter at all. At most MaxComparedExperiments columns are shown
// (a line under the table counts the rest), and rows stop before the table
// passes spec.MaxTableBytes (a last row counts the rest). Extra names or
// params without a partner get an empty map or a placeholder name.
func ParamsComparison(names []string, params []map[string]any) string {
	n := max(len(names), len(params))
	if n == 0 {
		return ""
	}
	shown := min(n, MaxComparedExperiments)
	cols := make([]map[string]string, shown)
	var keys []string
	for i := range cols {
		var m map[string]any
		if i < len(params) {
			m = params[i]
		}
		cols[i] = map[string]string{}
		for _, r := range spec.ParamsTable(m) {
			// ParamsTable may give one key twice (a map holding "a.b"
			// dotted and nested); it sorts them, so the first is stable.
			if _, dup := cols[i][r.Key]; !dup {
				cols[i][r.Key] = r.Value
				keys = append(keys, r.Key)
			}
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)

	var b strings.Builder
	b.WriteString("| Parameter |")
	for i := range shown {
		if i < len(names) {
			b.WriteString(" " + textCell(names[i]) + " |")
		} else {
			fmt.Fprintf(&b, " experiment %d |", i+1)
		}
	}
	b.WriteString("\n| --- |" + strings.Repeat(" --- |", shown) + "\n")
	marked := false
	for k, key := range keys {
		values := make([]string, shown)
		same := true
		for i, col := range cols {
			v, ok := col[key]
			if !ok {
				values[i], same = "—", false
				continue
			}
			values[i] = valueCell(v)
			if first, ok := cols[0][key]; !ok || first != v {
				same = false
			}
		}
		keyCell := textCell(key)
		if !same {
			keyCell = differs + " " + keyCell
		}
		line := "| " + keyCell + " | " + strings.Join(values, " | ") + " |\n"
		if b.Len()+len(line) > spec.MaxTableBytes {
			fmt.Fprintf(&b, "| … | %d more parameters not shown |%s\n", len(keys)-k, strings.Repeat(" |", shown-1))
			break
		}
		marked = marked || !same
		b.WriteString(line)
	}
	if marked {
		b.WriteString("\n" + differs + " marks parameters whose values differ.\n")
	}
	if n > shown {
		fmt.Fprintf(&b, "\n%d more experiments are not shown.\n", n-shown)
	}
	return b.String()
}

// valueCell shows a value of spec.ParamsTable as a cell, as
// spec.MarkdownTable does: text holding "|" or "\" is already Go-quoted
// there, so escaping "|" as "\|" cannot pair with a backslash of the text.
func valueCell(s string) string {
	return spec.CodeSpan(strings.ReplaceAll(cut(s), "|", `\|`))
}

// textCell shows a key or a name, which no one has quoted yet: text that is
// empty, unprintable, padded or holding "|" or "\" is Go-quoted first.
func textCell(s string) string {
	if s == "" || s != strings.TrimSpace(s) || !spec.Printable(s) || strings.ContainsAny(s, `|\`) {
		s = strconv.Quote(s)
	}
	return valueCell(s)
}

// cut shortens s to maxCellRunes characters, marking the cut with "…".
func cut(s string) string {
	if utf8.RuneCountInString(s) > maxCellRunes {
		return string([]rune(s)[:maxCellRunes-1]) + "…"
	}
	return s
}

// ParamChanges renders what an update changes in params as a Markdown table
// of the parameters whose value differs (flattened as in spec.ParamsTable):
// old → new, with "—" for a parameter one side lacks. It returns "" when
// nothing changes. Rows stop before the table passes spec.MaxTableBytes.
func ParamChanges(old, new map[string]any) string {
	before, after := firstValues(old), firstValues(new)
	var keys []string
	for k, v := range after {
		if w, ok := before[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	shown := func(m map[string]string, k string) string {
		if v, ok := m[k]; ok {
			return valueCell(v)
		}
		return "—"
	}
	var b strings.Builder
	b.WriteString("| Parameter | Old → new |\n| --- | --- |\n")
	for i, k := range keys {
		line := "| " + textCell(k) + " | " + shown(before, k) + " → " + shown(after, k) + " |\n"
		if b.Len()+len(line) > spec.MaxTableBytes {
			fmt.Fprintf(&b, "| … | %d more changed parameters not shown |\n", len(keys)-i)
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

// firstValues maps each flattened key to its value; a key ParamsTable gives
// twice keeps its first (sorted) value, as ParamsComparison does.
func firstValues(params map[string]any) map[string]string {
	m := map[string]string{}
	for _, r := range spec.ParamsTable(params) {
		if _, dup := m[r.Key]; !dup {
			m[r.Key] = r.Value
		}
	}
	return m
}
