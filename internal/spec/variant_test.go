package spec

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const sha = "0123456789abcdef0123456789abcdef01234567"

func fullVariant() Variant {
	return Variant{
		Name:        "lr-sweep",
		Description: "Sweep the learning rate.\nSecond line.\n",
		Model:       "meta-llama/Llama-3-8B",
		Dataset:     "wiki: 2024",
		BaseRef:     "main",
		BaseSHA:     sha,
		Params: map[string]any{
			"lr":      0.0003,
			"epochs":  int64(3),
			"scale":   2.0,
			"fp16":    true,
			"tag":     "007",
			"yes":     "true",
			"empty":   "",
			"opt":     map[string]any{"name": "adamw", "betas": []any{0.9, 0.95}, "cfg": map[string]any{}},
			"seeds":   []any{int64(1), "two", false, 1e21},
			"off":     "on",
			"time":    "1:30",
			"small":   1e-05,
			"nothing": []any{},
		},
		RequestedBy: "alice",
		Source:      "https://github.com/o/r/issues/12",
		Forge:       "github",
	}
}

func TestRenderVariantFileGolden(t *testing.T) {
	got, err := RenderVariantFile(fullVariant())
	if err != nil {
		t.Fatal(err)
	}
	want := `# Managed by expbot from the experiment request in the issue at source: below.
# Edit that request, not this file: expbot overwrites changes made here.
version: 1
name: lr-sweep
description: |
  Sweep the learning rate.
  Second line.
model: meta-llama/Llama-3-8B
dataset: 'wiki: 2024'
base:
  ref: main
  sha: 0123456789abcdef0123456789abcdef01234567
params:
  empty: ""
  epochs: 3
  fp16: true
  lr: 0.0003
  nothing: []
  "off": "on"
  opt:
    betas: [0.9, 0.95]
    cfg: {}
    name: adamw
  scale: 2.0
  seeds: [1, two, false, 1.0e+21]
  small: 1.0e-05
  tag: "007"
  time: "1:30"
  "yes": "true"
requested_by: alice
source: https://github.com/o/r/issues/12
forge: github
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestRenderVariantFileParsesBack(t *testing.T) {
	v := fullVariant()
	out, err := RenderVariantFile(v)
	if err != nil {
		t.Fatal(err)
	}
	// With plain yaml.v3, as a training job would read it.
	var plain map[string]any
	if err := yaml.Unmarshal(out, &plain); err != nil {
		t.Fatal(err)
	}
	if plain["name"] != v.Name || plain["version"] != 1 || plain["forge"] != "github" {
		t.Errorf("plain read: %v", plain)
	}
	base, _ := plain["base"].(map[string]any)
	if base["ref"] != "main" || base["sha"] != sha {
		t.Errorf("base = %v", base)
	}
	params, _ := plain["params"].(map[string]any)
	if params["scale"] != 2.0 || params["tag"] != "007" || params["yes"] != "true" || params["epochs"] != 3 {
		t.Errorf("params lost their types: %#v", params)
	}
	// And with ParseVariantFile, which must give back exactly the variant.
	back, err := ParseVariantFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, v) {
		t.Errorf("round trip:\ngot  %#v\nwant %#v", back, v)
	}
}

func TestRenderVariantFileDeterministic(t *testing.T) {
	v := fullVariant()
	for i := range 50 {
		v.Params["k"+strings.Repeat("x", i)] = int64(i) // many keys, so map order varies
	}
	first, err := RenderVariantFile(v)
	if err != nil {
		t.Fatal(err)
	}
	for range 100 {
		// A fresh map each time, filled in a different order.
		cp := v
		cp.Params = map[string]any{}
		for k, x := range v.Params {
			cp.Params[k] = x
		}
		got, err := RenderVariantFile(cp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, first) {
			t.Fatalf("output changed between runs:\n%s\n---\n%s", first, got)
		}
	}
}

func TestRenderVariantFileMinimal(t *testing.T) {
	out, err := RenderVariantFile(Variant{Name: "a", BaseRef: "v1.0", BaseSHA: strings.Repeat("b", 64)})
	if err != nil {
		t.Fatal(err)
	}
	for _, absent := range []string{"description", "model", "dataset", "requested_by", "source", "forge"} {
		if bytes.Contains(out, []byte("\n"+absent+":")) {
			t.Errorf("empty %s was written:\n%s", absent, out)
		}
	}
	if !bytes.Contains(out, []byte("params: {}\n")) {
		t.Errorf("no empty params mapping:\n%s", out)
	}
	back, err := ParseVariantFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.Params == nil || len(back.Params) != 0 || back.BaseSHA != strings.Repeat("b", 64) {
		t.Errorf("back = %#v", back)
	}
}

func TestRenderVariantFileRefuses(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Variant)
		want   string
	}{
		{"bad name", func(v *Variant) { v.Name = "Bad" }, "name"},
		{"bad base ref", func(v *Variant) { v.BaseRef = "a..b" }, "base ref"},
		{"short SHA", func(v *Variant) { v.BaseSHA = "0123456" }, "full lowercase commit SHA"},
		{"uppercase SHA", func(v *Variant) { v.BaseSHA = strings.ToUpper(sha) }, "full lowercase commit SHA"},
		{"multi-line model", func(v *Variant) { v.Model = "a\nb" }, "model"},
		{"control in description", func(v *Variant) { v.Description = "a\x00" }, "description"},
		{"int instead of int64", func(v *Variant) { v.Params = map[string]any{"n": 3} }, "type int"},
		{"nil value", func(v *Variant) { v.Params = map[string]any{"n": nil} }, "type <nil>"},
		{"NaN", func(v *Variant) { v.Params = map[string]any{"n": nanValue()} }, "not a finite number"},
		{"bad key", func(v *Variant) { v.Params = map[string]any{"a b": int64(1)} }, "parameter name"},
		{"too deep", func(v *Variant) {
			v.Params = map[string]any{"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": map[string]any{"e": int64(1)}}}}}
		}, "deeper than 4"},
		{"long text", func(v *Variant) { v.Params = map[string]any{"s": strings.Repeat("x", MaxParamString+1)} }, "1025 bytes"},
		{"list of lists", func(v *Variant) { v.Params = map[string]any{"l": []any{[]any{}}} }, "single values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := fullVariant()
			tt.change(&v)
			out, err := RenderVariantFile(v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("RenderVariantFile = %q, %v; want error containing %q", out, err, tt.want)
			}
		})
	}
}

func nanValue() float64 {
	zero := 0.0
	return zero / zero
}

func TestParseVariantFileRefuses(t *testing.T) {
	good, err := RenderVariantFile(fullVariant())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty", "", "is empty"},
		{"not a mapping", "- a\n", "must be a mapping"},
		{"wrong version", strings.Replace(string(good), "version: 1", "version: 2", 1), "`version` must be 1"},
		{"unknown key", string(good) + "extra: 1\n", "unknown key `extra`"},
		{"unknown base key", strings.Replace(string(good), "  ref: main", "  ref: main\n  when: now", 1), "unknown key `when` under `base`"},
		{"missing base", "version: 1\nname: a\n", "has no `base`"},
		{"short sha", strings.Replace(string(good), sha, "0123456", 1), "base.sha"},
		{"alias", strings.Replace(string(good), "  epochs: 3", "  epochs: &e 3\n  again: *e", 1), "anchors"},
		{"duplicate", string(good) + "name: b\n", "duplicate key `name`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseVariantFile([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseVariantFile = %#v, %v; want error containing %q", v, err, tt.want)
			}
		})
	}
	// Problems keep their lines in the file.
	_, err = ParseVariantFile([]byte("version: 1\nname: a\nbase: {ref: main, sha: " + sha + "}\nbogus: 1\n"))
	var probs *Problems
	if !errors.As(err, &probs) || len(probs.List) != 1 || probs.List[0].Line != 4 {
		t.Errorf("err = %v, want one problem on line 4", err)
	}
}

// A request renders to a file that reads back to the same params: the path
// the pipeline takes, end to end.
func TestRequestToVariantFile(t *testing.T) {
	req, err := ParseIssueBody("```yaml\nname: e2e\nmodel: m\nparams:\n  lr: 1e-5\n  steps: 1_000\n  when: 2024-05-01\n  note: |\n    two\n    lines\n  opt: {beta: 0.9}\n```")
	if err != nil {
		t.Fatal(err)
	}
	out, err := RenderVariantFile(Variant{Name: req.Name, Model: req.Model, BaseRef: "main", BaseSHA: sha, Params: req.Params})
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseVariantFile(out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(back.Params, req.Params) {
		t.Errorf("params:\ngot  %#v\nwant %#v\n%s", back.Params, req.Params, out)
	}
}

// trickyText is text that YAML emitters and readers get wrong one way or
// another: YAML 1.1 and 1.2 specials, numbers as text, indicators,
// whitespace at the ends, line breaks, quotes and non-ASCII.
var trickyText = []string{
	"", " ", "  x", "x  ", "\t", "\ttab", "\n", "\n\n", "a\n", "a\n\n", "\na", " \na", "a\n ", "a \nb", "a\n\tb",
	"a\n  b\n", "- a", "-", "--- x", "---", "...", "? x", ": x", "x: y", "x #y", "#x", "&a", "*a", "!t", "|", ">",
	"%x", "@x", "`x", "'", "\"", "'a'", "\"a\"", "[a]", "{a: 1}", "a, b", "~", "null", "Null", "NULL",
	"true", "False", "yes", "No", "on", "OFF", "y", "n", "=", "<<", "1", "-1", "+1", "007", "0x1F", "0o17", "0b101",
	"1_000", "1.5", ".5", "1.", "1e3", "1e-05", "1.0e+21", ".inf", "-.Inf", ".nan", "1:30", "1:30:00.5", "2024-01-02",
	"2024-1-2", "2024-01-02T03:04:05Z", "é", "日本語", "emoji 😀", "\u00a0nbsp", "a\u00a0", "zero\u200bwidth",
	"\ufeffbom", "\\", "\\n", "a\\b", strings.Repeat("long ", 200),
}

