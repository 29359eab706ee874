package forges

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse: any input is either refused or gives a valid set-up that
// survives a round trip through YAML unchanged.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "forge", "forges.example.yaml")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("github:\n  webhook_url: https://b/w\n  repositories: [a/b]\n"))
	f.Add([]byte("gitlab:\n  webhook_url: https://b/w\n  groups: [a/b/c]\n  projects: [a/b/c/d]\nlabel: {color: '#ABCDEF'}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := Parse(b)
		if err != nil {
			return
		}
		if err := fs.Validate(); err != nil {
			t.Fatalf("Parse accepted what Validate refuses: %v", err)
		}
		out, err := yaml.Marshal(fs)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		out2, _ := yaml.Marshal(again)
		if string(out) != string(out2) {
			t.Fatalf("round trip changed it:\n%s\n%s", out, out2)
		}
	})
}
