package kit

import (
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Schema describes one resource type for the generic Diff and preview logic.
// It mirrors the Terraform schema flags the official (bridged) providers use.
type Schema struct {
	// Token is the Pulumi type token, e.g. "github:index/branch:Branch".
	Token string
	// Inputs lists every input property.
	Inputs []string
	// Replace lists inputs whose change forces replacement (TF ForceNew).
	Replace []string
	// OptionalComputed lists inputs the provider fills in when they are not
	// set: their absence from the new inputs is not a change.
	OptionalComputed []string
	// Outputs lists output-only properties; they are unknown during a preview.
	Outputs []string
}

// Diff compares the old state with the new (checked) inputs the way a
// bridged provider does: only inputs are compared, absent optional+computed
// inputs keep their state value, and secrets do not affect equality.
func (s Schema) Diff(olds, news resource.PropertyMap, ignore ...string) *pulumirpc.DiffResponse {
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		HasDetailedDiff: true,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
	}
	keys := slices.Clone(s.Inputs)
	slices.Sort(keys)
	for _, key := range keys {
		if slices.Contains(ignore, key) {
			continue
		}
		kind, changed := s.diffKey(olds, news, key)
		if !changed {
			continue
		}
		if slices.Contains(s.Replace, key) {
			kind = replaceKind(kind)
			resp.Replaces = append(resp.Replaces, key)
		}
		resp.Diffs = append(resp.Diffs, key)
		resp.DetailedDiff[key] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp
}

func (s Schema) diffKey(olds, news resource.PropertyMap, key string) (pulumirpc.PropertyDiff_Kind, bool) {
	hasOld, hasNew := Has(olds, key), Has(news, key)
	switch {
	case !hasNew && slices.Contains(s.OptionalComputed, key):
		return 0, false
	case !hasOld && !hasNew:
		return 0, false
	case !hasOld:
		return pulumirpc.PropertyDiff_ADD, true
	case !hasNew:
		return pulumirpc.PropertyDiff_DELETE, true
	}
	o := Plain(olds[resource.PropertyKey(key)])
	n := Plain(news[resource.PropertyKey(key)])
	if n.ContainsUnknowns() || !o.DeepEquals(n) {
		return pulumirpc.PropertyDiff_UPDATE, true
	}
	return 0, false
}

func replaceKind(k pulumirpc.PropertyDiff_Kind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case pulumirpc.PropertyDiff_ADD:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case pulumirpc.PropertyDiff_DELETE:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	default:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	}
}

// PreviewOutputs returns what Create/Update report during a preview: the
// known state and inputs, with every provider-computed value unknown.
func (s Schema) PreviewOutputs(olds, news resource.PropertyMap) resource.PropertyMap {
	outs := Copy(olds)
	for k, v := range news {
		outs[k] = v
	}
	unknown := resource.MakeComputed(resource.NewStringProperty(""))
	for _, k := range s.Outputs {
		outs[resource.PropertyKey(k)] = unknown
	}
	for _, k := range s.OptionalComputed {
		if !Has(news, k) && !Has(olds, k) {
			outs[resource.PropertyKey(k)] = unknown
		}
	}
	return outs
}
