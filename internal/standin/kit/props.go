package kit

import (
	"fmt"
	"math"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"google.golang.org/protobuf/types/known/structpb"
)

// Unmarshal decodes a gRPC property struct. Secrets and unknowns are kept so
// that the server can carry secretness over to outputs and so that Check and
// Diff can see values that are not known yet during a preview.
func Unmarshal(s *structpb.Struct, label string) (resource.PropertyMap, error) {
	if s == nil {
		return resource.PropertyMap{}, nil
	}
	pm, err := plugin.UnmarshalProperties(s, plugin.MarshalOptions{
		Label:        label,
		KeepUnknowns: true,
		KeepSecrets:  true,
		SkipNulls:    true,
	})
	if err != nil {
		return nil, fmt.Errorf("unmarshal %s: %w", label, err)
	}
	return pm, nil
}

// Marshal encodes a property map for the engine, keeping secrets and unknowns.
func Marshal(pm resource.PropertyMap, label string) (*structpb.Struct, error) {
	s, err := plugin.MarshalProperties(pm, plugin.MarshalOptions{
		Label:        label,
		KeepUnknowns: true,
		KeepSecrets:  true,
	})
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", label, err)
	}
	return s, nil
}

// Plain returns v with secret and output wrappers removed, recursively. An
// unknown output becomes a computed value so that callers can test IsComputed.
func Plain(v resource.PropertyValue) resource.PropertyValue {
	switch {
	case v.IsSecret():
		return Plain(v.SecretValue().Element)
	case v.IsOutput():
		o := v.OutputValue()
		if !o.Known {
			return resource.MakeComputed(resource.NewStringProperty(""))
		}
		return Plain(o.Element)
	case v.IsArray():
		in := v.ArrayValue()
		out := make([]resource.PropertyValue, len(in))
		for i, e := range in {
			out[i] = Plain(e)
		}
		return resource.NewArrayProperty(out)
	case v.IsObject():
		in := v.ObjectValue()
		out := make(resource.PropertyMap, len(in))
		for k, e := range in {
			out[k] = Plain(e)
		}
		return resource.NewObjectProperty(out)
	default:
		return v
	}
}

// Has reports whether key is present and not null (unknown counts as present:
// during a preview a required input may legitimately be unknown).
func Has(pm resource.PropertyMap, key string) bool {
	v, ok := pm[resource.PropertyKey(key)]
	return ok && !Plain(v).IsNull()
}

// Known reports whether key is present, not null and fully known.
func Known(pm resource.PropertyMap, key string) bool {
	v, ok := pm[resource.PropertyKey(key)]
	if !ok {
		return false
	}
	p := Plain(v)
	return !p.IsNull() && !p.ContainsUnknowns()
}

// Str returns the string value of key, or "" when absent, unknown or not a
// string. Numbers are formatted, because stack config arrives as strings and
// programs sometimes pass IDs as numbers.
func Str(pm resource.PropertyMap, key string) string {
	v, ok := pm[resource.PropertyKey(key)]
	if !ok {
		return ""
	}
	p := Plain(v)
	switch {
	case p.IsString():
		return p.StringValue()
	case p.IsNumber():
		return strconv.FormatFloat(p.NumberValue(), 'f', -1, 64)
	default:
		return ""
	}
}

// Bool returns the boolean value of key (accepting "true"/"false" strings,
// as stack config delivers them) and whether it was set.
func Bool(pm resource.PropertyMap, key string) (value, set bool, err error) {
	v, ok := pm[resource.PropertyKey(key)]
	if !ok {
		return false, false, nil
	}
	p := Plain(v)
	switch {
	case p.IsNull(), p.IsComputed():
		return false, false, nil
	case p.IsBool():
		return p.BoolValue(), true, nil
	case p.IsString():
		b, err := strconv.ParseBool(p.StringValue())
		if err != nil {
			return false, false, fmt.Errorf("property %q: %q is not a boolean", key, p.StringValue())
		}
		return b, true, nil
	default:
		return false, false, fmt.Errorf("property %q is not a boolean", key)
	}
}

// Int returns the integer value of key (accepting numeric strings) and
// whether it was set.
func Int(pm resource.PropertyMap, key string) (value int, set bool, err error) {
	v, ok := pm[resource.PropertyKey(key)]
	if !ok {
		return 0, false, nil
	}
	p := Plain(v)
	switch {
	case p.IsNull(), p.IsComputed():
		return 0, false, nil
	case p.IsNumber():
		f := p.NumberValue()
		if f != math.Trunc(f) {
			return 0, false, fmt.Errorf("property %q: %v is not an integer", key, f)
		}
		return int(f), true, nil
	case p.IsString():
		n, err := strconv.Atoi(p.StringValue())
		if err != nil {
			return 0, false, fmt.Errorf("property %q: %q is not an integer", key, p.StringValue())
		}
		return n, true, nil
	default:
		return 0, false, fmt.Errorf("property %q is not an integer", key)
	}
}

// BoolOr returns the boolean value of key, or def when unset or malformed
// (Check reports malformed values; CRUD code only needs a value).
func BoolOr(pm resource.PropertyMap, key string, def bool) bool {
	b, set, err := Bool(pm, key)
	if err != nil || !set {
		return def
	}
	return b
}

// SetStr sets key to a string value.
func SetStr(pm resource.PropertyMap, key, v string) {
	pm[resource.PropertyKey(key)] = resource.NewStringProperty(v)
}

// SetBool sets key to a boolean value.
func SetBool(pm resource.PropertyMap, key string, v bool) {
	pm[resource.PropertyKey(key)] = resource.NewBoolProperty(v)
}

// SetNum sets key to a number value.
func SetNum(pm resource.PropertyMap, key string, v float64) {
	pm[resource.PropertyKey(key)] = resource.NewNumberProperty(v)
}

// Copy returns a shallow copy of pm (property values are immutable in use).
func Copy(pm resource.PropertyMap) resource.PropertyMap {
	out := make(resource.PropertyMap, len(pm))
	for k, v := range pm {
		out[k] = v
	}
	return out
}

// Pick copies the listed keys that are present in src.
func Pick(src resource.PropertyMap, keys ...string) resource.PropertyMap {
	out := resource.PropertyMap{}
	for _, k := range keys {
		if v, ok := src[resource.PropertyKey(k)]; ok {
			out[resource.PropertyKey(k)] = v
		}
	}
	return out
}

// AnnotateSecrets marks outputs secret where the input of the same key holds
// a secret; the engine does the same for providers that do not accept secrets.
func AnnotateSecrets(outs, ins resource.PropertyMap) {
	for key, in := range ins {
		out, ok := outs[key]
		if !ok {
			continue
		}
		if out.IsObject() && in.IsObject() {
			AnnotateSecrets(out.ObjectValue(), in.ObjectValue())
			continue
		}
		if !out.IsSecret() && in.ContainsSecrets() {
			outs[key] = resource.MakeSecret(out)
		}
	}
}
