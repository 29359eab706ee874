package sweep

import (
	"errors"
	"io"
	"math"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/expbot/expbot/internal/spec"
)

// example is the smallest useful sweep file, shown when there is none.
const example = "```yaml\nname: lr-sweep\nmatrix:\n  lr: [0.1, 0.01]\n```"

// decode parses text as exactly one YAML document and returns its root, or
// nil after reporting why not. Syntax errors and characters YAML refuses are
// reported by spec's request parser, which knows where yaml.v3 puts their
// lines; see specYAMLProblems.
func decode(c *spec.Collector, text string) *yaml.Node {
	// yaml.v3 also breaks lines at NEL, LS and PS, which editors do not
	// show as breaks; spec reports them, and they would shift every line
	// number below them here.
	if strings.ContainsAny(text, "\u0085\u2028\u2029") {
		specYAMLProblems(c, text, "")
		return nil
	}
	dec := yaml.NewDecoder(strings.NewReader(text))
	var doc yaml.Node
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		c.Addf(1, "the sweep file is empty; add at least a `matrix:`, for example\n\n%s", example)
		return nil
	}
	if err != nil {
		specYAMLProblems(c, text, err.Error())
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		line := next.Line
		if len(next.Content) > 0 {
			line = next.Content[0].Line
		}
		// An empty last document is placed past the end of the text.
		line = max(1, min(line, strings.Count(text, "\n")+1))
		c.Addf(line, "the sweep file holds more than one YAML document; remove the `---` line and keep one")
		return nil
	case !errors.Is(err, io.EOF):
		specYAMLProblems(c, text, err.Error())
		return nil
	}
	if len(doc.Content) != 1 {
		c.Addf(1, "the sweep file holds no value; start it with a line like `name: lr-sweep`")
		return nil
	}
	return doc.Content[0]
}

// specYAMLProblems reports what is wrong with text as YAML, in spec's words,
// by giving text to spec's request parser as the block of an issue body
// whose fence is on line 1: its line n is the file's line n-1. yamlErr is
// what yaml.v3 said, used only if spec finds nothing (it reads the same
// text with the same library, so it should not happen).
func specYAMLProblems(c *spec.Collector, text, yamlErr string) {
	lines := strings.Count(text, "\n") + 1
	_, err := spec.ParseIssueBody(fenced(text))
	var probs *spec.Problems
	if errors.As(err, &probs) && len(probs.List) > 0 {
		for _, p := range probs.List {
			c.Addf(max(1, min(p.Line-1, lines)), "%s", p.Msg)
		}
		return
	}
	if yamlErr == "" {
		yamlErr = "it holds an invisible line separator"
	}
	c.Addf(1, "this is not valid YAML (%s); check the indentation (spaces, not tabs) "+
		"and quote values that contain `: ` or start with a special character", strings.TrimPrefix(yamlErr, "yaml: "))
}

// fenced makes text the ```yaml block of an issue body, with a fence longer
// than any run of backticks in text, so that no line of it can close the
// block early.
func fenced(text string) string {
	longest, run := 0, 0
	for i := 0; i < len(text); i++ {
		if text[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	f := strings.Repeat("`", max(3, longest+1))
	return f + "yaml\n" + text + "\n" + f + "\n"
}

// refused reports, for the whole tree under n, the YAML features a sweep
// file may not use, for the reasons spec gives for requests: aliases (and
// the anchors they need) are how small documents expand enormously, tags
// decode to values nothing downstream expects, and merge keys hide where a
// value comes from. It reports every one and whether there were any.
func refused(c *spec.Collector, n *yaml.Node) bool {
	found := false
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		switch {
		case n.Kind == yaml.AliasNode:
			c.Addf(n.Line, "YAML aliases (%s) are not allowed; write the value out in full", code("*"+n.Value))
			found = true
			return
		case n.Anchor != "":
			c.Addf(n.Line, "YAML anchors (%s) are not allowed; write each value out in full", code("&"+n.Anchor))
			found = true
		case n.Style&yaml.TaggedStyle != 0:
			c.Addf(n.Line, "YAML tags like %s are not allowed; write a plain value (quote it to make it text)", code(n.Tag))
			found = true
		case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!merge":
			c.Addf(n.Line, "YAML merge keys (`<<`) are not allowed; write the keys out in full")
			found = true
		}
		for _, child := range n.Content {
			walk(child)
		}
	}
	walk(n)
	return found
}

// isNull reports a scalar with no value (`key:` or `key: null`).
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// scalar reads one matrix, include or exclude value into spec's types:
// string, int64, float64 or bool. where names the value in messages.
// spec's rules apply: dates stay text, numbers are finite, text is at most
// spec.MaxParamString bytes and holds no control characters (spec itself
// judges those, see specAccepts), and an empty value is refused.
func scalar(c *spec.Collector, n *yaml.Node, where string) (any, bool) {
	if n.Kind != yaml.ScalarNode {
		c.Addf(n.Line, "%s must be a single value (text, a number or true/false), not a list or a mapping", where)
		return nil, false
	}
	switch n.ShortTag() {
	case "!!str", "!!timestamp":
		s := n.Value
		if len(s) > spec.MaxParamString {
			c.Addf(n.Line, "%s is %d bytes long; text values may be at most %d", where, len(s), spec.MaxParamString)
			return nil, false
		}
		if !specAccepts(s) {
			c.Addf(n.Line, "%s contains a control or invisible character; remove it", where)
			return nil, false
		}
		return s, true
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			c.Addf(n.Line, "%s: %s does not fit in a 64-bit integer; quote it to make it text", where, code(n.Value))
			return nil, false
		}
		return i, true
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			c.Addf(n.Line, "%s: %s is not a finite number; use one, or quote it to make it text", where, code(n.Value))
			return nil, false
		}
		return f, true
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			c.Addf(n.Line, "%s: cannot read %s as true or false", where, code(n.Value))
			return nil, false
		}
		return b, true
	case "!!null":
		c.Addf(n.Line, "%s has no value; give it one, or write `\"\"` for empty text", where)
		return nil, false
	}
	c.Addf(n.Line, "%s: values of type %s are not supported; use text, a number or true/false", where, code(n.ShortTag()))
	return nil, false
}

