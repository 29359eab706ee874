package command

import (
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/expbot/expbot/internal/spec"
)

var fuzzSeeds = []string{
	"",
	"/experiment new lr-low lr=0.0001 epochs=3 optimizer.name=adamw base=main",
	"/experiment update a x=\"two words\" y='z' q=a=b\n/experiment delete b --delete-branch\n/experiment list",
	"/experiment preview new a\n```yaml\nbase: v1\nparams:\n  lr: [1, 2]\n```",
	"/experiment update a\n\n  ~~~yml\n  name: a\n  description: |\n    x\n  ~~~",
	"<!--\n/experiment delete x\n-->\n> /experiment delete y\n```\n/experiment delete z\n```",
	"/experimnet new x\n/experiment nwe x\n/Experiment list\n/experiment help",
	"/experiment new Foo a= b=.nan c.d.e.f.g=1 a.b=2 base=a..b \"unclosed",
	"/experiment new x\n```\nparams: {a: 1}\n```",
	"/experiment new x\n```yaml\nname: y\nx: &a 1\n...\n```",
	"text <!-- c -->/experiment list <!--\n```yaml\n-->",
	"/experiment new a\r\n```yaml\r\nparams:\r\n  a: 1\r\n```\r\n",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { checkParse(t, body) })
}

// FuzzCommandLine fuzzes what follows the command word, which reaches the
// tokenizer and the parameter rules far more often than whole comments do.
func FuzzCommandLine(f *testing.F) {
	for _, s := range []string{
		"new a lr=1", "update a-b.c x.y=\"1 2\" z='' w=\\\"", "delete a --delete-branch", "list", "sync", "help",
		"preview new a b=0x1F c=1_000 d=2024-01-01 e=~ f=yes", "new a base=0123abc k=\"a\\\"b\\\\\"", "nwe", "new",
		"new a a.b=1 a.b.c=2", "new a name=x model=y", "new a\n```yaml\nparams: {a: 1}\n```",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rest string) { checkParse(t, "/experiment "+rest) })
}

