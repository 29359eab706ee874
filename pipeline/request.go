package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/expbot/expbot/internal/spec"
)

// Requests are stored as JSON, which cannot tell 32 from 32.0 by itself.
// The variant file must keep the type a person wrote (Pulumi diffs it byte
// for byte), so floats are written with a decimal point or exponent and
// read back as floats, whole numbers as int64.

// encodeRequest stores a parsed request.
func encodeRequest(r spec.Request) (json.RawMessage, error) {
	typed := r
	typed.Params = typedMap(r.Params)
	b, err := json.Marshal(typed)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return b, nil
}

// decodeRequest reads a stored request back with its number types.
func decodeRequest(raw json.RawMessage) (spec.Request, error) {
	var r spec.Request
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return spec.Request{}, fmt.Errorf("decode stored request: %w", err)
	}
	p, err := untyped(r.Params)
	if err != nil {
		return spec.Request{}, err
	}
	r.Params, _ = p.(map[string]any)
	if r.Params == nil {
		r.Params = map[string]any{}
	}
	return r, nil
}

func typedMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = typed(v)
	}
	return out
}

func typed(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) { // not JSON numbers; the parser refuses them anyway
			return strconv.FormatFloat(x, 'g', -1, 64)
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return json.Number(s)
	case map[string]any:
		return typedMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = typed(e)
		}
		return out
	default:
		return v
	}
}

func untyped(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("stored float %q: %w", s, err)
			}
			return f, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("stored integer %q: %w", s, err)
		}
		return n, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			u, err := untyped(e)
			if err != nil {
				return nil, err
			}
			out[k] = u
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			u, err := untyped(e)
			if err != nil {
				return nil, err
			}
			out[i] = u
		}
		return out, nil
	default:
		return v, nil
	}
}
