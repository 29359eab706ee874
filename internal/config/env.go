package config

import (
	"io"
	"maps"
	"slices"
	"strings"
)

// Environment lists the environment variables Load reads, and says which of
// them carry a secret's value (rather than the name of a file holding it).
// Deployment manifests are checked against it, so it is taken from Load
// itself rather than kept as a second list.
func Environment() (names []string, secret map[string]bool) {
	read := map[string]bool{}
	_, _ = Load(nil, func(k string) string { read[k] = true; return "" }, io.Discard) // nothing set: fails validation
	secretVars := map[string]bool{}
	c := Defaults()
	_ = c.loadSecrets(func(k string) string { secretVars[k] = true; return "" })
	secret = map[string]bool{}
	for k := range secretVars {
		if base, ok := strings.CutSuffix(k, "_FILE"); !ok || !secretVars[base] {
			secret[k] = true
		}
	}
	return slices.Sorted(maps.Keys(read)), secret
}
