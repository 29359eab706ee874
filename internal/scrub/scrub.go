// Package scrub removes secrets from text that leaves the process: log lines,
// comments, database rows, HTTP answers. A provider or a forge may echo a
// request's credentials in an error, in whatever encoding it had them, so
// every secret is looked for as it is and as it looks URL-escaped,
// JSON-escaped, and inside base64 (of the secret alone or of a
// "user:secret" pair, as in HTTP basic auth).
//
// Secrets shorter than MinLen bytes are not looked for: so short a value
// occurs in ordinary words, numbers and ids, and replacing it everywhere
// would garble the text it is meant to protect. Add reports them so that
// start-up can warn.
package scrub

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Mask replaces every occurrence of a secret.
const Mask = "[REDACTED]"

// MinLen is the shortest secret looked for, in bytes.
const MinLen = 8

// minCore is the shortest base64 fragment matched: shorter ones could occur
// by chance in other base64 text.
const minCore = 8

// Scrubber replaces known secrets. It is safe for concurrent use; Add and
// Rotate may be called at any time (tokens learned at run time, such as
// installation tokens), and later calls see the new secrets.
type Scrubber struct {
	mu     sync.Mutex          // serialises Add and Rotate
	static []string            // from Add: looked for as long as the process lives
	keyed  map[string][]string // from Rotate: the last Keep under each key, oldest first
	pats   atomic.Pointer[patterns]
}

// Keep is how many secrets Rotate keeps under one key: the current one and
// the one before, which requests made just before the rotation may still
// echo.
const Keep = 2

// patterns is an immutable set of what to look for.
type patterns struct {
	secrets []string  // distinct, as added
	plain   []string  // literal forms: replace the match
	b64     []b64core // fragments of base64: replace the whole base64 run
}

type b64core struct {
	s   string
	url bool // the URL alphabet (- and _) rather than the standard one (+ and /)
}

// New returns a Scrubber for secrets; see Add.
func New(secrets ...string) *Scrubber {
	s := &Scrubber{}
	s.pats.Store(&patterns{})
	s.Add(secrets...)
	return s
}

// Add looks for secrets from now on, for good. Empty values and those
// already known are skipped; values shorter than MinLen are skipped and
// returned.
func (s *Scrubber) Add(secrets ...string) (tooShort []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, sec := range secrets {
		switch {
		case sec == "" || slices.Contains(s.static, sec):
			continue
		case len(sec) < MinLen:
			tooShort = append(tooShort, sec)
			continue
		}
		changed = true
		s.static = append(s.static, sec)
	}
	if changed {
		s.rebuild()
	}
	return tooShort
}

