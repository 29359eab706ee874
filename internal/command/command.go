// Package command reads the /experiment commands people write in comments on
// pull and merge requests.
//
// Parse is a pure function of the comment's text, like Atlantis's comment
// parser: it returns the commands to run, in order, or a Markdown reply for
// the person (usage, or the mistakes with their lines), or neither when the
// comment holds no command. A comment with any mistake runs nothing: half of
// a comment run is harder to reason about than none.
//
// Grammar, one command per line:
//
//	/experiment new <name> [base=<ref>] [key=value ...]
//	/experiment update <name> key=value ...
//	/experiment delete <name> [--delete-branch]
//	/experiment list
//	/experiment sync
//	/experiment preview new|update|delete ...
//	/experiment help
//
// A command is a line whose first word is exactly "/experiment" (any
// indentation). Lines inside fenced code blocks, HTML comments or quotes
// (">") are never commands; other text is ignored. Words are split at white
// space; "..." and '...' group words (inside "...", \" and \\ escape).
// `new <name>` and `update <name>` may instead be followed, after blank
// lines at most, by a ```yaml block in the request schema of internal/spec
// (name optional). Usage has the details people see.
//
// `help` is answered with the usage in Result.Reply, never with a Command;
// the other commands of a comment asking for help are not run. A line whose
// first word starts with "/" and is within two edits of "/experiment"
// (/experimnet, /Experiment) is a mistake, not prose: it gets a reply.
package command

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/expbot/expbot/internal/spec"
)

// Word is the command word that starts every command line.
const Word = "/experiment"

// Limits of one comment. They bound the work one comment can cause and keep
// replies readable.
const (
	MaxCommands   = 20                  // commands in one comment
	MaxParams     = 100                 // key=value words in one command
	MaxValueBytes = spec.MaxParamString // bytes of one value
)

// Verb is what a command does. Preview is not a verb but a flag on the verb
// it previews, and help is answered with Result.Reply, never a Command.
type Verb string

const (
	New    Verb = "new"
	Update Verb = "update"
	Delete Verb = "delete"
	List   Verb = "list"
	// Sync asks for a drift check of the repository now (docs/drift.md).
	Sync Verb = "sync"
)

// Command is one valid command of a comment.
type Command struct {
	Verb Verb
	// Preview asks for what Verb (New, Update or Delete) would change,
	// changing nothing.
	Preview bool
	// Name is the experiment, valid by spec.ValidName; "" for List.
	Name string
	// Params are the parameters given, from key=value words (dotted keys
	// nested) or the YAML block's params, in spec.Request's types: string,
	// int64, float64, bool, and from a block also []any; map[string]any
	// for nesting. Non-nil (maybe empty) for New and Update, nil otherwise.
	// For Update they are only what the comment gave.
	Params map[string]any
	// Base is the branch, tag or commit to start from, from base=<ref> or
	// the block's base; "" when not given.
	Base string
	// Request is the YAML block, when the command had one (New and Update
	// only), with Name set to the command's name. Params and Base above
	// hold the same values (Params is the same map).
	Request *spec.Request
	// DeleteBranch is delete's --delete-branch.
	DeleteBranch bool
	// Line is the 1-based line of the command in the comment.
	Line int
}

// Result is what a comment asks for. At most one of Commands and Reply is
// set; neither means the comment holds no command and needs no answer.
type Result struct {
	Commands []Command // in the order written
	Reply    string    // Markdown for the person: usage, or the mistakes found
}

// verbs are the subcommands, in the order suggestions prefer them.
var verbs = []string{"new", "update", "delete", "list", "sync", "preview", "help"}

// previewable are the subcommands preview accepts.
var previewable = []string{"new", "update", "delete"}

const deleteBranchFlag = "--delete-branch"

// parser holds the state of one Parse call.
type parser struct {
	lines    []string
	cmds     []Command
	problems []problem
	help     bool
	seen     int // command lines met, valid or not
}

func (p *parser) add(line int, format string, args ...any) {
	p.problems = append(p.problems, problem{line: line, msg: fmt.Sprintf(format, args...)})
}

