package command

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/spec"
)

// parseCase is one comment and what Parse must make of it: commands, or a
// reply holding the listed problems (each "line N: text" fragment must be
// in it), or a reply holding text (help), or nothing.
type parseCase struct {
	name     string
	body     string
	want     []Command
	problems []string
	reply    string
}

func TestParse(t *testing.T) {
	req := func(r spec.Request) *spec.Request { return &r }
	cases := []parseCase{
		// Nothing to do.
		{name: "empty", body: ""},
		{name: "prose", body: "LGTM, thanks!\n\nCan we try a lower lr?"},
		{name: "word mid-line", body: "please run /experiment new foo for me"},
		{name: "inline code", body: "`/experiment new foo` is how you start one"},
		{name: "list item", body: "- /experiment new foo"},
		{name: "prose word", body: "Experiment results look fine\nexperiment new foo"},
		{name: "other slash command", body: "/label ~bug\n/assign @me"},
		{name: "far from the word", body: "/exp new foo\n/experimental-feature on"},

		// Each verb.
		{name: "new bare", body: "/experiment new foo", want: []Command{
			{Verb: New, Name: "foo", Params: map[string]any{}, Line: 1}}},
		{name: "new params", body: "/experiment new lr-low lr=0.0001 epochs=3 fp16=true opt=adamw", want: []Command{
			{Verb: New, Name: "lr-low", Params: map[string]any{"lr": 0.0001, "epochs": int64(3), "fp16": true, "opt": "adamw"}, Line: 1}}},
		{name: "new base", body: "/experiment new foo base=release/v1.2 lr=1", want: []Command{
			{Verb: New, Name: "foo", Base: "release/v1.2", Params: map[string]any{"lr": int64(1)}, Line: 1}}},
		{name: "new base sha", body: "/experiment new foo base=0123abc", want: []Command{
			{Verb: New, Name: "foo", Base: "0123abc", Params: map[string]any{}, Line: 1}}},
		{name: "update", body: "/experiment update foo lr=0.5", want: []Command{
			{Verb: Update, Name: "foo", Params: map[string]any{"lr": 0.5}, Line: 1}}},
		{name: "update base only", body: "/experiment update foo base=main", want: []Command{
			{Verb: Update, Name: "foo", Base: "main", Params: map[string]any{}, Line: 1}}},
		{name: "delete", body: "/experiment delete foo", want: []Command{
			{Verb: Delete, Name: "foo", Line: 1}}},
		{name: "delete branch", body: "/experiment delete foo --delete-branch", want: []Command{
			{Verb: Delete, Name: "foo", DeleteBranch: true, Line: 1}}},
		{name: "list", body: "/experiment list", want: []Command{{Verb: List, Line: 1}}},
		{name: "sync", body: "/experiment sync", want: []Command{{Verb: Sync, Line: 1}}},
		{name: "preview new", body: "/experiment preview new foo lr=2", want: []Command{
			{Verb: New, Preview: true, Name: "foo", Params: map[string]any{"lr": int64(2)}, Line: 1}}},
		{name: "preview update", body: "/experiment preview update foo a=b", want: []Command{
			{Verb: Update, Preview: true, Name: "foo", Params: map[string]any{"a": "b"}, Line: 1}}},
		{name: "preview delete", body: "/experiment preview delete foo --delete-branch", want: []Command{
			{Verb: Delete, Preview: true, Name: "foo", DeleteBranch: true, Line: 1}}},
		{name: "help", body: "/experiment help", reply: "/experiment preview new|update|delete"},
		{name: "help with more", body: "/experiment help me please", reply: "/experiment list"},
		{name: "help beside commands", body: "/experiment new foo\n/experiment help",
			reply: "`help` was asked for, so the other commands of this comment were not run."},

		// Values and quoting.
		{name: "typed like yaml", body: `/experiment new t i=-3 h=0x10 f=1e3 g=.5 b=false s=adam d=2024-05-01 n=1e400x q="3" sq='true' y=yes`, want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{
				"i": int64(-3), "h": int64(16), "f": 1000.0, "g": 0.5, "b": false, "s": "adam",
				"d": "2024-05-01", "n": "1e400x", "q": "3", "sq": "true", "y": "yes"}, Line: 1}}},
		{name: "quoted spaces", body: `/experiment new t note="two words" other='it''s' esc="say \"hi\" \\ \n"`, want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"note": "two words", "other": "its", "esc": `say "hi" \ \n`}, Line: 1}}},
		{name: "quote inside word", body: `/experiment new t tag=v"1 2"x`, want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"tag": "v1 2x"}, Line: 1}}},
		{name: "empty quoted", body: `/experiment new t e=""`, want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"e": ""}, Line: 1}}},
		{name: "yaml syntax is text", body: `/experiment new t l=[1,2] m={a:1} c=#x a=*x t=!!int`, want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"l": "[1,2]", "m": "{a:1}", "c": "#x", "a": "*x", "t": "!!int"}, Line: 1}}},
		{name: "equals in value", body: `/experiment new t expr=a=b`, want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"expr": "a=b"}, Line: 1}}},
		{name: "dotted keys nest", body: "/experiment new t optimizer.name=adamw optimizer.beta.one=0.9 optimizer.lr=3e-4", want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"optimizer": map[string]any{
				"name": "adamw", "lr": 0.0003, "beta": map[string]any{"one": 0.9}}}, Line: 1}}},
		{name: "key looks like a bool", body: "/experiment new t true=1 null=x", want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"true": int64(1), "null": "x"}, Line: 1}}},
		{name: "tabs and indentation", body: "   /experiment\tnew  t \t a=1  ", want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"a": int64(1)}, Line: 1}}},
		{name: "crlf", body: "hi\r\n/experiment new t a=1\r\n/experiment list\r\n", want: []Command{
			{Verb: New, Name: "t", Params: map[string]any{"a": int64(1)}, Line: 2}, {Verb: List, Line: 3}}},

		// YAML blocks.
		{name: "yaml block", body: "/experiment new lr-sweep\n```yaml\nbase: main\ndescription: lower lr\nmodel: llama\ndataset: wiki\nparams:\n  lr: 0.00015\n  betas: [0.9, 0.95]\n```", want: []Command{
			{Verb: New, Name: "lr-sweep", Base: "main", Params: map[string]any{"lr": 0.00015, "betas": []any{0.9, 0.95}}, Line: 1,
				Request: req(spec.Request{Name: "lr-sweep", Base: "main", Description: "lower lr", Model: "llama", Dataset: "wiki",
					Params: map[string]any{"lr": 0.00015, "betas": []any{0.9, 0.95}}})}}},
		{name: "yaml block with same name, blank line, tilde, indented", body: "/experiment update foo\n\n  ~~~YML\n  name: foo\n  params: {a: 1}\n  ~~~\n/experiment list", want: []Command{
			{Verb: Update, Name: "foo", Params: map[string]any{"a": int64(1)}, Line: 1,
				Request: req(spec.Request{Name: "foo", Params: map[string]any{"a": int64(1)}})},
			{Verb: List, Line: 7}}},
		{name: "yaml block empty", body: "/experiment new foo\n```yaml\n# nothing yet\n```", want: []Command{
			{Verb: New, Name: "foo", Params: map[string]any{}, Line: 1, Request: req(spec.Request{Name: "foo", Params: map[string]any{}})}}},
		{name: "yaml block literal last", body: "/experiment new foo\n```yaml\ndescription: |\n  two\n  lines\n```", want: []Command{
			{Verb: New, Name: "foo", Params: map[string]any{}, Line: 1, Request: req(spec.Request{Name: "foo", Description: "two\nlines\n", Params: map[string]any{}})}}},
		{name: "yaml block unclosed", body: "/experiment preview new foo\n```yaml\nparams:\n  a: x", want: []Command{
			{Verb: New, Preview: true, Name: "foo", Params: map[string]any{"a": "x"}, Line: 1, Request: req(spec.Request{Name: "foo", Params: map[string]any{"a": "x"}})}}},
		{name: "commands in the yaml block are not commands", body: "/experiment new foo\n```yaml\ndescription: \"/experiment delete foo\"\n```", want: []Command{
			{Verb: New, Name: "foo", Params: map[string]any{}, Line: 1, Request: req(spec.Request{Name: "foo", Description: "/experiment delete foo", Params: map[string]any{}})}}},
		{name: "block after delete is a code block", body: "/experiment delete foo\n```yaml\n/experiment list\n```", want: []Command{
			{Verb: Delete, Name: "foo", Line: 1}}},
		{name: "block after text is not the command's", body: "/experiment new foo\nsee:\n```yaml\nparams: {a: 1}\n```", want: []Command{
			{Verb: New, Name: "foo", Params: map[string]any{}, Line: 1}}},
		{name: "other language after command", body: "/experiment new foo\n```python\nprint(1)\n```", want: []Command{
			{Verb: New, Name: "foo", Params: map[string]any{}, Line: 1}}},

		// Not commands: code, comments, quotes.
		{name: "ignored places", body: strings.Join([]string{
			"```", "/experiment delete a", "```",
			"~~~~text", "/experiment delete b", "```", "~~~~",
			"<!-- /experiment delete c -->",
			"<!--", "/experiment delete d", "-->",
			"> /experiment delete e",
			"  > > /experiment delete f",
			"/experiment new g <!-- /experiment delete h -->",
		}, "\n"), want: []Command{{Verb: New, Name: "g", Params: map[string]any{}, Line: 14}}},
		{name: "after a closed comment", body: "<!-- template -->/experiment list", want: []Command{{Verb: List, Line: 1}}},
		{name: "unclosed comment hides the rest", body: "/experiment list\n<!--\n/experiment delete x", want: []Command{{Verb: List, Line: 1}}},
		{name: "unclosed fence hides the rest", body: "```\n/experiment delete x"},
		{name: "comment after command hides its block", body: "/experiment new foo <!--\n```yaml\nparams: {a: 1}\n```\n-->", want: []Command{
			{Verb: New, Name: "foo", Params: map[string]any{}, Line: 1}}},
		{name: "quoted command is not a problem", body: "> /experiment nwe foo\n> /experimnet list"},

		// Several commands.
		{name: "in order", body: "Let's try:\n/experiment new a lr=1\n/experiment new b lr=2\n\n/experiment preview delete old\n/experiment delete old --delete-branch", want: []Command{
			{Verb: New, Name: "a", Params: map[string]any{"lr": int64(1)}, Line: 2},
			{Verb: New, Name: "b", Params: map[string]any{"lr": int64(2)}, Line: 3},
			{Verb: Delete, Preview: true, Name: "old", Line: 5},
			{Verb: Delete, Name: "old", DeleteBranch: true, Line: 6}}},
		{name: "one bad runs none", body: "/experiment new a\n/experiment new B\n/experiment list", problems: []string{"line 2: the name `B` is not allowed"}},

		// Malformed and unknown.
		{name: "bare word", body: "/experiment", problems: []string{"line 1: `/experiment` needs a subcommand"}},
		{name: "unknown", body: "/experiment frobnicate", problems: []string{"line 1: unknown subcommand `frobnicate`"}},
		{name: "missing name", body: "/experiment new", problems: []string{"line 1: `new` needs the name of the experiment first"}},
		{name: "pair instead of name", body: "/experiment update lr=1", problems: []string{"line 1: `update` needs the name"}},
		{name: "flag instead of name", body: "/experiment delete --delete-branch", problems: []string{"line 1: `delete` needs the name"}},
		{name: "bad name", body: "/experiment new Lr_Sweep!", problems: []string{"line 1: the name `Lr_Sweep!` is not allowed: use only lowercase letters, digits, `-`, `_` and `.`; for example `lr_sweep`"}},
		{name: "name too long", body: "/experiment new " + strings.Repeat("a", 49), problems: []string{"is 49 characters long; the limit is 48"}},
		{name: "name .lock", body: "/experiment delete x.lock", problems: []string{"line 1: the name `x.lock` is not allowed: it ends with `.lock`"}},
		{name: "extra word", body: "/experiment new foo bar", problems: []string{"line 1: unexpected `bar` after the name; parameters are written `key=value`"}},
		{name: "curly quotes", body: "/experiment new foo note=“two words”", problems: []string{"unexpected `words”` after the name", "use straight quotes"}},
		{name: "unclosed quote", body: "/experiment new foo note=\"two words", problems: []string{"line 1: a quote `\"` is not closed"}},
		{name: "list args", body: "/experiment list all", problems: []string{"line 1: `list` takes nothing after it, but there is `all`"}},
		{name: "sync args", body: "/experiment sync lr-a", problems: []string{"line 1: `sync` takes nothing after it, but there is `lr-a`"}},
		{name: "preview sync", body: "/experiment preview sync", problems: []string{"line 1: `preview` works with `new`, `update` and `delete`, not `sync`"}},
		{name: "update nothing", body: "/experiment update foo", problems: []string{"line 1: `update` needs something to change"}},
		{name: "delete params", body: "/experiment delete foo lr=1", problems: []string{"line 1: `delete` takes no parameters, but there is `lr=1`"}},
		{name: "flag on new", body: "/experiment new foo --delete-branch", problems: []string{"line 1: `--delete-branch` goes only with `delete`"}},
		{name: "unknown flag", body: "/experiment new foo --force", problems: []string{"line 1: unknown option `--force`; `new` takes `key=value` parameters"}},
		{name: "preview alone", body: "/experiment preview", problems: []string{"line 1: `preview` needs a subcommand"}},
		{name: "preview list", body: "/experiment preview list", problems: []string{"line 1: `preview` works with `new`, `update` and `delete`, not `list`"}},
		{name: "preview unknown", body: "/experiment preview nwe foo", problems: []string{"line 1: unknown subcommand `nwe` after `preview`; did you mean `new`?"}},
		{name: "empty key", body: "/experiment new foo =1", problems: []string{"line 1: a `=` has no key before it"}},
		{name: "bad key", body: "/experiment new foo 1lr=1 a..b=2", problems: []string{"line 1: parameter name `1lr` is not allowed", "line 1: parameter name `a..b` is not allowed"}},
		{name: "too deep", body: "/experiment new foo a.b.c.d.e=1", problems: []string{"line 1: parameter `a.b.c.d.e` has more than 4 dotted parts"}},
		{name: "duplicate key", body: "/experiment new foo lr=1 lr=2", problems: []string{"line 1: parameter `lr` is given twice"}},
		{name: "value and parent", body: "/experiment new foo a=1 a.b=2", problems: []string{"line 1: parameter `a.b` cannot sit under `a`, which is already a value"}},
		{name: "parent and value", body: "/experiment new foo a.b=2 a=1", problems: []string{"line 1: parameter `a` has nested keys (such as `a.b`)"}},
		{name: "reserved keys", body: "/experiment new foo name=x model=m", problems: []string{"line 1: `name` is not a parameter", "line 1: `model` is not a parameter"}},
		{name: "bad values", body: "/experiment new foo a= b=null c=.nan d=-.inf", problems: []string{
			"line 1: `params.a` has no value", "line 1: `params.b` has no value", "line 1: `params.c`: `.nan` is not allowed", "line 1: `params.d`: `-.inf` is not allowed"}},
		{name: "control character", body: "/experiment new foo a=\"x\u0007y\"", problems: []string{"line 1: `params.a` contains a control or invisible character"}},
		{name: "bad base", body: "/experiment new foo base=a..b", problems: []string{"line 1: `base` `a..b` is not a branch, tag or commit name: it contains `..`"}},
		{name: "empty base", body: "/experiment new foo base=", problems: []string{"line 1: `base` is empty"}},
		{name: "two bases", body: "/experiment new foo base=a base=b", problems: []string{"line 1: `base` is given twice"}},
		{name: "invalid utf-8", body: "/experiment new foo a=\xff", problems: []string{"line 1: this line is not valid UTF-8"}},
		{name: "block and pairs", body: "/experiment new foo lr=1\n```yaml\nparams: {a: 1}\n```", problems: []string{"line 1: give the parameters either as `key=value`"}},
		{name: "block names another", body: "/experiment new foo\n```yaml\nname: bar\n```", problems: []string{"line 2: the ```` ```yaml ```` block names the experiment `bar`, but the command names it `foo`"}},
		{name: "block bad yaml at its line", body: "intro\n/experiment new foo\n```yaml\nparams:\n  lr: 1\n  lr: 2\n  x: &a 1\n```", problems: []string{
			"line 6: duplicate key `params.lr` (first on line 5)", "line 7: YAML anchors (`&a`) are not allowed"}},
		{name: "block unknown key", body: "/experiment update foo\n```yaml\nlr: 1\n```", problems: []string{"line 3: unknown key `lr`"}},
		{name: "block without language", body: "/experiment new foo\n```\nparams: {a: 1}\n```", problems: []string{"line 2: the code block after the command on line 1 has no language"}},
		{name: "block with bad name reports both", body: "/experiment new Foo\n```yaml\nparams: {a: .inf}\n```", problems: []string{"line 1: the name `Foo` is not allowed", "line 3: `params.a`: `.inf` is not allowed"}},

		// Near-misses.
		{name: "verb typo", body: "/experiment nwe foo", problems: []string{"line 1: unknown subcommand `nwe`; did you mean `new`?"}},
		{name: "verb case", body: "/experiment LIST", problems: []string{"line 1: unknown subcommand `LIST`; did you mean `list`?"}},
		{name: "verb two edits", body: "/experiment udpate foo a=1", problems: []string{"did you mean `update`?"}},
		{name: "verb far", body: "/experiment remove foo", problems: []string{"line 1: unknown subcommand `remove`"}},
		{name: "word typo", body: "ok\n/experimnet new x", problems: []string{"line 2: `/experimnet` is not a command; did you mean `/experiment`?"}},
		{name: "word case", body: "/Experiment list", problems: []string{"line 1: `/Experiment` is not a command; did you mean `/experiment`?"}},
		{name: "word plural", body: "/experiments list", problems: []string{"did you mean `/experiment`?"}},
		{name: "flag typo", body: "/experiment delete foo --delete-brnch", problems: []string{"line 1: unknown option `--delete-brnch`; did you mean `--delete-branch`?"}},

		// Limits.
		{name: "too many commands", body: strings.Repeat("/experiment list\n", MaxCommands+1), problems: []string{"line 21: there are more than 20 commands in this comment"}},
		{name: "too many params", body: "/experiment new foo" + manyPairs(MaxParams+1), problems: []string{"line 1: there are 101 parameters; one command may set at most 100"}},
		{name: "value too long", body: "/experiment new foo a=" + strings.Repeat("x", MaxValueBytes+1), problems: []string{"line 1: the value of `a` is 1025 bytes long; the limit is 1024"}},
		{name: "too many nested keys", body: "/experiment new foo" + manyNested(MaxParams), problems: []string{"line 1: `params` has more than 200 keys"}},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) { checkCase(t, tc) })
	}
}

