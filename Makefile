# bootstrap: build, test and package. Every target works offline on a machine
# whose Docker engine can pull nothing (images are built FROM scratch).
SHELL := /bin/bash
.DEFAULT_GOAL := build

GO     ?= go
DOCKER ?= docker
IMAGE  ?= bootstrap

# Version data from git, embedded in the binary (main.version, main.commit,
# main.date) and put on the image as OCI labels (build arguments of
# Dockerfile.cmdRunner). Override on the command line: make image VERSION=v1.2.3
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
COMMIT  := $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
SHORT   := $(shell git rev-parse --verify -q --short HEAD 2>/dev/null || echo unknown)
DATE    := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)

# Where build writes the binary and sbom the SBOM (bin/bootstrap,
# bin/sbom/bootstrap.cdx.json).
BIN_DIR ?= bin
# The profiles make image bakes in under /profiles: the examples unless told
# otherwise, e.g. make image PROFILES_DIR=../srvthreds/run-profiles
PROFILES_DIR ?= examples/profiles
# make image builds from a context of its own (the binary, the SBOM and a copy
# of PROFILES_DIR), so that PROFILES_DIR may lie outside the repository.
IMAGE_CONTEXT := .cache/image-context

# CycloneDX SBOM generator, installed from the Go module proxy into .cache/
# (never committed); a new version installs beside the old one.
CYCLONEDX_GOMOD_VERSION := v1.10.0
CYCLONEDX_GOMOD := $(CURDIR)/.cache/tools/cyclonedx-gomod-$(CYCLONEDX_GOMOD_VERSION)/cyclonedx-gomod

# Images the integration tests run (internal/harness). Setting
# BOOTSTRAP_TEST_REDIS_IMAGE / BOOTSTRAP_TEST_MONGO_IMAGE / BOOTSTRAP_TEST_RUNNER_IMAGE
# (e.g. redis:7, mongo:7 on a machine that can pull) skips building that image.
TEST_REDIS_IMAGE  := $(or $(BOOTSTRAP_TEST_REDIS_IMAGE),bootstrap-test/redis:local)
TEST_MONGO_IMAGE  := $(or $(BOOTSTRAP_TEST_MONGO_IMAGE),bootstrap-test/ferretdb:v1.24.2)
TEST_RUNNER_IMAGE := $(or $(BOOTSTRAP_TEST_RUNNER_IMAGE),$(IMAGE):$(SHORT))
# Extra go test flags, e.g. make test GOTESTFLAGS=-v
GOTESTFLAGS ?=

.PHONY: build sbom image minikube-load test test-images test-stress test-unit lint docs demo bench version clean help

build: ## bin/bootstrap, a static binary (CGO off)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN_DIR)/bootstrap ./cmd/bootstrap

$(CYCLONEDX_GOMOD):
	GOBIN=$(dir $@) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)

sbom: build $(CYCLONEDX_GOMOD) ## bin/sbom/bootstrap.cdx.json: CycloneDX SBOM of the modules in bin/bootstrap
	@mkdir -p $(BIN_DIR)/sbom
	$(CYCLONEDX_GOMOD) bin -json -version $(VERSION) -output $(BIN_DIR)/sbom/bootstrap.cdx.json $(BIN_DIR)/bootstrap

# The profiles are validated by the binary before they are baked in.
image: sbom ## the runner image, tagged $(IMAGE):<commit> and $(IMAGE):dev, profiles from PROFILES_DIR; prints its digest
	$(BIN_DIR)/bootstrap validate --profiles-dir $(PROFILES_DIR) >/dev/null
	rm -rf $(IMAGE_CONTEXT) && mkdir -p $(IMAGE_CONTEXT)/bin $(IMAGE_CONTEXT)/profiles
	cp $(BIN_DIR)/bootstrap $(IMAGE_CONTEXT)/bin/bootstrap
	cp -R $(BIN_DIR)/sbom $(IMAGE_CONTEXT)/bin/sbom
	cp -R $(PROFILES_DIR)/. $(IMAGE_CONTEXT)/profiles/
	$(DOCKER) build -f Dockerfile.cmdRunner \
		--build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(COMMIT) \
		--build-arg CREATED=$(DATE) \
		--build-arg PROFILES_DIR=profiles \
		--iidfile .cache/image.iid \
		-t $(IMAGE):$(SHORT) -t $(IMAGE):dev $(IMAGE_CONTEXT)
	@echo "$(IMAGE):$(SHORT) $$(cat .cache/image.iid)"

# For the minikube overlay of deploy/srvthreds (imagePullPolicy: Never): the
# image must be in minikube's own runtime. Set the overlay's newTag to the
# commit printed here; the Job's name carries it.
minikube-load: ## load $(IMAGE):<commit> into minikube (make image first)
	minikube image load $(IMAGE):$(SHORT)
	@echo "loaded $(IMAGE):$(SHORT); in the minikube overlay: newTag: $(SHORT)"

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

# RUNS=5 by default; see scripts/test-stress.sh.
test-stress: ## make test RUNS times in a row while busy loops keep every core busy
	./scripts/test-stress.sh

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

# The README's table of flags and variables is generated from the command
# line's model (cmd/bootstrap/flagdoc_test.go); a unit test fails while it is
# stale.
docs: ## regenerate the flags and environment table of README.md from the command line
	BOOTSTRAP_UPDATE_README=1 $(GO) test -count=1 -run '^TestREADME_flags_table_is_current$$' ./cmd/bootstrap

demo: ## a scripted demonstration against local containers
	./scripts/demo.sh

# The bench module (bench/) has its own go.mod; see docs/benchmarks.md. The
# wall time of a warm make test is passed in, e.g. make bench
# MAKE_TEST_TIME=7m10s, or measured first with make bench MEASURE_MAKE_TEST=1
# (the images are built and the Go build cache warm by then); the report
# says "not measured" otherwise.
MAKE_TEST_TIME ?= 0
MEASURE_MAKE_TEST ?=
bench: test-images image ## benchmarks as ratios to baselines measured in the same run (docs/benchmarks.md)
	@mtt=$(MAKE_TEST_TIME); \
	if [ "$(MEASURE_MAKE_TEST)" = 1 ]; then \
		s=$$(date +%s); \
		$(MAKE) --no-print-directory test BOOTSTRAP_TEST_RUNNER_IMAGE=$(IMAGE):$(SHORT) || exit 1; \
		mtt=$$(( $$(date +%s) - s ))s; echo "make test took $$mtt"; \
	fi; \
	cd bench && $(GO) run . -out ../docs/benchmarks.md -make-test-time $$mtt \
		-runner-image $(IMAGE):dev -redis-image $(TEST_REDIS_IMAGE) -mongo-image $(TEST_MONGO_IMAGE)

version: ## the version data the build embeds
	@echo "version=$(VERSION) commit=$(COMMIT) date=$(DATE) image=$(IMAGE):$(SHORT)"

clean: ## remove build outputs (keeps .cache/, the FerretDB binary)
	rm -rf bin

help: ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 14
