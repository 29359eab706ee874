package forgesetup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The hooks subscribe to exactly what the README tells people who set them
// up by hand.
func TestEventsMatchREADME(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "## Running against real GitHub or GitLab")
	if start < 0 {
		t.Fatal("README has no section on running against real forges")
	}
	section := text[start:]
	// The step that says which events a webhook needs.
	from, to := strings.Index(section, "\n3. "), strings.Index(section, "\n4. ")
	if from < 0 || to < from {
		t.Fatal("README's webhook step (3.) not found")
	}
	section = strings.Join(strings.Fields(section[from:to]), " ")
	words := map[string]string{
		"issues": "*Issues*", "issue_comment": "*Issue comments*", "pull_request": "*Pull requests*", "push": "*Pushes*",
		"issues_events": "*Issues events*", "note_events": "*Comments*", "merge_requests_events": "*Merge request events*",
		"tag_push_events": "*Tag push events*", "confidential_issues_events": "*Confidential issues events*",
	}
	for _, ev := range append(slices.Clone(GitHubEvents), GitLabEvents...) {
		if !strings.Contains(section, words[ev]) || words[ev] == "" {
			t.Errorf("event %s (%q) is not asked for in the README", ev, words[ev])
		}
	}
	if n := strings.Count(section, "*") / 2; n != len(words) {
		t.Errorf("the README names %d events, the set-up subscribes %d", n, len(words))
	}
}
