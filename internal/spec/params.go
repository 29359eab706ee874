package spec

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Limits of params. They keep a request small enough to show in a comment
// and to pass to a training job as flags or environment, and they bound the
// work a hostile request can cause.
const (
	MaxParamKeys   = 200  // keys in total, at every depth
	MaxParamDepth  = 4    // levels of keys: a.b.c.d is the deepest
	MaxParamString = 1024 // bytes of one text value
	MaxListItems   = 100  // items of one list
)

// paramKey is what a params key may look like: the shape of an identifier or
// a flag name, so that keys survive being passed on as --key=value.
var paramKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// checker reads yaml.Node trees with the rules common to the request and the
// variant file: no anchors, aliases, tags or merge keys, no duplicate keys,
// and problems reported at the line the person sees.
type checker struct {
	*Collector
	offset int // body line of line 0 of the document
}

func (c *checker) line(n *yaml.Node) int {
	if n.Line == 0 { // a node built in memory, not parsed
		return 0
	}
	return c.offset + n.Line
}

func (c *checker) at(n *yaml.Node, format string, args ...any) {
	c.Addf(c.line(n), format, args...)
}

// usable reports problems with YAML features the schema refuses and whether
// n may be read. Aliases are refused because expanding them is how "billion
// laughs" documents blow up; anchors are refused with them since an anchor
// is only there to be aliased; tags because a request only needs plain
// values, and !!binary or custom tags would decode to things nothing
// downstream expects.
func (c *checker) usable(n *yaml.Node) bool {
	switch {
	case n.Kind == yaml.AliasNode:
		c.at(n, "YAML aliases (%s) are not allowed; write the value out in full", Code("*"+n.Value))
		return false
	case n.Anchor != "":
		c.at(n, "YAML anchors (%s) are not allowed; write each value out in full", Code("&"+n.Anchor))
		return false
	case n.Style&yaml.TaggedStyle != 0:
		c.at(n, "YAML tags like %s are not allowed; write a plain value (quote it to make it text)", Code(n.Tag))
		return false
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!merge":
		c.at(n, "YAML merge keys (`<<`) are not allowed; write the keys out in full (quote it, `\"<<\"`, if you mean the text)")
		return false
	}
	return true
}

// key returns the text of a mapping key.
func (c *checker) key(k *yaml.Node) (string, bool) {
	if !c.usable(k) {
		return "", false
	}
	if k.Kind != yaml.ScalarNode {
		c.at(k, "a key must be a plain name, not a list or a mapping")
		return "", false
	}
	return k.Value, true
}

// pairs walks the key/value pairs of mapping n, reporting duplicate and
// unusable keys, and calls f for each usable, first-seen key.
func (c *checker) pairs(n *yaml.Node, describe func(key string) string, f func(key string, k, v *yaml.Node)) {
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := c.key(k)
		if !ok {
			continue
		}
		if first, dup := seen[name]; dup {
			c.at(k, "duplicate key %s (first on line %d); keep only one", Code(describe(name)), first)
			continue
		}
		seen[name] = c.line(k)
		f(name, k, v)
	}
}

// text reads a field whose value is text. Numbers and booleans are taken as
// written (`name: 2024` is the text "2024"), since every such field is text
// and the person typed characters, not a number. null reads as "".
func (c *checker) text(field string, v *yaml.Node) (string, bool) {
	if !c.usable(v) {
		return "", false
	}
	if v.Kind != yaml.ScalarNode {
		c.at(v, "%s must be text, not a list or a mapping", Code(field))
		return "", false
	}
	if v.ShortTag() == "!!null" {
		return "", true
	}
	return v.Value, true
}

// singleLine checks a short one-line text field.
func (c *checker) singleLine(field string, v *yaml.Node, s string, limit int) bool {
	switch {
	case strings.ContainsAny(s, "\n\r\u0085\u2028\u2029"):
		c.at(v, "%s must be a single line", Code(field))
	case hasControl(s, false):
		c.at(v, "%s contains a control or invisible character; remove it", Code(field))
	case utf8.RuneCountInString(s) > limit:
		c.at(v, "%s is %d characters long; the limit is %d", Code(field), utf8.RuneCountInString(s), limit)
	default:
		return true
	}
	return false
}

// hasControl reports control characters, characters YAML does not allow
// (which yaml.v3 would write but not read back), NEL/LS/PS line separators
// and invalid UTF-8, allowing newlines and tabs in multi-line text. Escapes
// in double-quoted YAML can produce any character, and terminal escapes,
// NULs or invisible line breaks have no business in a file training jobs
// read or in a comment.
func hasControl(s string, multiline bool) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if r == '\n' || r == '\t' {
			if !multiline {
				return true
			}
			continue
		}
		if r == '\r' || !yamlAllowed(r) {
			return true
		}
	}
	return false
}

// paramWalker reads a params mapping into normalised Go values.
type paramWalker struct {
	c      *checker
	keys   int
	leaves map[string]int // dotted path of every value that is not a non-empty map → line
	order  []string       // leaves in the order met, for stable problem order
}

func newParamWalker(c *checker) *paramWalker {
	return &paramWalker{c: c, leaves: map[string]int{}}
}

// params reads the value of the params field: a mapping, or null for none.
func (w *paramWalker) params(v *yaml.Node) (map[string]any, bool) {
	if !w.c.usable(v) {
		return nil, false
	}
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return map[string]any{}, true
	}
	if v.Kind != yaml.MappingNode {
		w.c.at(v, "`params` must be a mapping of parameter names to values, for example `params: {lr: 0.0003, epochs: 3}`")
		return nil, false
	}
	before := len(w.c.list)
	m := w.mapping(v, "", 1)
	w.collisions()
	return m, len(w.c.list) == before
}

