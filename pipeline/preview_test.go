package pipeline

import (
	"testing"

	"github.com/expbot/expbot/pipeline/store"
)

// TestDescribeStep: a preview names the branches and files it would touch,
// not Pulumi's resource names, and leaves out what changes nothing.
func TestDescribeStep(t *testing.T) {
	const stack = "urn:pulumi:github.acme.llm-1234::expbot::"
	branchT, fileT := "github:index/branch:Branch", "github:index/repositoryFile:RepositoryFile"
	exps := []store.Experiment{
		{Key: "pull:1:lr-c", Branch: "exp/mr-1-lr-c"},
		{Key: "pull:1:old", Branch: "exp/mr-1-old", BaseSHA: "0123456789abcdef0123456789abcdef01234567"},
	}
	specs := []BranchSpec{{Key: "pull:1:lr-c", Branch: "exp/mr-1-lr-c", BaseSHA: "89abcdef0123456789abcdef0123456789abcdef", FilePath: "run/variant.yaml"}}
	names := previewNames(exps, specs, "run/variant.yaml")
	urn := func(typ, key, kind string) string { return stack + typ + "::" + resourceName(key, kind) }
	tests := []struct {
		op, typ, urn string
		want         string // "" = left out
	}{
		{"create", branchT, urn(branchT, "pull:1:lr-c", "branch"), "- create branch `exp/mr-1-lr-c` from `89abcdef0123`"},
		{"create", fileT, urn(fileT, "pull:1:lr-c", "file"), "- commit `run/variant.yaml` on branch `exp/mr-1-lr-c`"},
		{"update", fileT, urn(fileT, "pull:1:lr-c", "file"), "- commit a new version of `run/variant.yaml` on branch `exp/mr-1-lr-c`"},
		{"delete", branchT, urn(branchT, "pull:1:old", "branch"), "- delete branch `exp/mr-1-old`"},
		{"delete", fileT, urn(fileT, "pull:1:old", "file"), "- delete `run/variant.yaml` on branch `exp/mr-1-old`"},
		{"same", fileT, urn(fileT, "pull:1:lr-c", "file"), ""},
		{"create-replacement", branchT, urn(branchT, "pull:1:lr-c", "branch"), ""},
		{"delete-replaced", branchT, urn(branchT, "pull:1:lr-c", "branch"), ""},
		{"create", "pulumi:providers:github", stack + "pulumi:providers:github::github", ""},
		{"create", "pulumi:pulumi:Stack", stack + "pulumi:pulumi:Stack::expbot-x", ""},
		{"create", branchT, stack + branchT + "::stranger", "- create branch `stranger`"},
	}
	for _, tt := range tests {
		got, ok := describeStep(tt.op, tt.typ, tt.urn, names)
		if tt.want == "" {
			if ok {
				t.Errorf("%s %s: got %q, want it left out", tt.op, tt.urn, got)
			}
			continue
		}
		if !ok || got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.op, tt.urn, got, tt.want)
		}
	}
}
