package command

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/expbot/expbot/internal/spec"
)

// keySegment is one part of a dotted key: spec's rule for a params key
// (`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`) without the dot, since here a dot
// nests.
var keySegment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// notParams are request keys that are not parameters. In a YAML block they
// are fields of the request; as key=value they would silently become
// parameters of the same name and mean something else, so they are refused.
var notParams = map[string]string{
	"name":        "the name is the word after the subcommand",
	"description": "put `description` in a ```` ```yaml ```` block after the command",
	"model":       "put `model` in a ```` ```yaml ```` block after the command, or use another key",
	"dataset":     "put `dataset` in a ```` ```yaml ```` block after the command, or use another key",
	"params":      "write parameters as `key=value`, for example `lr=0.1`",
}

// pairs reads the key=value words of one command into params and base,
// reporting problems at line. The values are checked by spec's request
// parser, so that a parameter given here obeys exactly the rules and limits
// of one given in an issue.
func pairs(toks []token, name string, line int, add func(int, string, ...any)) (params map[string]any, base string, ok bool) {
	type pair struct {
		key   []string
		value *yaml.Node
	}
	var list []pair
	seen := map[string]bool{}
	haveBase := false
	ok = true
	if len(toks) > MaxParams {
		add(line, "there are %d parameters; one command may set at most %d", len(toks), MaxParams)
		return nil, "", false
	}
	for _, t := range toks {
		k, v := t.key(), t.value()
		if len(v) > MaxValueBytes {
			add(line, "the value of %s is %d bytes long; the limit is %d", spec.Code(k), len(v), MaxValueBytes)
			ok = false
			continue
		}
		if k == "base" {
			switch {
			case haveBase:
				add(line, "`base` is given twice; keep one")
				ok = false
			case v == "":
				add(line, "`base` is empty; name a branch, tag or commit, or leave `base` out for the default branch")
				ok = false
			case spec.ValidRefName(v) != nil && !spec.LooksLikeSHA(v):
				add(line, "`base` %s is not a branch, tag or commit name: %v", spec.Code(v), spec.ValidRefName(v))
				ok = false
			default:
				base = v
			}
			haveBase = true
			continue
		}
		if why, reserved := notParams[k]; reserved {
			add(line, "%s is not a parameter: %s", spec.Code(k), why)
			ok = false
			continue
		}
		segs := strings.Split(k, ".")
		if bad := badKey(k, segs); bad != "" {
			add(line, "%s", bad)
			ok = false
			continue
		}
		if seen[k] {
			add(line, "parameter %s is given twice; keep one", spec.Code(k))
			ok = false
			continue
		}
		seen[k] = true
		list = append(list, pair{segs, scalarNode(v, t.quoted)})
	}

	// Build the params mapping, nesting dotted keys; a key that is both a
	// value and a prefix of another (lr=1 lr.min=0) cannot be nested.
	if len(list) == 0 {
		return map[string]any{}, base, ok
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	leaves := map[string]bool{}
	for _, p := range list {
		n := root
		for i, seg := range p.key[:len(p.key)-1] {
			prefix := strings.Join(p.key[:i+1], ".")
			if leaves[prefix] {
				add(line, "parameter %s cannot sit under %s, which is already a value; rename one", spec.Code(strings.Join(p.key, ".")), spec.Code(prefix))
				ok = false
				n = nil
				break
			}
			n = child(n, seg)
		}
		if n == nil {
			continue
		}
		full := strings.Join(p.key, ".")
		last := p.key[len(p.key)-1]
		if lookup(n, last) != nil {
			add(line, "parameter %s has nested keys (such as %s), so it cannot also be a value; rename one", spec.Code(full), spec.Code(full+"."+firstKey(lookup(n, last))))
			ok = false
			continue
		}
		leaves[full] = true
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: last, Tag: "!!str"}, p.value)
	}
	// Values are checked even after a problem above, so that one reply
	// lists them all.
	req, err := viaSpec(name, root)
	if err != nil {
		var probs *spec.Problems
		if errors.As(err, &probs) {
			for _, p := range probs.List {
				add(line, "%s", p.Msg)
			}
		} else {
			add(line, "the parameters cannot be read: %s", spec.Code(err.Error()))
		}
		return nil, "", false
	}
	if !ok {
		return nil, "", false
	}
	return req.Params, base, true
}

// badKey explains why a dotted key cannot name a parameter, or is "".
func badKey(k string, segs []string) string {
	if k == "" {
		return "a `=` has no key before it; write `key=value`"
	}
	if len(segs) > spec.MaxParamDepth {
		return fmt.Sprintf("parameter %s has more than %d dotted parts; parameters nest at most %d levels deep", spec.Code(k), spec.MaxParamDepth, spec.MaxParamDepth)
	}
	for _, s := range segs {
		if !keySegment.MatchString(s) {
			return fmt.Sprintf("parameter name %s is not allowed: each dotted part starts with a letter or `_`, then uses only letters, digits, `_` and `-`, at most 64 characters", spec.Code(k))
		}
	}
	return ""
}

