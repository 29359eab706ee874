package spec

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseIssueBody(f *testing.F) {
	for _, seed := range []string{
		"",
		"```yaml\nname: lr-sweep\n```",
		"intro\r\n```yaml\r\nname: a\r\nbase: main\r\nparams:\r\n  lr: 0.1\r\n```\r\n",
		"```yaml\nname: n\ndescription: |\n  two\n  lines\nmodel: m\ndataset: d\nparams:\n  a: {b: {c: {d: [1, x, 2.5, true]}}}\n  s: \"007\"\n  e: {}\n  l: []\n```",
		"~~~yml\nname: t\nparams: {x: 1e3, y: 0x10, z: 2024-01-01, w: yes, v: \"1:30\"}\n~~~",
		"<!--\n```yaml\nname: hidden\n```\n-->\n```yaml\nname: shown\n```",
		"```yaml\nname: a\n```\n```yaml\nname: b\n```",
		"```yaml\nname: [\n```",
		"```yaml\na: &x 1\nb: *x\n<<: {c: 1}\n```",
		"   ```yaml\n   name: indented\n   ```",
		"```yaml\nname: x\nparams:\n  a.b: 1\n  a: {b: 2}\n```",
		"```yaml\nname: x\ndescription: \"a\\u0085b\\u2028c\"\n```",
		"```yaml\nname: x\nparams:\n  s: \" leading and trailing \"\n  t: \"line\\n\\n  \\n\"\n```",
	} {
		f.Add(seed)
	}
	f.Fuzz(checkBody)
}

// FuzzRequestBlock fuzzes the YAML inside a block, which reaches the schema
// checks and the round trip far more often than whole bodies do.
func FuzzRequestBlock(f *testing.F) {
	for _, seed := range []string{
		"name: a",
		"name: n\nbase: v1.0\ndescription: |\n  text\n   more\nparams:\n  lr: 3.0e-4\n  b: {c: [1, \"2\", 3.5, false, ~]}\n  d: !!int 3\n  e: 'single'\n  f: >\n    folded\n    text\n",
		"name: n\nparams:\n  s: \"\\t tab and \\\" quote\"\n  u: \"\\u00e9\\U0001F600\"\n  l: [yes, no, on, off, '=', '1:2', 0o17, +1, .5, 1_0]\n",
		"name: n\nparams: {a.b: 1, a: {c: 2}, x-y: -0.0, z_: 1e308, w: -1e-320}",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkBody(t, "Request:\n\n```yaml\n"+text+"\n```\n")
	})
}

