package command

import "strings"

// This file decides which lines of a comment are visible text, following the
// same reading of Markdown as internal/spec's search for the ```yaml block
// (its helpers are unexported, so they are mirrored here): fenced code
// blocks with any indentation, HTML comments <!-- --> hidden even when never
// closed, and quotes (">") not looked into. A command must be something the
// person can see as plain text in the rendered comment; an example in a code
// block, a hidden template comment or a quote of someone else's command must
// not run.

// splitLines splits body into lines, treating CRLF, LF and a lone CR as line
// ends, as Markdown does; line i of the result is line i+1 of the body.
func splitLines(body string) []string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	return strings.Split(body, "\n")
}

// fence is the opening line of a fenced code block.
type fence struct {
	char   byte // '`' or '~'
	length int  // at least 3
	indent int  // spaces before the fence
	info   string
}

// openingFence parses line as the opening of a fenced code block.
func openingFence(line string) (fence, bool) {
	indent := 0
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	rest := line[indent:]
	if rest == "" || (rest[0] != '`' && rest[0] != '~') {
		return fence{}, false
	}
	c := rest[0]
	n := 0
	for n < len(rest) && rest[n] == c {
		n++
	}
	if n < 3 {
		return fence{}, false
	}
	info := strings.Trim(rest[n:], " \t")
	// CommonMark: a backtick fence's info string has no backticks, else the
	// line is inline code, not a fence.
	if c == '`' && strings.IndexByte(info, '`') >= 0 {
		return fence{}, false
	}
	return fence{char: c, length: n, indent: indent, info: info}, true
}

// closedBy reports whether line closes a block opened by f.
func (f fence) closedBy(line string) bool {
	s := strings.TrimLeft(line, " ")
	n := 0
	for n < len(s) && s[n] == f.char {
		n++
	}
	return n >= f.length && strings.Trim(s[n:], " \t") == ""
}

// lang is the first word of the info string, lowercased.
func (f fence) lang() string {
	words := strings.Fields(f.info)
	if len(words) == 0 {
		return ""
	}
	return strings.ToLower(words[0])
}

func (f fence) isYAML() bool {
	l := f.lang()
	return l == "yaml" || l == "yml"
}

// closeLine returns the index of the line that closes f, searching from
// lines[from], or -1 when the block runs to the end of the body (as an
// unclosed block renders).
func (f fence) closeLine(lines []string, from int) int {
	for i := from; i < len(lines); i++ {
		if f.closedBy(lines[i]) {
			return i
		}
	}
	return -1
}

// visible returns the parts of line outside HTML comments, given whether a
// comment is open at its start, and whether one is open at its end.
// "<!-->" and "<!--->" close at once, as in HTML.
func visible(line string, open bool) (string, bool) {
	var b strings.Builder
	for {
		if open {
			i := strings.Index(line, "-->")
			if i < 0 {
				return b.String(), true
			}
			line, open = line[i+3:], false
			continue
		}
		i := strings.Index(line, "<!--")
		if i < 0 {
			b.WriteString(line)
			return b.String(), false
		}
		b.WriteString(line[:i])
		// A space stands for the comment, so that "a<!-- -->b" stays two
		// words, as it renders.
		b.WriteByte(' ')
		line, open = line[i+2:], true
	}
}

// isQuote reports a block-quote line: its first non-space character is ">".
func isQuote(text string) bool {
	return strings.HasPrefix(strings.TrimLeft(text, " \t"), ">")
}

// isBlank reports a line of nothing but white space.
func isBlank(line string) bool {
	return strings.TrimSpace(line) == ""
}
