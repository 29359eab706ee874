package command

import (
	"strings"
	"unicode"
)

// token is one word of a command line after quotes are removed.
type token struct {
	text string
	// eq is the byte index in text of the first "=" outside quotes, or -1:
	// `key="a=b"` splits at the first one, and `"a=b"` is not a pair.
	eq int
	// quoted reports a quote in the value part (after eq, or anywhere when
	// eq is -1): a quoted value is always text, as in YAML.
	quoted bool
}

func (t token) isPair() bool { return t.eq >= 0 }
func (t token) key() string  { return t.text[:t.eq] }
func (t token) value() string {
	return t.text[t.eq+1:]
}

// tokenize splits a command line into words, shell-style: white space
// separates words; "..." and '...' group, and may sit inside a word
// (key="a b"); inside "...", \" and \\ stand for " and \. It returns the
// quote character of an unclosed quote, or 0.
func tokenize(s string) ([]token, rune) {
	var (
		toks  []token
		cur   strings.Builder
		in    bool // inside a word
		quote rune // the open quote, or 0
		tok   = token{eq: -1}
	)
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote == '"' && r == '\\' && i+1 < len(runes) && (runes[i+1] == '"' || runes[i+1] == '\\'):
			i++
			cur.WriteRune(runes[i])
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
			tok.quoted = true
		case unicode.IsSpace(r):
			if in {
				tok.text = cur.String()
				toks = append(toks, tok)
				cur.Reset()
				in, tok = false, token{eq: -1}
			}
		default:
			if r == '=' && tok.eq < 0 {
				tok.eq = cur.Len()
				// Only quotes in the value make it text: in `"k"=3`
				// the quotes are around the key.
				tok.quoted = false
			}
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		tok.text = cur.String()
		toks = append(toks, tok)
	}
	return toks, quote
}
