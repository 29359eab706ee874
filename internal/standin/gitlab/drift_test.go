package gitlab

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

func TestDriftReads(t *testing.T) {
	sim, _, url := kittest.Sim(t, simSeed)
	kittest.DriftReads(t, kittest.Drift{
		Provider: simProvider(t, url), Forge: sim.Forge(), Repo: "acme/vision", BranchURN: branchURN, FileURN: fileURN,
		Branch: func(base string) map[string]any {
			return map[string]any{"project": "acme/vision", "name": "exp/1-a", "ref": base}
		},
		File: map[string]any{"project": "acme/vision", "filePath": "experiment.yaml", "branch": "exp/1-a",
			"content": "lr: 0.1\n", "encoding": "text", "commitMessage": "expbot: experiment a", "overwriteOnCreate": true},
		Head: headOf,
	})
}

// headOf is the commit id the branch's state records.
func headOf(s *structpb.Struct) string {
	for _, c := range s.GetFields()["commits"].GetListValue().GetValues() {
		return c.GetStructValue().GetFields()["id"].GetStringValue()
	}
	return ""
}
