package spec

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// The examples in docs/request-schema.md are real: the request parses, and
// the variant file shown is what RenderVariantFile writes for it.
func TestSchemaDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/request-schema.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	between := func(after, start, end string) string {
		t.Helper()
		_, rest, ok := strings.Cut(text, after)
		if !ok {
			t.Fatalf("doc has no %q", after)
		}
		_, rest, ok = strings.Cut(rest, start)
		if !ok {
			t.Fatalf("doc has no %q after %q", start, after)
		}
		block, _, ok := strings.Cut(rest, end)
		if !ok {
			t.Fatalf("doc has no %q after %q", end, start)
		}
		return block
	}

	body := between("# Experiment requests", "````markdown\n", "````\n")
	req, err := ParseIssueBody(body)
	if err != nil {
		t.Fatalf("the example request is refused: %v", err)
	}
	want := Request{
		Name: "lr-sweep", Base: "main", Description: "Halve the learning rate, keep everything else.",
		Model: "meta-llama/Llama-3-8B", Dataset: "wiki-2024",
		Params: map[string]any{"lr": 0.00015, "epochs": int64(3), "optimizer": map[string]any{"name": "adamw", "betas": []any{0.9, 0.95}}},
	}
	if !reflect.DeepEqual(req, want) {
		t.Errorf("example request = %#v", req)
	}
	branch, err := BranchName(issueTemplate, BranchVars{Number: 42, Name: req.Name, Forge: "github"})
	if err != nil || !strings.Contains(text, "`"+branch+"` for issue 42") {
		t.Errorf("doc does not show the branch %q (%v)", branch, err)
	}

	file := between("## The variant file", "```yaml\n", "```\n")
	got, err := RenderVariantFile(Variant{
		Name: req.Name, Description: req.Description, Model: req.Model, Dataset: req.Dataset,
		BaseRef: req.Base, BaseSHA: "3f0c1e6d2b7a9c4e5f8a1b2c3d4e5f6a7b8c9d0e", Params: req.Params,
		RequestedBy: "alice", Source: "https://github.com/acme/llm/issues/42", Forge: "github",
	})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != file {
		t.Errorf("doc shows:\n%s\nRenderVariantFile writes:\n%s", file, got)
	}

	// The params example parses too.
	params := between("## `params`", "```yaml\n", "```\n")
	if _, err := ParseIssueBody("```yaml\nname: x\n" + params + "```"); err != nil {
		t.Errorf("the params example is refused: %v", err)
	}
}