// Rotate looks for secret from now on under key, and stops looking for
// the ones under key older than the last Keep (unless Add added them too):
// a secret that is replaced again and again, such as an installation
// token, keeps the patterns bounded. Empty values and the key's current
// secret are skipped; a value shorter than MinLen is skipped and reported.
func (s *Scrubber) Rotate(key, secret string) (tooShort bool) {
	if secret == "" {
		return false
	}
	if len(secret) < MinLen {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keyed == nil {
		s.keyed = map[string][]string{}
	}
	held := s.keyed[key]
	if n := len(held); n > 0 && held[n-1] == secret {
		return false
	}
	held = append(slices.DeleteFunc(slices.Clone(held), func(v string) bool { return v == secret }), secret)
	if len(held) > Keep {
		held = held[len(held)-Keep:]
	}
	s.keyed[key] = held
	s.rebuild()
	return false
}

// rebuild publishes the patterns of every secret held; s.mu is held.
// Rotations are rare (an installation token lives an hour), so building
// from scratch is cheap enough and forgets rotated-out secrets exactly.
func (s *Scrubber) rebuild() {
	p := &patterns{}
	all := slices.Clone(s.static)
	for _, k := range slices.Sorted(maps.Keys(s.keyed)) {
		all = append(all, s.keyed[k]...)
	}
	for _, sec := range all {
		if slices.Contains(p.secrets, sec) {
			continue
		}
		p.secrets = append(p.secrets, sec)
		for _, v := range plainForms(sec) {
			if !slices.Contains(p.plain, v) {
				p.plain = append(p.plain, v)
			}
		}
		for _, c := range base64Cores(sec) {
			if !slices.Contains(p.b64, c) {
				p.b64 = append(p.b64, c)
			}
		}
	}
	// Longer forms first, so that a secret containing another is masked
	// whole (the spans merge anyway; this keeps it cheap).
	slices.SortStableFunc(p.plain, func(a, b string) int { return len(b) - len(a) })
	s.pats.Store(p)
}

// Len is the number of secrets looked for.
func (s *Scrubber) Len() int { return len(s.pats.Load().secrets) }

// String returns in with every known secret replaced by Mask.
func (s *Scrubber) String(in string) string {
	if s == nil {
		return in
	}
	spans := s.pats.Load().find(in)
	if len(spans) == 0 {
		return in
	}
	var b strings.Builder
	b.Grow(len(in))
	last := 0
	for _, sp := range spans {
		b.WriteString(in[last:sp[0]])
		b.WriteString(Mask)
		last = sp[1]
	}
	b.WriteString(in[last:])
	return b.String()
}

// Bytes is String for byte slices; it returns in itself when nothing matched.
func (s *Scrubber) Bytes(in []byte) []byte {
	if s == nil {
		return in
	}
	spans := s.pats.Load().find(string(in))
	if len(spans) == 0 {
		return in
	}
	out := make([]byte, 0, len(in))
	last := 0
	for _, sp := range spans {
		out = append(out, in[last:sp[0]]...)
		out = append(out, Mask...)
		last = sp[1]
	}
	return append(out, in[last:]...)
}

// Error returns err with a scrubbed message; errors.Is and errors.As still
// see the chain beneath. A nil or clean error is returned as it is.
func (s *Scrubber) Error(err error) error {
	if err == nil || s == nil {
		return err
	}
	msg := err.Error()
	clean := Headers(s.String(msg))
	if clean == msg {
		return err
	}
	return &scrubbed{msg: clean, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// Writer returns a writer that scrubs each Write before passing it to w.
// Loggers write one record per call (zerolog, log, slog), so a secret never
// straddles two calls. Header values (Headers) are masked too.
func (s *Scrubber) Writer(w io.Writer) io.Writer { return &writer{s: s, w: w} }

type writer struct {
	s *Scrubber
	w io.Writer
}

func (w *writer) Write(p []byte) (int, error) {
	out := w.s.Bytes(p)
	out = headerBytes(out)
	if _, err := w.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// secretish and urlCreds are the second line of defence, for secrets
// nobody told us about: whatever follows a token-bearing header, and the
// password of credentials in a URL.
var (
	secretish = regexp.MustCompile(`(?i)(authorization[:=]\s*\S+\s+|private-token[:=]\s*|token=)[^\s&"'\\]+`)
	urlCreds  = regexp.MustCompile(`(://[^/@\s"':]+:)[^\s/@"'\\]+@`)
)

// Headers masks the values of credential headers and URL passwords in s,
// whatever their value: "Authorization: Bearer x", "PRIVATE-TOKEN: x",
// "token=x", "https://user:x@host".
func Headers(s string) string {
	s = secretish.ReplaceAllString(s, "${1}"+Mask)
	return urlCreds.ReplaceAllString(s, "${1}"+Mask+"@")
}

func headerBytes(b []byte) []byte {
	if secretish.Match(b) {
		b = secretish.ReplaceAll(b, []byte("${1}"+Mask))
	}
	if urlCreds.Match(b) {
		b = urlCreds.ReplaceAll(b, []byte("${1}"+Mask+"@"))
	}
	return b
}

// find returns the sorted, merged [start, end) spans of in to mask.
func (p *patterns) find(in string) [][2]int {
	var spans [][2]int
	for _, v := range p.plain {
		for i := 0; ; {
			j := strings.Index(in[i:], v)
			if j < 0 {
				break
			}
			spans = append(spans, [2]int{i + j, i + j + len(v)})
			i += j + len(v)
		}
	}
	for _, c := range p.b64 {
		for i := 0; ; {
			j := strings.Index(in[i:], c.s)
			if j < 0 {
				break
			}
			// The fragment is the part of the encoding that only the
			// secret decides; the run around it encodes the rest of the
			// credential (a user name, padding): mask all of it.
			start, end := i+j, i+j+len(c.s)
			for start > 0 && isB64(in[start-1], c.url) {
				start--
			}
			for end < len(in) && isB64(in[end], c.url) {
				end++
			}
			for end < len(in) && in[end] == '=' {
				end++
			}
			spans = append(spans, [2]int{start, end})
			i = end
		}
	}
	if len(spans) < 2 {
		return spans
	}
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	merged := spans[:1]
	for _, sp := range spans[1:] {
		last := &merged[len(merged)-1]
		if sp[0] <= last[1] {
			last[1] = max(last[1], sp[1])
			continue
		}
		merged = append(merged, sp)
	}
	return merged
}

func isB64(c byte, urlAlphabet bool) bool {
	switch {
	case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return true
	case urlAlphabet:
		return c == '-' || c == '_'
	default:
		return c == '+' || c == '/'
	}
}

// plainForms are the literal forms a secret may take in echoed text: as is,
// URL-escaped (query, path and user-info rules, upper and lower hex), and
// each of those JSON-escaped once and twice (an error quoting a JSON body,
// logged as JSON), by Go's rules and by those of encoders that escape
// slashes or all non-ASCII.
func plainForms(sec string) []string {
	var forms []string
	add := func(v string) {
		if v != "" && !slices.Contains(forms, v) {
			forms = append(forms, v)
		}
	}
	add(sec)
	add(url.QueryEscape(sec))
	add(strings.ReplaceAll(url.QueryEscape(sec), "+", "%20"))
	add(url.PathEscape(sec))
	add(strings.TrimPrefix(url.UserPassword("", sec).String(), ":"))
	add(escapeAll(sec))
	for _, f := range slices.Clone(forms) {
		add(lowerHex(f))
	}
	for _, f := range slices.Clone(forms) {
		for _, j := range jsonForms(f) {
			add(j)
			for _, jj := range jsonForms(j) {
				add(jj)
			}
		}
	}
	return forms
}

// escapeAll percent-encodes every byte outside RFC 3986's unreserved set.
func escapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

var pctHex = regexp.MustCompile(`%[0-9A-F]{2}`)

func lowerHex(s string) string { return pctHex.ReplaceAllStringFunc(s, strings.ToLower) }

// jsonForms are s inside a JSON string, without the quotes.
func jsonForms(s string) []string {
	var out []string
	for _, html := range []bool{true, false} {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		_ = enc.Encode(s) // a string always encodes
		q := strings.TrimSuffix(b.String(), "\n")
		out = append(out, q[1:len(q)-1])
	}
	out = append(out, strings.ReplaceAll(out[1], "/", `\/`), asciiJSON(out[1]))
	return out
}

// asciiJSON escapes every non-ASCII rune of an already JSON-escaped string
// as \uXXXX (with surrogate pairs), as Python's json.dumps does by default.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// base64Cores are the parts of base64 text that encode sec and nothing
// else, for each of the three alignments sec can have after a prefix of
// unknown length (a user name and a colon), in both alphabets. Characters
// that mix bits of sec with bits of its neighbours are left out, so the
// cores match whatever surrounds sec.
func base64Cores(sec string) []b64core {
	var out []b64core
	n := len(sec)
	for align := 0; align < 3; align++ {
		buf := make([]byte, align+n)
		copy(buf[align:], sec)
		from := (8*align + 5) / 6 // first character with no bit of the prefix
		to := 8 * (align + n) / 6 // end of the characters with no bit of a suffix
		if to-from < minCore {
			continue
		}
		for _, enc := range []struct {
			e   *base64.Encoding
			url bool
		}{{base64.StdEncoding, false}, {base64.URLEncoding, true}} {
			c := b64core{s: enc.e.EncodeToString(buf)[from:to], url: enc.url}
			if !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}
