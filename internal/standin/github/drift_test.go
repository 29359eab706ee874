package github

import (
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	"github.com/expbot/expbot/internal/standin/kit/kittest"
)

func TestDriftReads(t *testing.T) {
	sim, _, url := kittest.Sim(t, simSeed)
	kittest.DriftReads(t, kittest.Drift{
		Provider: simProvider(t, url), Forge: sim.Forge(), Repo: "acme/llm", BranchURN: branchURN, FileURN: fileURN,
		Branch: func(base string) map[string]any {
			return map[string]any{"repository": "llm", "branch": "exp/1-a", "sourceSha": base}
		},
		File: map[string]any{"repository": "llm", "file": "experiment.yaml", "branch": "exp/1-a",
			"content": "lr: 0.1\n", "commitMessage": "expbot: experiment a", "overwriteOnCreate": true},
		Head: func(s *structpb.Struct) string { return s.GetFields()["sha"].GetStringValue() },
	})
}
