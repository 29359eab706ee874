//go:build !linux

package cpuslice

import "time"

// Shorten reports ErrUnsupported: only Linux takes slice suggestions.
func Shorten(time.Duration) error { return ErrUnsupported }

// ResetThread reports ErrUnsupported.
func ResetThread() error { return ErrUnsupported }

// Slice reports ErrUnsupported.
func Slice(int) (time.Duration, error) { return 0, ErrUnsupported }
