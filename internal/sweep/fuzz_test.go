package sweep

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/config"
	"github.com/expbot/expbot/internal/spec"
)

var fuzzSeeds = []string{
	"",
	"name: lr-sweep\nmatrix:\n  lr: [0.1, 0.01]\n  batch_size: [16, 32]\n  include:\n    - {lr: 0.001, batch_size: 64}\n  exclude:\n    - {lr: 0.1, batch_size: 32}\n",
	"matrix:\n  fruit: [apple, pear]\n  animal: [cat, dog]\n  include:\n    - color: green\n    - {color: pink, animal: cat}\n    - {fruit: apple, shape: circle}\n    - fruit: banana\n    - {fruit: banana, animal: cat}\n",
	"name: n\nbranch: x/{forge}/{tag}/{name}\ndescription: |\n  two\n  lines\nmodel: m\ndataset: d\nparams:\n  a: {b: {c: [1, x]}}\n  s: \"007\"\nmatrix:\n  a.z: [yes, 2024-01-01, \"1:30\", -0.0, 1e300]\n",
	"params:\n  a: &x 1\n  b: *x\nmatrix: {<<: {c: 1}}\n",
	"  params:\n    lr: 1\n  matrix:\n    v: [\"a b\", \"a-b\", \"A B\", \"\"]\n...\n",
	"matrix:\n  s: [\"\\u0085\", \"\\t\", \"x\\ny\", \"a..b\", \"x.lock\", \"-\"]\n  include:\n    - {s: \"\\u0085\", t: 1}\n",
	"name: a\n---\nname: b\n",
	"matrix:\n  a: [1, 2, 3]\n  b: [1.0, 2.0]\n  exclude:\n    - {a: 1}\n    - {b: 2.0}\n",
}

func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		s, err := Parse([]byte(file))
		if err != nil {
			checkProblems(t, file, err)
			if !reflect.DeepEqual(s, Sweep{}) {
				t.Fatalf("sweep %+v returned with an error", s)
			}
			return
		}
		if spec.ValidName(s.Name) != nil || len(s.Name) > MaxNameLen || ValidateTemplate(s.Branch) != nil || s.Params == nil {
			t.Fatalf("accepted %+v", s)
		}
		again, err := Parse([]byte(file))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("second parse differs: %v", err)
		}
		checkExpand(t, s, MaxProduct+MaxEntries)
	})
}

// FuzzExpand builds matrices from a few bytes, which reaches the include
// and exclude rules and the naming far more often than whole files do.
func FuzzExpand(f *testing.F) {
	f.Add([]byte{2, 3, 1, 0, 1, 2, 3, 4, 5, 6}, uint8(10))
	f.Add([]byte{0, 0, 0, 1, 1, 1}, uint8(0))
	f.Add([]byte{4, 4, 4, 9, 200, 17, 33, 65, 129, 255, 7}, uint8(64))
	f.Fuzz(func(t *testing.T, b []byte, limit uint8) {
		file := matrixFile(b)
		s, err := Parse([]byte(file))
		if err != nil {
			var probs *spec.Problems
			if !errors.As(err, &probs) {
				t.Fatalf("%s\nerr = %v", file, err)
			}
			return
		}
		checkExpand(t, s, int(limit))
	})
}

