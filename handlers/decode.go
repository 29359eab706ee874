package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expbot/expbot/internal/event"
)

// ErrMalformed marks a body that cannot be decoded, or a handled event that
// lacks a field expbot needs. The handler answers 400.
var ErrMalformed = errors.New("malformed webhook payload")

// maxReason bounds forge-supplied text echoed in Ignored reasons, and
// maxQuoted the same text once quoted (escapes can make it four times longer).
const (
	maxReason = 64
	maxQuoted = 96
)

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// hostOf returns the host (with port, if any) of a web URL: with Path it
// names the repository, so an event without it is malformed.
func hostOf(field, raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", malformed("%s is not an absolute URL", field)
	}
	return strings.ToLower(u.Host), nil
}

// withoutLabel is labels minus name. Both forges treat names that differ
// only in case as one label, so the match ignores case.
func withoutLabel(labels []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(labels), func(l string) bool { return strings.EqualFold(l, name) })
}

// withLabel is labels plus name, unless already there.
func withLabel(labels []string, name string) []string {
	out := slices.Clone(labels)
	if !slices.ContainsFunc(out, func(l string) bool { return strings.EqualFold(l, name) }) {
		out = append(out, name)
	}
	return out
}

// clip shortens forge-supplied strings before they reach logs or answers.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// quote renders forge-supplied s for an Ignored reason: clipped, quoted
// with Go escapes, and clipped again so that escapes cannot make it long.
func quote(s string) string { return clip(strconv.Quote(clip(s, maxReason)), maxQuoted) }

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// tagsPrefix starts the full name of a tag ref.
const tagsPrefix = "refs/tags/"

// isZeroSHA tells the all-zero object name both forges send for "no
// commit": before a ref existed, or after it was deleted (40 hex digits,
// 64 in SHA-256 repositories).
func isZeroSHA(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

// sha is s, or "" when s is the all-zero object name.
func sha(s string) string {
	if isZeroSHA(s) {
		return ""
	}
	return s
}

// checkTagPush rejects a tag push that says nothing usable: no commit
// before or after, or object names that are not full hexadecimal SHAs
// (they go on to forge API calls).
func checkTagPush(kind string, tp *event.TagPush) error {
	if tp.Before == "" && tp.After == "" {
		return malformed("%s: neither before nor after names a commit", kind)
	}
	for _, f := range []struct{ name, v string }{{"before", tp.Before}, {"after", tp.After}} {
		if f.v != "" && !isFullSHA(f.v) {
			return malformed("%s: %s is not a commit SHA", kind, f.name)
		}
	}
	return nil
}

// isFullSHA tells a full object name: 40 hexadecimal digits (SHA-1), or 64
// in SHA-256 repositories.
func isFullSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// forgeTimeLayouts are the ways the forges write times in webhooks: GitHub
// RFC 3339, GitLab issue and merge request hooks "2006-01-02 15:04:05 UTC",
// GitLab's newer hooks and API RFC 3339 with fractions.
var forgeTimeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05 -0700"}

// forgeTime reads a payload's timestamp. One it cannot read is zero, not an
// error: the time only orders deliveries, and a delivery without one is
// ordered by reading the object from the forge (docs/ordering.md).
func forgeTime(s string) time.Time {
	for _, layout := range forgeTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
