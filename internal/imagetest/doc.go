// Package imagetest tests the container image (the Dockerfile).
//
// dockerfile_test.go needs no Docker: the versions the image installs and
// the settings it gives are checked against the bot's.
//
// image_test.go (build tag imagetest, `make image-test`) needs Docker with
// BuildKit: it builds the image from local inputs (the binaries built here,
// the Pulumi CLI found as internal/pulumicli finds it and, TEST SUPPORT ONLY,
// the stand-in provider plugins in the place of the official ones) and runs
// it against the simulated forge on the host. The tag keeps a plain
// `go test ./...` free of Docker.
package imagetest
