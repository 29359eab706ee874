package sweep

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/expbot/expbot/internal/spec"
)

func mustParse(t *testing.T, file string) Sweep {
	t.Helper()
	s, err := Parse([]byte(file))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return s
}

// values shows a combination's Values as "k=v k=v" for comparisons.
func values(c Combination) string {
	parts := make([]string, len(c.Values))
	for i, v := range c.Values {
		parts[i] = v.Key + "=" + cell(v.Value)
	}
	return strings.Join(parts, " ")
}

func TestExpandSemantics(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       []string // Name: values
	}{
		{
			// The example of GitHub's documentation on include.
			"github include example",
			"matrix:\n  fruit: [apple, pear]\n  animal: [cat, dog]\n  include:\n" +
				"    - color: green\n    - {color: pink, animal: cat}\n    - {fruit: apple, shape: circle}\n" +
				"    - fruit: banana\n    - {fruit: banana, animal: cat}\n",
			[]string{
				"sweep-HASH: fruit=`apple` animal=`cat` color=`pink` shape=`circle`",
				"sweep-HASH: fruit=`apple` animal=`dog` color=`green` shape=`circle`",
				"sweep-fruit_pear-animal_cat-color_pink: fruit=`pear` animal=`cat` color=`pink`",
				"sweep-fruit_pear-animal_dog-color_green: fruit=`pear` animal=`dog` color=`green`",
				"sweep-fruit_banana: fruit=`banana`",
				"sweep-fruit_banana-animal_cat: fruit=`banana` animal=`cat`",
			},
		},
		{
			"brief example",
			"name: lr-sweep\nmatrix:\n  lr: [0.1, 0.01]\n  batch_size: [16, 32]\n  include:\n    - {lr: 0.001, batch_size: 64}\n  exclude:\n    - {lr: 0.1, batch_size: 32}\n",
			[]string{
				"lr-sweep-lr0.1-bs16: lr=`0.1` batch_size=`16`",
				"lr-sweep-lr0.01-bs16: lr=`0.01` batch_size=`16`",
				"lr-sweep-lr0.01-bs32: lr=`0.01` batch_size=`32`",
				"lr-sweep-lr0.001-bs64: lr=`0.001` batch_size=`64`",
			},
		},
		{
			// A partial exclude drops every combination it matches; an
			// include may bring one back (exclude comes first).
			"partial exclude then include",
			"matrix:\n  a: [1, 2]\n  b: [x, y]\n  exclude:\n    - a: 1\n  include:\n    - {a: 1, b: x}\n",
			[]string{"sweep-a2-b_x: a=`2` b=`x`", "sweep-a2-b_y: a=`2` b=`\"y\"`", "sweep-a1-b_x: a=`1` b=`x`"},
		},
		{
			// Later include entries may replace what earlier ones added,
			// never the values of the lists.
			"include overrides include",
			"matrix:\n  a: [1, 2]\n  include:\n    - {epochs: 3}\n    - {a: 2, epochs: 10}\n",
			[]string{"sweep-a1-epochs3: a=`1` epochs=`3`", "sweep-a2-epochs10: a=`2` epochs=`10`"},
		},
		{
			// Constant keys do not appear in names.
			"constant key",
			"matrix:\n  a: [1, 2]\n  b: [x]\n",
			[]string{"sweep-a1: a=`1` b=`x`", "sweep-a2: a=`2` b=`x`"},
		},
		{"no matrix", "name: solo\nparams: {lr: 1}\n", []string{"solo: "}},
		{"one combination", "matrix:\n  lr: [0.1]\n", []string{"sweep: lr=`0.1`"}},
		{"include only", "matrix:\n  include:\n    - {lr: 1}\n    - {lr: 2}\n", []string{"sweep-lr1: lr=`1`", "sweep-lr2: lr=`2`"}},
		{
			"types and labels",
			"matrix:\n  opt.name: [Adam W, sgd]\n  fp16: [true, false]\n  x: [3.0, -1e+20]\n",
			[]string{
				"sweep-name_adam-w-fp16_true-x3.0: opt.name=`Adam W` fp16=`true` x=`3.0`",
				"sweep-name_adam-w-fp16_true-x-1e20: opt.name=`Adam W` fp16=`true` x=`-1.0e+20`",
				"sweep-name_adam-w-fp16_false-x3.0: opt.name=`Adam W` fp16=`false` x=`3.0`",
				"sweep-name_adam-w-fp16_false-x-1e20: opt.name=`Adam W` fp16=`false` x=`-1.0e+20`",
				"sweep-name_sgd-fp16_true-x3.0: opt.name=`sgd` fp16=`true` x=`3.0`",
				"sweep-name_sgd-fp16_true-x-1e20: opt.name=`sgd` fp16=`true` x=`-1.0e+20`",
				"sweep-name_sgd-fp16_false-x3.0: opt.name=`sgd` fp16=`false` x=`3.0`",
				"sweep-name_sgd-fp16_false-x-1e20: opt.name=`sgd` fp16=`false` x=`-1.0e+20`",
			},
		},
		{
			// batch_size and beam_size would both be "bs".
			"label clash",
			"matrix:\n  batch_size: [1, 2]\n  beam_size: [3]\n  include:\n    - {beam_size: 4, batch_size: 1}\n",
			[]string{"sweep-batch_size1-beam_size3: batch_size=`1` beam_size=`3`", "sweep-batch_size2-beam_size3: batch_size=`2` beam_size=`3`", "sweep-batch_size1-beam_size4: batch_size=`1` beam_size=`4`"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			combos, err := mustParse(t, tc.file).Expand(0)
			if err != nil {
				t.Fatal(err)
			}
			// HASH in a wanted name stands for a hash (the readable name
			// would be longer than spec.MaxNameLen).
			got := make([]string, len(combos))
			for i, c := range combos {
				got[i] = c.Name + ": " + values(c)
				if i < len(tc.want) && strings.Contains(tc.want[i], "HASH") {
					prefix, _, _ := strings.Cut(tc.want[i], "HASH")
					if h, ok := strings.CutPrefix(c.Name, prefix); ok && len(h) == hashLen && strings.Trim(h, "0123456789abcdef") == "" {
						got[i] = strings.Replace(got[i], h, "HASH", 1)
					}
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestExpandRequest(t *testing.T) {
	s := mustParse(t, "name: lr\ndescription: d\nmodel: m\ndataset: ds\nparams:\n  epochs: 3\n  opt: {betas: [0.9, 0.95]}\nmatrix:\n  opt.name: [adamw, sgd]\n")
	combos, err := s.Expand(0)
	if err != nil {
		t.Fatal(err)
	}
	want := spec.Request{Name: "lr-name_adamw", Description: "d", Model: "m", Dataset: "ds", Params: map[string]any{
		"epochs": int64(3), "opt": map[string]any{"betas": []any{0.9, 0.95}, "name": "adamw"},
	}}
	if !reflect.DeepEqual(combos[0].Request, want) || !reflect.DeepEqual(combos[0].Params, want.Params) {
		t.Fatalf("got %#v", combos[0])
	}
	// Experiments share nothing with each other or with the sweep.
	combos[0].Params["opt"].(map[string]any)["betas"].([]any)[0] = 0.5
	if s.Params["opt"].(map[string]any)["betas"].([]any)[0] != 0.9 || combos[1].Params["opt"].(map[string]any)["betas"].([]any)[0] != 0.9 {
		t.Fatal("params are shared")
	}
	// Deterministic: the same sweep, the same experiments.
	again, _ := s.Expand(0)
	again[0].Params["opt"].(map[string]any)["betas"].([]any)[0] = 0.5
	if !reflect.DeepEqual(again, combos) {
		t.Fatal("second expansion differs")
	}
}

func TestExpandLimit(t *testing.T) {
	s := mustParse(t, "matrix:\n  a: ["+nums(10)+"]\n  b: ["+nums(7)+"]\n")
	_, err := s.Expand(0)
	var probs *spec.Problems
	if !errors.As(err, &probs) || len(probs.List) != 1 || probs.List[0].Line != 1 ||
		!strings.Contains(probs.List[0].Msg, "makes 70 experiments; the limit is 64") {
		t.Fatalf("err = %v", err)
	}
	if combos, err := s.Expand(70); err != nil || len(combos) != 70 {
		t.Fatalf("limit 70: %d, %v", len(combos), err)
	}
	if _, err := s.Expand(69); err == nil || !strings.Contains(err.Error(), "the limit is 69") {
		t.Fatalf("limit 69: %v", err)
	}
}

func TestExpandHashedNames(t *testing.T) {
	long := strings.Repeat("long-value-", 5)
	s := mustParse(t, "name: "+strings.Repeat("p", MaxNameLen)+"\nmatrix:\n  text: [a, "+long+"1, "+long+"2]\n")
	combos, err := s.Expand(0)
	if err != nil {
		t.Fatal(err)
	}
	prefix := strings.Repeat("p", MaxNameLen)
	if combos[0].Name != prefix+"-text_a" {
		t.Errorf("short value: %q", combos[0].Name)
	}
	for _, c := range combos[1:] {
		hash := strings.TrimPrefix(c.Name, prefix+"-")
		if len(hash) != hashLen || strings.Trim(hash, "0123456789abcdef") != "" {
			t.Errorf("long value: %q is not the prefix and a hash", c.Name)
		}
	}
	if combos[1].Name == combos[2].Name {
		t.Error("hashed names clash")
	}
	// Values that make the same readable name get hashes, both of them.
	s = mustParse(t, "matrix:\n  v: [\"a b\", \"a-b\", c]\n")
	combos, err = s.Expand(0)
	if err != nil {
		t.Fatal(err)
	}
	if combos[2].Name != "sweep-v_c" || strings.HasPrefix(combos[0].Name, "sweep-v_") || combos[0].Name == combos[1].Name {
		t.Fatalf("names %q %q %q", combos[0].Name, combos[1].Name, combos[2].Name)
	}
}

func TestNamesEscalate(t *testing.T) {
	// Find a combination B whose readable name is too long, so it gets a
	// hash, and whose hash reads as a readable name: a letter then an
	// integer. A combination A with that letter as key and that integer
	// as value then has B's hashed name as its readable one; both must end
	// up hashed, and distinct.
	long := strings.Repeat("v", spec.MaxNameLen)
	for i := 0; i < 100000; i++ {
		for _, key := range []string{"a", "b", "c", "d", "e", "f"} {
			b := map[string]any{key: long + itoa(i)}
			sum := sha256.Sum256([]byte(canonical(b)))
			h := hex.EncodeToString(sum[:])[:hashLen]
			n, err := strconv.ParseInt(h[1:], 10, 64)
			if h[0] != key[0] || err != nil || itoa(int(n)) != h[1:] {
				continue
			}
			combos := []combo{{values: map[string]any{key: n}}, {values: b}}
			got, err := names("p", []string{key}, combos)
			if err != nil {
				t.Fatal(err)
			}
			if got[1] != "p-"+h || got[0] == "p-"+h || got[0] == got[1] || spec.ValidName(got[0]) != nil {
				t.Fatalf("names %q, hash of B %q", got, h)
			}
			return
		}
	}
	t.Fatal("no such combination found")
}

func TestExpandHandMade(t *testing.T) {
	combos, err := Sweep{}.Expand(1)
	if err != nil || len(combos) != 1 || combos[0].Name != DefaultName || combos[0].Params == nil {
		t.Fatalf("%#v, %v", combos, err)
	}
	if _, err := (Sweep{Name: "Bad"}).Expand(1); err == nil {
		t.Fatal("bad prefix accepted")
	}
}
