package spec

import (
	"reflect"
	"strings"
	"testing"
)

func TestParamsTable(t *testing.T) {
	got := ParamsTable(map[string]any{
		"lr":    0.0003,
		"steps": int64(100),
		"half":  true,
		"three": "3",
		"text":  "adam w",
		"multi": "a\nb",
		"empty": "",
		"list":  []any{int64(1), "x, y", 2.0},
		"none":  map[string]any{},
		"opt":   map[string]any{"beta": map[string]any{"one": 0.9}, "name": "sgd"},
	})
	want := []ParamRow{
		{"empty", `""`},
		{"half", "true"},
		{"list", `[1, "x, y", 2.0]`},
		{"lr", "0.0003"},
		{"multi", `"a\nb"`},
		{"none", "{}"},
		{"opt.beta.one", "0.9"},
		{"opt.name", "sgd"},
		{"steps", "100"},
		{"text", "adam w"},
		{"three", `"3"`},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	if rows := ParamsTable(nil); len(rows) != 0 {
		t.Errorf("ParamsTable(nil) = %q", rows)
	}
}

func TestMarkdownTable(t *testing.T) {
	if got := MarkdownTable(map[string]any{}, "experiment.yaml"); got != "" {
		t.Errorf("empty params give %q, want \"\"", got)
	}
	got := MarkdownTable(map[string]any{"lr": 0.5, "opt": map[string]any{"name": "adam"}}, "experiment.yaml")
	want := "| Parameter | Value |\n| --- | --- |\n| `lr` | `0.5` |\n| `opt.name` | `adam` |\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// Values are user input rendered in a forge comment: nothing in them may
// break the table, inject markup or HTML, or ping anyone.
func TestMarkdownTableEscapes(t *testing.T) {
	hostile := []string{
		"a|b", `a\|b`, "<script>alert(1)</script>", "`code`", "``", "@alice hi", "cc @org/team",
		"line1\nline2", "**bold** _it_ ~~s~~", "[link](https://evil.example)", "![img](x)",
		"#12 and !3", ":smile:", "$x^2$", "&amp; &#124;", "zero\u200dwidth", "\u202eevil",
		strings.Repeat("|", 200),
	}
	params := map[string]any{}
	for i, h := range hostile {
		params["k"+string(rune('a'+i))] = h
	}
	params["list"] = []any{"a|b", "@x"}
	table := MarkdownTable(params, "experiment.yaml")
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != len(params)+2 {
		t.Fatalf("table has %d lines, want %d:\n%s", len(lines), len(params)+2, table)
	}
	for _, line := range lines[2:] {
		cells := splitRow(line)
		if len(cells) != 2 {
			t.Errorf("row has %d cells, want 2: %s", len(cells), line)
			continue
		}
		for _, c := range cells {
			// GFM drops the backslash of an escaped pipe before inline
			// parsing; what is left must be exactly one code span.
			c = unescapePipes(strings.TrimSpace(c))
			n := 0
			for n < len(c) && c[n] == '`' {
				n++
			}
			fence := c[:n]
			inner := strings.TrimSuffix(c[n:], fence)
			if n == 0 || !strings.HasSuffix(c[n:], fence) || len(inner) == len(c[n:]) || hasRun(inner, n) {
				t.Errorf("cell %q is not exactly one code span", c)
			}
		}
	}
	for _, raw := range []string{"\u200d", "\u202e", "\n\n"} {
		if strings.Contains(table, raw) {
			t.Errorf("table holds %q:\n%s", raw, table)
		}
	}
	for _, want := range []string{"`\"@alice hi\"`", "`cc @org/team`", "`\"a\\\\\\|b\"`", "`<script>alert(1)</script>`", "``\"`code`\"``"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %s:\n%s", want, table)
		}
	}
}

// splitRow splits a GFM table row at its unescaped pipes, as cmark-gfm
// does: a backslash escapes the character after it, pipes included.
func splitRow(line string) []string {
	var cells []string
	start := -1
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '|':
			if start >= 0 {
				cells = append(cells, line[start:i])
			}
			start = i + 1
		}
	}
	return cells
}

// unescapePipes is cmark-gfm's: drop a backslash that stands before a pipe.
func unescapePipes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && s[i+1] == '|' {
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// hasRun reports a run of exactly n backticks in s, which would close a code
// span opened by n backticks.
func hasRun(s string, n int) bool {
	run := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] == '`' {
			run++
			continue
		}
		if run == n {
			return true
		}
		run = 0
	}
	return false
}

func TestMarkdownTableLimits(t *testing.T) {
	long := strings.Repeat("x", 500)
	table := MarkdownTable(map[string]any{"a": long}, "experiment.yaml")
	if strings.Contains(table, strings.Repeat("x", maxCellRunes)) || !strings.Contains(table, strings.Repeat("x", maxCellRunes-1)+"…") {
		t.Errorf("long value not cut at %d characters:\n%s", maxCellRunes, table)
	}
	params := map[string]any{}
	for i := range MaxParamKeys {
		params[strings.Repeat("k", 60)+string(rune('A'+i%26))+string(rune('A'+i/26))] = strings.Repeat("v", 200)
	}
	// The overflow row names the configured variant file, whatever it is.
	for file, want := range map[string]string{"run/variant.yaml": "more, see `run/variant.yaml` on the branch", "": "more, see the variant file on the branch"} {
		table = MarkdownTable(params, file)
		if len(table) > MaxTableBytes+200 {
			t.Errorf("table is %d bytes, limit %d", len(table), MaxTableBytes)
		}
		if !strings.Contains(table, want) || strings.Contains(table, "experiment.yaml") {
			t.Errorf("cut table with variant file %q does not say %q:\n%s", file, want, table[len(table)-300:])
		}
	}
}

func TestCode(t *testing.T) {
	tests := map[string]string{
		"lr":                    "`lr`",
		"a`b":                   "``a`b``",
		"`x":                    "`` `x ``",
		"":                      "`\"\"`",
		" x":                    "`\" x\"`",
		"a\nb":                  "`\"a\\nb\"`",
		"z\u200dw":              "`\"z\\u200dw\"`",
		"```":                   "```` ``` ````",
		strings.Repeat("a", 70): "`" + strings.Repeat("a", maxQuoted-1) + "…`",
	}
	for in, want := range tests {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
}
