package sweep

import (
	"slices"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/spec"
)

func itoa(i int) string { return strconv.Itoa(i) }

// norm makes equal numbers equal map keys: -0.0 == 0.0 in Go, but not as
// interface values in a map.
func norm(v any) any {
	if f, ok := v.(float64); ok && f == 0 {
		return 0.0
	}
	return v
}

// check runs the rules that concern the file as a whole, once every part of
// it has been read.
func check(c *spec.Collector, s *Sweep) {
	axes := map[string]*axis{}
	for i := range s.axes {
		axes[s.axes[i].key] = &s.axes[i]
	}
	if len(s.exclude) > 0 && len(s.axes) == 0 {
		c.Addf(s.exclude[0].line, "`matrix.exclude` removes combinations of the lists of `matrix`, but there are none")
		return
	}
	// An exclude entry that can never match is a typo; GitHub ignores
	// it, which leaves the person wondering why nothing was excluded.
	for _, e := range s.exclude {
		for i, p := range e.pairs {
			a := axes[p.Key]
			switch {
			case a == nil:
				c.Addf(e.lines[i], "`matrix.exclude` names %s, which is not a list of `matrix`; exclude names only keys that have lists", code(p.Key))
			case !contains(a.values, p.Value):
				c.Addf(e.lines[i], "`matrix.exclude` gives %s the value %s, which is not in its list (line %d), so it would exclude nothing", code(p.Key), cell(p.Value), a.line)
			}
		}
	}
	conflicts(c, s)
	if c.Err() != nil {
		return
	}
	// Every experiment has at most the common params plus every key of the
	// matrix and include; spec counts keys at every depth.
	rep := copyMap(s.Params)
	for _, k := range sweepKeys(s) {
		setPath(rep, k, true)
	}
	if n := countKeys(rep); n > spec.MaxParamKeys {
		c.Addf(s.matrixLine, "with the keys of `matrix`, an experiment would have %d parameters (counting nested ones); the limit is %d", n, spec.MaxParamKeys)
		return
	}
	combos := expand(s)
	if len(combos) == 0 && (len(s.axes) > 0 || len(s.include) > 0) {
		c.Addf(s.matrixLine, "`matrix.exclude` removes every combination, so there is nothing to run; remove some exclude entries")
	}
	first := map[string]int{}
	for _, co := range combos {
		if co.entry < 0 {
			continue
		}
		id := canonical(co.values)
		if line, dup := first[id]; dup {
			c.Addf(s.include[co.entry].line, "this `include` entry adds the same combination as the one on line %d; remove one", line)
			continue
		}
		first[id] = s.include[co.entry].line
	}
}

func contains(list []any, v any) bool {
	for _, x := range list {
		if norm(x) == norm(v) {
			return true
		}
	}
	return false
}

// conflicts reports keys of the matrix and include that collide with the
// common params or with each other. The same key in params and in the
// matrix would leave it unclear which wins; one key under another
// ("optimizer" and "optimizer.name") cannot both be values.
func conflicts(c *spec.Collector, s *Sweep) {
	type use struct {
		key  string
		line int
	}
	var uses []use
	for _, a := range s.axes {
		uses = append(uses, use{a.key, a.line})
	}
	for _, e := range s.include {
		for i, p := range e.pairs {
			uses = append(uses, use{p.Key, e.lines[i]})
		}
	}
	common := spec.ParamsTable(s.Params)
	for _, u := range uses {
		for _, r := range common {
			switch {
			case r.Key == u.key:
				c.Addf(u.line, "%s is also in `params`; give it in one place: to vary it, remove it from `params`", code(u.key))
			case under(u.key, r.Key):
				c.Addf(u.line, "%s cannot sit under %s, which is a value in `params`; rename one", code(u.key), code(r.Key))
			case under(r.Key, u.key):
				c.Addf(u.line, "%s cannot be a value: `params` has %s under it; rename one", code(u.key), code(r.Key))
			}
		}
	}
	for _, u := range uses {
		for _, o := range uses {
			if under(u.key, o.key) {
				c.Addf(u.line, "%s cannot sit under %s, which is a value of the matrix (line %d); rename one", code(u.key), code(o.key), o.line)
			}
		}
	}
}