// Parse reads the /experiment commands of a comment body. See the package
// documentation for the grammar and Usage for what people are told.
func Parse(body string) Result {
	p := &parser{lines: spec.SplitLines(body)}
	inComment := false
	for i := 0; i < len(p.lines); i++ {
		line := p.lines[i]
		if !inComment {
			if f, ok := spec.OpeningFence(line); ok {
				end := f.CloseLine(p.lines, i+1)
				if end < 0 {
					break // an unclosed block runs to the end
				}
				i = end
				continue
			}
		}
		text, open := spec.VisibleText(line, inComment)
		inComment = open
		if isQuote(text) {
			continue
		}
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
		first := text
		if n := strings.IndexFunc(text, unicode.IsSpace); n >= 0 {
			first = text[:n]
		}
		if first != Word {
			if strings.HasPrefix(first, "/") && suggest(first, []string{Word}) != "" {
				p.add(i+1, "%s is not a command%s", spec.Code(first), didYouMean(first, []string{Word}))
			}
			continue
		}
		p.seen++
		if p.seen > MaxCommands {
			p.add(i+1, "there are more than %d commands in this comment; post the rest in another comment", MaxCommands)
			break
		}
		i = p.command(i, text[len(first):], inComment)
	}
	switch {
	case len(p.problems) > 0:
		return Result{Reply: problemsReply(p.problems)}
	case p.help:
		return Result{Reply: helpReply(len(p.cmds) > 0)}
	}
	return Result{Commands: p.cmds}
}

// command reads the command on line index i, whose text after the command
// word is rest, and returns the index of its last line (its YAML block's, if
// it has one). commentOpen reports an HTML comment left open at the end of
// the line, which hides what follows.
func (p *parser) command(i int, rest string, commentOpen bool) int {
	ln := i + 1
	if !utf8.ValidString(rest) {
		p.add(ln, "this line is not valid UTF-8 text; retype it")
		return i
	}
	toks, unclosed := tokenize(rest)
	if unclosed != 0 {
		p.add(ln, "a quote %s is not closed; close it, or put a value holding it in the other kind of quotes", spec.Code(string(unclosed)))
		return i
	}
	if len(toks) == 0 {
		p.add(ln, "%s needs a subcommand: `new`, `update`, `delete`, `list`, `sync`, `preview` or `help`", spec.Code(Word))
		return i
	}
	verb, args := toks[0].text, toks[1:]
	preview := false
	if verb == "preview" {
		preview = true
		if len(args) == 0 {
			p.add(ln, "`preview` needs a subcommand: `new`, `update` or `delete`")
			return i
		}
		verb, args = args[0].text, args[1:]
		switch verb {
		case "new", "update", "delete":
		case "list", "sync", "help", "preview":
			p.add(ln, "`preview` works with `new`, `update` and `delete`, not %s", spec.Code(verb))
			return i
		default:
			p.add(ln, "unknown subcommand %s after `preview`%s", spec.Code(verb), didYouMean(verb, previewable))
			return i
		}
	}
	switch verb {
	case "help":
		// Whatever follows, the person wants the usage.
		p.help = true
		return i
	case "list", "sync":
		if len(args) > 0 {
			p.add(ln, "%s takes nothing after it, but there is %s", spec.Code(verb), spec.Code(args[0].text))
			return i
		}
		p.cmds = append(p.cmds, Command{Verb: Verb(verb), Line: ln})
		return i
	case "new", "update", "delete":
		return p.named(i, Verb(verb), preview, args, commentOpen)
	}
	p.add(ln, "unknown subcommand %s%s", spec.Code(verb), didYouMean(verb, verbs))
	return i
}

