// Package kit is the shared scaffolding of the stand-in Pulumi resource
// providers (internal/standin/github and internal/standin/gitlab).
//
// TEST SUPPORT ONLY. The official pulumi-github / pulumi-gitlab plugins
// cannot be downloaded on the development and CI machines, so tests run the
// Pulumi engine against stand-ins that speak the same gRPC protocol, use the
// same type tokens, property names and IDs, and make the same REST calls as
// the official providers. Nothing here may be used on a production path: in
// production the official plugins are installed with `pulumi plugin install`.
//
// The package holds what both stand-ins need and nothing more: a generic
// ResourceProviderServer that dispatches on type tokens (server.go), property
// (un)marshalling and typed getters (props.go), schema-driven Check/Diff
// helpers (diff.go, check.go) and a small JSON-over-HTTP client (httpjson.go).
package kit
