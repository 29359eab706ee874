# expbot's everyday commands. `make test` is what CI runs (.ci/run).
GO ?= go
SEED ?= internal/forgesim/testdata/seed.yaml

.PHONY: all build vet test test-short pulumi plugins demo forgesim bench bench-e2e fmt clean

all: build vet

build:
	$(GO) build ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# The Pulumi CLI, built once into the cache directory (see tools/pulumi/install.sh).
pulumi:
	@tools/pulumi/install.sh >/dev/null

# Everything, including the tests that drive the real Pulumi engine.
test: pulumi vet
	$(GO) test -count=1 -timeout 30m ./...

# The walk-through: simulated GitHub+GitLab, stand-in plugins, SQLite, real Pulumi.
demo: pulumi
	$(GO) run ./cmd/bot demo

# The simulated forge on its own, seeded with an example repository.
forgesim:
	$(GO) run ./cmd/forgesim --seed $(SEED)

bench: pulumi
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The performance requirements against a real expbot process, each run once
# (docs/performance.md). The machine is shared: run it a few times.
bench-e2e: pulumi
	$(GO) test -run '^$$' -bench . -benchtime=1x -timeout 30m ./internal/e2e/

fmt:
	gofmt -w $$(git ls-files '*.go')
