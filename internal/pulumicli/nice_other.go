//go:build !linux

package pulumicli

// Elsewhere a priority belongs to the whole process: lowering it would slow
// the webhooks too.
const perThreadPriority = false

func lowerThreadPriority(Priority) error { return nil }
