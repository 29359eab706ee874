package pipeline

import (
	"reflect"
	"testing"

	"github.com/expbot/expbot/internal/spec"
)

func TestRequestRoundTripKeepsNumberTypes(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]any
	}{
		{"whole float stays float", map[string]any{"batch": float64(32)}},
		{"int stays int", map[string]any{"batch": int64(32)}},
		{"small and huge floats", map[string]any{"lr": 3e-4, "big": 1e21, "neg": -0.5}},
		{"largest int", map[string]any{"seed": int64(9223372036854775807)}},
		{"nested and lists", map[string]any{"opt": map[string]any{"wd": float64(0), "steps": int64(10), "betas": []any{0.9, 0.999, int64(1)}}, "on": true, "name": "adamw"}},
		{"no params", map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := spec.Request{Name: "x", Base: "main", Params: tt.params}
			raw, err := encodeRequest(in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := decodeRequest(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(in, out) {
				t.Errorf("round trip changed the request:\n in  %#v\n out %#v\n via %s", in, out, raw)
			}
		})
	}
}
