package pipeline

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

func TestWithPendingCreatesAdopted(t *testing.T) {
	op := func(typ, urn, kind string, inputs map[string]any) map[string]any {
		return map[string]any{"type": kind, "resource": map[string]any{"urn": urn, "type": typ, "inputs": inputs, "custom": true}}
	}
	deployment := func(ops ...map[string]any) json.RawMessage {
		b, err := json.Marshal(map[string]any{"manifest": map[string]any{}, "pending_operations": ops})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type adopted struct{ URN, ID string }
	tests := []struct {
		name string
		dep  json.RawMessage
		want []adopted
		left int // pending operations kept
	}{
		{"never updated", nil, nil, 0},
		{"no pending operations", deployment(), nil, 0},
		{"every type expbot makes", deployment(
			op("github:index/branch:Branch", "urn:gh-branch", "creating", map[string]any{"repository": "llm", "branch": "exp/1-a"}),
			op("github:index/repositoryFile:RepositoryFile", "urn:gh-file", "creating", map[string]any{"repository": "llm", "file": "experiment.yaml", "branch": "exp/1-a"}),
			op("gitlab:index/branch:Branch", "urn:gl-branch", "creating", map[string]any{"project": "acme/vision", "name": "exp/1-a", "ref": "abc"}),
			op("gitlab:index/repositoryFile:RepositoryFile", "urn:gl-file", "creating", map[string]any{"project": "acme/vision", "branch": "exp/1-a", "filePath": "experiment.yaml"}),
		), []adopted{
			{"urn:gh-branch", "llm:exp/1-a"},
			{"urn:gh-file", "llm/experiment.yaml"},
			{"urn:gl-branch", "acme/vision:exp/1-a"},
			{"urn:gl-file", "acme/vision:exp/1-a:experiment.yaml"},
		}, 0},
		{"updates and deletes are left to Pulumi", deployment(
			op("gitlab:index/branch:Branch", "urn:upd", "updating", map[string]any{"project": "p", "name": "b"}),
			op("gitlab:index/branch:Branch", "urn:del", "deleting", map[string]any{"project": "p", "name": "b"}),
		), nil, 2},
		{"unknown types and missing inputs are left to Pulumi", deployment(
			op("pulumi:providers:gitlab", "urn:prov", "creating", map[string]any{}),
			op("gitlab:index/branch:Branch", "urn:noname", "creating", map[string]any{"project": "p"}),
			op("gitlab:index/branch:Branch", "urn:secret", "creating", map[string]any{"project": "p", "name": map[string]any{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x"}}),
			op("gitlab:index/branch:Branch", "urn:ok", "creating", map[string]any{"project": "p", "name": "b"}),
		), []adopted{{"urn:ok", "p:b"}}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edited, urns, err := withPendingCreatesAdopted(tt.dep)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.want) == 0 {
				if edited != nil || urns != nil {
					t.Errorf("nothing to adopt, yet got %d URNs and an edited deployment", len(urns))
				}
				return
			}
			var d apitype.DeploymentV3
			if err := json.Unmarshal(edited, &d); err != nil {
				t.Fatal(err)
			}
			var got []adopted
			for _, r := range d.Resources {
				got = append(got, adopted{string(r.URN), string(r.ID)})
				if !reflect.DeepEqual(r.Outputs, r.Inputs) {
					t.Errorf("%s: outputs %v, want its inputs until the refresh", r.URN, r.Outputs)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("adopted %v, want %v", got, tt.want)
			}
			if len(urns) != len(tt.want) || len(d.PendingOperations) != tt.left {
				t.Errorf("%d URNs and %d operations left, want %d and %d", len(urns), len(d.PendingOperations), len(tt.want), tt.left)
			}
		})
	}
	if _, _, err := withPendingCreatesAdopted(json.RawMessage(`{"pending_operations": 3}`)); err == nil {
		t.Error("a malformed deployment was read without an error")
	}
}
