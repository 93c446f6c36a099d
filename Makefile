# bootstrap: build, test and package. Every target works offline on a machine
# whose Docker engine can pull nothing (images are built FROM scratch).
SHELL := /bin/bash
.DEFAULT_GOAL := build

GO     ?= go
DOCKER ?= docker
IMAGE  ?= bootstrap

# Version data from git, embedded in the binary (main.version, main.commit,
# main.date) and put on the image as OCI labels. Override on the command line:
# make image VERSION=v1.2.3
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT  := $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
SHORT   := $(shell git rev-parse --verify -q --short HEAD 2>/dev/null || echo unknown)
DATE    := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

# Images the integration tests run (internal/harness). Setting
# BOOTSTRAP_TEST_REDIS_IMAGE / BOOTSTRAP_TEST_MONGO_IMAGE / BOOTSTRAP_TEST_RUNNER_IMAGE
# (e.g. redis:7, mongo:7 on a machine that can pull) skips building that image.
TEST_REDIS_IMAGE  := $(or $(BOOTSTRAP_TEST_REDIS_IMAGE),bootstrap-test/redis:local)
TEST_MONGO_IMAGE  := $(or $(BOOTSTRAP_TEST_MONGO_IMAGE),bootstrap-test/ferretdb:v1.24.2)
TEST_RUNNER_IMAGE := $(or $(BOOTSTRAP_TEST_RUNNER_IMAGE),$(IMAGE):$(SHORT))
# Extra go test flags, e.g. make test GOTESTFLAGS=-v
GOTESTFLAGS ?=

.PHONY: build image test test-images test-unit lint demo bench version clean help

build: ## bin/bootstrap, a static binary (CGO off)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/bootstrap ./cmd/bootstrap

image: build ## the runner image from Dockerfile.cmdRunner, tagged $(IMAGE):<commit> and $(IMAGE):dev
	$(DOCKER) build -f Dockerfile.cmdRunner \
		--label org.opencontainers.image.title=bootstrap \
		--label org.opencontainers.image.version=$(VERSION) \
		--label org.opencontainers.image.revision=$(COMMIT) \
		--label org.opencontainers.image.created=$(DATE) \
		-t $(IMAGE):$(SHORT) -t $(IMAGE):dev .

test-images: ## the Redis and FerretDB test images (skipped when already current)
ifeq ($(BOOTSTRAP_TEST_REDIS_IMAGE),)
	testimages/redis/build.sh $(TEST_REDIS_IMAGE)
endif
ifeq ($(BOOTSTRAP_TEST_MONGO_IMAGE),)
	testimages/ferretdb/build.sh $(TEST_MONGO_IMAGE)
endif

# The images are built once here, so that the test packages (run in parallel,
# -p 2) don't each build them. -parallel 4: container tests spend their time
# waiting on their own servers, each with its own containers.
test: test-images $(if $(BOOTSTRAP_TEST_RUNNER_IMAGE),,image) ## every test, with real containers
	BOOTSTRAP_TEST_REDIS_IMAGE=$(TEST_REDIS_IMAGE) \
	BOOTSTRAP_TEST_MONGO_IMAGE=$(TEST_MONGO_IMAGE) \
	BOOTSTRAP_TEST_RUNNER_IMAGE=$(TEST_RUNNER_IMAGE) \
	$(GO) test -count=1 -p 2 -parallel 4 -timeout 14m $(GOTESTFLAGS) ./...
	cd deploy/render && $(GO) test -count=1 -timeout 10m $(GOTESTFLAGS) ./...

test-unit: ## unit tests only: -short, no Docker
	$(GO) test -short -count=1 $(GOTESTFLAGS) ./...

# staticcheck, pinned, built from the Go module proxy into .cache/ once.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(CURDIR)/.cache/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck
# Every Go module of the repository.
MODULES := . bench deploy/render

$(STATICCHECK):
	GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK) ## go vet and staticcheck on every module; gofmt must have nothing to say
	@for m in $(MODULES); do \
		echo "lint $$m"; \
		(cd $$m && $(GO) vet ./... && $(STATICCHECK) ./...) || exit 1; \
	done
	@out=$$(gofmt -l $$(find . -type f -name '*.go' -not -path './.*')); \
	if [ -n "$$out" ]; then echo "gofmt -l reports unformatted files:"; echo "$$out"; exit 1; fi

demo: ## a scripted demonstration against local containers
	./scripts/demo.sh

# The bench module (bench/) has its own go.mod; see docs/benchmarks.md.
bench: test-images image ## benchmarks as ratios to baselines measured in the same run (docs/benchmarks.md)
	cd bench && $(GO) run . -out ../docs/benchmarks.md \
		-runner-image $(IMAGE):dev -redis-image $(TEST_REDIS_IMAGE) -mongo-image $(TEST_MONGO_IMAGE)

version: ## the version data the build embeds
	@echo "version=$(VERSION) commit=$(COMMIT) date=$(DATE) image=$(IMAGE):$(SHORT)"

clean: ## remove build outputs (keeps .cache/, the FerretDB binary)
	rm -rf bin

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14
