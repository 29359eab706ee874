// Package imagetest builds the container image from local inputs and runs it
// against the simulated forge on the host: `make image-test`, which needs
// Docker with BuildKit and sets the imagetest build tag, so that a plain
// `go test ./...` never needs Docker.
//
// The local inputs are the binaries built here (expbot, the Pulumi CLI found
// as internal/pulumicli finds it) and, TEST SUPPORT ONLY, the stand-in
// provider plugins in the place of the official ones.
package imagetest
