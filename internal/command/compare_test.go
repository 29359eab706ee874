package command

import (
	"strconv"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/spec"
)

func TestParamsComparison(t *testing.T) {
	got := ParamsComparison([]string{"base", "low-lr"}, []map[string]any{
		{"lr": 0.0003, "epochs": int64(3), "opt": map[string]any{"name": "adamw", "betas": []any{0.9, 0.95}}, "tag": "3"},
		{"lr": 0.0001, "epochs": int64(3), "opt": map[string]any{"name": "adamw"}, "tag": int64(3)},
	})
	want := "| Parameter | `base` | `low-lr` |\n" +
		"| --- | --- | --- |\n" +
		"| `epochs` | `3` | `3` |\n" +
		"| ≠ `lr` | `0.0003` | `0.0001` |\n" +
		"| ≠ `opt.betas` | `[0.9, 0.95]` | — |\n" +
		"| `opt.name` | `adamw` | `adamw` |\n" +
		"| ≠ `tag` | `\"3\"` | `3` |\n" +
		"\n≠ marks parameters whose values differ.\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}

	same := ParamsComparison([]string{"a", "b"}, []map[string]any{{"x": true}, {"x": true}})
	if strings.Contains(same, "≠") || !strings.Contains(same, "| `x` | `true` | `true` |") {
		t.Errorf("equal params marked or missing:\n%s", same)
	}
	// Only the second experiment has the key: the first column is "—".
	if got := ParamsComparison([]string{"a", "b"}, []map[string]any{{}, {"x": int64(1)}}); !strings.Contains(got, "| ≠ `x` | — | `1` |") {
		t.Errorf("key missing from the first experiment:\n%s", got)
	}

	for name, tc := range map[string]struct {
		names  []string
		params []map[string]any
	}{
		"nothing":    {},
		"no params":  {names: []string{"a", "b"}, params: []map[string]any{{}, nil}},
		"names only": {names: []string{"a"}},
	} {
		if got := ParamsComparison(tc.names, tc.params); got != "" {
			t.Errorf("%s: got %q, want \"\"", name, got)
		}
	}
	// An empty map is a value (a row), as in spec.ParamsTable.
	if got := ParamsComparison([]string{"a"}, []map[string]any{{"e": map[string]any{}}}); !strings.Contains(got, "| `e` | `{}` |") {
		t.Errorf("empty map value:\n%s", got)
	}
	// More params than names: the column still has a head.
	if got := ParamsComparison(nil, []map[string]any{{"x": int64(1)}}); !strings.HasPrefix(got, "| Parameter | experiment 1 |\n") {
		t.Errorf("unnamed column:\n%s", got)
	}
}

// Names, keys and values are user input: every cell stays one cell and one
// code span, whatever it holds.
func TestParamsComparisonEscapes(t *testing.T) {
	hostile := []string{"a|b", `a\|b`, "`x`", "``", "@alice", "<b>x</b>", "[l](https://e.example)", "line\nbreak", "\u202e", strings.Repeat("|", 100), "\xff"}
	var names []string
	var params []map[string]any
	for i, h := range hostile {
		names = append(names, h)
		params = append(params, map[string]any{"k": h, "l": []any{h, i}, "a|b\\": h})
	}
	table := ParamsComparison(names, params)
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	rows := 0
	for _, line := range lines {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		rows++
		cells := splitRow(line)
		if len(cells) != len(hostile)+1 {
			t.Errorf("row has %d cells, want %d: %s", len(cells), len(hostile)+1, line)
			continue
		}
		if line == lines[1] {
			continue // the delimiter row
		}
		for i, c := range cells {
			c = strings.TrimSpace(unescapePipes(c))
			if i > 0 && c == "—" || i == 0 && strings.HasPrefix(c, "Parameter") {
				continue
			}
			c = strings.TrimPrefix(c, "≠ ")
			if !oneCodeSpan(c) {
				t.Errorf("cell %q is not exactly one code span", c)
			}
		}
	}
	if rows != 2+3 {
		t.Errorf("%d table rows, want 5:\n%s", rows, table)
	}
	for _, raw := range []string{"\u202e", "\xff", "line\nbreak"} {
		if strings.Contains(table, raw) {
			t.Errorf("table holds %q raw", raw)
		}
	}
}

func TestParamsComparisonLimits(t *testing.T) {
	var names []string
	var params []map[string]any
	for i := range MaxComparedExperiments + 3 {
		names = append(names, "e"+strconv.Itoa(i))
		p := map[string]any{}
		for k := range 200 {
			p["key"+strconv.Itoa(k)] = strings.Repeat("v", 50) + strconv.Itoa(i)
		}
		params = append(params, p)
	}
	table := ParamsComparison(names, params)
	if len(table) > spec.MaxTableBytes+4096 {
		t.Errorf("table is %d bytes, limit %d", len(table), spec.MaxTableBytes)
	}
	if !strings.Contains(table, "more parameters not shown") {
		t.Error("cut table does not say so")
	}
	if !strings.Contains(table, "\n3 more experiments are not shown.\n") {
		t.Error("extra experiments not counted")
	}
	if strings.Contains(table, "`e20`") || !strings.Contains(table, "`e19`") {
		t.Error("wrong columns shown")
	}
	head, _, _ := strings.Cut(table, "\n")
	if n := len(splitRow(head)); n != MaxComparedExperiments+1 {
		t.Errorf("%d columns, want %d", n, MaxComparedExperiments+1)
	}
}

// oneCodeSpan reports whether c is exactly one CommonMark code span.
func oneCodeSpan(c string) bool {
	n := run(c, 0)
	if n == 0 || len(c) < 2*n+1 {
		return false
	}
	fence := c[:n]
	inner, ok := strings.CutSuffix(c[n:], fence)
	return ok && inner != "" && !hasRun(inner, n) && !strings.HasSuffix(inner, "`")
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
	return strings.ReplaceAll(s, `\|`, "|")
}

// hasRun reports a run of exactly n backticks in s.
func hasRun(s string, n int) bool {
	r := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] == '`' {
			r++
			continue
		}
		if r == n {
			return true
		}
		r = 0
	}
	return false
}

func TestParamChanges(t *testing.T) {
	old := map[string]any{"lr": 0.1, "epochs": int64(3), "opt": map[string]any{"name": "adam", "beta": 0.9}, "gone": true}
	tests := []struct {
		name     string
		old, new map[string]any
		want     string
	}{
		{"nothing changes", old, map[string]any{"lr": 0.1, "epochs": int64(3), "opt": map[string]any{"name": "adam", "beta": 0.9}, "gone": true}, ""},
		{"both empty", nil, nil, ""},
		{
			"changed, added, removed, nested",
			old,
			map[string]any{"lr": 0.05, "epochs": int64(3), "opt": map[string]any{"name": "adamw", "beta": 0.9}, "warmup": int64(100)},
			"| Parameter | Old → new |\n| --- | --- |\n" +
				"| `gone` | `true` → — |\n" +
				"| `lr` | `0.1` → `0.05` |\n" +
				"| `opt.name` | `adam` → `adamw` |\n" +
				"| `warmup` | — → `100` |\n",
		},
		{
			"text that reads as a number differs from the number",
			map[string]any{"tag": int64(7)}, map[string]any{"tag": "7"},
			"| Parameter | Old → new |\n| --- | --- |\n| `tag` | `7` → `\"7\"` |\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParamChanges(tt.old, tt.new); got != tt.want {
				t.Errorf("ParamChanges =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
