package sweep

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/spec"
)

// problem is an expected problem: its line and a piece of its message.
type problem struct {
	line int
	msg  string
}

func TestParseProblems(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []problem
	}{
		{"empty", "", []problem{{1, "the sweep file is empty"}}},
		{"comments only", "# nothing\n", []problem{{1, "the sweep file is empty"}}},
		{"syntax", "name: x\nmatrix:\n  lr: [0.1,\n", []problem{{4, "this is not valid YAML"}}},
		{"tab indentation", "matrix:\n\tlr: [1]\n", []problem{{2, "not valid YAML"}}},
		{"control character", "name: x\ndescription: a\x01b\n", []problem{{2, "control character U+0001"}}},
		{"line separator", "name: x\ndescription: a\u2028b\n", []problem{{2, "U+2028"}}},
		{"two documents", "name: a\n---\nname: b\n", []problem{{3, "more than one YAML document"}}},
		{"not a mapping", "- a\n- b\n", []problem{{1, "must be a mapping"}}},
		{"flow root", "{name: a, matrix: {lr: [1, 2]}}\n", []problem{{1, "one key per line"}}},
		{"anchor and alias", "params:\n  a: &x 1\n  b: *x\n", []problem{{2, "anchors"}, {3, "aliases"}}},
		{"tag", "matrix:\n  lr: [!!float 1]\n", []problem{{2, "tags"}}},
		{"merge key", "params:\n  <<: {a: 1}\n", []problem{{2, "merge keys"}}},
		{"unknown key", "nmae: x\n", []problem{{1, "unknown key `nmae`"}}},
		{"upper case key", "Matrix: {}\n", []problem{{1, "keys are lowercase: write `matrix`"}}},
		{"base", "base: main\n", []problem{{1, "starts from the tagged commit"}}},
		{"include at top", "include: []\n", []problem{{1, "goes under `matrix:`"}}},
		{"duplicate key", "name: a\nmodel: m\nname: b\n", []problem{{3, "duplicate key `name` (first on line 1)"}}},
		{"bad name", "name: LR Sweep\n", []problem{{1, "`name` `LR Sweep` is not allowed"}}},
		{"empty name", "name: \"\"\n", []problem{{1, "`name` is empty"}}},
		{"long name", "name: " + strings.Repeat("a", 33) + "\n", []problem{{1, "the limit is 32"}}},
		{"model list", "model: [a]\n", []problem{{1, "`model` must be text"}}},
		{"model two lines", "model: \"a\\nb\"\n", []problem{{1, "`model` must be a single line"}}},
		{"long description", "description: " + strings.Repeat("d", 2001) + "\n", []problem{{1, "2001 characters long"}}},
		{"branch without name", "branch: exp/{tag}\n", []problem{{1, "must use {name}"}}},
		{"branch placeholder", "branch: exp/{number}/{name}\n", []problem{{1, "unknown placeholder `{number}`"}}},
		{"branch refs", "branch: refs/heads/{name}\n", []problem{{1, "leave out `refs/`"}}},
		{"branch bad ref", "branch: exp/{name}..x\n", []problem{{1, "does not give a valid branch name"}}},
		{"branch list", "branch: [a]\n", []problem{{1, "`branch` must be text"}}},
		{"params not a mapping", "name: a\nparams: 3\n", []problem{{2, "`params` must be a mapping"}}},
		{"params value", "name: a\nparams:\n  lr: .nan\n  ok: 1\n  e:\n", []problem{{3, "`params.lr`: `.nan` is not allowed"}, {5, "`params.e` has no value"}}},
		{"params duplicate", "matrix:\n  lr: [1, 2]\nparams:\n  a: 1\n  a: 2\nmodel: m\n", []problem{{5, "duplicate key `params.a` (first on line 4)"}}},
		{"params indented root", "  params:\n    a: [[1]]\n  model: m\n", []problem{{2, "a list may hold only single values"}}},
		{"params last with end marker", "model: m\nparams:\n  a: .inf\n...\n", []problem{{3, "`.inf` is not allowed"}}},
		{"params explicit key", "? params\n: {a: 1}\n", []problem{{1, "at the start of its line"}}},
		{"matrix not a mapping", "matrix: [1, 2]\n", []problem{{1, "`matrix` must be a mapping"}}},
		{"axis not a list", "matrix:\n  lr: 0.1\n", []problem{{2, "`matrix.lr` must be a list"}}},
		{"axis empty", "matrix:\n  lr: []\n", []problem{{2, "empty list"}}},
		{"axis too long", "matrix:\n  lr: [" + strings.Repeat("1, ", 100) + "1]\n", []problem{{2, "has 101 values; a list may have at most 100"}}},
		{"axis nested", "matrix:\n  lr:\n    - 1\n    - [2]\n", []problem{{4, "`matrix.lr[1]` must be a single value"}}},
		{"axis null", "matrix:\n  lr: [1, null]\n", []problem{{2, "`matrix.lr[1]` has no value"}}},
		{"axis nan", "matrix:\n  lr: [.nan]\n", []problem{{2, "not a finite number"}}},
		{"axis control text", "matrix:\n  s: [\"a\\u0007\"]\n", []problem{{2, "control or invisible character"}}},
		{"axis long text", "matrix:\n  s: [" + strings.Repeat("x", 1025) + "]\n", []problem{{2, "1025 bytes long"}}},
		{"axis duplicate value", "matrix:\n  lr:\n    - 0.10\n    - 0.1\n", []problem{{4, "lists `0.1` twice (first on line 3)"}}},
		{"axis minus zero", "matrix:\n  x: [0.0, -0.0]\n", []problem{{2, "twice"}}},
		{"axis bad key", "matrix:\n  bad key: [1]\n", []problem{{2, "parameter name `bad key` is not allowed"}}},
		{"axis deep key", "matrix:\n  a.b.c.d.e: [1]\n", []problem{{2, "more than 4 dotted parts"}}},
		{"axis empty segment", "matrix:\n  a..b: [1]\n", []problem{{2, "is not allowed"}}},
		{"matrix duplicate", "matrix:\n  lr: [1]\n  lr: [2]\n", []problem{{3, "duplicate key `matrix.lr` (first on line 2)"}}},
		{"product", "matrix:\n  a: [" + nums(100) + "]\n  b: [" + nums(100) + "]\n", []problem{{2, "more than 4096 combinations"}}},
		{"include not a list", "matrix:\n  include: {a: 1}\n", []problem{{2, "`matrix.include` must be a list of mappings"}}},
		{"include item scalar", "matrix:\n  include:\n    - 3\n", []problem{{3, "`matrix.include[0]` must be a mapping"}}},
		{"include empty item", "matrix:\n  include:\n    - {}\n", []problem{{3, "is empty"}}},
		{"include list value", "matrix:\n  include:\n    - {a: [1]}\n", []problem{{3, "`matrix.include[0].a` must be a single value"}}},
		{"include duplicate key", "matrix:\n  include:\n    - a: 1\n      a: 2\n", []problem{{4, "duplicate key `a`"}}},
		{"include too many", "matrix:\n  include:\n" + strings.Repeat("    - {a: 1}\n", 257), []problem{{3, "257 entries; the limit is 256"}}},
		{"include duplicate combination", "matrix:\n  include:\n    - {a: 1}\n    - {a: 1}\n", []problem{{4, "same combination as the one on line 3"}}},
		{"exclude unknown key", "matrix:\n  lr: [1, 2]\n  exclude:\n    - {bs: 1}\n", []problem{{4, "`bs`, which is not a list of `matrix`"}}},
		{"exclude unknown value", "matrix:\n  lr: [1, 2]\n  exclude:\n    - lr: 3\n", []problem{{4, "the value `3`, which is not in its list (line 2)"}}},
		{"exclude type differs", "matrix:\n  lr: [1, 2]\n  exclude:\n    - lr: 1.0\n", []problem{{4, "not in its list"}}},
		{"exclude without lists", "matrix:\n  exclude:\n    - {a: 1}\n", []problem{{3, "there are none"}}},
		{"exclude all", "matrix:\n  lr: [1, 2]\n  exclude:\n    - {lr: 1}\n    - {lr: 2}\n", []problem{{1, "removes every combination"}}},
		{"matrix key in params", "params:\n  lr: 1\nmatrix:\n  lr: [1, 2]\n", []problem{{4, "`lr` is also in `params`"}}},
		{"matrix key under param", "params:\n  opt: adam\nmatrix:\n  opt.lr: [1, 2]\n", []problem{{4, "`opt.lr` cannot sit under `opt`"}}},
		{"matrix key over param", "params:\n  opt: {lr: 1}\nmatrix:\n  opt: [a, b]\n", []problem{{4, "`params` has `opt.lr` under it"}}},
		{"include key in params", "params:\n  epochs: 1\nmatrix:\n  include:\n    - {epochs: 2}\n", []problem{{5, "`epochs` is also in `params`"}}},
		{"keys under each other", "matrix:\n  opt: [a, b]\n  include:\n    - {opt.lr: 1}\n", []problem{{4, "`opt.lr` cannot sit under `opt`, which is a value of the matrix (line 2)"}}},
		{"too many keys", "params:\n" + manyParams(199) + "matrix:\n  x: [1]\n  y: [1]\n", []problem{{201, "201 parameters"}}},
		{"too large", strings.Repeat("#", MaxFileBytes+1), []problem{{0, "the limit is 65536"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(tc.file))
			var probs *spec.Problems
			if !errors.As(err, &probs) {
				t.Fatalf("err = %v, want *spec.Problems", err)
			}
			if !reflect.DeepEqual(s, Sweep{}) {
				t.Errorf("sweep %+v returned with an error", s)
			}
			if len(probs.List) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(probs.List), len(tc.want), probs.Markdown())
			}
			for i, w := range tc.want {
				got := probs.List[i]
				if got.Line != w.line || !strings.Contains(got.Msg, w.msg) {
					t.Errorf("problem %d = %q, want line %d containing %q", i, got.String(), w.line, w.msg)
				}
			}
		})
	}
}