// specKey is spec's rule for a key in a request's params.
var specKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,63}$`)

// checkParse is what must hold for any comment.
func checkParse(t *testing.T, body string) {
	t.Helper()
	got := Parse(body)
	if len(got.Commands) > 0 && got.Reply != "" {
		t.Fatalf("both commands and a reply:\n%+v\n%s", got.Commands, got.Reply)
	}
	if len(got.Commands) > MaxCommands {
		t.Fatalf("%d commands", len(got.Commands))
	}
	lines := splitLines(body)
	last := 0
	for _, c := range got.Commands {
		checkCommand(t, c, lines)
		if c.Line <= last {
			t.Fatalf("command on line %d after one on line %d", c.Line, last)
		}
		last = c.Line
	}
	if got.Reply != "" {
		checkReply(t, got.Reply, len(lines))
	}
	if again := Parse(body); !reflect.DeepEqual(again, got) {
		t.Fatalf("second parse differs:\n%+v\n%+v", got, again)
	}
}

func checkCommand(t *testing.T, c Command, lines []string) {
	t.Helper()
	if c.Line < 1 || c.Line > len(lines) {
		t.Fatalf("line %d outside 1..%d", c.Line, len(lines))
	}
	if !strings.Contains(lines[c.Line-1], Word) {
		t.Fatalf("line %d %q holds no command", c.Line, lines[c.Line-1])
	}
	switch c.Verb {
	case List, Sync:
		if c.Name != "" || c.Params != nil || c.Base != "" || c.Request != nil || c.Preview || c.DeleteBranch {
			t.Fatalf("list with more: %+v", c)
		}
		return
	case New, Update, Delete:
	default:
		t.Fatalf("verb %q", c.Verb)
	}
	if err := spec.ValidName(c.Name); err != nil {
		t.Fatalf("name %q: %v", c.Name, err)
	}
	if c.Base != "" && spec.ValidRefName(c.Base) != nil && !spec.LooksLikeSHA(c.Base) {
		t.Fatalf("base %q", c.Base)
	}
	if c.DeleteBranch && c.Verb != Delete {
		t.Fatalf("--delete-branch on %s", c.Verb)
	}
	if c.Verb == Delete {
		if c.Params != nil || c.Base != "" || c.Request != nil {
			t.Fatalf("delete with more: %+v", c)
		}
		return
	}
	if c.Params == nil {
		t.Fatalf("nil params for %s", c.Verb)
	}
	if c.Request != nil {
		r := c.Request
		if r.Name != c.Name || r.Base != c.Base || !reflect.DeepEqual(r.Params, c.Params) {
			t.Fatalf("request %+v disagrees with command %+v", r, c)
		}
	}
	n := checkParams(t, c.Params, 1, c.Request == nil)
	if n > spec.MaxParamKeys {
		t.Fatalf("%d keys", n)
	}
}

// checkParams checks keys and value types and returns how many keys there
// are at every depth. Parameters from key=value words have no dots in their
// keys (a dot nests) and no lists.
func checkParams(t *testing.T, m map[string]any, depth int, fromPairs bool) int {
	t.Helper()
	if depth > spec.MaxParamDepth {
		t.Fatalf("params nested %d deep", depth)
	}
	n := 0
	for k, v := range m {
		n++
		switch {
		case fromPairs && !keySegment.MatchString(k):
			t.Fatalf("key %q from key=value", k)
		case !specKey.MatchString(k):
			t.Fatalf("key %q", k)
		}
		switch x := v.(type) {
		case string:
			if len(x) > spec.MaxParamString || !utf8.ValidString(x) {
				t.Fatalf("value of %q: %q", k, x)
			}
		case int64, float64, bool:
		case []any:
			if fromPairs {
				t.Fatalf("list from key=value: %q", k)
			}
		case map[string]any:
			n += checkParams(t, x, depth+1, fromPairs)
		default:
			t.Fatalf("value of %q is %T", k, v)
		}
	}
	return n
}

// problemLine matches a problem of a reply.
var problemLine = regexp.MustCompile(`(?m)^- line (\d+): `)

// checkReply: a reply is the usage (help) or problems at lines of the body,
// and nothing the person wrote can mention anyone from outside a code span.
func checkReply(t *testing.T, reply string, lines int) {
	t.Helper()
	if !utf8.ValidString(reply) || !strings.Contains(reply, usage) {
		t.Fatalf("reply without the usage or not UTF-8:\n%s", reply)
	}
	if !strings.HasPrefix(reply, "**No command") {
		return
	}
	part := problemsPart(reply)
	ms := problemLine.FindAllStringSubmatch(part, -1)
	if len(ms) == 0 || len(ms) > spec.MaxProblems+1 {
		t.Fatalf("%d problems in\n%s", len(ms), part)
	}
	for _, m := range ms {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > lines {
			t.Fatalf("problem at line %d outside 1..%d:\n%s", n, lines, part)
		}
	}
	if outside := stripCode(part); strings.Contains(outside, "@") {
		t.Fatalf("@ outside code spans:\n%s", part)
	}
}

// FuzzParamsComparison: whatever the names and values, each row keeps one
// cell per column and the table stays within its bounds.
func FuzzParamsComparison(f *testing.F) {
	f.Add("a", "b|c", "`x`", int64(1))
	f.Add("", "\\|", "@x\n#1", int64(-3))
	f.Fuzz(func(t *testing.T, n1, n2, v string, i int64) {
		params := []map[string]any{
			{"k": v, "same": i, "l": []any{v, i}, "n": map[string]any{"x": v}},
			{"k": i, "same": i, "only": v},
		}
		table := ParamsComparison([]string{n1, n2}, params)
		rows := 0
		for _, line := range strings.Split(table, "\n") {
			if !strings.HasPrefix(line, "|") {
				continue
			}
			rows++
			if cells := splitRow(line); len(cells) != 3 {
				t.Fatalf("row with %d cells: %q", len(cells), line)
			}
		}
		if rows != 2+5 {
			t.Fatalf("%d rows:\n%s", rows, table)
		}
		if !strings.Contains(table, "| `same` | `"+strconv.FormatInt(i, 10)+"` |") {
			t.Fatalf("equal row marked or missing:\n%s", table)
		}
		if !utf8.ValidString(table) {
			t.Fatal("table is not UTF-8")
		}
	})
}
