package spec

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// VariantFileVersion is the version: field of the variant file. Bump it when
// its shape changes, so that training code can tell old files from new.
const VariantFileVersion = 1

// Origin is where an experiment was asked for; the variant file's header
// names it, so that whoever opens the file knows where to change it.
type Origin string

const (
	FromIssue   Origin = "issue"   // an issue's description (the zero Origin too)
	FromComment Origin = "comment" // an /experiment command in a pull/merge request comment
	FromSweep   Origin = "sweep"   // a sweep definition at a tagged commit
)

// variantHeader opens every variant file; it is a comment, so readers of the
// YAML never see it. The issue's wording is the one files had before
// origins were told apart: issue branches get no new commit for it.
func variantHeader(o Origin, forge string) (string, error) {
	request := "pull request"
	if forge == "gitlab" {
		request = "merge request"
	}
	switch o {
	case FromIssue, "":
		return "# Managed by expbot from the experiment request in the issue at source: below.\n" +
			"# Edit that request, not this file: expbot overwrites changes made here.\n", nil
	case FromComment:
		return "# Managed by expbot from an /experiment command in the " + request + " comment at source: below.\n" +
			"# Change it with /experiment update in that " + request + ", not here: expbot overwrites changes made here.\n", nil
	case FromSweep:
		return "# Managed by expbot from the sweep definition at the tagged commit at source: below.\n" +
			"# Change the sweep definition and move the tag, not this file: expbot overwrites changes made here.\n", nil
	}
	return "", fmt.Errorf("variant file: unknown origin %q", o)
}

// Variant is everything the variant file records: the request, what its
// base resolved to, and where it came from.
type Variant struct {
	Name        string
	Description string
	Model       string
	Dataset     string
	BaseRef     string         // what was branched from: the request's base, or the default branch
	BaseSHA     string         // the full commit SHA BaseRef resolved to
	Params      map[string]any // as in Request
	RequestedBy string         // login of the person who asked
	Source      string         // web URL of the issue, the command's comment or the tagged commit
	Origin      Origin         // what Source is
	Forge       string         // "github" or "gitlab"
}

// RenderVariantFile renders v as the variant file. The output depends on v
// alone: no timestamps, keys in a fixed order, params sorted by key, so equal
// variants give byte-identical files and Pulumi sees no change. It refuses a
// variant that ParseIssueBody could not have produced, so that the file
// always reads back with ParseVariantFile.
func RenderVariantFile(v Variant) ([]byte, error) {
	if err := ValidName(v.Name); err != nil {
		return nil, fmt.Errorf("variant file: name %q: %w", v.Name, err)
	}
	if err := ValidRefName(v.BaseRef); err != nil {
		return nil, fmt.Errorf("variant file: base ref %q: %w", v.BaseRef, err)
	}
	if !fullSHA(v.BaseSHA) {
		return nil, fmt.Errorf("variant file: base SHA %q is not a full lowercase commit SHA", v.BaseSHA)
	}
	for _, f := range []struct {
		name, value string
		limit       int
		multiline   bool
	}{
		{"description", v.Description, MaxDescriptionLen, true},
		{"model", v.Model, MaxLabelLen, false},
		{"dataset", v.Dataset, MaxLabelLen, false},
		{"requested_by", v.RequestedBy, MaxLabelLen, false},
		{"source", v.Source, MaxDescriptionLen, false},
		{"forge", v.Forge, MaxLabelLen, false},
	} {
		if hasControl(f.value, f.multiline) || utf8.RuneCountInString(f.value) > f.limit ||
			(!f.multiline && strings.ContainsAny(f.value, "\n\r")) {
			return nil, fmt.Errorf("variant file: %s %q is not allowed (control characters, line breaks or longer than %d)", f.name, f.value, f.limit)
		}
	}
	header, err := variantHeader(v.Origin, v.Forge)
	if err != nil {
		return nil, err
	}
	params, err := paramsNode(v.Params)
	if err != nil {
		return nil, fmt.Errorf("variant file: params: %w", err)
	}
	// The same walker that reads requests checks the params, so that the
	// rules cannot drift apart.
	col := &Collector{}
	newParamWalker(&checker{Collector: col}).params(params)
	if err := col.Err(); err != nil {
		return nil, fmt.Errorf("variant file: params: %w", err)
	}

	root := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, value *yaml.Node) {
		root.Content = append(root.Content, str(key), value)
	}
	add("version", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(VariantFileVersion)})
	add("name", str(v.Name))
	for _, f := range [][2]string{{"description", v.Description}, {"model", v.Model}, {"dataset", v.Dataset}} {
		if f[1] != "" {
			add(f[0], str(f[1]))
		}
	}
	add("base", &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		str("ref"), str(v.BaseRef),
		str("sha"), str(v.BaseSHA),
	}})
	add("params", params)
	for _, f := range [][2]string{{"requested_by", v.RequestedBy}, {"source", v.Source}, {"forge", v.Forge}} {
		if f[1] != "" {
			add(f[0], str(f[1]))
		}
	}

	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, fmt.Errorf("variant file: encode: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("variant file: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// str is a text scalar. yaml.v3 quotes text that YAML 1.2 would read as
// something else; str also quotes what YAML 1.1 readers such as PyYAML,
// which training code is likely to use, would misread: yes/no/on/off and
// friends as booleans, 1:30 as a base-60 number, "=" as a value key; and
// "<<", which yaml.v3 writes plain but reads back as a merge key.
func str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	if needsQuotes(s) || (strings.Contains(s, "\n") && !literalSafe(s)) {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// literalSafe reports whether yaml.v3 writes multi-line s as a literal block
// (|) that reads back unchanged. It gets edge cases wrong (a lone "\n"
// comes back as ""), so blocks are kept to plain text: no leading blank or
// space, no trailing spaces on lines, no run of newlines at the end.
// Everything else is double-quoted, which always reads back.
func literalSafe(s string) bool {
	if s == "" || s[0] == ' ' || s[0] == '\n' || s[0] == '\t' || strings.HasSuffix(s, "\n\n") || !Printable(strings.ReplaceAll(s, "\n", "")) {
		return false
	}
	for line := range strings.SplitSeq(s, "\n") {
		if strings.TrimRight(line, " \t") != line {
			return false
		}
	}
	return true
}

var base60 = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)

func needsQuotes(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"on", "On", "ON", "off", "Off", "OFF", "=", "<<":
		return true
	}
	return base60.MatchString(s)
}