// named reads the rest of new, update and delete: a name, then options and
// key=value words, then maybe a YAML block on the next lines.
func (p *parser) named(i int, verb Verb, preview bool, args []token, commentOpen bool) int {
	ln := i + 1
	before := len(p.problems)
	if len(args) == 0 || args[0].isPair() || strings.HasPrefix(args[0].text, "-") {
		p.add(ln, "%s needs the name of the experiment first, for example %s", spec.Code(string(verb)), spec.Code(example(verb)))
		return i
	}
	cmd := Command{Verb: verb, Preview: preview, Name: args[0].text, Line: ln}
	if err := spec.ValidName(cmd.Name); err != nil {
		msg := fmt.Sprintf("the name %s is not allowed: %v", spec.Code(cmd.Name), err)
		if s := spec.SuggestName(cmd.Name); s != "" && s != cmd.Name {
			msg += "; for example " + spec.Code(s)
		}
		p.add(ln, "%s", msg)
	}
	var kv []token
	for _, t := range args[1:] {
		switch {
		case strings.HasPrefix(t.text, "-") && !t.isPair():
			switch {
			case t.text == deleteBranchFlag && verb == Delete:
				cmd.DeleteBranch = true
			case t.text == deleteBranchFlag:
				p.add(ln, "%s goes only with `delete`", spec.Code(deleteBranchFlag))
			case verb == Delete:
				p.add(ln, "unknown option %s%s", spec.Code(t.text), didYouMean(t.text, []string{deleteBranchFlag}))
			default:
				p.add(ln, "unknown option %s; %s takes `key=value` parameters", spec.Code(t.text), spec.Code(string(verb)))
			}
		case t.isPair() && verb == Delete:
			p.add(ln, "`delete` takes no parameters, but there is %s", spec.Code(t.text))
		case t.isPair():
			kv = append(kv, t)
		default:
			p.add(ln, "unexpected %s after the name; parameters are written %s%s", spec.Code(t.text), spec.Code("key=value"), curlyHint(t.text))
		}
	}
	end := i
	// delete takes no block: one after it is an ordinary code block.
	var (
		open     int
		f        spec.Fence
		hasBlock bool
	)
	if verb != Delete {
		open, f, hasBlock = p.blockAfter(i, commentOpen)
	}
	switch {
	case hasBlock:
		end = f.CloseLine(p.lines, open+1)
		if end < 0 {
			end = len(p.lines) - 1
		}
		if len(kv) > 0 {
			p.add(ln, "give the parameters either as `key=value` on the command line or in the ```` ```yaml ```` block below it, not both")
		}
		if req, ok := block(p.lines, open, end, f, cmd.Name, p.add); ok {
			cmd.Request, cmd.Params, cmd.Base = &req, req.Params, req.Base
		}
	case verb != Delete:
		if verb == Update && len(kv) == 0 {
			p.add(ln, "`update` needs something to change: `key=value` parameters or a ```` ```yaml ```` block on the next line")
		}
		if params, base, ok := pairs(kv, cmd.Name, ln, p.add); ok {
			cmd.Params, cmd.Base = params, base
		}
	}
	if len(p.problems) == before {
		p.cmds = append(p.cmds, cmd)
	}
	return end
}

// blockAfter finds the fenced block that belongs to the command on line
// index i: the first line after it that is not blank opens a ```yaml
// block. A block without a language there is a forgotten "yaml", reported
// rather than silently ignored with the parameters it holds.
func (p *parser) blockAfter(i int, commentOpen bool) (int, spec.Fence, bool) {
	if commentOpen {
		return 0, spec.Fence{}, false // what follows is hidden
	}
	j := i + 1
	for j < len(p.lines) && isBlank(p.lines[j]) {
		j++
	}
	if j == len(p.lines) {
		return 0, spec.Fence{}, false
	}
	f, ok := spec.OpeningFence(p.lines[j])
	switch {
	case !ok:
		return 0, spec.Fence{}, false
	case f.IsYAML():
		return j, f, true
	case f.Lang() == "":
		p.add(j+1, "the code block after the command on line %d has no language, so it is not read; "+
			"start it with ```` ```yaml ```` instead of ```` ``` ````", i+1)
	}
	return 0, spec.Fence{}, false
}

// example is a short correct command for a verb, for messages.
func example(v Verb) string {
	switch v {
	case Update:
		return Word + " update lr-sweep lr=0.0001"
	case Delete:
		return Word + " delete lr-sweep"
	}
	return Word + " new lr-sweep lr=0.0003"
}

// curlyHint notices typographic quotes, which some editors put in place of
// straight ones and which do not group words.
func curlyHint(s string) string {
	if strings.ContainsAny(s, "“”‘’") {
		return "; use straight quotes (`\"` or `'`) to group words, not typographic ones"
	}
	return ""
}