// matrixFile turns bytes into a sweep file: up to 3 lists of up to 4 values,
// then include and exclude entries, keys and values picked from small sets
// so that they often coincide.
func matrixFile(b []byte) string {
	next := func() int {
		if len(b) == 0 {
			return 0
		}
		x := int(b[0])
		b = b[1:]
		return x
	}
	keys := []string{"lr", "batch_size", "beam_size", "opt.name", "opt.lr", "seed"}
	vals := []string{"1", "2", "0.1", "1.0", "true", "x", "\"x y\"", "\"X-Y\"", strings.Repeat("v", 50), "\"1\""}
	var f strings.Builder
	f.WriteString("name: f\nmatrix:\n")
	used := map[string]bool{}
	for range next() % 4 {
		k := keys[next()%len(keys)]
		if used[k] {
			continue
		}
		used[k] = true
		f.WriteString("  " + k + ": [")
		seen := map[string]bool{}
		var vs []string
		for range 1 + next()%4 {
			v := vals[next()%len(vals)]
			if !seen[v] {
				seen[v] = true
				vs = append(vs, v)
			}
		}
		f.WriteString(strings.Join(vs, ", ") + "]\n")
	}
	for _, which := range []string{"include", "exclude"} {
		n := next() % 5
		if n == 0 {
			continue
		}
		f.WriteString("  " + which + ":\n")
		for range n {
			var pairs []string
			seen := map[string]bool{}
			for range 1 + next()%3 {
				k := keys[next()%len(keys)]
				if !seen[k] {
					seen[k] = true
					pairs = append(pairs, k+": "+vals[next()%len(vals)])
				}
			}
			f.WriteString("    - {" + strings.Join(pairs, ", ") + "}\n")
		}
	}
	return f.String()
}

// checkExpand is what must hold for any sweep Parse accepts.
func checkExpand(t *testing.T, s Sweep, limit int) {
	t.Helper()
	combos, err := s.Expand(limit)
	if limit <= 0 {
		limit = config.DefaultSweepLimit
	}
	if err != nil {
		var probs *spec.Problems
		if !errors.As(err, &probs) || len(probs.List) != 1 || !strings.Contains(probs.List[0].Msg, "the limit is") {
			t.Fatalf("Expand(%d): %v", limit, err)
		}
		return
	}
	if len(combos) == 0 || len(combos) > limit {
		t.Fatalf("%d experiments, limit %d", len(combos), limit)
	}
	seen := map[string]bool{}
	for _, c := range combos {
		if err := spec.ValidName(c.Name); err != nil {
			t.Fatalf("name %q: %v", c.Name, err)
		}
		if seen[c.Name] {
			t.Fatalf("name %q twice", c.Name)
		}
		seen[c.Name] = true
		if c.Request.Name != c.Name || !reflect.DeepEqual(c.Request.Params, c.Params) {
			t.Fatalf("request %#v does not match", c.Request)
		}
		if _, err := BranchName(s.Branch, "v1.0", c.Name, "github"); err != nil {
			t.Fatalf("branch: %v", err)
		}
		// What the experiment holds is a request spec accepts, and its
		// variant file reads back the same.
		file, err := spec.RenderVariantFile(spec.Variant{Name: c.Name, BaseRef: "v1.0", BaseSHA: zeroSHA, Params: c.Params,
			Description: c.Request.Description, Model: c.Request.Model, Dataset: c.Request.Dataset})
		if err != nil {
			t.Fatal(err)
		}
		v, err := spec.ParseVariantFile(file)
		if err != nil || !reflect.DeepEqual(v.Params, c.Params) {
			t.Fatalf("variant file does not read back: %v", err)
		}
	}
	table := MarkdownTable(combos, func(n string) string { return "https://f.example/" + n })
	if rows := strings.Count(table, "\n"); rows < 3 || len(table) > spec.MaxTableBytes+1024 {
		t.Fatalf("table of %d lines, %d bytes", rows, len(table))
	}
}

// checkProblems is what must hold for any refused file: problems with lines
// inside the file, messages that are not empty.
func checkProblems(t *testing.T, file string, err error) {
	t.Helper()
	var probs *spec.Problems
	if !errors.As(err, &probs) || len(probs.List) == 0 || len(probs.List) > spec.MaxProblems+1 {
		t.Fatalf("err = %v", err)
	}
	lines := strings.Count(strings.ReplaceAll(strings.ReplaceAll(file, "\r\n", "\n"), "\r", "\n"), "\n") + 1
	for _, p := range probs.List {
		if p.Line < 0 || p.Line > lines || p.Msg == "" {
			t.Fatalf("problem %q outside the file's %d lines", p.String(), lines)
		}
	}
}
