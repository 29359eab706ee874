package spec

// The tests were written against the unexported names of these helpers.
var (
	code       = Code
	splitLines = SplitLines
)

const maxQuoted = MaxQuoted
