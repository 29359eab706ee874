package command

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/expbot/expbot/internal/spec"
)

// usage is the text of Usage. The README copies it; keep them in step.
const usage = "**`/experiment` commands.** Write each command on its own line of a comment " +
	"on the pull or merge request. Several commands in one comment run in order; " +
	"if any of them is wrong, none runs and the reply says why.\n" +
	"\n" +
	"```text\n" +
	"/experiment new <name> [base=<ref>] [key=value ...]\n" +
	"/experiment update <name> key=value ...\n" +
	"/experiment delete <name> [--delete-branch]\n" +
	"/experiment list\n" +
	"/experiment sync\n" +
	"/experiment preview new|update|delete ...\n" +
	"/experiment help\n" +
	"```\n" +
	"\n" +
	"- `new` creates the experiment `<name>`: a branch from `base` (a branch, tag or commit; " +
	"default: the head commit of this pull or merge request) with the parameters in its variant file.\n" +
	"- `update` changes the parameters of an experiment.\n" +
	"- `delete` stops managing an experiment and keeps its branch; `--delete-branch` deletes the branch too.\n" +
	"- `list` lists the experiments.\n" +
	"- `sync` checks this repository's experiment branches now and repairs what was changed behind expbot's back " +
	"(a deleted branch, an edited variant file); commits pushed on top of a branch are left alone.\n" +
	"- `preview` shows what `new`, `update` or `delete` would change, and changes nothing.\n" +
	"- `help` shows this text.\n" +
	"\n" +
	"A `<name>` is 1–48 lowercase letters, digits, `-`, `_` and `.`, starting with a letter or digit. " +
	"Parameters are `key=value` pairs; a value reads as in YAML: `3` is an integer, `0.1` and `1e-4` " +
	"are numbers, `true` and `false` are booleans, anything else is text. Quote a value to make it " +
	"text or to put spaces in it: `run_tag=\"007\"`, `note='two words'`. Dotted keys nest: " +
	"`optimizer.lr=0.1`. `base` is not a parameter; nor are `name`, `description`, `model` and " +
	"`dataset`, which go in a YAML block.\n" +
	"\n" +
	"Instead of `key=value` pairs, `new <name>` and `update <name>` may be followed, on the next lines, " +
	"by a ```` ```yaml ```` block with the keys of an experiment request (`base`, `description`, " +
	"`model`, `dataset`, `params`; `name` may be left out).\n" +
	"\n" +
	"Lines in quotes (`>`), code blocks and HTML comments are not commands.\n" +
	"\n" +
	"Examples:\n" +
	"\n" +
	"````text\n" +
	"/experiment new lr-low lr=0.0001 epochs=3 optimizer.name=adamw\n" +
	"/experiment new from-tag base=v1.2 note=\"two words\"\n" +
	"/experiment preview update lr-low lr=0.00005\n" +
	"/experiment update lr-low lr=0.00005\n" +
	"/experiment delete from-tag --delete-branch\n" +
	"/experiment list\n" +
	"\n" +
	"/experiment new lr-sweep\n" +
	"```yaml\n" +
	"base: main\n" +
	"model: meta-llama/Llama-3-8B\n" +
	"params:\n" +
	"  lr: 0.00015\n" +
	"  optimizer: {name: adamw, betas: [0.9, 0.95]}\n" +
	"```\n" +
	"````\n"

// Usage returns the Markdown help for /experiment commands: the grammar,
// what each command does, how values are read, and examples. The reply to
// `help` and to a comment with mistakes shows it.
func Usage() string { return usage }

// problem is one mistake in a comment, at its 1-based line.
type problem struct {
	line int
	msg  string // Markdown; user text only inside code spans
}

// problemsReply is the reply to a comment with mistakes: every problem with
// its line (at most spec.MaxProblems, like the request parser's replies),
// then the usage, folded so that the problems stay in view.
func problemsReply(list []problem) string {
	slices.SortStableFunc(list, func(a, b problem) int { return cmp.Compare(a.line, b.line) })
	// The same mistake may be met twice (two bad values on one line
	// give one message each, but a repeated message says nothing new).
	list = slices.CompactFunc(list, func(a, b problem) bool { return a == b })
	if len(list) > spec.MaxProblems {
		rest := len(list) - spec.MaxProblems
		list = append(list[:spec.MaxProblems:spec.MaxProblems], problem{
			line: list[spec.MaxProblems].line,
			msg:  fmt.Sprintf("… and %d more problems from here on; fix the ones above first", rest),
		})
	}
	probs := &spec.Problems{List: make([]spec.Problem, len(list))}
	for i, p := range list {
		probs.List[i] = spec.Problem{Line: p.line, Msg: p.msg}
	}
	var b strings.Builder
	b.WriteString("**No command of this comment was run.** ")
	fix := "Fix them"
	if len(list) == 1 {
		b.WriteString("There is a problem:\n\n")
		fix = "Fix it"
	} else {
		b.WriteString("There are problems:\n\n")
	}
	b.WriteString(probs.Markdown())
	b.WriteString("\n" + fix + " and post the commands again in a new comment.\n\n")
	b.WriteString("<details><summary>Usage</summary>\n\n")
	b.WriteString(usage)
	b.WriteString("\n</details>\n")
	return b.String()
}

// helpReply answers `help`. Other commands of the same comment are not run:
// the person is asking how things work, and half-run comments are confusing.
func helpReply(others bool) string {
	if !others {
		return usage
	}
	return "`help` was asked for, so the other commands of this comment were not run.\n\n" + usage
}

// distance is the optimal-string-alignment (restricted Damerau–Levenshtein)
// distance between a and b in runes: insertions, deletions, substitutions
// and swaps of two neighbours each cost 1, so "nwe" is 1 from "new".
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows are enough: the swap looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// maxSuggestDistance is how far a word may be from a known one to be taken
// for a typo of it.
const maxSuggestDistance = 2

// suggest returns the candidate word is most likely a typo of, or "". A
// difference of case alone always counts.
func suggest(word string, candidates []string) string {
	// Long words cannot be near short ones; skip the work for them.
	if utf8.RuneCountInString(word) > 64 {
		return ""
	}
	best, bestDist := "", maxSuggestDistance+1
	for _, c := range candidates {
		if strings.EqualFold(word, c) {
			return c
		}
		if d := distance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean is a message suffix suggesting a known word, or "".
func didYouMean(word string, candidates []string) string {
	if s := suggest(word, candidates); s != "" {
		return "; did you mean " + spec.Code(s) + "?"
	}
	return ""
}
