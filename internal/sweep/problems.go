package sweep

import (
	"strings"

	"github.com/expbot/expbot/internal/spec"
)

// cell shows a value as spec.MarkdownTable shows it in a table cell: one
// code span, "|" escaped, long values cut, text that would read as
// something else quoted. It takes the cell from spec's own rendering, so
// that the escaping rules live in one place; the tests pin the shape it
// relies on.
func cell(v any) string {
	const lead, tail = "| `v` | ", " |"
	table := spec.MarkdownTable(map[string]any{"v": v}, "")
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) == 3 && strings.HasPrefix(lines[2], lead) && strings.HasSuffix(lines[2], tail) {
		return strings.TrimSuffix(strings.TrimPrefix(lines[2], lead), tail)
	}
	// Only reachable if spec's table changed shape: show nothing of the
	// value rather than something unescaped.
	return "`…`"
}

// maxQuoted bounds how much of the file's text a message repeats, as in
// spec.
const maxQuoted = 60

// code shows text from the file inside a message as one code span, where
// nothing renders as markup and nothing pings anyone. Short text of visible
// ASCII without "`", "|" or "\\" is shown as it is; anything else as
// spec's table cell shows it (quoted, escaped), which is safe anywhere.
func code(s string) string {
	if s == "" || len(s) > maxQuoted {
		return cell(s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '`' || c == '|' || c == '\\' {
			return cell(s)
		}
	}
	return "`" + s + "`"
}
