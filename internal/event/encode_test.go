package event

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestEncodeRoundTrip(t *testing.T) {
	repo := Repo{Forge: GitLab, Host: "gitlab.example.com", Path: "group/sub/project", ID: 7, DefaultBranch: "main", WebURL: "https://gitlab.example.com/group/sub/project"}
	actor := Actor{ID: 3, Login: "ada"}
	at := time.Date(2026, 12, 6, 11, 0, 0, 123456789, time.UTC)
	for _, ev := range []Event{
		&IssueChange{Repo: repo, Number: 12, Title: "lr sweep", Body: "```yaml\nname: lr\n```", URL: "https://x/12", Open: true, WasOpen: true,
			Labels: []string{"new-experiment"}, PrevLabels: []string{}, BodyChanged: true, Actor: actor, Confidential: true, ConfidentialChanged: true, At: at},
		&IssueChange{Repo: repo, Number: 1}, // no time: zero stays zero
		&CommentCreated{Repo: repo, Thread: Thread{Kind: PullThread, Number: 4}, CommentID: 99, Body: "/experiment new a", URL: "https://x/4#c",
			Actor: actor, HeadBranch: "feature", HeadSHA: strings.Repeat("a", 40), At: at, PullClosed: true},
		&PullChange{Repo: repo, Number: 4, WasOpen: true, Merged: true, Actor: actor, At: at},
		&TagPush{Repo: repo, Tag: "sweep/lr-1", After: strings.Repeat("b", 40), Actor: actor},
	} {
		t.Run(reflect.TypeOf(ev).Elem().Name(), func(t *testing.T) {
			data, err := Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, ev) {
				t.Errorf("Decode(Encode()) = %#v\nwant %#v", got, ev)
			}
		})
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, ev := range []Event{&Ping{}, &Ignored{Reason: "x"}, &InstallationChange{Action: "created"}, nil} {
		if _, err := Encode(ev); err == nil {
			t.Errorf("Encode(%T) succeeded; only events the pipeline keeps encode", ev)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for _, data := range []string{``, `null`, `{}`, `{"kind":"issue"}`, `{"kind":"ping","event":{}}`, `{"kind":"tag","event":[1]}`, `[`} {
		if ev, err := Decode([]byte(data)); err == nil {
			t.Errorf("Decode(%s) = %#v, want an error", data, ev)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"kind":"issue","event":{"number":1}}`))
	f.Add([]byte(`{"kind":"tag","event":{"tag":"t"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := Decode(data)
		if err != nil {
			return
		}
		again, err := Encode(ev)
		if err != nil {
			t.Fatalf("a decoded %T does not encode: %v", ev, err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("re-encoded event does not decode: %v", err)
		}
	})
}