// checkBody is what must hold for any issue body.
func checkBody(t *testing.T, body string) {
	t.Helper()
	req, err := ParseIssueBody(body)
	if err != nil {
		checkProblems(t, body, err)
		if !reflect.DeepEqual(req, Request{}) {
			t.Fatalf("request %#v returned with an error", req)
		}
		return
	}
	if err := ValidName(req.Name); err != nil {
		t.Fatalf("accepted name %q: %v", req.Name, err)
	}
	if req.Base != "" {
		if err := ValidRefName(req.Base); err != nil {
			t.Fatalf("accepted base %q: %v", req.Base, err)
		}
	}
	if req.Params == nil {
		t.Fatal("nil Params")
	}
	// Parsing is a function: the same body, the same request.
	again, err := ParseIssueBody(body)
	if err != nil || !reflect.DeepEqual(again, req) {
		t.Fatalf("second parse differs: %#v, %v", again, err)
	}
	// What was accepted renders, and reads back the same.
	base := req.Base
	if base == "" {
		base = "main"
	}
	v := Variant{
		Name: req.Name, Description: req.Description, Model: req.Model, Dataset: req.Dataset,
		BaseRef: base, BaseSHA: strings.Repeat("ab", 20), Params: req.Params,
		RequestedBy: "someone", Source: "https://example.com/o/r/issues/1", Forge: "github",
	}
	out, err := RenderVariantFile(v)
	if err != nil {
		t.Fatalf("accepted request does not render: %v", err)
	}
	back, err := ParseVariantFile(out)
	if err != nil {
		t.Fatalf("rendered file does not read back: %v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, v) {
		t.Fatalf("round trip:\ngot  %#v\nwant %#v\n%s", back, v, out)
	}
	// Rendering is a function too.
	out2, err := RenderVariantFile(back)
	if err != nil || string(out2) != string(out) {
		t.Fatalf("second render differs: %v\n%s\n---\n%s", err, out, out2)
	}
	// The table never breaks its rows.
	table := MarkdownTable(req.Params, "experiment.yaml")
	if table != "" {
		for _, line := range strings.Split(strings.TrimSuffix(table, "\n"), "\n") {
			if cells := splitRow(line); len(cells) != 2 {
				t.Fatalf("row with %d cells: %q", len(cells), line)
			}
		}
	}
}

// checkProblems holds for every refusal: a non-empty *Problems whose lines
// are in the body (0 only for "no block at all") and whose messages are
// non-empty, valid UTF-8 text.
func checkProblems(t *testing.T, body string, err error) {
	t.Helper()
	var probs *Problems
	if !errors.As(err, &probs) {
		t.Fatalf("error %v (%T) is not *Problems", err, err)
	}
	if len(probs.List) == 0 || len(probs.List) > MaxProblems+1 {
		t.Fatalf("%d problems", len(probs.List))
	}
	lines := len(splitLines(body))
	for _, p := range probs.List {
		if p.Line == 0 {
			if len(probs.List) != 1 || !strings.Contains(p.Msg, "there is no request") {
				t.Fatalf("line 0 for a problem other than 'no block': %v", p)
			}
			continue
		}
		if p.Line < 1 || p.Line > lines+1 {
			t.Fatalf("problem line %d outside 1..%d: %v", p.Line, lines+1, p)
		}
		if p.Msg == "" || !utf8.ValidString(p.Msg) {
			t.Fatalf("bad message %q", p.Msg)
		}
	}
	_ = probs.Error()
	_ = probs.Markdown()
}

func FuzzValidRefName(f *testing.F) {
	for _, seed := range []string{"main", "exp/1-a", "a..b", "a.lock", "@", "@{", "-x", "/a", "a/", "a//b", ".a", "a/.b", "a b", "a\x00", "ü", "\xff"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := ValidRefName(name) == nil
		if want := refRules(name); got != want {
			t.Fatalf("ValidRefName(%q) valid = %v, the rules say %v (%v)", name, got, want, ValidRefName(name))
		}
	})
}

// refRules is git check-ref-format's rules written a second way, component
// by component, to check ValidRefName against.
func refRules(name string) bool {
	if name == "" || len(name) > MaxRefNameBytes || !utf8.ValidString(name) || name == "@" || name[0] == '-' {
		return false
	}
	if strings.HasSuffix(name, ".") || strings.Contains(name, "@{") {
		return false
	}
	for _, part := range strings.Split(name, "/") {
		if part == "" || part[0] == '.' || strings.HasSuffix(part, ".lock") || strings.Contains(part, "..") {
			return false
		}
		for _, r := range part {
			if r < 0x20 || r == 0x7f || strings.ContainsRune(" ~^:?*[\\", r) {
				return false
			}
		}
	}
	return true
}

func FuzzBranchName(f *testing.F) {
	f.Add(issueTemplate, 12, "lr-sweep", "github")
	f.Add("{forge}/{name}", 1, "a", "gitlab")
	f.Add("x.{name}", 1, "lock", "github")
	f.Add("{nope}", 1, "a", "github")
	f.Add("exp/{number}{", 3, "b", "gitlab")
	f.Fuzz(func(t *testing.T, tmpl string, number int, name, forge string) {
		v := BranchVars{Number: number, Name: name, Forge: forge}
		branch, err := BranchName(tmpl, v)
		if err != nil {
			return
		}
		if ValidateBranchTemplate(tmpl) != nil {
			t.Fatalf("BranchName accepted a template ValidateBranchTemplate refuses: %q", tmpl)
		}
		if err := ValidRefName(branch); err != nil {
			t.Fatalf("BranchName(%q, %+v) = %q, not a valid ref: %v", tmpl, v, branch, err)
		}
		if ValidName(name) != nil || number <= 0 {
			t.Fatalf("BranchName accepted %+v", v)
		}
		if strings.Contains(tmpl, "{name}") && !strings.Contains(branch, name) {
			t.Fatalf("branch %q lacks the name %q", branch, name)
		}
		// Placeholders are all replaced; nothing else is changed.
		want := strings.NewReplacer("{number}", strconv.Itoa(number), "{name}", name, "{forge}", forge).Replace(tmpl)
		if branch != want {
			t.Fatalf("BranchName(%q, %+v) = %q, want %q", tmpl, v, branch, want)
		}
	})
}
