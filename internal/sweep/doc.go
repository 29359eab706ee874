// Package sweep reads a sweep definition (by default .expbot/sweep.yaml in the
// repository, at a tagged commit) and expands it into one experiment request
// per combination of its matrix, each with a unique, valid name and branch.
//
// Like package spec, whose rules it reuses for everything a request holds,
// it is pure: no I/O, no clocks, no globals that change, so that it can be
// table-tested and fuzzed and gives the same experiments for the same file,
// every time (the branches are named after them).
//
// The file format, the expansion rules (GitHub Actions' matrix semantics) and
// the naming rule are written for users in docs/sweep.md; keep the two in
// step.
package sweep