func manyPairs(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" k" + strconv.Itoa(i) + "=1")
	}
	return b.String()
}

// manyNested gives n keys of three levels each: 3n keys in all.
func manyNested(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" a" + strconv.Itoa(i) + ".b.c=1")
	}
	return b.String()
}

func checkCase(t *testing.T, tc parseCase) {
	t.Helper()
	got := Parse(tc.body)
	switch {
	case tc.problems != nil:
		if len(got.Commands) != 0 {
			t.Fatalf("commands %+v beside problems", got.Commands)
		}
		if !strings.HasPrefix(got.Reply, "**No command of this comment was run.**") || !strings.Contains(got.Reply, usage) {
			t.Fatalf("reply is not a problems reply:\n%s", got.Reply)
		}
		for _, p := range tc.problems {
			if !strings.Contains(got.Reply, p) {
				t.Errorf("reply lacks %q:\n%s", p, problemsPart(got.Reply))
			}
		}
	case tc.reply != "":
		if len(got.Commands) != 0 || !strings.Contains(got.Reply, tc.reply) || strings.Contains(got.Reply, "No command") {
			t.Fatalf("want a reply with %q, got %+v\n%s", tc.reply, got.Commands, got.Reply)
		}
	default:
		if got.Reply != "" {
			t.Fatalf("unexpected reply:\n%s", problemsPart(got.Reply))
		}
		if len(got.Commands) != len(tc.want) {
			t.Fatalf("got %d commands %+v, want %d", len(got.Commands), got.Commands, len(tc.want))
		}
		for i := range tc.want {
			if !reflect.DeepEqual(got.Commands[i], tc.want[i]) {
				t.Errorf("command %d:\ngot  %s\nwant %s", i, show(got.Commands[i]), show(tc.want[i]))
			}
		}
	}
}

