package sweep

import (
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/spec"
)

func TestCell(t *testing.T) {
	// cell relies on the shape of spec.MarkdownTable; if that changes, the
	// fallback shows up here.
	for v, want := range map[any]string{
		"adamw":         "`adamw`",
		"007":           "`\"007\"`",
		int64(16):       "`16`",
		0.1:             "`0.1`",
		3.0:             "`3.0`",
		true:            "`true`",
		"a|b":           "`\"a\\|b\"`",
		"x`y":           "``x`y``",
		"@here #1":      "`\"@here #1\"`",
		" padded":       "`\" padded\"`",
		"<b>bold</b>":   "`<b>bold</b>`",
		"line\nbreak":   "`\"line\\nbreak\"`",
		"**not bold**":  "`\"**not bold**\"`",
		"not @bold":     "`not @bold`",
		"[x](evil.com)": "`\"[x](evil.com)\"`",
	} {
		if got := cell(v); got != want {
			t.Errorf("cell(%#v) = %s, want %s", v, got, want)
		}
	}
}

func TestCode(t *testing.T) {
	for s, want := range map[string]string{
		"matrix.lr[1]": "`matrix.lr[1]`",
		"{number}":     "`{number}`",
		"bad key":      "`bad key`",
		"a`b":          "``a`b``",
		"":             "`\"\"`",
	} {
		if got := code(s); got != want {
			t.Errorf("code(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestMarkdownTable(t *testing.T) {
	s := mustParse(t, "name: t\nparams:\n  epochs: 3\nmatrix:\n  lr: [0.1, 0.01]\n  opt.name: [\"a|b\", sgd]\n  include:\n    - {lr: 0.001, note: \"@here\"}\n")
	combos, err := s.Expand(0)
	if err != nil {
		t.Fatal(err)
	}
	got := MarkdownTable(combos, func(name string) string {
		if name == "t-lr0.01-name_sgd" {
			return "" // no link
		}
		return "https://forge.example/o/r/tree/exp/v1 (x)|" + name
	})
	want := "| Experiment | `lr` | `opt.name` | `note` |\n" +
		"| --- | --- | --- | --- |\n" +
		"| [`t-lr0.1-name_a-b`](https://forge.example/o/r/tree/exp/v1%20%28x%29%7Ct-lr0.1-name_a-b) | `0.1` | `\"a\\|b\"` |  |\n" +
		"| [`t-lr0.1-name_sgd`](https://forge.example/o/r/tree/exp/v1%20%28x%29%7Ct-lr0.1-name_sgd) | `0.1` | `sgd` |  |\n" +
		"| [`t-lr0.01-name_a-b`](https://forge.example/o/r/tree/exp/v1%20%28x%29%7Ct-lr0.01-name_a-b) | `0.01` | `\"a\\|b\"` |  |\n" +
		"| `t-lr0.01-name_sgd` | `0.01` | `sgd` |  |\n" +
		"| [`t-lr0.001-note_here`](https://forge.example/o/r/tree/exp/v1%20%28x%29%7Ct-lr0.001-note_here) | `0.001` |  | `\"@here\"` |\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if MarkdownTable(nil, nil) != "" {
		t.Fatal("table without experiments")
	}
	// One experiment: nothing varies, so only its name.
	one, _ := mustParse(t, "matrix:\n  lr: [1]\n").Expand(0)
	if got := MarkdownTable(one, nil); got != "| Experiment |\n| --- |\n| `sweep` |\n" {
		t.Fatalf("one experiment: %q", got)
	}
}

func TestMarkdownTableBounded(t *testing.T) {
	s := mustParse(t, "matrix:\n  a: ["+nums(100)+"]\n  b: ["+nums(40)+"]\n")
	combos, err := s.Expand(MaxProduct)
	if err != nil {
		t.Fatal(err)
	}
	got := MarkdownTable(combos, func(n string) string { return "https://forge.example/" + n })
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(got) > spec.MaxTableBytes+200 || !strings.Contains(lines[len(lines)-1], "more |") {
		t.Fatalf("%d bytes, last line %q", len(got), lines[len(lines)-1])
	}
}
