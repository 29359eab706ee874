package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/spec"
)

// Combination is one experiment of a sweep.
type Combination struct {
	// Name is the experiment name, valid by spec.ValidName and unique in
	// the sweep; see docs/sweep.md for how it is made.
	Name string
	// Values are the matrix and include keys this combination sets, in the
	// order the file first gives them.
	Values []Value
	// Params are the common params with Values set in them, dotted keys
	// nested, in spec.Request's types. The same map as Request.Params.
	Params map[string]any
	// Request is the experiment request: Name, Description, Model,
	// Dataset and Params; Base is left empty, since the experiment starts
	// from the tagged commit.
	Request spec.Request
}

// Expand makes the experiments of the sweep, in a fixed order: the
// combinations of the lists (first list outermost, values in the order
// written) that exclude leaves, then those include adds. A sweep without
// lists or include is one experiment, named after the sweep. More than limit
// experiments (config.DefaultSweepLimit when limit <= 0) is a *spec.Problems error that
// says how many there are, at the line of `matrix:`.
func (s Sweep) Expand(limit int) ([]Combination, error) {
	if limit <= 0 {
		limit = config.DefaultSweepLimit
	}
	prefix := s.Name
	if prefix == "" {
		prefix = DefaultName
	}
	if err := spec.ValidName(prefix); err != nil || len(prefix) > MaxNameLen {
		return nil, fmt.Errorf("sweep name %q is not a valid prefix", prefix)
	}
	combos := expand(&s)
	if len(s.axes) == 0 && len(s.include) == 0 {
		combos = []combo{{values: map[string]any{}, entry: -1}}
	}
	if len(combos) > limit {
		c := &spec.Collector{}
		c.Addf(s.matrixLine, "the sweep makes %d experiments; the limit is %d: shorten the lists of `matrix` or add `exclude` entries", len(combos), limit)
		return nil, c.Err()
	}
	if len(combos) == 0 {
		c := &spec.Collector{}
		c.Addf(s.matrixLine, "`matrix.exclude` removes every combination, so there is nothing to run; remove some exclude entries")
		return nil, c.Err()
	}
	keys := sweepKeys(&s)
	names, err := names(prefix, keys, combos)
	if err != nil {
		return nil, err
	}
	out := make([]Combination, len(combos))
	for i, co := range combos {
		params := copyMap(s.Params)
		var values []Value
		for _, k := range keys {
			if v, ok := co.values[k]; ok {
				values = append(values, Value{Key: k, Value: v})
				setPath(params, k, v)
			}
		}
		req := spec.Request{Name: names[i], Description: s.Description, Model: s.Model, Dataset: s.Dataset, Params: params}
		// Parse has applied spec's rules part by part; this asks spec about
		// the whole, so that no experiment reaches the pipeline that an
		// issue could not have asked for.
		if _, err := spec.RenderVariantFile(spec.Variant{
			Name: req.Name, Description: req.Description, Model: req.Model, Dataset: req.Dataset,
			BaseRef: "main", BaseSHA: zeroSHA, Params: params,
		}); err != nil {
			return nil, fmt.Errorf("sweep: experiment %s: %w", names[i], err)
		}
		out[i] = Combination{Name: names[i], Values: values, Params: params, Request: req}
	}
	return out, nil
}

// hashLen is the length of the hexadecimal hash in a name that could not be
// made from the values: 32 bits, plenty to tell apart the few dozen
// experiments of a sweep; longer only if two would still clash.
const hashLen = 8