// problemsPart is the reply without the usage, for readable failures.
func problemsPart(reply string) string {
	before, _, _ := strings.Cut(reply, "<details>")
	return before
}

func show(c Command) string {
	s := strconv.Quote(string(c.Verb)) + " " + c.Name
	s += " preview=" + strconv.FormatBool(c.Preview) + " base=" + c.Base + " del=" + strconv.FormatBool(c.DeleteBranch) + " line=" + strconv.Itoa(c.Line)
	s += " params=" + spec.MarkdownTable(c.Params, "")
	if c.Params == nil {
		s += "<nil>"
	}
	if c.Request != nil {
		r := *c.Request
		r.Params = nil
		s += " request=" + strconv.Quote(r.Name+"|"+r.Base+"|"+r.Description+"|"+r.Model+"|"+r.Dataset)
	}
	return s
}

// A comment with more problems than spec.MaxProblems lists that many and
// counts the rest, like the request parser's replies.
func TestParseProblemsCapped(t *testing.T) {
	body := strings.Repeat("/experiment nwe x\n", 10)
	body += "/experiment new a" + manyBad(30)
	got := Parse(body)
	part := problemsPart(got.Reply)
	if n := strings.Count(part, "\n- line "); n != spec.MaxProblems+1 {
		t.Errorf("%d problems listed, want %d:\n%s", n, spec.MaxProblems+1, part)
	}
	if !strings.Contains(part, "- line 11: … and 11 more problems from here on") {
		t.Errorf("no count of the rest:\n%s", part)
	}
}

