package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// ParamRow is one line of the params table: a dotted key and its value as
// shown to people. Neither is escaped for Markdown.
type ParamRow struct {
	Key   string // nested keys joined with ".", e.g. "optimizer.lr"
	Value string // e.g. 0.0003, true, "3" (text that reads as a number is quoted), [1, 2]
}

// ParamsTable flattens params into rows sorted by key. Nested maps become
// dotted keys; lists and empty maps are one row each. Values are shown as in
// YAML flow style, quoting text only where it would otherwise read as
// something else, so that the text "3" and the number 3 look different.
func ParamsTable(params map[string]any) []ParamRow {
	var rows []ParamRow
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := join(prefix, k)
			if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
				walk(path, sub)
				continue
			}
			rows = append(rows, ParamRow{Key: path, Value: displayValue(v)})
		}
	}
	walk("", params)
	// By value too: a caller's map may hold "a.b" both dotted and nested,
	// and the order must not depend on map iteration.
	slices.SortFunc(rows, func(a, b ParamRow) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), strings.Compare(a.Value, b.Value))
	})
	return rows
}

// displayValue shows one value on one line.
func displayValue(v any) string {
	switch x := v.(type) {
	case string:
		if plainText(x) {
			return x
		}
		return strconv.Quote(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatFloat(x)
	case bool:
		return strconv.FormatBool(x)
	case []any:
		items := make([]string, len(x))
		for i, item := range x {
			items[i] = displayValue(item)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case map[string]any:
		if len(x) == 0 {
			return "{}"
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		items := make([]string, len(keys))
		for i, k := range keys {
			items[i] = k + ": " + displayValue(x[k])
		}
		return "{" + strings.Join(items, ", ") + "}"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", v)
}

// plainText reports whether s can be shown without quotes: YAML would read
// it back as the same text, it is printable, and it has none of the
// characters that delimit lists and maps in the display, nor "|" or "\\"
// (see MarkdownTable).
func plainText(s string) bool {
	if s == "" || !Printable(s) || strings.ContainsAny(s, `,[]{}"|\`) {
		return false
	}
	out, err := yaml.Marshal(str(s))
	return err == nil && string(out) == s+"\n"
}

// Limits of the Markdown table: forges cap a comment at 64 KiB or so (GitHub
// at 65536 characters), and the table shares the comment with the rest of
// the report.
const (
	maxCellRunes  = 80
	MaxTableBytes = 24 << 10
)

// MarkdownTable renders params as a two-column GitHub/GitLab Markdown table,
// or "" when there are none. Keys and values are user input, so each cell
// is one code span: inside it nothing renders as markup, HTML or a link, and
// forges do not turn @names or #numbers into mentions or references there.
// A "|" would still end the cell, so it is written "\|", which GFM tables
// read back as "|"; text holding "|" or "\" is shown Go-quoted, which
// doubles every backslash, so that no backslash of the text can pair with
// the one before the pipe. Long values are cut at 80 characters with "…"; a
// table that would pass MaxTableBytes ends with a row counting the rest and
// pointing to file, the variant file on the branch (the configured
// variant_file), where all of them are.
func MarkdownTable(params map[string]any, file string) string {
	rows := ParamsTable(params)
	if len(rows) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("| Parameter | Value |\n| --- | --- |\n")
	for i, r := range rows {
		line := "| " + cell(r.Key) + " | " + cell(r.Value) + " |\n"
		if b.Len()+len(line) > MaxTableBytes {
			where := "the variant file"
			if file != "" {
				where = CodeSpan(file)
			}
			fmt.Fprintf(&b, "| … | %d more, see %s on the branch |\n", len(rows)-i, where)
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

// cell shows one display string as a table cell.
func cell(s string) string {
	if utf8.RuneCountInString(s) > maxCellRunes {
		s = string([]rune(s)[:maxCellRunes-1]) + "…"
	}
	return CodeSpan(strings.ReplaceAll(s, "|", `\|`))
}