// zeroSHA stands in for the commit in variants built only to ask spec
// whether it accepts what they hold.
const zeroSHA = "0000000000000000000000000000000000000000"

// specAccepts reports whether spec accepts v as the value of a parameter.
// spec.RenderVariantFile runs the request parser's own checks on the
// params it is given, so the rules (control characters, limits) cannot
// drift apart.
func specAccepts(v any) bool {
	_, err := spec.RenderVariantFile(spec.Variant{Name: "x", BaseRef: "main", BaseSHA: zeroSHA, Params: map[string]any{"v": v}})
	return err == nil
}

// viaRequest checks the text field key (name, description, model or
// dataset) with spec's request parser, by writing it into the block of an
// issue body, and returns its value or spec's messages about it. n has no
// anchors or tags (refused has run).
func viaRequest(key string, n *yaml.Node) (string, []string) {
	value := n
	if n.Kind == yaml.ScalarNode {
		// Text as written: `name: 2024` is the text "2024", as in a
		// request. Double quotes keep it on one line, whatever it holds.
		value = &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: n.Value, Style: yaml.DoubleQuotedStyle}
	}
	doc := &yaml.Node{Kind: yaml.MappingNode}
	if key != "name" {
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "name"},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "x"})
	}
	doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value)
	text, err := yaml.Marshal(doc)
	if err != nil {
		return "", []string{"`" + key + "` cannot be read"}
	}
	req, err := spec.ParseIssueBody(fenced(string(text)))
	if err != nil {
		var probs *spec.Problems
		if !errors.As(err, &probs) {
			return "", []string{"`" + key + "` cannot be read"}
		}
		msgs := make([]string, len(probs.List))
		for i, p := range probs.List {
			msgs[i] = p.Msg
		}
		return "", msgs
	}
	switch key {
	case "name":
		return req.Name, nil
	case "description":
		return req.Description, nil
	case "model":
		return req.Model, nil
	}
	return req.Dataset, nil
}

// viaVariantFile reads the value of the top-level `params` key with spec's
// parameter rules, and reports spec's problems at the file's own lines. It
// gives spec a variant file that is this file with every line outside the
// params entry blanked, so that each line keeps its number, and the keys a
// variant file needs appended after the last one. from and to are the
// entry's first and last line; indent is the column of the top-level keys.
func viaVariantFile(c *spec.Collector, lines []string, from, to, indent int) (map[string]any, bool) {
	synth := make([]string, 0, len(lines)+3)
	for i, l := range lines {
		ln := i + 1
		// A document end marker ("...") can only follow the entry; it
		// would put the appended keys in a second document.
		if ln < from || ln > to || strings.HasPrefix(l, "...") {
			l = ""
		}
		synth = append(synth, l)
	}
	pad := strings.Repeat(" ", indent)
	synth = append(synth, pad+"version: 1", pad+"name: x", pad+"base: {ref: main, sha: "+zeroSHA+"}")
	v, err := spec.ParseVariantFile([]byte(strings.Join(synth, "\n")))
	if err == nil {
		return v.Params, true
	}
	var probs *spec.Problems
	if !errors.As(err, &probs) {
		c.Addf(from, "`params` cannot be read")
		return nil, false
	}
	for _, p := range probs.List {
		c.Addf(max(from, min(p.Line, to)), "%s", p.Msg)
	}
	return nil, false
}
