package sweep

import (
	"os"
	"strings"
	"testing"
)

// The full example of docs/sweep.md is real: it parses, and expands to the
// experiments and branches its table shows.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/sweep.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "## A full example\n\n```yaml\n")
	if !ok {
		t.Fatal("docs/sweep.md has no full example")
	}
	example, rest, _ := strings.Cut(rest, "```\n")
	s := mustParse(t, example)
	combos, err := s.Expand(0)
	if err != nil {
		t.Fatal(err)
	}
	table, _, _ := strings.Cut(rest, "\n\n## ")
	if got := strings.Count(table, "\n| `"); got != len(combos) {
		t.Fatalf("the doc's table has %d rows, the example makes %d experiments", got, len(combos))
	}
	for _, c := range combos {
		branch, err := BranchName(s.Branch, "v1.2", c.Name, "github")
		if err != nil {
			t.Fatal(err)
		}
		if row := "| `" + c.Name + "` | `" + branch + "` |"; !strings.Contains(table, row) {
			t.Errorf("the doc's table has no row starting %s", row)
		}
	}
	// The line in "When something is wrong" is a real message.
	_, err = Parse([]byte(strings.Replace(example, "- {lr: 0.1, batch_size: 32}", "- {lr: 0.2}", 1)))
	if err == nil || !strings.Contains(string(doc), err.Error()) {
		t.Errorf("the doc's example problem is not what Parse says: %v", err)
	}
}
