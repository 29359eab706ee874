package spec

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxRefNameBytes bounds branch and base names. Git itself has no limit, but
// forges and file systems do (a ref is a file path), and a name this long is
// a mistake, not a request.
const MaxRefNameBytes = 200

// ValidRefName reports why name cannot be a Git ref (branch or tag) name, or
// nil if it can. It implements `git check-ref-format --allow-onelevel` (a
// plain branch name like "main" is fine) plus `git check-ref-format
// --branch`'s refusal of a leading "-", and two rules of ours: valid UTF-8,
// since names travel in JSON, and at most MaxRefNameBytes.
//
// Git's rules: no "..", no ASCII control characters, none of
// space ~ ^ : ? * [ \, no leading or trailing "/", no "//", no trailing ".",
// no component that starts with "." or ends with ".lock", no "@{", and not
// "@" alone.
func ValidRefName(name string) error {
	switch {
	case name == "":
		return errors.New("it is empty")
	case len(name) > MaxRefNameBytes:
		return fmt.Errorf("it is %d bytes long; the limit is %d", len(name), MaxRefNameBytes)
	case !utf8.ValidString(name):
		return errors.New("it is not valid UTF-8")
	case name == "@":
		return errors.New("it is `@`, which Git reserves for HEAD")
	case name[0] == '-':
		return errors.New("it starts with `-`")
	case name[0] == '/':
		return errors.New("it starts with `/`")
	case strings.HasSuffix(name, "/"):
		return errors.New("it ends with `/`")
	case strings.HasSuffix(name, "."):
		return errors.New("it ends with `.`")
	case strings.Contains(name, ".."):
		return errors.New("it contains `..`")
	case strings.Contains(name, "//"):
		return errors.New("it contains `//`")
	case strings.Contains(name, "@{"):
		return errors.New("it contains `@{`")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < 0x20 || c == 0x7f {
			return errors.New("it contains a control character")
		}
		if strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			if c == ' ' {
				return errors.New("it contains a space")
			}
			return fmt.Errorf("it contains %s", CodeSpan(string(c)))
		}
	}
	for part := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(part, ".") {
			return fmt.Errorf("its part %s starts with `.`", Code(part))
		}
		if strings.HasSuffix(part, ".lock") {
			return fmt.Errorf("its part %s ends with `.lock`", Code(part))
		}
	}
	return nil
}

// LooksLikeSHA reports whether s could be an abbreviated or full commit SHA:
// 7 to 64 hexadecimal digits (64 for SHA-256 repositories). A base that does
// not look like one can only be a branch or tag.
func LooksLikeSHA(s string) bool {
	if len(s) < 7 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// fullSHA reports whether s is a complete lowercase commit SHA (SHA-1 or
// SHA-256), which is what a resolved base must be.
func fullSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) || (s[i] >= 'A' && s[i] <= 'F') {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
