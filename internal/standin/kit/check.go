package kit

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Failures collects Check failures.
type Failures []*pulumirpc.CheckFailure

// Add records a failure for property.
func (f *Failures) Add(property, format string, args ...any) {
	*f = append(*f, &pulumirpc.CheckFailure{Property: property, Reason: fmt.Sprintf(format, args...)})
}

// Required records a failure for each key that is absent (unknown is fine).
func (f *Failures) Required(pm resource.PropertyMap, keys ...string) {
	for _, k := range keys {
		if !Has(pm, k) {
			f.Add(k, "Missing required property '%s'", k)
		}
	}
}

// String records a failure for each present, known key that is not a string.
func (f *Failures) String(pm resource.PropertyMap, keys ...string) {
	for _, k := range keys {
		if !Known(pm, k) {
			continue
		}
		if !Plain(pm[resource.PropertyKey(k)]).IsString() {
			f.Add(k, "property '%s' must be a string", k)
		}
	}
}

// Bool records a failure for each present key that is not a boolean.
func (f *Failures) Bool(pm resource.PropertyMap, keys ...string) {
	for _, k := range keys {
		if _, _, err := Bool(pm, k); err != nil {
			f.Add(k, "%v", err)
		}
	}
}

// Int records a failure for each present key that is not a non-negative integer.
func (f *Failures) Int(pm resource.PropertyMap, keys ...string) {
	for _, k := range keys {
		n, _, err := Int(pm, k)
		switch {
		case err != nil:
			f.Add(k, "%v", err)
		case n < 0:
			f.Add(k, "property '%s' must not be negative", k)
		}
	}
}

// OneOf records a failure when key is set, known and not one of allowed.
func (f *Failures) OneOf(pm resource.PropertyMap, key string, allowed ...string) {
	if !Known(pm, key) {
		return
	}
	v := Str(pm, key)
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	f.Add(key, "expected %s to be one of %q, got %q", key, allowed, v)
}

// Default sets key to v when it is absent, like a Terraform schema Default.
func Default(pm resource.PropertyMap, key string, v resource.PropertyValue) {
	if !Has(pm, key) {
		pm[resource.PropertyKey(key)] = v
	}
}
