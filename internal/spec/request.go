package spec

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits of a request; docs/request-schema.md explains them to users.
const (
	MaxBlockBytes     = 64 << 10 // the ```yaml block, bytes
	MaxNameLen        = 48       // name, characters
	MaxDescriptionLen = 2000     // description, characters
	MaxLabelLen       = 200      // model and dataset, characters
)

// Request is a validated experiment request, as read from an issue body.
type Request struct {
	Name        string // experiment name; see ValidName
	Base        string // branch, tag or commit to start from; "" means the default branch
	Description string // free text, may span lines
	Model       string // one line
	Dataset     string // one line
	// Params are the training parameters. Values are string, int64,
	// float64, bool, []any of those, or map[string]any of all of these.
	// Never nil: an empty map when the request has none.
	Params map[string]any
}

// requestKeys are the keys of a request, in the order replies list them.
var requestKeys = []string{"name", "base", "params", "description", "model", "dataset"}

// example is the smallest complete request, shown when there is none.
const example = "```yaml\nname: lr-sweep\nparams:\n  lr: 0.0003\n```"

// ParseIssueBody finds the one ```yaml (or ```yml, or ~~~yaml) block of an
// issue description and reads it as a Request. A body it refuses gets a
// *Problems error listing everything wrong, each with its line in the body.
// See docs/request-schema.md for the schema.
func ParseIssueBody(body string) (Request, error) {
	lines := SplitLines(body)
	sc := scanBody(lines)
	col := &Collector{}
	switch {
	case len(sc.blocks) == 0:
		noBlock(col, sc)
		return Request{}, col.Err()
	case len(sc.blocks) > 1:
		col.Addf(sc.blocks[1].open, "there is more than one ```` ```yaml ```` block (%s); "+
			"keep the request in one, and mark other code blocks with another language, such as ```` ```text ````",
			blockLines(sc.blocks))
		return Request{}, col.Err()
	}
	b := sc.blocks[0]
	if b.size > MaxBlockBytes {
		col.Addf(b.open, "the ```` ```yaml ```` block is %d bytes; the limit is %d", b.size, MaxBlockBytes)
		return Request{}, col.Err()
	}
	c := &checker{Collector: col, offset: b.open}
	root := decodeOne(c, b.text, b.open, b.close, blockName)
	if root == nil {
		return Request{}, col.Err()
	}
	req := readRequest(c, root, b.open)
	if err := col.Err(); err != nil {
		return Request{}, err
	}
	return req, nil
}

// blockLines lists where the blocks start: "lines 1, 5 and 9", or the first
// few and a count.
func blockLines(blocks []yamlBlock) string {
	const show = 5
	at := make([]string, 0, show)
	for _, b := range blocks[:min(len(blocks), show)] {
		at = append(at, strconv.Itoa(b.open))
	}
	if len(blocks) > show {
		return fmt.Sprintf("lines %s and %d more", strings.Join(at, ", "), len(blocks)-show)
	}
	return "lines " + strings.Join(at[:len(at)-1], ", ") + " and " + at[len(at)-1]
}

func noBlock(col *Collector, sc scan) {
	switch {
	case sc.commented > 0:
		col.Addf(sc.commented, "the ```` ```yaml ```` block is inside an HTML comment (`<!--` … `-->`), "+
			"which is hidden and ignored; move it out of the comment")
	case sc.unlabelled > 0:
		col.Addf(sc.unlabelled, "the code block has no language, so it is not read as a request; "+
			"start it with ```` ```yaml ```` instead of ```` ``` ````")
	default:
		col.Addf(0, "there is no request in the description: add a ```` ```yaml ```` block with at least `name:`, for example\n\n%s", example)
	}
}

// yamlLine matches the position yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// blockName is how replies call the request's block.
const blockName = "the ```` ```yaml ```` block"

// decodeOne parses text as exactly one YAML document and returns its root
// node, or nil after reporting why not. open and close are the body lines of
// the fences around text, which bound any line reported; what names the
// text in messages.
func decodeOne(c *checker, text string, open, close int, what string) *yaml.Node {
	if badCharacters(c, text, open) {
		return nil
	}
	dec := yaml.NewDecoder(strings.NewReader(text))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		if what == blockName {
			c.Addf(open, "%s is empty; add at least `name:`, for example\n\n%s", what, example)
		} else {
			c.Addf(open, "%s is empty", what)
		}
		return nil
	}
	if err != nil {
		syntaxError(c, err, open, close)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		c.Addf(clamp(open+line, open, close), "%s holds more than one YAML document; remove the `---` line and keep one", what)
		return nil
	case !errors.Is(err, io.EOF):
		syntaxError(c, err, open, close)
		return nil
	}
	if len(doc.Content) != 1 {
		c.Addf(open, "%s holds no value", what)
		return nil
	}
	return doc.Content[0]
}

// badCharacters reports the lines of text that hold characters YAML refuses
// or counts as line breaks where Markdown does not (NEL, LS, PS), which
// would make the line numbers of later problems wrong. yaml.v3 reports the
// first two kinds without a line; this finds every one, with its line.
func badCharacters(c *checker, text string, open int) bool {
	found := false
	for i, line := range strings.Split(text, "\n") {
		if !utf8.ValidString(line) {
			c.Addf(open+i+1, "this line is not valid UTF-8 text; retype it")
			found = true
			continue
		}
		for _, r := range line {
			if !yamlAllowed(r) {
				c.Addf(open+i+1, "this line holds the invisible or control character U+%04X, which YAML does not allow here; remove it", r)
				found = true
				break
			}
		}
	}
	return found
}