// under reports whether dotted key k is strictly below key p.
func under(k, p string) bool {
	return len(k) > len(p) && strings.HasPrefix(k, p) && k[len(p)] == '.'
}

// sweepKeys are the keys of the matrix and then those include adds, in the
// order written: the order of a combination's Values and of table columns.
func sweepKeys(s *Sweep) []string {
	var keys []string
	seen := map[string]bool{}
	for _, a := range s.axes {
		keys = append(keys, a.key)
		seen[a.key] = true
	}
	for _, e := range s.include {
		for _, p := range e.pairs {
			if !seen[p.Key] {
				keys = append(keys, p.Key)
				seen[p.Key] = true
			}
		}
	}
	return keys
}

// combo is one combination while it is being built. entry is the include
// entry that created it, or -1 for a combination of the lists.
type combo struct {
	values map[string]any
	entry  int
}

// expand applies GitHub Actions' matrix rules: the cartesian product of the
// lists (first list outermost), minus exclude (a partial match is enough),
// then each include entry is merged into every combination of the lists it
// does not contradict, or else becomes a combination of its own. Values an
// include entry merged in may be replaced by a later entry; values of the
// lists never are.
func expand(s *Sweep) []combo {
	var out []combo
	if len(s.axes) > 0 {
		idx := make([]int, len(s.axes))
		for {
			values := make(map[string]any, len(s.axes))
			for i, a := range s.axes {
				values[a.key] = a.values[idx[i]]
			}
			if !excluded(s.exclude, values) {
				out = append(out, combo{values: values, entry: -1})
			}
			// Odometer: the last list turns fastest.
			i := len(idx) - 1
			for i >= 0 {
				idx[i]++
				if idx[i] < len(s.axes[i].values) {
					break
				}
				idx[i] = 0
				i--
			}
			if i < 0 {
				break
			}
		}
	}
	isAxis := map[string]bool{}
	for _, a := range s.axes {
		isAxis[a.key] = true
	}
	originals := len(out)
	for n, e := range s.include {
		merged := false
		for _, co := range out[:originals] {
			if contradicts(e, co.values, isAxis) {
				continue
			}
			merged = true
			for _, p := range e.pairs {
				co.values[p.Key] = p.Value
			}
		}
		if !merged {
			values := make(map[string]any, len(e.pairs))
			for _, p := range e.pairs {
				values[p.Key] = p.Value
			}
			out = append(out, combo{values: values, entry: n})
		}
	}
	return out
}

func excluded(exclude []entry, values map[string]any) bool {
	for _, e := range exclude {
		match := true
		for _, p := range e.pairs {
			if norm(values[p.Key]) != norm(p.Value) {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// contradicts reports whether entry e would change a value that one of the
// lists gave the combination.
func contradicts(e entry, values map[string]any, isAxis map[string]bool) bool {
	for _, p := range e.pairs {
		if isAxis[p.Key] && norm(values[p.Key]) != norm(p.Value) {
			return true
		}
	}
	return false
}

// canonical encodes a combination's values, types included, so that equal
// combinations and only they encode the same. It feeds duplicate checks
// and the hashed names.
func canonical(values map[string]any) string {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(strconv.Quote(k))
		b.WriteByte('=')
		switch x := norm(values[k]).(type) {
		case string:
			b.WriteString("s" + strconv.Quote(x))
		case int64:
			b.WriteString("i" + strconv.FormatInt(x, 10))
		case float64:
			b.WriteString("f" + strconv.FormatFloat(x, 'g', -1, 64))
		case bool:
			b.WriteString("b" + strconv.FormatBool(x))
		}
		b.WriteByte(';')
	}
	return b.String()
}