func manyBad(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(" bad" + strconv.Itoa(i) + "=.nan")
	}
	return b.String()
}

// Replies quote what people wrote only inside code spans, whatever it holds:
// backticks cannot close the span early, and nothing outside it can mention
// anyone, link, or open HTML.
func TestReplyQuotesSafely(t *testing.T) {
	hostile := []string{
		"`", "``a`", "a```b", "@alice", "<img src=x>", "[x](https://evil.example)", "**b**", "#12", "x\u202ey",
	}
	for _, h := range hostile {
		for _, body := range []string{
			"/experiment nwe" + h,
			"/experiment new " + h,
			"/experiment new foo " + h,
			"/experiment new foo a=\"" + h + "\" a=1",
			"/experiment delete foo --" + h,
			"/experiment new foo base=\"" + h + " x\"",
			"/experimen" + string([]rune(h)[0]) + " list",
		} {
			got := Parse(body)
			if got.Reply == "" {
				t.Errorf("%q: no reply", body)
				continue
			}
			outside := stripCode(problemsPart(got.Reply))
			for _, bad := range []string{"@", "<img", "](", "**b**", "#12", "\u202e"} {
				if strings.Contains(outside, bad) {
					t.Errorf("%q: %q outside code spans in\n%s", body, bad, problemsPart(got.Reply))
				}
			}
		}
	}
}

