package command

import "strings"

// Which lines of a comment are visible text follows internal/spec's reading
// of Markdown when it looks for the ```yaml block (spec.OpeningFence,
// spec.VisibleText): fenced code blocks with any indentation, HTML comments
// <!-- --> hidden even when never closed, and quotes (">") not looked into.
// A command must be something the person can see as plain text in the
// rendered comment; an example in a code block, a hidden template comment or
// a quote of someone else's command must not run.

// isQuote reports a block-quote line: its first non-space character is ">".
func isQuote(text string) bool {
	return strings.HasPrefix(strings.TrimLeft(text, " \t"), ">")
}

// isBlank reports a line of nothing but white space.
func isBlank(line string) bool {
	return strings.TrimSpace(line) == ""
}
