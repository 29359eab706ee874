package event

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The names Encode stores each kind of event under. They outlive a
// release: encoded events may wait in an upgraded database.
const (
	kindIssue   = "issue"
	kindComment = "comment"
	kindPull    = "pull"
	kindTag     = "tag"
)

// encoded is an event with the name of its kind, for Decode.
type encoded struct {
	Kind  string          `json:"kind"`
	Event json.RawMessage `json:"event"`
}

// Encode writes an event that the pipeline acts on (an issue change, a
// comment, a pull or merge request change, a tag push) as JSON that
// Decode reads back, so that a delivery can be kept and applied later.
// Other events have nothing to keep: they are an error.
func Encode(ev Event) ([]byte, error) {
	var kind string
	switch ev.(type) {
	case *IssueChange:
		kind = kindIssue
	case *CommentCreated:
		kind = kindComment
	case *PullChange:
		kind = kindPull
	case *TagPush:
		kind = kindTag
	default:
		return nil, fmt.Errorf("event: cannot encode %T", ev)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("event: encode %s: %w", kind, err)
	}
	return json.Marshal(encoded{Kind: kind, Event: body})
}

// Decode reads an event written by Encode.
func Decode(data []byte) (Event, error) {
	var e encoded
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("event: decode: %w", err)
	}
	var ev Event
	switch e.Kind {
	case kindIssue:
		ev = new(IssueChange)
	case kindComment:
		ev = new(CommentCreated)
	case kindPull:
		ev = new(PullChange)
	case kindTag:
		ev = new(TagPush)
	default:
		return nil, fmt.Errorf("event: decode: unknown kind %q", e.Kind)
	}
	if len(e.Event) == 0 {
		return nil, errors.New("event: decode: no event")
	}
	if err := json.Unmarshal(e.Event, ev); err != nil {
		return nil, fmt.Errorf("event: decode %s: %w", e.Kind, err)
	}
	return ev, nil
}