func nums(n int) string {
	s := make([]string, n)
	for i := range s {
		s[i] = itoa(i)
	}
	return strings.Join(s, ", ")
}

func manyParams(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("  p" + itoa(i) + ": 1\n")
	}
	return b.String()
}

func TestParseMany(t *testing.T) {
	// Every problem is listed, in line order, at most spec.MaxProblems and
	// a last line counting the rest.
	var b strings.Builder
	b.WriteString("matrix:\n")
	for i := range 30 {
		b.WriteString("  k" + itoa(i) + ": 1\n")
	}
	_, err := Parse([]byte(b.String()))
	var probs *spec.Problems
	if !errors.As(err, &probs) {
		t.Fatal(err)
	}
	if len(probs.List) != spec.MaxProblems+1 || !strings.Contains(probs.List[spec.MaxProblems].Msg, "10 more problems") {
		t.Fatalf("problems:\n%s", probs.Markdown())
	}
	for i := 1; i < len(probs.List); i++ {
		if probs.List[i].Line < probs.List[i-1].Line {
			t.Fatalf("not in line order:\n%s", probs.Markdown())
		}
	}
}

func TestParseAccepts(t *testing.T) {
	file := "# a sweep\r\n" +
		"name: lr-sweep\r\n" +
		"branch: sweeps/{forge}/{tag}/{name}\r\n" +
		"description: |\r\n  Learning rates\r\n  and batch sizes.\r\n" +
		"model: 2024\r\n" +
		"dataset:\r\n" +
		"params:\r\n  epochs: 3\r\n  optimizer: {name: adamw}\r\n  run: \"007\"\r\n" +
		"matrix:\r\n  lr: [0.1, 1e-3]\r\n  data.seed: [1, 2]\r\n  tag: [2024-05-01, yes, \"x y\"]\r\n"
	s, err := Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := Sweep{
		Name: "lr-sweep", Branch: "sweeps/{forge}/{tag}/{name}",
		Description: "Learning rates\nand batch sizes.\n", Model: "2024",
		Params: map[string]any{"epochs": int64(3), "optimizer": map[string]any{"name": "adamw"}, "run": "007"},
		axes: []axis{
			{key: "lr", values: []any{0.1, 0.001}, line: 14},
			{key: "data.seed", values: []any{int64(1), int64(2)}, line: 15},
			{key: "tag", values: []any{"2024-05-01", "yes", "x y"}, line: 16},
		},
		matrixLine: 13,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got  %#v\nwant %#v", s, want)
	}
}

func TestParseDefaults(t *testing.T) {
	for _, file := range []string{"name:\nbranch:\nparams:\nmatrix:\n", "params: {}\n", "matrix: {}\n"} {
		s, err := Parse([]byte(file))
		if err != nil {
			t.Fatalf("%q: %v", file, err)
		}
		if s.Name != DefaultName || s.Branch != config.DefaultSweepBranchTemplate || s.Params == nil || len(s.Params) != 0 {
			t.Errorf("%q: got %+v", file, s)
		}
	}
}