// scalarNode turns a value into the YAML scalar it stands for. A quoted
// value is text. An unquoted one is typed as YAML would type it on its own
// (3, 0.1, true, null), and anything that YAML reads as text (or as a date,
// which spec keeps as text) is emitted quoted, so that no YAML syntax in it
// (flow lists, anchors, tags, comments) can take effect.
func scalarNode(v string, quoted bool) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: v}
	if quoted {
		n.Tag, n.Style = "!!str", yaml.DoubleQuotedStyle
		return n
	}
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!null":
		// Plain, as written: it reads back with the same tag.
	default:
		n.Tag, n.Style = "!!str", yaml.DoubleQuotedStyle
	}
	return n
}

// child returns the mapping under key in n, adding it if missing. It is only
// called where key is known not to be a value.
func child(n *yaml.Node, key string) *yaml.Node {
	if c := lookup(n, key); c != nil {
		return c
	}
	c := &yaml.Node{Kind: yaml.MappingNode}
	n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key, Tag: "!!str"}, c)
	return c
}

func lookup(n *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func firstKey(n *yaml.Node) string {
	if len(n.Content) == 0 {
		return "x"
	}
	return n.Content[0].Value
}

// placeholderName stands in for a name that was refused, so that the
// parameters are still checked and all problems reported at once.
const placeholderName = "x"

// viaSpec checks params (a YAML mapping) with spec's request parser, by
// writing them as the request block of an issue.
func viaSpec(name string, params *yaml.Node) (spec.Request, error) {
	if spec.ValidName(name) != nil {
		name = placeholderName
	}
	doc := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Value: "name", Tag: "!!str"},
		{Kind: yaml.ScalarNode, Value: name, Tag: "!!str", Style: yaml.DoubleQuotedStyle},
		{Kind: yaml.ScalarNode, Value: "params", Tag: "!!str"},
		params,
	}}
	text, err := yaml.Marshal(doc)
	if err != nil {
		return spec.Request{}, err
	}
	// Keys are plain names and every text value is double-quoted on one
	// line, so no line of text can close a tilde fence.
	return spec.ParseIssueBody("~~~yaml\n" + string(text) + "~~~\n")
}

// block reads the ```yaml block that follows a new or update command: the
// request schema of an issue, with `name` optional (the command names the
// experiment) and, if given, equal to the command's name. lines are the
// comment's; open and end are the indexes of the opening fence and of the
// last line of the block (its closing fence, or the last line of the body
// when it is never closed). Problems are reported at their line in the
// comment.
func block(lines []string, open, end int, f spec.Fence, name string, add func(int, string, ...any)) (spec.Request, bool) {
	// A body in which only the block is left, at its own lines, so that
	// spec's line numbers are the comment's.
	synth := make([]string, 0, end+3)
	for range open {
		synth = append(synth, "")
	}
	synth = append(synth, lines[open:end+1]...)
	closed := end > open && f.ClosedBy(lines[end])
	var content []string
	if closed {
		content = lines[open+1 : end]
		synth = synth[:len(synth)-1]
	} else {
		content = lines[open+1 : end+1]
	}
	hasName := false
	if indent, inject := missingName(content, f.Indent); inject {
		// Appended after the last line, so that no line moves.
		synth = append(synth, strings.Repeat(" ", indent)+`name: "`+nameOrPlaceholder(name)+`"`)
	} else {
		hasName = true
	}
	synth = append(synth, strings.Repeat(string(f.Char), f.Length))
	req, err := spec.ParseIssueBody(strings.Join(synth, "\n"))
	if err != nil {
		var probs *spec.Problems
		if errors.As(err, &probs) {
			for _, p := range probs.List {
				add(min(max(p.Line, open+1), end+1), "%s", p.Msg)
			}
		} else {
			add(open+1, "the ```` ```yaml ```` block cannot be read: %s", spec.Code(err.Error()))
		}
		return spec.Request{}, false
	}
	if hasName && req.Name != name && spec.ValidName(name) == nil {
		add(open+1, "the ```` ```yaml ```` block names the experiment %s, but the command names it %s; "+
			"leave `name` out of the block or make the two the same", spec.Code(req.Name), spec.Code(name))
		return spec.Request{}, false
	}
	req.Name = name
	return req, true
}

func nameOrPlaceholder(name string) string {
	if spec.ValidName(name) != nil {
		return placeholderName
	}
	return name
}

// missingName reports whether the block's YAML lacks a top-level `name`
// such that one can be appended as a last line, and at what indentation
// (fence indentation included). A block that does not parse, is not a
// mapping in block style, or ends its document with "..." is left as it is:
// spec reports what is wrong with it.
func missingName(content []string, fenceIndent int) (int, bool) {
	stripped := make([]string, len(content))
	for i, l := range content {
		j := 0
		for j < fenceIndent && j < len(l) && l[j] == ' ' {
			j++
		}
		stripped[i] = l[j:]
		if strings.TrimRight(stripped[i], " \t") == "..." {
			return 0, false
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(strings.Join(stripped, "\n")), &doc); err != nil {
		return 0, false
	}
	if len(doc.Content) == 0 {
		// Empty, or comments only: the block says nothing but the name.
		return fenceIndent, true
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 || root.Anchor != "" || root.Style&yaml.TaggedStyle != 0 {
		return 0, false
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Kind == yaml.ScalarNode && root.Content[i].Value == "name" {
			return 0, false
		}
	}
	return fenceIndent + root.Column - 1, true
}
