// Package kubernetes holds expbot's Kubernetes manifests (kustomize: base/
// and overlays/) and the test that renders them. It is a Go module of its
// own so that expbot's module does not depend on Kubernetes.
package kubernetes
