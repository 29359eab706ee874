// Package spec is the experiment-request language: it turns the ```yaml
// block of an issue description into a Request, names the branch an
// experiment gets, and renders the variant file (experiment.yaml) that is
// committed on that branch.
//
// Everything here is a pure function of its arguments (design decision 6):
// no I/O, no clocks, no globals that change. That is what lets the parser be
// table-tested and fuzzed, and what makes RenderVariantFile byte-stable, which
// Pulumi needs because it diffs the file on content.
//
// The request schema, its limits and the reasons for them are written for
// users in docs/request-schema.md; keep the two in step.
package spec
