package command

import "github.com/expbot/expbot/internal/spec"

// The tests were written against the names these helpers had when the
// package kept its own copies of them; they now come from spec.

var (
	code       = spec.Code
	splitLines = spec.SplitLines
)

const maxQuoted = spec.MaxQuoted

// fence is spec.Fence under its old name and method.
type fence struct{ spec.Fence }

func openingFence(line string) (fence, bool) {
	f, ok := spec.OpeningFence(line)
	return fence{f}, ok
}

func (f fence) closedBy(line string) bool { return f.ClosedBy(line) }
