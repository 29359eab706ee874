package kit

import (
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func TestSchemaDiff(t *testing.T) {
	s := Schema{
		Inputs:           []string{"a", "b", "c", "opt"},
		Replace:          []string{"a"},
		OptionalComputed: []string{"opt"},
	}
	str := resource.NewStringProperty
	unknown := resource.MakeComputed(str(""))
	tests := []struct {
		name         string
		olds, news   resource.PropertyMap
		ignore       []string
		wantDiffs    []string
		wantReplaces []string
		wantKinds    map[string]pulumirpc.PropertyDiff_Kind
	}{
		{name: "no change", olds: resource.PropertyMap{"a": str("x"), "out": str("o")}, news: resource.PropertyMap{"a": str("x")}},
		{
			name: "replace key changes", olds: resource.PropertyMap{"a": str("x")}, news: resource.PropertyMap{"a": str("y")},
			wantDiffs: []string{"a"}, wantReplaces: []string{"a"},
			wantKinds: map[string]pulumirpc.PropertyDiff_Kind{"a": pulumirpc.PropertyDiff_UPDATE_REPLACE},
		},
		{
			name: "update key added and removed", olds: resource.PropertyMap{"c": str("1")}, news: resource.PropertyMap{"b": str("2")},
			wantDiffs: []string{"b", "c"},
			wantKinds: map[string]pulumirpc.PropertyDiff_Kind{"b": pulumirpc.PropertyDiff_ADD, "c": pulumirpc.PropertyDiff_DELETE},
		},
		{name: "absent optional computed keeps state", olds: resource.PropertyMap{"opt": str("sha")}, news: resource.PropertyMap{}},
		{
			name: "explicit optional computed differs", olds: resource.PropertyMap{"opt": str("sha")}, news: resource.PropertyMap{"opt": str("other")},
			wantDiffs: []string{"opt"},
			wantKinds: map[string]pulumirpc.PropertyDiff_Kind{"opt": pulumirpc.PropertyDiff_UPDATE},
		},
		{name: "secretness alone is no change", olds: resource.PropertyMap{"b": str("s")}, news: resource.PropertyMap{"b": resource.MakeSecret(str("s"))}},
		{
			name: "unknown new value is a change", olds: resource.PropertyMap{"a": str("x")}, news: resource.PropertyMap{"a": unknown},
			wantDiffs: []string{"a"}, wantReplaces: []string{"a"},
			wantKinds: map[string]pulumirpc.PropertyDiff_Kind{"a": pulumirpc.PropertyDiff_UPDATE_REPLACE},
		},
		{name: "ignored", olds: resource.PropertyMap{"a": str("x")}, news: resource.PropertyMap{"a": str("y")}, ignore: []string{"a"}},
		{name: "outputs are not compared", olds: resource.PropertyMap{"sha": str("1")}, news: resource.PropertyMap{"sha": str("2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Diff(tt.olds, tt.news, tt.ignore...)
			if !slices.Equal(got.Diffs, tt.wantDiffs) {
				t.Errorf("diffs = %v, want %v", got.Diffs, tt.wantDiffs)
			}
			if !slices.Equal(got.Replaces, tt.wantReplaces) {
				t.Errorf("replaces = %v, want %v", got.Replaces, tt.wantReplaces)
			}
			wantChanges := pulumirpc.DiffResponse_DIFF_NONE
			if len(tt.wantDiffs) > 0 {
				wantChanges = pulumirpc.DiffResponse_DIFF_SOME
			}
			if got.Changes != wantChanges {
				t.Errorf("changes = %v, want %v", got.Changes, wantChanges)
			}
			for k, kind := range tt.wantKinds {
				if d := got.DetailedDiff[k]; d == nil || d.Kind != kind || !d.InputDiff {
					t.Errorf("detailed diff %s = %v, want kind %v (input)", k, d, kind)
				}
			}
		})
	}
}

func TestPreviewOutputsMarksComputedUnknown(t *testing.T) {
	s := Schema{Inputs: []string{"a", "opt"}, OptionalComputed: []string{"opt"}, Outputs: []string{"sha"}}
	outs := s.PreviewOutputs(nil, resource.PropertyMap{"a": resource.NewStringProperty("x")})
	if Str(outs, "a") != "x" {
		t.Errorf("a = %v, want x", outs["a"])
	}
	for _, k := range []resource.PropertyKey{"sha", "opt"} {
		if !outs[k].IsComputed() {
			t.Errorf("%s = %v, want unknown", k, outs[k])
		}
	}
}
