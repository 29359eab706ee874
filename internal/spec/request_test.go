package spec

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestParseIssueBody(t *testing.T) {
	tests := []struct {
		name string
		body string
		want Request
	}{
		{
			name: "minimal",
			body: "```yaml\nname: lr-sweep\n```",
			want: Request{Name: "lr-sweep", Params: map[string]any{}},
		},
		{
			name: "all fields, text around, yml info string in capitals",
			body: "Please run this.\n\n```YML title=request\n" +
				"name: llama-3.lr_2\n" +
				"base: release/v1.2\n" +
				"description: |\n  Two lines\n  of text.\n" +
				"model: meta-llama/Llama-3-8B\n" +
				"dataset: s3://bucket/data v2\n" +
				"params:\n  lr: 3.0e-4\n  epochs: 3\n  warmup: 0.1\n  fp16: true\n  tag: \"007\"\n" +
				"```\n\nThanks!\n",
			want: Request{
				Name: "llama-3.lr_2", Base: "release/v1.2",
				Description: "Two lines\nof text.\n",
				Model:       "meta-llama/Llama-3-8B", Dataset: "s3://bucket/data v2",
				Params: map[string]any{"lr": 3.0e-4, "epochs": int64(3), "warmup": 0.1, "fp16": true, "tag": "007"},
			},
		},
		{
			name: "nested params and lists",
			body: "```yaml\nname: n\nparams:\n  optimizer:\n    name: adamw\n    betas: [0.9, 0.95]\n    schedule:\n      warmup:\n        steps: 100\n  seeds:\n    - 1\n    - 2\n  layers: []\n  extra: {}\n  mixed: [a, 1, 2.5, false]\n```",
			want: Request{Name: "n", Params: map[string]any{
				"optimizer": map[string]any{
					"name":     "adamw",
					"betas":    []any{0.9, 0.95},
					"schedule": map[string]any{"warmup": map[string]any{"steps": int64(100)}},
				},
				"seeds":  []any{int64(1), int64(2)},
				"layers": []any{},
				"extra":  map[string]any{},
				"mixed":  []any{"a", int64(1), 2.5, false},
			}},
		},
		{
			name: "CRLF body",
			body: "Hello\r\n```yaml\r\nname: crlf\r\ndescription: |\r\n  a\r\n  b\r\nparams:\r\n  lr: 1\r\n```\r\n",
			want: Request{Name: "crlf", Description: "a\nb\n", Params: map[string]any{"lr": int64(1)}},
		},
		{
			name: "indented block in a list item",
			body: "1. Request:\n   ```yaml\n   name: indented\n   params:\n     lr: 0.5\n   ```\n",
			want: Request{Name: "indented", Params: map[string]any{"lr": 0.5}},
		},
		{
			name: "tilde fence, longer fence holding a backtick fence in a string",
			body: "~~~~yaml\nname: tilde\ndescription: \"```\"\n~~~~",
			want: Request{Name: "tilde", Description: "```", Params: map[string]any{}},
		},
		{
			name: "other code blocks and a commented example are ignored",
			body: "<!-- template:\n```yaml\nname: example\n```\n-->\n```python\nprint('```yaml')\n```\n```\nplain\n```\n```yaml\nname: real\n```",
			want: Request{Name: "real", Params: map[string]any{}},
		},
		{
			name: "yaml fence inside another language's block is not a block",
			body: "````markdown\n```yaml\nname: inner\n```\n````\n```yaml\nname: outer\n```",
			want: Request{Name: "outer", Params: map[string]any{}},
		},
		{
			name: "numbers and booleans as written for text fields; null optional fields",
			body: "```yaml\nname: 2024\nbase: 0123456\nmodel: 7\ndescription:\ndataset: ~\nparams:\n```",
			want: Request{Name: "2024", Base: "0123456", Model: "7", Params: map[string]any{}},
		},
		{
			name: "unclosed fence runs to the end, as it renders",
			body: "text\n```yaml\nname: open\n",
			want: Request{Name: "open", Params: map[string]any{}},
		},
		{
			name: "integer forms, timestamps stay text, big integers become floats",
			body: "```yaml\nname: n\nparams:\n  hex: 0x10\n  under: 1_000\n  neg: -5\n  day: 2024-01-02\n  huge: 100000000000000000000\n  exp: 1e3\n```",
			want: Request{Name: "n", Params: map[string]any{
				"hex": int64(16), "under": int64(1000), "neg": int64(-5), "day": "2024-01-02", "huge": 1e20, "exp": 1000.0,
			}},
		},
		{
			name: "comment closed on the same line does not hide the block",
			body: "<!-- note --> text\n```yaml\nname: after-comment\n```",
			want: Request{Name: "after-comment", Params: map[string]any{}},
		},
		{
			name: "dotted keys, explicit document markers, comments",
			body: "```yaml\n---\n# the request\nname: dots # trailing\nparams:\n  model.lr: 1\n  model.wd: 2\n...\n```",
			want: Request{Name: "dots", Params: map[string]any{"model.lr": int64(1), "model.wd": int64(2)}},
		},
		{
			name: "limits exactly reached",
			body: "```yaml\nname: " + strings.Repeat("a", MaxNameLen) + "\nparams:\n  s: " + strings.Repeat("x", MaxParamString) + "\n  a:\n    b:\n      c:\n        d: 1\n```",
			want: Request{Name: strings.Repeat("a", MaxNameLen), Params: map[string]any{
				"s": strings.Repeat("x", MaxParamString),
				"a": map[string]any{"b": map[string]any{"c": map[string]any{"d": int64(1)}}},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseIssueBody(tt.body)
			if err != nil {
				t.Fatalf("ParseIssueBody: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

// want is one expected problem: its body line and a piece of its message.
type want struct {
	line int
	msg  string
}

func TestParseIssueBodyProblems(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []want
	}{
		{"empty body", "", []want{{0, "add a ```` ```yaml ```` block with at least `name:`"}}},
		{"no block", "just text\nand more", []want{{0, "name: lr-sweep"}}},
		{"unlabelled block", "text\n```\nname: x\n```", []want{{2, "has no language"}}},
		{"block only in a comment", "<!--\n\n```yaml\nname: x\n```\n-->", []want{{3, "inside an HTML comment"}}},
		{"unclosed comment hides the block", "a <!-- b\n```yaml\nname: x\n```", []want{{2, "inside an HTML comment"}}},
		{"several blocks", "```yaml\nname: a\n```\ntext\n```yaml\nname: b\n```\n```yml\nname: c\n```",
			[]want{{5, "more than one ```` ```yaml ```` block (lines 1, 5 and 8)"}}},
		{"many blocks", strings.Repeat("```yaml\nname: a\n```\n", 8), []want{{4, "(lines 1, 4, 7, 10, 13 and 3 more)"}}},
		{"empty block", "intro\n```yaml\n```", []want{{2, "block is empty"}}},
		{"only a comment in the block", "```yaml\n# nothing\n```", []want{{1, "block is empty"}}},
		{"syntax error, with its line", "a\nb\n```yaml\nname: x\nparams:\n  lr: [1, 2\n```", []want{{6, "not valid YAML (did not find expected ',' or ']')"}}},
		{"mapping value error", "```yaml\nname: x\n  bad: y\n```", []want{{3, "not valid YAML (mapping values are not allowed"}}},
		{"tab indentation", "```yaml\nname: x\nparams:\n\tlr: 1\n```", []want{{4, "not valid YAML"}}},
		{"two documents", "```yaml\nname: a\n---\nname: b\n```", []want{{4, "more than one YAML document"}}},
		{"not a mapping: list", "```yaml\n- name: x\n```", []want{{2, "must be a mapping"}}},
		{"not a mapping: text", "\n```yaml\njust text\n```", []want{{3, "must be a mapping"}}},
		{"unknown keys, with hints", "```yaml\nname: x\nlr: 1\nName: y\n\"<img>\": 1\n```", []want{
			{3, "unknown key `lr`; allowed keys are name, base, params, description, model, dataset; training parameters go under `params:`"},
			{4, "keys are lowercase: write `name`"},
			{5, "unknown key `<img>`"},
		}},
		{"missing name, reported at the fence", "text\n\n```yaml\nmodel: m\n```", []want{{3, "has no `name`"}}},
		{"empty name", "```yaml\nname: \"\"\n```", []want{{2, "`name` is empty"}}},
		{"null name", "```yaml\nname:\n```", []want{{2, "`name` is empty"}}},
		{"bad name with suggestion", "```yaml\nname: My Run!\n```", []want{{2, "use only lowercase letters, digits, `-`, `_` and `.`; for example `my-run`"}}},
		{"name too long", "```yaml\nname: " + strings.Repeat("a", MaxNameLen+1) + "\n```", []want{{2, "49 characters long; the limit is 48"}}},
		{"name starts with a dash", "```yaml\nname: -x\n```", []want{{2, "must start with a lowercase letter or a digit"}}},
		{"name with ..", "```yaml\nname: a..b\n```", []want{{2, "contains `..`"}}},
		{"name ending in .lock", "```yaml\nname: a.lock\n```", []want{{2, "ends with `.lock`"}}},
		{"name is a list", "```yaml\nname: [a]\n```", []want{{2, "`name` must be text"}}},
		{"bad base", "```yaml\nname: x\nbase: feature..x\n```", []want{{3, "`base` `feature..x` is not a branch, tag or commit name: it contains `..`"}}},
		{"base with space", "```yaml\nname: x\nbase: my branch\n```", []want{{3, "contains a space"}}},
		{"base ending in .lock", "```yaml\nname: x\nbase: main.lock\n```", []want{{3, "ends with `.lock`"}}},
		{"multi-line model", "```yaml\nname: x\nmodel: |\n  a\n  b\n```", []want{{3, "`model` must be a single line"}}},
		{"dataset too long", "```yaml\nname: x\ndataset: " + strings.Repeat("d", MaxLabelLen+1) + "\n```", []want{{3, "`dataset` is 201 characters long"}}},
		{"description too long", "```yaml\nname: x\ndescription: " + strings.Repeat("d", MaxDescriptionLen+1) + "\n```", []want{{3, "`description` is 2001 characters long"}}},
		{"control character", "```yaml\nname: x\nmodel: \"a\\x1b[31m\"\n```", []want{{3, "`model` contains a control or invisible character"}}},
		{"duplicate top-level key", "```yaml\nname: a\nmodel: m\nname: b\n```", []want{{4, "duplicate key `name` (first on line 2)"}}},
		{"duplicate nested key", "```yaml\nname: a\nparams:\n  o:\n    lr: 1\n    lr: 2\n```", []want{{6, "duplicate key `params.o.lr` (first on line 5)"}}},
		{"params not a map", "```yaml\nname: a\nparams: [1, 2]\n```", []want{{3, "`params` must be a mapping"}}},
		{"bad param keys", "```yaml\nname: a\nparams:\n  1lr: 1\n  \"a b\": 2\n  " + strings.Repeat("k", 65) + ": 3\n```", []want{
			{4, "parameter name `params.1lr` is not allowed"},
			{5, "parameter name `params.a b` is not allowed"},
			{6, "is not allowed: start with a letter or `_`"},
		}},
		{"too deep", "```yaml\nname: a\nparams:\n  a:\n    b:\n      c:\n        d:\n          e: 1\n```", []want{{8, "`params.a.b.c.d` nests deeper than 4 levels"}}},
		{"null param", "```yaml\nname: a\nparams:\n  lr:\n```", []want{{4, "`params.lr` has no value"}}},
		{"long string param", "```yaml\nname: a\nparams:\n  s: " + strings.Repeat("x", MaxParamString+1) + "\n```", []want{{4, "`params.s` is 1025 bytes long"}}},
		{"list of maps", "```yaml\nname: a\nparams:\n  l:\n    - 1\n    - {a: 1}\n    - [2]\n```", []want{
			{6, "`params.l[1]`: a list may hold only single values"},
			{7, "`params.l[2]`: a list may hold only single values"},
		}},
		{"list too long", "```yaml\nname: a\nparams:\n  l: [" + strings.Repeat("1, ", MaxListItems) + "1]\n```", []want{{4, "has 101 items; a list may have at most 100"}}},
		{"integer overflow", "```yaml\nname: a\nparams:\n  n: 9223372036854775808\n```", []want{{4, "does not fit in a 64-bit integer"}}},
		{"nan and inf", "```yaml\nname: a\nparams:\n  x: .nan\n  y: -.inf\n```", []want{
			{4, "`params.x`: `.nan` is not allowed"},
			{5, "`params.y`: `-.inf` is not allowed"},
		}},
		{"anchors and aliases", "```yaml\nname: a\nparams:\n  a: &anchor 1\n  b: *anchor\n```", []want{
			{4, "YAML anchors (`&anchor`) are not allowed"},
			{5, "YAML aliases (`*anchor`) are not allowed"},
		}},
		{"billion laughs is refused without expanding", "```yaml\nname: a\nparams:\n  a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n```", []want{
			{4, "YAML anchors (`&a`)"}, {5, "YAML anchors (`&b`)"}, {6, "YAML aliases (`*b`)"},
		}},
		{"merge key", "```yaml\nname: a\nparams:\n  <<: {x: 1}\n```", []want{{4, "YAML merge keys (`<<`) are not allowed"}}},
		{"tags", "```yaml\nname: !!str a\nparams:\n  b: !!binary aGk=\n  c: !custom x\n```", []want{
			{2, "YAML tags like `!!str` are not allowed"},
			{4, "YAML tags like `!!binary`"},
			{5, "YAML tags like `!custom`"},
		}},
		{"dotted key meets nested key", "```yaml\nname: a\nparams:\n  a.b: 1\n  a:\n    b: 2\n```", []want{{6, "`params.a.b` is given twice"}}},
		{"value under a value", "```yaml\nname: a\nparams:\n  a.b: 1\n  a:\n    b.c: 2\n```", []want{{6, "`params.a.b.c` cannot sit under `params.a.b`, which is already a value (line 4)"}}},
		{"problems are all collected, in line order", "intro\n```yaml\nlr: 1\nname: Bad\nparams:\n  x:\n```", []want{
			{3, "unknown key `lr`"},
			{4, "`name` `Bad` is not allowed"},
			{6, "`params.x` has no value"},
		}},
		{"line numbers count the body, not the block, with CRLF", "a\r\nb\r\nc\r\n```yaml\r\nname: x\r\nbogus: 1\r\n```", []want{{6, "unknown key `bogus`"}}},
		{"lone CR line ends", "a\rb\r```yaml\rname: x\rbogus: 1\r```", []want{{5, "unknown key `bogus`"}}},
		{"misindented key", "```yaml\nname: x\nparams:\n  lr: 1\n bad: 2\n```", []want{{5, "did not find expected key"}}},
		{"list inside a mapping", "```yaml\nname: x\n- a\n```", []want{{3, "did not find expected key"}}},
		{"control characters and bad UTF-8, every line", "```yaml\nname: x\nmodel: a\x07b\ndataset: \xff\ndescription: a\u2028b\n```", []want{
			{3, "U+0007"}, {4, "not valid UTF-8"}, {5, "U+2028"},
		}},
		{"unclosed block with a syntax error at the end", "```yaml\nname: x\nparams: [", []want{{3, "not valid YAML"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseIssueBody(tt.body)
			var probs *Problems
			if !errors.As(err, &probs) {
				t.Fatalf("err = %v (%T), want *Problems; request %#v", err, err, req)
			}
			if !reflect.DeepEqual(req, Request{}) {
				t.Errorf("request = %#v, want zero on error", req)
			}
			assertProblems(t, probs, tt.want)
		})
	}
}

func assertProblems(t *testing.T, probs *Problems, want []want) {
	t.Helper()
	if len(probs.List) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(probs.List), len(want), probs.Markdown())
	}
	for i, w := range want {
		if i >= len(probs.List) {
			break
		}
		got := probs.List[i]
		if got.Line != w.line || !strings.Contains(got.Msg, w.msg) {
			t.Errorf("problem %d = line %d: %q\nwant line %d containing %q", i, got.Line, got.Msg, w.line, w.msg)
		}
	}
}

func TestParseIssueBodyBlockTooBig(t *testing.T) {
	body := "intro\n```yaml\nname: big\ndescription: |\n" + strings.Repeat("  "+strings.Repeat("x", 99)+"\n", MaxBlockBytes/100) + "```"
	_, err := ParseIssueBody(body)
	var probs *Problems
	if !errors.As(err, &probs) {
		t.Fatalf("err = %v", err)
	}
	assertProblems(t, probs, []want{{2, "the limit is 65536"}})

	// Just under the limit is read (and then refused for its description).
	body = "```yaml\nname: big\nparams:\n  s: " + strings.Repeat("x", MaxBlockBytes-len("name: big\nparams:\n  s: ")) + "\n```"
	_, err = ParseIssueBody(body)
	if !errors.As(err, &probs) {
		t.Fatalf("err = %v", err)
	}
	assertProblems(t, probs, []want{{4, "bytes long; text values may be at most 1024"}})
}

func TestParseIssueBodyManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("```yaml\nname: x\nparams:\n")
	for i := range MaxParamKeys + 30 {
		fmt.Fprintf(&b, "  k%d:\n", i) // every one has no value
	}
	b.WriteString("```")
	_, err := ParseIssueBody(b.String())
	var probs *Problems
	if !errors.As(err, &probs) {
		t.Fatalf("err = %v", err)
	}
	if len(probs.List) != MaxProblems+1 {
		t.Fatalf("got %d problems, want %d listed and one summary", len(probs.List), MaxProblems)
	}
	for i, p := range probs.List[:MaxProblems] {
		if p.Line != 4+i || !strings.Contains(p.Msg, "has no value") {
			t.Errorf("problem %d = %v", i, p)
		}
	}
	// 230 empty values and the key-count problem, less the 20 shown.
	last := probs.List[MaxProblems]
	if last.Line != 4+MaxProblems || !strings.Contains(last.Msg, "and 211 more problems") {
		t.Errorf("summary = %v", last)
	}
}

func TestProblemsFormatting(t *testing.T) {
	one := &Problems{List: []Problem{{Line: 7, Msg: "unknown key `lr`"}}}
	if got, want := one.Error(), "line 7: unknown key `lr`"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	two := &Problems{List: []Problem{{Line: 0, Msg: "no block, e.g.\n\n```yaml\nname: x\n```"}, {Line: 3, Msg: "b"}}}
	if got := two.Error(); !strings.HasPrefix(got, "2 problems: no block") || !strings.HasSuffix(got, "; line 3: b") {
		t.Errorf("Error() = %q", got)
	}
	wantMD := "- no block, e.g.\n\n  ```yaml\n  name: x\n  ```\n- line 3: b\n"
	if got := two.Markdown(); got != wantMD {
		t.Errorf("Markdown() = %q, want %q", got, wantMD)
	}
}

func TestParseIssueBodyUserTextIsQuotedInMessages(t *testing.T) {
	_, err := ParseIssueBody("```yaml\nname: x\n\"@everyone <b>`hi`</b>\": 1\n```")
	var probs *Problems
	if !errors.As(err, &probs) || len(probs.List) != 1 {
		t.Fatalf("err = %v", err)
	}
	if want := "unknown key ``@everyone <b>`hi`</b>``"; !strings.Contains(probs.List[0].Msg, want) {
		t.Errorf("message %q does not contain %q", probs.List[0].Msg, want)
	}
}
