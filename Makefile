# expbot's everyday commands. CI (.ci/run) starts PostgreSQL, then runs `make test`
# (whose store tests need it) and `make image-test`.
GO ?= go
SEED ?= internal/forgesim/testdata/seed.yaml
# A Docker client that builds with BuildKit (buildx, or a 20.10 client).
DOCKER ?= docker
IMAGE ?= expbot:latest

.PHONY: all build vet test test-short pulumi plugins demo forgesim bench bench-e2e fmt clean image image-test deploy-test

all: build vet

build:
	$(GO) build ./...

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags imagetest ./internal/imagetest/
	cd deploy/kubernetes && $(GO) vet ./...

# The Pulumi CLI, built once into the cache directory (see tools/pulumi/install.sh).
pulumi:
	@tools/pulumi/install.sh >/dev/null

# Everything but the container image's test, including the tests that drive
# the real Pulumi engine and the Kubernetes manifests' (their own module).
test: pulumi vet deploy-test
	$(GO) test -count=1 -timeout 30m ./...

deploy-test:
	cd deploy/kubernetes && $(GO) test -count=1 ./...

# The container image, everything built from source inside the build
# (Dockerfile; README "Deploying").
image:
	DOCKER_BUILDKIT=1 $(DOCKER) build -t $(IMAGE) \
	  --build-arg VERSION=$$(git describe --tags --always --dirty) \
	  --build-arg REVISION=$$(git rev-parse HEAD) \
	  --build-arg CREATED=$$(date -u +%Y-%m-%dT%H:%M:%SZ) .

# The image built from binaries built here, with the stand-in plugins, run
# against the simulated forge (internal/imagetest). Needs a Docker engine.
image-test: pulumi
	EXPBOT_DOCKER=$(DOCKER) $(GO) test -tags imagetest -count=1 -timeout 30m -v ./internal/imagetest/

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
	$(GO) test -run '^$$' -bench . -benchtime=1x -timeout 90m ./internal/e2e/

fmt:
	gofmt -w $$(git ls-files '*.go')
