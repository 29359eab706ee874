package sweep

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/spec"
)

// Defaults and limits; docs/sweep.md explains them to users.
const (
	// DefaultName is the prefix of the experiment names when the file
	// gives none.
	DefaultName = "sweep"
	// MaxFileBytes bounds the file, as spec bounds a request's block.
	MaxFileBytes = spec.MaxBlockBytes
	// MaxNameLen bounds the prefix, so that a combination's suffix (or its
	// hash) still fits in spec.MaxNameLen.
	MaxNameLen = 32
	// MaxProduct bounds the combinations of the lists before exclude, which
	// is the work Parse and Expand do; no limit a bot would set comes near.
	MaxProduct = 4096
	// MaxEntries bounds the entries of include and of exclude.
	MaxEntries = 256
)

// Sweep is a validated sweep file. Its matrix is kept unexported: Expand is
// the one way to read it, so that every caller expands it the same way.
type Sweep struct {
	Name        string         // prefix of the experiment names; DefaultName if the file has none
	Branch      string         // branch template; config.DefaultSweepBranchTemplate if the file has none
	Description string         // copied into every request
	Model       string         // copied into every request
	Dataset     string         // copied into every request
	Params      map[string]any // common to every experiment, in spec.Request's types; never nil after Parse

	axes       []axis  // matrix lists, in the order written
	include    []entry // in the order written
	exclude    []entry
	matrixLine int // line of `matrix:`, where problems of the whole matrix are reported
}

// axis is one list of the matrix.
type axis struct {
	key    string
	values []any
	line   int
}

// entry is one item of include or exclude: keys and values in the order
// written.
type entry struct {
	pairs []Value
	lines []int // line of each pair's key
	line  int
}

// Value is one matrix or include key of a combination and its value (string,
// int64, float64 or bool). Dotted keys nest in the params: "optimizer.name"
// is params["optimizer"]["name"].
type Value struct {
	Key   string
	Value any
}

// topKeys are the keys of the file, in the order messages list them.
var topKeys = []string{"name", "branch", "description", "model", "dataset", "params", "matrix"}