// names makes each combination's name: the prefix, then a part for each key
// whose value is not the same in all combinations (lr0.1, bs16,
// optimizer_adamw). A name that would be invalid, too long or shared with
// another combination is the prefix and a hash of the values instead.
func names(prefix string, keys []string, combos []combo) ([]string, error) {
	if len(combos) == 1 {
		return []string{prefix}, nil
	}
	var varying []string
	for _, k := range keys {
		if varies(k, combos) {
			varying = append(varying, k)
		}
	}
	labels := labelsFor(varying)
	out := make([]string, len(combos))
	hashed := make([]bool, len(combos))
	for i, co := range combos {
		parts := []string{prefix}
		for _, k := range varying {
			if v, ok := co.values[k]; ok {
				parts = append(parts, part(labels[k], v))
			}
		}
		out[i] = strings.Join(parts, "-")
		if spec.ValidName(out[i]) != nil {
			hashed[i] = true
		}
	}
	// Names that clash become hashes; hashes that clash grow longer. Each
	// round either hashes one more name or lengthens the hashes, so it ends.
	for n := hashLen; len(prefix)+1+n <= spec.MaxNameLen; {
		for i, co := range combos {
			if hashed[i] {
				sum := sha256.Sum256([]byte(canonical(co.values)))
				out[i] = prefix + "-" + hex.EncodeToString(sum[:])[:n]
			}
		}
		count := map[string]int{}
		for _, name := range out {
			count[name]++
		}
		clash, newly := false, false
		for i, name := range out {
			if count[name] > 1 {
				clash = true
				newly = newly || !hashed[i]
				hashed[i] = true
			}
		}
		if !clash {
			return out, nil
		}
		if !newly {
			n++
		}
	}
	// Needs two combinations whose values' SHA-256 agree in 15 digits.
	return nil, fmt.Errorf("sweep: cannot give the %d experiments distinct names", len(combos))
}

// varies reports whether k has different values, or is missing from some
// combinations and set in others.
func varies(k string, combos []combo) bool {
	first, had := combos[0].values[k]
	for _, co := range combos[1:] {
		v, has := co.values[k]
		if has != had || norm(v) != norm(first) {
			return true
		}
	}
	return false
}

// labelsFor abbreviates each key for names: its last dotted part, lowered,
// shortened to the initials of its words when it has several (batch_size
// is bs). Keys whose labels would clash keep their whole last part, or
// failing that the whole key with dots as "_": a shared label would make
// names hard to read (names stay unique regardless, see names).
func labelsFor(keys []string) map[string]string {
	labels := map[string]string{}
	pending := keys
	for _, f := range []func(string) string{short, last} {
		count := map[string]int{}
		for _, k := range pending {
			count[f(k)]++
		}
		var clash []string
		for _, k := range pending {
			if count[f(k)] > 1 {
				clash = append(clash, k)
			} else {
				labels[k] = f(k)
			}
		}
		pending = clash
	}
	for _, k := range pending {
		labels[k] = whole(k)
	}
	return labels
}

func last(k string) string {
	return strings.ToLower(k[strings.LastIndexByte(k, '.')+1:])
}

func short(k string) string {
	l := last(k)
	words := strings.FieldsFunc(l, func(r rune) bool { return r == '_' || r == '-' })
	if len(words) < 2 {
		return l
	}
	var b strings.Builder
	for _, w := range words {
		b.WriteByte(w[0])
	}
	return b.String()
}

func whole(k string) string {
	return strings.ToLower(strings.ReplaceAll(k, ".", "_"))
}

// part shows one value in a name: numbers follow the label directly (lr0.1,
// bs16), text and true/false after "_" (opt_adamw, fp16_true).
func part(label string, v any) string {
	switch x := v.(type) {
	case int64:
		return label + strconv.FormatInt(x, 10)
	case float64:
		s := strings.ReplaceAll(strconv.FormatFloat(x, 'g', -1, 64), "+", "")
		if !strings.ContainsAny(s, ".e") {
			s += ".0" // 3.0 is not the integer 3
		}
		return label + s
	case bool:
		return label + "_" + strconv.FormatBool(x)
	case string:
		return label + "_" + slug(x)
	}
	return label
}

// slug turns text into name characters: lowercase letters, digits, "." and
// "_" kept, runs of anything else one "-".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '.':
			if r == '.' && strings.HasSuffix(b.String(), ".") {
				continue // ".." is not allowed in a ref
			}
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.Trim(b.String(), "-._")
	if out == "" {
		return "x"
	}
	return out
}

// copyMap copies params deeply, so that experiments share nothing.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return copyMap(x)
	case []any:
		return slices.Clone(x)
	}
	return v
}

// setPath sets dotted key k in params, making the maps on the way. Parse
// has made sure that nothing on the way is a value.
func setPath(params map[string]any, k string, v any) {
	segs := strings.Split(k, ".")
	m := params
	for _, seg := range segs[:len(segs)-1] {
		next, ok := m[seg].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[seg] = next
		}
		m = next
	}
	m[segs[len(segs)-1]] = v
}

// countKeys counts keys at every depth, as spec's MaxParamKeys does.
func countKeys(m map[string]any) int {
	n := 0
	for _, v := range m {
		n++
		if sub, ok := v.(map[string]any); ok {
			n += countKeys(sub)
		}
	}
	return n
}
