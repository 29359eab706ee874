package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxProblems is how many problems one reply lists; the rest are counted in
// a last line. A request with hundreds of bad params should get a readable
// comment, not a wall, and fixing the first ones often fixes the others.
const MaxProblems = 20

// Problem is one thing wrong with a request, written for the person who
// wrote it.
type Problem struct {
	// Line is the 1-based line in the issue body (not in the yaml block),
	// so that it matches what the person sees in the editor. It is 0 only
	// when the problem concerns the body as a whole (no yaml block at all).
	Line int
	// Msg says what is wrong and how to fix it. It is Markdown: text taken
	// from the request appears only inside code spans, so Msg can be posted
	// in a comment as it is without rendering markup or pinging anyone.
	Msg string
}

func (p Problem) String() string {
	if p.Line <= 0 {
		return p.Msg
	}
	return "line " + strconv.Itoa(p.Line) + ": " + p.Msg
}

// Problems is the error ParseIssueBody returns for a request it refuses. It
// holds every problem found, in line order, not just the first, so that a
// person can fix them all in one edit.
type Problems struct {
	List []Problem
}

func (p *Problems) Error() string {
	switch len(p.List) {
	case 0:
		return "no problems"
	case 1:
		return p.List[0].String()
	}
	parts := make([]string, len(p.List))
	for i, pr := range p.List {
		parts[i] = pr.String()
	}
	return fmt.Sprintf("%d problems: %s", len(p.List), strings.Join(parts, "; "))
}

// Markdown renders the problems as a bullet list for a comment. Messages
// that span several lines (the example in "no yaml block") are indented so
// that they stay inside their bullet.
func (p *Problems) Markdown() string {
	var b strings.Builder
	for _, pr := range p.List {
		lines := strings.Split(pr.String(), "\n")
		b.WriteString("- ")
		b.WriteString(lines[0])
		b.WriteByte('\n')
		for _, l := range lines[1:] {
			if l != "" {
				b.WriteString("  ")
				b.WriteString(l)
			}
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// Collector gathers problems while a document is checked; Err turns them
// into a *Problems. The zero value is ready to use.
type Collector struct {
	list []Problem
}

// Addf records a problem at line with a message made by fmt.Sprintf.
func (c *Collector) Addf(line int, format string, args ...any) {
	c.list = append(c.list, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Err returns nil, or *Problems without repeats, sorted by line and capped
// at MaxProblems.
func (c *Collector) Err() error {
	if len(c.list) == 0 {
		return nil
	}
	// The same problem can be met many times (one alias used in every item
	// of a list); say it once.
	seen := make(map[Problem]bool, len(c.list))
	list := make([]Problem, 0, len(c.list))
	for _, p := range c.list {
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	slices.SortStableFunc(list, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	if len(list) > MaxProblems {
		rest := len(list) - MaxProblems
		next := list[MaxProblems].Line
		list = append(list[:MaxProblems:MaxProblems], Problem{
			Line: next,
			Msg:  fmt.Sprintf("… and %d more problems from here on; fix the ones above first", rest),
		})
	}
	return &Problems{List: list}
}

// MaxQuoted bounds how much of a user's text a message repeats: Code cuts
// longer text.
const MaxQuoted = 60

// Code shows text from the request inside a Markdown code span, so that it
// renders literally: no markup, no HTML, no @mention pings. Text that is
// empty, has invisible or control characters, or surrounding spaces is shown
// Go-quoted, so that the person can see exactly what was read. Text longer
// than MaxQuoted characters is cut, marked with "…".
func Code(s string) string {
	if utf8.RuneCountInString(s) > MaxQuoted {
		r := []rune(s)
		s = string(r[:MaxQuoted-1]) + "…"
	}
	if s == "" || s != strings.TrimSpace(s) || !Printable(s) {
		s = strconv.Quote(s)
	}
	return CodeSpan(s)
}

// CodeSpan wraps s in a code span whose backtick fence is longer than any
// backtick run inside s (CommonMark's rule), padding with spaces when s
// starts or ends with a backtick or a space, since the renderer strips one
// space on each side.
func CodeSpan(s string) string {
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") ||
		strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	return fence + s + fence
}

// Printable reports whether s is valid UTF-8 made only of printable
// characters (by strconv.IsPrint: no controls, no zero-width or bidi marks).
func Printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}