// stripCode removes CommonMark code spans: a run of n backticks up to the
// next run of exactly n. An unmatched run is literal text.
func stripCode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '`' {
			b.WriteByte(s[i])
			i++
			continue
		}
		n := run(s, i)
		end := -1
		for j := i + n; j < len(s); {
			if s[j] != '`' {
				j++
				continue
			}
			m := run(s, j)
			if m == n {
				end = j + m
				break
			}
			j += m
		}
		if end < 0 {
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		i = end
	}
	return b.String()
}

func run(s string, i int) int {
	n := 0
	for i+n < len(s) && s[i+n] == '`' {
		n++
	}
	return n
}

func TestCode(t *testing.T) {
	tests := map[string]string{
		"lr":                    "`lr`",
		"a`b":                   "``a`b``",
		"`x":                    "`` `x ``",
		"":                      "`\"\"`",
		" x":                    "`\" x\"`",
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

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"new", "new", 0}, {"nwe", "new", 1}, {"ne", "new", 1}, {"neww", "new", 1},
		{"udpate", "update", 1}, {"/experimnet", "/experiment", 1}, {"ca", "abc", 3},
		{"lsit", "list", 1}, {"remove", "new", 5}, {"é", "e", 1}, {"kitten", "sitting", 3},
	}
	for _, tc := range tests {
		if got := distance(tc.a, tc.b); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := distance(tc.b, tc.a); got != tc.want {
			t.Errorf("distance(%q, %q) = %d, want %d (not symmetric)", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		in       string
		want     []token
		unclosed rune
	}{
		{in: "", want: nil},
		{in: "  a  b\t", want: []token{{"a", -1, false}, {"b", -1, false}}},
		{in: `k=v k="v" "k"=v "k=v" k='a b'`, want: []token{
			{"k=v", 1, false}, {"k=v", 1, true}, {"k=v", 1, false}, {"k=v", -1, true}, {"k=a b", 1, true}}},
		{in: `a="x\"y\\z\n"`, want: []token{{`a=x"y\z\n`, 1, true}}},
		{in: `a='x\'`, want: []token{{`a=x\`, 1, true}}},
		{in: `a=""b`, want: []token{{"a=b", 1, true}}},
		{in: `""`, want: []token{{"", -1, true}}},
		{in: `a="b`, want: []token{{"a=b", 1, true}}, unclosed: '"'},
		{in: "a\u00a0b", want: []token{{"a", -1, false}, {"b", -1, false}}},
	}
	for _, tc := range tests {
		got, unclosed := tokenize(tc.in)
		if !reflect.DeepEqual(got, tc.want) || unclosed != tc.unclosed {
			t.Errorf("tokenize(%q) = %+v, %q; want %+v, %q", tc.in, got, unclosed, tc.want, tc.unclosed)
		}
	}
}

// The usage documents every verb, the option, and examples that parse.
func TestUsage(t *testing.T) {
	u := Usage()
	for _, want := range []string{"/experiment new", "/experiment update", "/experiment delete", "--delete-branch", "/experiment list", "/experiment preview", "/experiment help", "```yaml"} {
		if !strings.Contains(u, want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	// The examples block, run as a comment, gives commands and no reply.
	_, examples, ok := strings.Cut(u, "````text\n")
	examples, _, ok2 := strings.Cut(examples, "````\n")
	if !ok || !ok2 {
		t.Fatal("usage has no examples block")
	}
	got := Parse(examples)
	if got.Reply != "" || len(got.Commands) != 7 {
		t.Fatalf("examples give %d commands and reply:\n%s", len(got.Commands), problemsPart(got.Reply))
	}
	last := got.Commands[6]
	if last.Request == nil || last.Request.Model != "meta-llama/Llama-3-8B" || last.Base != "main" {
		t.Errorf("yaml example read as %s", show(last))
	}
	// Inside a reply, the usage's fences must not swallow what follows.
	var open *fence
	blocks := 0
	for _, l := range strings.Split(u, "\n") {
		if open != nil {
			if open.closedBy(l) {
				open = nil
			}
			continue
		}
		if f, ok := openingFence(l); ok {
			open = &f
			blocks++
		}
	}
	if open != nil || blocks != 2 {
		t.Errorf("usage has %d top-level code blocks (want 2), last closed: %v", blocks, open == nil)
	}
}

// Parse is a function: the same comment gives the same result, and no
// result shares maps with another.
func TestParseDeterministic(t *testing.T) {
	body := "/experiment new a x.y=1 z=\"t\"\n/experiment new b\n```yaml\nparams: {a: [1, 2]}\n```"
	a, b := Parse(body), Parse(body)
	if !reflect.DeepEqual(a, b) || len(a.Commands) != 2 {
		t.Fatalf("two parses differ or fail:\n%+v\n%+v\n%s", a, b, a.Reply)
	}
	a.Commands[0].Params["x"].(map[string]any)["y"] = "changed"
	if c := Parse(body); c.Commands[0].Params["x"].(map[string]any)["y"] != int64(1) {
		t.Error("results share state")
	}
}
