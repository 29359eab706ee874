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

// splitLines splits body into lines, treating CRLF, LF and a lone CR as line
// ends, as Markdown and YAML both do; line i of the result is line i+1 of the
// body as the person sees it.
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
	// CommonMark: a backtick fence's info string has no backticks, else
	// the line is inline code, not a fence.
	if c == '`' && strings.IndexByte(info, '`') >= 0 {
		return fence{}, false
	}
	return fence{char: c, length: n, indent: indent, info: info}, true
}

// closedBy reports whether line closes a block opened by f: the same fence
// character, at least as many, nothing but spaces or tabs after.
func (f fence) closedBy(line string) bool {
	s := strings.TrimLeft(line, " ")
	n := 0
	for n < len(s) && s[n] == f.char {
		n++
	}
	return n >= f.length && strings.Trim(s[n:], " \t") == ""
}

// isYAML reports whether the info string's first word is yaml or yml, in
// any case.
func (f fence) isYAML() bool {
	words := strings.Fields(f.info)
	if len(words) == 0 {
		return false
	}
	lang := strings.ToLower(words[0])
	return lang == "yaml" || lang == "yml"
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
		open      *fence
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
			if open.closedBy(line) {
				if open.isYAML() {
					finish(ln)
				}
				open = nil
				continue
			}
			if open.isYAML() {
				line = stripIndent(line, open.indent)
				cur.size += len(line) + 1
				if cur.size <= MaxBlockBytes+1 {
					content = append(content, line)
				}
			}
			continue
		}
		if inComment {
			if f, ok := openingFence(line); ok && f.isYAML() && res.commented == 0 {
				res.commented = ln
			}
			inComment = commentOpenAfter(line, true)
			continue
		}
		if f, ok := openingFence(line); ok {
			open = &f
			if f.isYAML() {
				cur = yamlBlock{open: ln}
			} else if f.info == "" && res.unlabelled == 0 {
				res.unlabelled = ln
			}
			continue
		}
		inComment = commentOpenAfter(line, false)
	}
	if open != nil && open.isYAML() {
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

// commentOpenAfter reports whether an HTML comment is open at the end of
// line, given whether one was open at its start. "<!-->" and "<!--->" close
// at once, as in HTML.
func commentOpenAfter(line string, open bool) bool {
	for {
		if open {
			i := strings.Index(line, "-->")
			if i < 0 {
				return true
			}
			line, open = line[i+3:], false
		} else {
			i := strings.Index(line, "<!--")
			if i < 0 {
				return false
			}
			line, open = line[i+2:], true
		}
	}
}
