package event

import "testing"

func TestTriggerFor(t *testing.T) {
	const l = "new-experiment"
	tests := []struct {
		name string
		c    IssueChange
		want Trigger
	}{
		{"label added", IssueChange{Open: true, WasOpen: true, Labels: []string{l}}, Apply},
		{"opened with the label", IssueChange{Open: true, Labels: []string{l}}, Apply},
		{"other label added while labeled", IssueChange{Open: true, WasOpen: true, Labels: []string{l, "x"}, PrevLabels: []string{l}}, NoTrigger},
		{"body edited while labeled", IssueChange{Open: true, WasOpen: true, Labels: []string{l}, PrevLabels: []string{l}, BodyChanged: true}, Apply},
		{"body edited without the label", IssueChange{Open: true, WasOpen: true, BodyChanged: true}, NoTrigger},
		{"made confidential or public while labeled", IssueChange{Open: true, WasOpen: true, Labels: []string{l}, PrevLabels: []string{l}, ConfidentialChanged: true}, Apply},
		{"made confidential or public without the label", IssueChange{Open: true, WasOpen: true, ConfidentialChanged: true}, NoTrigger},
		{"made confidential while closed", IssueChange{Labels: []string{l}, PrevLabels: []string{l}, ConfidentialChanged: true}, NoTrigger},
		{"label removed", IssueChange{Open: true, WasOpen: true, PrevLabels: []string{l}}, Retire},
		{"closed while labeled", IssueChange{WasOpen: true, Labels: []string{l}, PrevLabels: []string{l}}, Retire},
		{"reopened while labeled", IssueChange{Open: true, Labels: []string{l}, PrevLabels: []string{l}}, Apply},
		{"closed without the label", IssueChange{WasOpen: true}, NoTrigger},
		{"label added to a closed issue", IssueChange{Labels: []string{l}}, NoTrigger},
		{"label matches whatever its case", IssueChange{Open: true, WasOpen: true, Labels: []string{"New-Experiment"}}, Apply},
		{"a different label", IssueChange{Open: true, WasOpen: true, Labels: []string{"new-experiments"}}, NoTrigger},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.TriggerFor(l); got != tt.want {
				t.Errorf("TriggerFor() = %v, want %v", got, tt.want)
			}
		})
	}
}