// keySegment is one part of a dotted matrix key: spec's rule for a params
// key (`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`) without the dot, since here a dot
// nests, as in /experiment commands.
var keySegment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]{0,63}$`)

// Parse reads a sweep file. A file it refuses gets a *spec.Problems error
// listing everything wrong, each with its line in the file; the messages are
// Markdown, safe to post as they are. See docs/sweep.md for the format.
func Parse(data []byte) (Sweep, error) {
	c := &spec.Collector{}
	if len(data) > MaxFileBytes {
		c.Addf(0, "the sweep file is %d bytes; the limit is %d", len(data), MaxFileBytes)
		return Sweep{}, c.Err()
	}
	// Line ends as YAML counts them, so that splitting on "\n" numbers
	// lines as yaml.v3 does.
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")
	root := decode(c, text)
	if root == nil || refused(c, root) {
		return Sweep{}, c.Err()
	}
	s := read(c, root, strings.Split(text, "\n"))
	if err := c.Err(); err != nil {
		return Sweep{}, err
	}
	check(c, &s)
	if err := c.Err(); err != nil {
		return Sweep{}, err
	}
	return s, nil
}

// read checks the top-level mapping against the schema.
func read(c *spec.Collector, root *yaml.Node, lines []string) Sweep {
	s := Sweep{Name: DefaultName, Branch: config.DefaultSweepBranchTemplate, Params: map[string]any{}}
	if root.Kind != yaml.MappingNode || root.Style&yaml.FlowStyle != 0 {
		// yaml.v3 puts an empty document after "---" on the next line, which
		// may be past the end of the file.
		c.Addf(min(root.Line, max(len(lines), 1)), "the sweep file must be a mapping of keys to values written one key per line, for example\n\n%s", example)
		return s
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Column != root.Column {
			c.Addf(k.Line, "write each top-level key plainly at the start of its line, like `matrix:`")
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			c.Addf(k.Line, "duplicate key %s (first on line %d); keep only one", code(key), first)
			continue
		}
		seen[key] = k.Line
		switch key {
		case "name":
			if isNull(v) {
				continue
			}
			name, msgs := viaRequest(key, v)
			for _, m := range msgs {
				c.Addf(v.Line, "%s", m)
			}
			if msgs == nil && len(name) > MaxNameLen {
				c.Addf(v.Line, "`name` is %d characters long; the limit is %d, to leave room for what tells the experiments apart", len(name), MaxNameLen)
			} else if msgs == nil {
				s.Name = name
			}
		case "description", "model", "dataset":
			if isNull(v) {
				continue
			}
			text, msgs := viaRequest(key, v)
			for _, m := range msgs {
				c.Addf(v.Line, "%s", m)
			}
			switch key {
			case "description":
				s.Description = text
			case "model":
				s.Model = text
			default:
				s.Dataset = text
			}
		case "branch":
			if isNull(v) {
				continue
			}
			if v.Kind != yaml.ScalarNode {
				c.Addf(v.Line, "`branch` must be text, such as `exp/{tag}/{name}`")
				continue
			}
			if err := ValidateTemplate(v.Value); err != nil {
				c.Addf(v.Line, "%v", err)
				continue
			}
			s.Branch = v.Value
		case "params":
			// The entry runs to the line before the next top-level key.
			to := len(lines)
			if i+2 < len(root.Content) {
				to = root.Content[i+2].Line - 1
			}
			if p, ok := viaVariantFile(c, lines, k.Line, to, root.Column-1); ok {
				s.Params = p
			}
		case "matrix":
			s.matrixLine = k.Line
			readMatrix(c, &s, v)
		default:
			c.Addf(k.Line, "unknown key %s; allowed keys are %s%s", code(key), strings.Join(topKeys, ", "), unknownHint(key))
		}
	}
	return s
}

// unknownHint guesses what an unknown key was meant to be.
func unknownHint(key string) string {
	for _, k := range topKeys {
		if strings.EqualFold(key, k) {
			return " (keys are lowercase: write `" + k + "`)"
		}
	}
	switch key {
	case "base":
		return "; every experiment starts from the tagged commit"
	case "include", "exclude":
		return "; `" + key + "` goes under `matrix:`"
	}
	if keySegment.MatchString(key) {
		return "; lists to combine go under `matrix:`, parameters common to all under `params:`"
	}
	return ""
}

// readMatrix reads the matrix: lists to combine, and include and exclude.
func readMatrix(c *spec.Collector, s *Sweep, m *yaml.Node) {
	if isNull(m) {
		return
	}
	if m.Kind != yaml.MappingNode {
		c.Addf(m.Line, "`matrix` must be a mapping of parameter names to lists of values, for example `matrix: {lr: [0.1, 0.01]}`")
		return
	}
	seen := map[string]int{}
	product := 1
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.Addf(k.Line, "a key must be a plain name, not a list or a mapping")
			continue
		}
		key := k.Value
		if first, dup := seen[key]; dup {
			c.Addf(k.Line, "duplicate key %s (first on line %d); keep only one", code("matrix."+key), first)
			continue
		}
		seen[key] = k.Line
		switch key {
		case "include":
			s.include = readEntries(c, key, v)
		case "exclude":
			s.exclude = readEntries(c, key, v)
		default:
			a, ok := readAxis(c, key, k, v)
			if !ok {
				continue
			}
			s.axes = append(s.axes, a)
			// Saturating: the file may list far more than fits an int.
			product = min(product*len(a.values), MaxProduct+1)
		}
	}
	if product > MaxProduct {
		c.Addf(m.Line, "the lists of `matrix` make more than %d combinations; shorten them", MaxProduct)
	}
}

// badKey explains why key cannot name a matrix parameter, or is "".
func badKey(key string) string {
	segs := strings.Split(key, ".")
	if len(segs) > spec.MaxParamDepth {
		return "parameter " + code(key) + " has more than " + itoa(spec.MaxParamDepth) + " dotted parts; parameters nest at most " + itoa(spec.MaxParamDepth) + " levels deep"
	}
	for _, seg := range segs {
		if !keySegment.MatchString(seg) {
			return "parameter name " + code(key) + " is not allowed: each dotted part starts with a letter or `_`, then uses only letters, digits, `_` and `-`, at most 64 characters"
		}
	}
	return ""
}

func readAxis(c *spec.Collector, key string, k, v *yaml.Node) (axis, bool) {
	if bad := badKey(key); bad != "" {
		c.Addf(k.Line, "%s", bad)
		return axis{}, false
	}
	where := code("matrix." + key)
	if v.Kind != yaml.SequenceNode {
		c.Addf(v.Line, "%s must be a list of values, such as `[0.1, 0.01]`; a value common to every experiment goes under `params:`", where)
		return axis{}, false
	}
	switch {
	case len(v.Content) == 0:
		c.Addf(v.Line, "%s is an empty list, which would make no experiments; give it at least one value", where)
		return axis{}, false
	case len(v.Content) > spec.MaxListItems:
		c.Addf(v.Line, "%s has %d values; a list may have at most %d", where, len(v.Content), spec.MaxListItems)
		return axis{}, false
	}
	a := axis{key: key, line: k.Line}
	ok := true
	first := map[any]int{}
	for i, item := range v.Content {
		x, good := scalar(c, item, code("matrix."+key+"["+itoa(i)+"]"))
		if !good {
			ok = false
			continue
		}
		if line, dup := first[norm(x)]; dup {
			c.Addf(item.Line, "%s lists %s twice (first on line %d); keep one", where, cell(x), line)
			ok = false
			continue
		}
		first[norm(x)] = item.Line
		a.values = append(a.values, x)
	}
	return a, ok
}

// readEntries reads the list of include or exclude.
func readEntries(c *spec.Collector, which string, v *yaml.Node) []entry {
	if isNull(v) {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		c.Addf(v.Line, "`matrix.%s` must be a list of mappings, such as `- {lr: 0.1, batch_size: 32}`", which)
		return nil
	}
	if len(v.Content) > MaxEntries {
		c.Addf(v.Line, "`matrix.%s` has %d entries; the limit is %d", which, len(v.Content), MaxEntries)
		return nil
	}
	var out []entry
	for i, item := range v.Content {
		where := "`matrix." + which + "[" + itoa(i) + "]`"
		if item.Kind != yaml.MappingNode {
			c.Addf(item.Line, "%s must be a mapping of parameter names to values, such as `{lr: 0.1, batch_size: 32}`", where)
			continue
		}
		if len(item.Content) == 0 {
			c.Addf(item.Line, "%s is empty; it would %s every combination, so give it at least one key", where,
				map[string]string{"include": "add nothing to", "exclude": "remove"}[which])
			continue
		}
		e := entry{line: item.Line}
		seen := map[string]int{}
		ok := true
		for j := 0; j+1 < len(item.Content); j += 2 {
			k, val := item.Content[j], item.Content[j+1]
			if k.Kind != yaml.ScalarNode {
				c.Addf(k.Line, "a key must be a plain name, not a list or a mapping")
				ok = false
				continue
			}
			if bad := badKey(k.Value); bad != "" {
				c.Addf(k.Line, "%s", bad)
				ok = false
				continue
			}
			if first, dup := seen[k.Value]; dup {
				c.Addf(k.Line, "duplicate key %s in %s (first on line %d); keep only one", code(k.Value), where, first)
				ok = false
				continue
			}
			seen[k.Value] = k.Line
			x, good := scalar(c, val, code("matrix."+which+"["+itoa(i)+"]."+k.Value))
			if !good {
				ok = false
				continue
			}
			e.pairs = append(e.pairs, Value{Key: k.Value, Value: x})
			e.lines = append(e.lines, k.Line)
		}
		if ok {
			out = append(out, e)
		}
	}
	return out
}
