package spec

import "strings"

// This file finds the ```yaml blocks of an issue body. It follows
// CommonMark's fenced code blocks closely enough to agree with what GitHub
// and GitLab render, with two deliberate differences, both towards reading
// what the person sees:
//   - an opening fence may be indented by any number of spaces (not just 3),
//     so a block inside a list item is found; the content loses up to that
//     many leading spaces, as CommonMark does;
//   - a block inside an HTML comment <!-- --> is ignored. Issue templates
//     put example requests in comments, which are not rendered, and a
//     comment that is never closed hides the rest of the body, exactly as
//     it does on screen.
// Block quotes ("> ```yaml") are not looked into: a quote is someone else's
// text.
//
// SplitLines, OpeningFence, Fence and VisibleText are exported so that
// internal/command reads the lines of a comment the same way.

// SplitLines splits body into lines, treating CRLF, LF and a lone CR as line
// ends, as Markdown and YAML both do; line i of the result is line i+1 of the
// body as the person sees it.
func SplitLines(body string) []string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	return strings.Split(body, "\n")
}

// Fence is the opening line of a fenced code block.
type Fence struct {
	Char   byte // '`' or '~'
	Length int  // at least 3
	Indent int  // spaces before the fence
	Info   string
}

// OpeningFence parses line as the opening of a fenced code block, with any
// number of leading spaces (see the top of this file).
func OpeningFence(line string) (Fence, bool) {
	indent := 0
	for indent < len(line) && line[indent] == ' ' {
		indent++
	}
	rest := line[indent:]
	if rest == "" || (rest[0] != '`' && rest[0] != '~') {
		return Fence{}, false
	}
	c := rest[0]
	n := 0
	for n < len(rest) && rest[n] == c {
		n++
	}
	if n < 3 {
		return Fence{}, false
	}
	info := strings.Trim(rest[n:], " \t")
	// CommonMark: a backtick fence's info string has no backticks, else
	// the line is inline code, not a fence.
	if c == '`' && strings.IndexByte(info, '`') >= 0 {
		return Fence{}, false
	}
	return Fence{Char: c, Length: n, Indent: indent, Info: info}, true
}

// ClosedBy reports whether line closes a block opened by f: the same fence
// character, at least as many, nothing but spaces or tabs after.
func (f Fence) ClosedBy(line string) bool {
	s := strings.TrimLeft(line, " ")
	n := 0
	for n < len(s) && s[n] == f.Char {
		n++
	}
	return n >= f.Length && strings.Trim(s[n:], " \t") == ""
}

// CloseLine returns the index of the line that closes f, searching from
// lines[from], or -1 when the block runs to the end of the body (as an
// unclosed block renders).
func (f Fence) CloseLine(lines []string, from int) int {
	for i := from; i < len(lines); i++ {
		if f.ClosedBy(lines[i]) {
			return i
		}
	}
	return -1
}

// Lang is the first word of the info string, lowercased, or "".
func (f Fence) Lang() string {
	words := strings.Fields(f.Info)
	if len(words) == 0 {
		return ""
	}
	return strings.ToLower(words[0])
}

// IsYAML reports whether the info string's first word is yaml or yml, in
// any case.
func (f Fence) IsYAML() bool {
	l := f.Lang()
	return l == "yaml" || l == "yml"
}

// yamlBlock is one ```yaml block of the body.
type yamlBlock struct {
	open  int // body line of the opening fence
	close int // body line of the closing fence, or the last line if never closed
	text  string
	size  int // bytes of content; text stops growing past MaxBlockBytes
}

// scan is what the body holds in the way of fenced blocks.
type scan struct {
	blocks []yamlBlock
	// commented is the line of the first ```yaml fence inside an HTML
	// comment, 0 if none; the "no block" reply points at it.
	commented int
	// unlabelled is the line of the first fenced block without a language,
	// 0 if none; likely the request with "yaml" forgotten.
	unlabelled int
}

func scanBody(lines []string) scan {
	var (
		res       scan
		inComment bool
		open      *Fence
		cur       yamlBlock
		content   []string
	)
	finish := func(close int) {
		cur.close = close
		cur.text = strings.Join(content, "\n")
		res.blocks = append(res.blocks, cur)
		content = nil
	}
	for i, line := range lines {
		ln := i + 1
		if open != nil {
			if open.ClosedBy(line) {
				if open.IsYAML() {
					finish(ln)
				}
				open = nil
				continue
			}
			if open.IsYAML() {
				line = stripIndent(line, open.Indent)
				cur.size += len(line) + 1
				if cur.size <= MaxBlockBytes+1 {
					content = append(content, line)
				}
			}
			continue
		}
		if inComment {
			if f, ok := OpeningFence(line); ok && f.IsYAML() && res.commented == 0 {
				res.commented = ln
			}
			_, inComment = VisibleText(line, true)
			continue
		}
		if f, ok := OpeningFence(line); ok {
			open = &f
			if f.IsYAML() {
				cur = yamlBlock{open: ln}
			} else if f.Info == "" && res.unlabelled == 0 {
				res.unlabelled = ln
			}
			continue
		}
		_, inComment = VisibleText(line, false)
	}
	if open != nil && open.IsYAML() {
		// Unclosed: CommonMark runs the block to the end of the body, and
		// that is how it renders, so it is read that way too.
		finish(len(lines))
	}
	// The last line's newline was counted but is not part of the text.
	for i := range res.blocks {
		if res.blocks[i].size > 0 {
			res.blocks[i].size--
		}
	}
	return res
}

// stripIndent removes up to n leading spaces.
func stripIndent(line string, n int) string {
	i := 0
	for i < n && i < len(line) && line[i] == ' ' {
		i++
	}
	return line[i:]
}

// VisibleText returns the parts of line outside HTML comments, given
// whether a comment is open at its start, and whether one is open at its
// end. "<!-->" and "<!--->" close at once, as in HTML. A space stands for
// each comment, so that "a<!-- -->b" stays two words, as it renders.
func VisibleText(line string, open bool) (string, bool) {
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
		b.WriteByte(' ')
		line, open = line[i+2:], true
	}
}