// yamlAllowed is YAML's set of printable characters (what yaml.v3's reader
// accepts) minus NEL, LS and PS, which YAML treats as line breaks.
func yamlAllowed(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r >= 0x20 && r <= 0x7e:
		return true
	case r == 0x85 || r == 0x2028 || r == 0x2029:
		return false
	case r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). For these yaml.v3 prints a 0-based line, so one is added; the
// scanner's lines are already 1-based.
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// syntaxError reports a YAML parse error at its line in the body. yaml.v3's
// messages are fixed texts without the person's input, so they can be
// passed on.
func syntaxError(c *checker, err error, open, close int) {
	line, msg := open, strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil {
			if parserProblems[m[2]] {
				n++
			}
			line = clamp(open+n, open, close)
		}
		msg = m[2]
	}
	c.Addf(line, "this is not valid YAML (%s); check the indentation (spaces, not tabs) "+
		"and quote values that contain `: ` or start with a special character", msg)
}

func clamp(n, lo, hi int) int {
	return max(lo, min(n, hi))
}

// readRequest checks the root mapping of the block against the schema.
// open is the line of the opening fence, where a missing name is reported.
func readRequest(c *checker, root *yaml.Node, open int) Request {
	req := Request{Params: map[string]any{}}
	if !c.usable(root) {
		return req
	}
	if root.Kind != yaml.MappingNode {
		c.at(root, "the ```` ```yaml ```` block must be a mapping of keys to values, starting with a line like `name: lr-sweep`")
		return req
	}
	hasName := false
	c.pairs(root, func(k string) string { return k }, func(key string, k, v *yaml.Node) {
		switch key {
		case "name":
			hasName = true
			if s, ok := c.text(key, v); ok {
				if err := ValidName(s); err != nil {
					c.at(v, "%s", nameProblem(s, err))
				} else {
					req.Name = s
				}
			}
		case "base":
			if s, ok := c.text(key, v); ok && s != "" {
				if err := ValidRefName(s); err != nil {
					c.at(v, "`base` %s is not a branch, tag or commit name: %v", Code(s), err)
				} else {
					req.Base = s
				}
			}
		case "description":
			if s, ok := c.text(key, v); ok {
				switch {
				case hasControl(s, true):
					c.at(v, "`description` contains a control or invisible character; remove it")
				case utf8.RuneCountInString(s) > MaxDescriptionLen:
					c.at(v, "`description` is %d characters long; the limit is %d", utf8.RuneCountInString(s), MaxDescriptionLen)
				default:
					req.Description = s
				}
			}
		case "model":
			if s, ok := c.text(key, v); ok && c.singleLine(key, v, s, MaxLabelLen) {
				req.Model = s
			}
		case "dataset":
			if s, ok := c.text(key, v); ok && c.singleLine(key, v, s, MaxLabelLen) {
				req.Dataset = s
			}
		case "params":
			if m, ok := newParamWalker(c).params(v); ok {
				req.Params = m
			}
		default:
			c.at(k, "unknown key %s; allowed keys are %s%s", Code(key), strings.Join(requestKeys, ", "), unknownHint(key))
		}
	})
	if !hasName {
		c.Addf(open, "the request has no `name`; add a line like `name: lr-sweep`")
	}
	return req
}

// unknownHint guesses what an unknown key was meant to be.
func unknownHint(key string) string {
	for _, k := range requestKeys {
		if strings.EqualFold(key, k) {
			return fmt.Sprintf(" (keys are lowercase: write `%s`)", k)
		}
	}
	if paramKey.MatchString(key) {
		return "; training parameters go under `params:`"
	}
	return ""
}

// ValidName reports why name cannot be an experiment name, or nil. A name is
// 1–48 characters: lowercase letters, digits, "-", "_" and ".", starting with
// a letter or digit; it must also be usable as one component of a Git ref
// (no "..", no trailing "." or ".lock"), since it becomes part of the branch.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("it is empty")
	case utf8.RuneCountInString(name) > MaxNameLen:
		return fmt.Errorf("it is %d characters long; the limit is %d", utf8.RuneCountInString(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isLowerAlnum(c) && c != '-' && c != '_' && c != '.' {
			return errors.New("use only lowercase letters, digits, `-`, `_` and `.`")
		}
	}
	if !isLowerAlnum(name[0]) {
		return errors.New("it must start with a lowercase letter or a digit")
	}
	switch {
	case strings.Contains(name, ".."):
		return errors.New("it contains `..`, which Git refuses in branch names")
	case strings.HasSuffix(name, "."):
		return errors.New("it ends with `.`, which Git refuses in branch names")
	case strings.HasSuffix(name, ".lock"):
		return errors.New("it ends with `.lock`, which Git refuses in branch names")
	}
	return nil
}

func isLowerAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// nameProblem explains a refused name and, when it can, suggests one.
func nameProblem(name string, err error) string {
	if name == "" {
		return "`name` is empty; give the experiment a short name such as `lr-sweep`"
	}
	msg := fmt.Sprintf("`name` %s is not allowed: %v", Code(name), err)
	if s := SuggestName(name); s != "" && s != name {
		msg += fmt.Sprintf("; for example %s", Code(s))
	}
	return msg
}

// SuggestName turns a refused name into an allowed one when that is easy:
// lowercase it, turn runs of other characters into "-", trim, shorten. It
// returns "" when that gives no valid name.
func SuggestName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		c := byte(r)
		if r < utf8.RuneSelf && (isLowerAlnum(c) || c == '_') {
			b.WriteByte(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	s := b.String()
	if len(s) > MaxNameLen {
		s = s[:MaxNameLen]
	}
	s = strings.Trim(s, "-_")
	if ValidName(s) != nil {
		return ""
	}
	return s
}
