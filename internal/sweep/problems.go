package sweep

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/expbot/expbot/internal/spec"
)

// collector gathers problems while a file is checked; err turns them into a
// *spec.Problems like the request parser's, so that the bot posts both kinds
// the same way.
type collector struct {
	list []spec.Problem
}

func (c *collector) addf(line int, format string, args ...any) {
	c.list = append(c.list, spec.Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// err returns nil, or *spec.Problems without repeats, sorted by line and
// capped at spec.MaxProblems, as spec does for requests.
func (c *collector) err() error {
	if len(c.list) == 0 {
		return nil
	}
	seen := make(map[spec.Problem]bool, len(c.list))
	list := make([]spec.Problem, 0, len(c.list))
	for _, p := range c.list {
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	slices.SortStableFunc(list, func(a, b spec.Problem) int { return cmp.Compare(a.Line, b.Line) })
	if len(list) > spec.MaxProblems {
		rest := len(list) - spec.MaxProblems
		next := list[spec.MaxProblems].Line
		list = append(list[:spec.MaxProblems:spec.MaxProblems], spec.Problem{
			Line: next,
			Msg:  fmt.Sprintf("… and %d more problems from here on; fix the ones above first", rest),
		})
	}
	return &spec.Problems{List: list}
}

// cell shows a value as spec.MarkdownTable shows it in a table cell: one
// code span, "|" escaped, long values cut, text that would read as
// something else quoted. It takes the cell from spec's own rendering, so
// that the escaping rules live in one place; the tests pin the shape it
// relies on.
func cell(v any) string {
	const lead, tail = "| `v` | ", " |"
	table := spec.MarkdownTable(map[string]any{"v": v})
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
