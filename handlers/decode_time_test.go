package handlers

import (
	"testing"
	"time"

	"github.com/expbot/expbot/internal/event"
)

// untimed is ev without its forge timestamp, for cases that are about
// everything else; TestDecodedTimes checks the times.
func untimed(ev event.Event) event.Event {
	switch e := ev.(type) {
	case *event.IssueChange:
		c := *e
		c.At = time.Time{}
		return &c
	case *event.CommentCreated:
		c := *e
		c.At = time.Time{}
		return &c
	case *event.PullChange:
		c := *e
		c.At = time.Time{}
		return &c
	}
	return ev
}

// eventTime is the forge timestamp an event carries.
func eventTime(ev event.Event) time.Time {
	switch e := ev.(type) {
	case *event.IssueChange:
		return e.At
	case *event.CommentCreated:
		return e.At
	case *event.PullChange:
		return e.At
	}
	return time.Time{}
}

func TestForgeTime(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"2024-05-01T10:05:00Z", time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)},
		{"2024-05-01T12:05:00+02:00", time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)},
		{"2024-05-01T10:05:00.123Z", time.Date(2024, 5, 1, 10, 5, 0, 123e6, time.UTC)},
		{"2024-05-01 10:05:00 UTC", time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)},
		{"2024-05-01 12:05:00 +0200", time.Date(2024, 5, 1, 10, 5, 0, 0, time.UTC)},
		{"", time.Time{}},
		{"yesterday", time.Time{}},
		{"1714557900", time.Time{}},
	} {
		if got := forgeTime(tt.in); !got.Equal(tt.want) {
			t.Errorf("forgeTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestDecodedTimes: every decoded issue, comment and pull request change
// carries the object's own time from the payload (updated_at, or a
// comment's created_at), which orders deliveries.
func TestDecodedTimes(t *testing.T) {
	var n int
	for _, set := range []struct {
		forge  string
		cases  []decodeCase
		decode func(string, []byte) (event.Event, error)
	}{{"github", githubCases(), DecodeGitHub}, {"gitlab", gitlabCases(), DecodeGitLab}} {
		for _, tt := range set.cases {
			if tt.want == nil {
				continue
			}
			got, err := set.decode(tt.event, []byte(tt.body))
			if err != nil {
				t.Fatalf("%s %s: %v", set.forge, tt.name, err)
			}
			switch got.(type) {
			case *event.IssueChange, *event.CommentCreated, *event.PullChange:
				n++
				if eventTime(got).IsZero() {
					t.Errorf("%s %s: no time decoded from the payload", set.forge, tt.name)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no timed events among the cases")
	}
}