// Every tricky text survives a render and a read, as a value, in a list,
// as a description, and (where it is a valid key) as a key.
func TestRenderVariantFileTrickyText(t *testing.T) {
	for _, s := range trickyText {
		v := Variant{Name: "t", BaseRef: "main", BaseSHA: sha, Description: s, Params: map[string]any{
			"value": s,
			"list":  []any{s, s},
			"deep":  map[string]any{"value": s},
		}}
		if paramKey.MatchString(s) {
			v.Params[s] = s
		}
		if !strings.ContainsAny(s, "\n\t") && len(s) <= MaxLabelLen {
			v.Model, v.Dataset = s, s
		}
		out, err := RenderVariantFile(v)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		back, err := ParseVariantFile(out)
		if err != nil {
			t.Errorf("%q: %v\n%s", s, err, out)
			continue
		}
		if !reflect.DeepEqual(back, v) {
			t.Errorf("%q does not survive:\n%s", s, out)
		}
	}
}

// TestVariantHeaderSaysWhereTheRequestCameFrom: the header names the issue,
// the pull/merge-request comment or the tagged commit, on each forge, and
// the file still reads back.
func TestVariantHeaderSaysWhereTheRequestCameFrom(t *testing.T) {
	tests := []struct {
		origin    Origin
		forge     string
		want, not string
	}{
		{"", "github", "from the experiment request in the issue at source", "pull request"},
		{FromIssue, "gitlab", "from the experiment request in the issue at source", "merge request"},
		{FromComment, "github", "from an /experiment command in the pull request comment at source", "issue"},
		{FromComment, "gitlab", "from an /experiment command in the merge request comment at source", "issue"},
		{FromSweep, "github", "from the sweep definition at the tagged commit at source", "issue"},
		{FromSweep, "gitlab", "from the sweep definition at the tagged commit at source", "request"},
	}
	for _, tt := range tests {
		t.Run(string(tt.origin)+"/"+tt.forge, func(t *testing.T) {
			v := fullVariant()
			v.Origin, v.Forge = tt.origin, tt.forge
			out, err := RenderVariantFile(v)
			if err != nil {
				t.Fatal(err)
			}
			header, _, _ := strings.Cut(string(out), "version:")
			if !strings.Contains(header, tt.want) || strings.Contains(header, tt.not) {
				t.Errorf("header says\n%s\nwant %q and not %q", header, tt.want, tt.not)
			}
			if _, err := ParseVariantFile(out); err != nil {
				t.Errorf("does not read back: %v", err)
			}
		})
	}
	v := fullVariant()
	v.Origin = "email"
	if _, err := RenderVariantFile(v); err == nil {
		t.Error("an unknown origin was rendered")
	}
}