// paramsNode builds the YAML of params, keys sorted at every level. Lists
// are written in flow style ([1, 2, 3]): they hold only scalars, so that is
// shorter and as clear.
func paramsNode(params map[string]any) (*yaml.Node, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		child, err := valueNode(params[k])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		n.Content = append(n.Content, str(k), child)
	}
	return n, nil
}

func valueNode(v any) (*yaml.Node, error) {
	switch x := v.(type) {
	case map[string]any:
		return paramsNode(x)
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for i, item := range x {
			child, err := valueNode(item)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			n.Content = append(n.Content, child)
		}
		return n, nil
	case string:
		return str(x), nil
	case int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(x, 10)}, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a finite number", x)
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: formatFloat(x)}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}, nil
	}
	return nil, fmt.Errorf("value of type %T is not one of string, int64, float64, bool, []any, map[string]any", v)
}

// formatFloat writes f in the shortest form that reads back as the same
// float64 and that every YAML reader takes for a float: with a "." always,
// so 3.0 stays "3.0" (not "3", an integer) and 1e-05 becomes "1.0e-05"
// (YAML 1.1 readers such as PyYAML read "1e-05" as text).
func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if strings.Contains(s, ".") {
		return s
	}
	if mant, exp, ok := strings.Cut(s, "e"); ok {
		return mant + ".0e" + exp
	}
	return s + ".0"
}

// variantKeys are the keys of the variant file.
var variantKeys = []string{"version", "name", "description", "model", "dataset", "base", "params", "requested_by", "source", "forge"}

// ParseVariantFile reads a variant file back. It refuses the YAML a request
// may not use (anchors, tags, duplicate keys, ...) and unknown keys, and
// checks name, base and params with the request's rules. It lets the
// pipeline check what a branch holds, and the tests prove that what
// RenderVariantFile writes reads back unchanged.
func ParseVariantFile(data []byte) (Variant, error) {
	col := &Collector{}
	c := &checker{Collector: col}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	root := decodeOne(c, text, 0, strings.Count(text, "\n")+1, "the variant file")
	if root == nil {
		return Variant{}, fmt.Errorf("variant file: %w", col.Err())
	}
	v := Variant{Params: map[string]any{}}
	if !c.usable(root) || root.Kind != yaml.MappingNode {
		c.at(root, "the variant file must be a mapping")
		return Variant{}, fmt.Errorf("variant file: %w", col.Err())
	}
	seen := map[string]bool{}
	c.pairs(root, func(k string) string { return k }, func(key string, k, n *yaml.Node) {
		seen[key] = true
		switch key {
		case "version":
			if n.Kind != yaml.ScalarNode || n.Value != strconv.Itoa(VariantFileVersion) {
				c.at(n, "`version` must be %d", VariantFileVersion)
			}
		case "name":
			v.Name = c.textField(key, n)
		case "description":
			v.Description = c.textField(key, n)
		case "model":
			v.Model = c.textField(key, n)
		case "dataset":
			v.Dataset = c.textField(key, n)
		case "requested_by":
			v.RequestedBy = c.textField(key, n)
		case "source":
			v.Source = c.textField(key, n)
		case "forge":
			v.Forge = c.textField(key, n)
		case "base":
			if !c.usable(n) || n.Kind != yaml.MappingNode {
				c.at(n, "`base` must be a mapping with `ref` and `sha`")
				return
			}
			c.pairs(n, func(k string) string { return "base." + k }, func(key string, k, n *yaml.Node) {
				switch key {
				case "ref":
					v.BaseRef = c.textField("base.ref", n)
				case "sha":
					v.BaseSHA = c.textField("base.sha", n)
				default:
					c.at(k, "unknown key %s under `base`", Code(key))
				}
			})
		case "params":
			if m, ok := newParamWalker(c).params(n); ok {
				v.Params = m
			}
		default:
			c.at(k, "unknown key %s; the variant file has %s", Code(key), strings.Join(variantKeys, ", "))
		}
	})
	for _, k := range []string{"version", "name", "base"} {
		if !seen[k] {
			c.Addf(0, "the variant file has no %s", Code(k))
		}
	}
	if err := col.Err(); err != nil {
		return Variant{}, fmt.Errorf("variant file: %w", err)
	}
	if err := ValidName(v.Name); err != nil {
		return Variant{}, fmt.Errorf("variant file: name %q: %w", v.Name, err)
	}
	if err := ValidRefName(v.BaseRef); err != nil {
		return Variant{}, fmt.Errorf("variant file: base ref %q: %w", v.BaseRef, err)
	}
	if !fullSHA(v.BaseSHA) {
		return Variant{}, errors.New("variant file: base.sha is not a full lowercase commit SHA")
	}
	return v, nil
}

// textField is text() for fields whose problems need no special wording.
func (c *checker) textField(field string, n *yaml.Node) string {
	s, _ := c.text(field, n)
	return s
}
