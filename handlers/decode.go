package handlers

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