// mapping reads a mapping whose keys are at the given depth (1 for the keys
// directly under params).
func (w *paramWalker) mapping(n *yaml.Node, prefix string, depth int) map[string]any {
	out := make(map[string]any, len(n.Content)/2)
	describe := func(k string) string { return "params." + join(prefix, k) }
	w.c.pairs(n, describe, func(name string, k, v *yaml.Node) {
		path := join(prefix, name)
		if !paramKey.MatchString(name) {
			w.c.at(k, "parameter name %s is not allowed: start with a letter or `_`, then use only letters, digits, `_`, `.` and `-`, at most 64 characters", pname(path))
			return
		}
		w.keys++
		if w.keys == MaxParamKeys+1 {
			w.c.at(k, "`params` has more than %d keys (counting nested ones); remove some", MaxParamKeys)
		}
		if val, ok := w.value(v, path, depth); ok {
			out[name] = val
		}
	})
	return out
}

// pname shows a parameter's path in a message.
func pname(path string) string {
	return Code("params." + path)
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// leaf records a value that is not a non-empty map; two with the same dotted
// path are one parameter written twice ("a.b: 1" beside "a: {b: 2}").
func (w *paramWalker) leaf(path string, n *yaml.Node) {
	if first, ok := w.leaves[path]; ok {
		w.c.at(n, "parameter %s is given twice: once with a dotted key and once nested (first on line %d); keep one", pname(path), first)
		return
	}
	w.leaves[path] = w.c.line(n)
	w.order = append(w.order, path)
}

// collisions reports a value whose dotted path is also the parent of another
// value ("a.b: 1" beside "a: {b: {c: 2}}"): flattened to dotted keys, for the
// params table or for --flags, the two would contradict each other.
func (w *paramWalker) collisions() {
	for _, path := range w.order {
		for i := 0; i < len(path); i++ {
			if path[i] != '.' {
				continue
			}
			if line, ok := w.leaves[path[:i]]; ok {
				w.c.Addf(w.leaves[path], "parameter %s cannot sit under %s, which is already a value (line %d); rename one", pname(path), pname(path[:i]), line)
				break
			}
		}
	}
}

func (w *paramWalker) value(v *yaml.Node, path string, depth int) (any, bool) {
	if !w.c.usable(v) {
		return nil, false
	}
	switch v.Kind {
	case yaml.MappingNode:
		if depth >= MaxParamDepth {
			w.c.at(v, "%s nests deeper than %d levels; use a dotted key such as %s instead of one more level", pname(path), MaxParamDepth, pname(path+".x"))
			return nil, false
		}
		if len(v.Content) == 0 {
			w.leaf(path, v)
		}
		return w.mapping(v, path, depth+1), true
	case yaml.SequenceNode:
		w.leaf(path, v)
		if len(v.Content) > MaxListItems {
			w.c.at(v, "%s has %d items; a list may have at most %d", pname(path), len(v.Content), MaxListItems)
			return nil, false
		}
		items := make([]any, 0, len(v.Content))
		ok := true
		for i, item := range v.Content {
			ipath := path + "[" + strconv.Itoa(i) + "]"
			if !w.c.usable(item) {
				ok = false
				continue
			}
			if item.Kind != yaml.ScalarNode {
				w.c.at(item, "%s: a list may hold only single values (text, numbers, true/false), not lists or mappings", pname(ipath))
				ok = false
				continue
			}
			x, good := w.scalar(item, ipath)
			ok = ok && good
			items = append(items, x)
		}
		return items, ok
	case yaml.ScalarNode:
		w.leaf(path, v)
		return w.scalar(v, path)
	}
	w.c.at(v, "%s has a value of an unsupported kind", pname(path))
	return nil, false
}

// scalar normalises one value to string, int64, float64 or bool.
func (w *paramWalker) scalar(v *yaml.Node, path string) (any, bool) {
	switch v.ShortTag() {
	case "!!str", "!!timestamp":
		// Timestamps stay text: nothing downstream wants a time.Time, and
		// the person wrote characters.
		s := v.Value
		switch {
		case len(s) > MaxParamString:
			w.c.at(v, "%s is %d bytes long; text values may be at most %d", pname(path), len(s), MaxParamString)
		case hasControl(s, true):
			w.c.at(v, "%s contains a control or invisible character; remove it", pname(path))
		default:
			return s, true
		}
	case "!!int":
		var i int64
		if err := v.Decode(&i); err != nil {
			w.c.at(v, "%s: %s does not fit in a 64-bit integer; quote it to make it text", pname(path), Code(v.Value))
			return nil, false
		}
		return i, true
	case "!!float":
		var f float64
		if err := v.Decode(&f); err != nil {
			w.c.at(v, "%s: %s is not a number I can read; quote it to make it text", pname(path), Code(v.Value))
			return nil, false
		}
		// NaN and infinities cannot be stored as JSON or compared, and no
		// training parameter needs them.
		if math.IsNaN(f) || math.IsInf(f, 0) {
			w.c.at(v, "%s: %s is not allowed; use a finite number, or quote it to make it text", pname(path), Code(v.Value))
			return nil, false
		}
		return f, true
	case "!!bool":
		var b bool
		if err := v.Decode(&b); err != nil {
			w.c.at(v, "%s: cannot read %s as true or false", pname(path), Code(v.Value))
			return nil, false
		}
		return b, true
	case "!!null":
		w.c.at(v, "%s has no value; give it one, write `\"\"` for empty text, or remove the key", pname(path))
		return nil, false
	default:
		w.c.at(v, "%s: values of type %s are not supported; use text, a number or true/false", pname(path), Code(v.ShortTag()))
	}
	return nil, false
}
