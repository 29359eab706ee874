package store

import (
	"testing"
	"time"
)

func TestCompare(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)
	at := func(sec int, state string) Source {
		return Source{Key: "issue:1", At: t0.Add(time.Duration(sec) * time.Second), State: state}
	}
	untimed := func(state string) Source { return Source{Key: "issue:1", State: state} }
	for _, tt := range []struct {
		name    string
		stored  *Source
		s       Source
		settled bool
		want    Order
	}{
		{"nothing stored", nil, at(0, "a"), false, Newer},
		{"nothing stored, no time", nil, untimed("a"), false, Newer},
		{"later", ptr(at(0, "a")), at(1, "b"), false, Newer},
		{"later, same state", ptr(at(0, "a")), at(1, "a"), false, Newer},
		{"earlier: a late delivery", ptr(at(1, "b")), at(0, "a"), false, Older},
		{"earlier, even read from the forge", ptr(at(1, "b")), at(0, "a"), true, Older},
		{"same second, same state: a repeat", ptr(at(0, "a")), at(0, "a"), false, Same},
		{"same second, other state: unknown order", ptr(at(0, "a")), at(0, "b"), false, Tied},
		{"same second, read from the forge", ptr(at(0, "a")), at(0, "b"), true, Newer},
		{"no time, other state", ptr(at(0, "a")), untimed("b"), false, Tied},
		{"no time, same state", ptr(at(0, "a")), untimed("a"), false, Same},
		{"no time stored, other state", ptr(untimed("a")), at(0, "b"), false, Tied},
		{"no time stored, same state: learn the time", ptr(untimed("a")), at(0, "a"), false, Newer},
		{"no time stored, read from the forge", ptr(untimed("a")), at(0, "b"), true, Newer},
		{"no times, same state", ptr(untimed("a")), untimed("a"), false, Same},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stored Source
			if tt.stored != nil {
				stored = *tt.stored
			}
			if got := Compare(stored, tt.stored != nil, tt.s, tt.settled); got != tt.want {
				t.Errorf("Compare = %v, want %v", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
