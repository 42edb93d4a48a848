# cloud-provider-vpc: build, test and verify.
SHELL := /usr/bin/env bash
GO ?= go
BIN := _output/bin
GOTESTFLAGS ?=

# What every binary and image says it is (internal/version). VERSION is the
# nearest v* tag (git describe: v0.2.0, or v0.2.0-3-g0123abc past it), or
# v0.0.0-dev-g<commit> in a clone without one, and v0.0.0-dev outside git.
# BUILD_DATE is the commit's time, not the clock's, so that two builds of
# one commit are the same bytes (SOURCE_DATE_EPOCH, reproducible-builds.org).
VERSION ?= $(shell git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null || { c=$$(git describe --always --dirty 2>/dev/null) && echo v0.0.0-dev-g$$c; } || echo v0.0.0-dev)
GIT_COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
GIT_TREE_STATE ?= $(shell if [ -z "$(GIT_COMMIT)" ]; then echo; elif git diff --quiet HEAD 2>/dev/null; then echo clean; else echo dirty; fi)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
BUILD_DATE ?= $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null || echo 1970-01-01T00:00:00Z)
# Each asked of git once, so that a commit landing during a build cannot mix
# two commits' values.
VERSION := $(VERSION)
GIT_COMMIT := $(GIT_COMMIT)
GIT_TREE_STATE := $(GIT_TREE_STATE)
SOURCE_DATE_EPOCH := $(SOURCE_DATE_EPOCH)
BUILD_DATE := $(BUILD_DATE)
# The Kubernetes way of stamping a component (k8s.io/component-base/version),
# read by internal/version: the CCM's --version, /version and its build_info
# metric, fake-gce's and kubectl-vpc's --version.
VERSION_PKG := k8s.io/component-base/version
LDFLAGS := -s -w -X $(VERSION_PKG).gitVersion=$(VERSION) -X $(VERSION_PKG).gitCommit=$(GIT_COMMIT) -X $(VERSION_PKG).gitTreeState=$(GIT_TREE_STATE) -X $(VERSION_PKG).buildDate=$(BUILD_DATE)
# Every build of a shipped binary (images, release): static (CGO_ENABLED=0
# where it runs), no local paths, the stamp above. `make build` stamps alone,
# so that it shares the compile cache with go build and go test.
BUILDFLAGS := -trimpath -buildvcs=false -ldflags '$(LDFLAGS)'

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every command into _output/bin.
	@mkdir -p $(BIN)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

.PHONY: version
version: ## Print the version, commit and build date the binaries are stamped with, and the flags that stamp them.
	@echo VERSION=$(VERSION)
	@echo GIT_COMMIT=$(GIT_COMMIT)
	@echo GIT_TREE_STATE=$(GIT_TREE_STATE)
	@echo BUILD_DATE=$(BUILD_DATE)
	@echo SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH)
	@echo "LDFLAGS=$(LDFLAGS)"

IMAGE_PLATFORMS ?= linux/amd64,linux/arm64
RELEASE_PLATFORMS ?= linux/amd64,linux/arm64,darwin/amd64,darwin/arm64

.PHONY: images
images: ## Build the CCM's and fake-gce's images (linux/amd64, linux/arm64; no container runtime) into _output/images: OCI layouts and docker tarballs (docs/releasing.md).
	$(GO) run ./hack/images -out _output/images -version $(VERSION) -commit '$(GIT_COMMIT)' -created $(BUILD_DATE) -ldflags '$(LDFLAGS)' -platforms $(IMAGE_PLATFORMS)

.PHONY: release
release: images ## Build a release into _output/release: the commands' archives for linux and darwin on amd64 and arm64, kubectl-vpc's krew manifest, SHA256SUMS (after make images; docs/releasing.md).
	$(GO) run ./hack/release -out _output/release -version $(VERSION) -created $(BUILD_DATE) -ldflags '$(LDFLAGS)' -platforms $(RELEASE_PLATFORMS)

.PHONY: set-image-tag
set-image-tag: ## Write VERSION as deploy/base's image tag and the Helm chart's appVersion (before tagging a release: docs/releasing.md).
	$(GO) run ./hack/release -set-image-tag $(VERSION)

.PHONY: test
test: kube-binaries tofu lab-deps ## Run every test: unit, fake-gce (also with the race detector), the e2e suite, the upstream GCE provider against fake-gce, deploy/terraform's checks (with TF_PROVIDER_MIRROR: tf-e2e too).
	$(GO) test $(GOTESTFLAGS) ./...
	$(GO) test -race $(GOTESTFLAGS) ./test/fakegce/...
	@$(MAKE) --no-print-directory upstream-gce

.PHONY: upstream-gce
upstream-gce: ## Run the upstream GCE provider's load balancer lifecycles against fake-gce (module test/upstreamgce, its own go.mod).
	cd test/upstreamgce && GOWORK=off $(GO) test $(GOTESTFLAGS) -count=1 ./...

.PHONY: e2e
e2e: kube-binaries ## Run the end-to-end suite alone (real etcd and kube-apiserver, fake-gce, the CCM binary).
	$(GO) test $(GOTESTFLAGS) -count=1 -v ./test/e2e/

.PHONY: lab-deps
lab-deps: ## Install the Debian packages the packet lab uses (iproute2, iptables, nftables, conntrack) when root and missing.
	test/lab/install-deps.sh

.PHONY: lab
lab: kube-binaries lab-deps ## Run the packet lab (as root): namespaces, real kube-proxy, the fake VPC's data plane (docs/lab.md).
	$(GO) test $(GOTESTFLAGS) -count=1 -v ./test/lab/...

.PHONY: local-up
local-up: ## Run a fake cloud and a local control plane with the CCM; Ctrl-C stops it (see hack/local-up.sh).
	hack/local-up.sh

.PHONY: bench
bench: ## Run the Go benchmarks (fake-gce, external load balancers, nodeip) three times each and print their figures, with the load average.
	$(GO) test -run '^$$' -bench . -benchmem -count 3 -timeout 60m ./test/fakegce/... ./providers/gce/nlb/ ./providers/gce/nodeip/

.PHONY: bench-scale
bench-scale: kube-binaries ## Make the runs docs/benchmarks.md quotes (three of each, with the load average) into _output/benchmarks.md (about 30 minutes on 2 busy cores).
	mkdir -p _output
	$(GO) run ./test/bench -op-latency 1s -services 1,100 -runs 3 > _output/benchmarks.md
	$(GO) run ./test/bench -op-latency 1s -services "" -ccm-services 1,100 -runs 3 >> _output/benchmarks.md
	$(GO) run ./test/bench -op-latency 0 -services "" -rss-services 1000 -rss-nodes 200 -runs 3 >> _output/benchmarks.md

.PHONY: fuzz
fuzz: ## Fuzz the fake's filter parser and request decoding for a minute each.
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./test/fakegce/filter/
	$(GO) test -run '^$$' -fuzz FuzzDecodeBody -fuzztime 60s ./test/fakegce/

.PHONY: generate
generate: ## Regenerate the trimmed discovery document fake-gce routes by.
	$(GO) run ./hack/gen-discovery -out test/fakegce/discovery.json.gz

.PHONY: verify
verify: ## gofmt, go vet, and a check that generated files are current.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	@$(GO) run ./hack/gen-discovery -out /tmp/discovery.check.gz && cmp -s /tmp/discovery.check.gz test/fakegce/discovery.json.gz || { echo "test/fakegce/discovery.json.gz is stale: run make generate"; exit 1; }

.PHONY: fake-gce
fake-gce: ## Run fake-gce on 127.0.0.1:8085.
	$(GO) run ./cmd/fake-gce

.PHONY: clean
clean: ## Remove build output.
	rm -rf _output

.PHONY: kube-binaries
kube-binaries: ## Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, kubectl and hollow-node into _output/bin (cached).
	hack/build-kube-binaries.sh

.PHONY: tofu
tofu: ## Build OpenTofu into _output/bin/tofu (cached; the version is pinned in hack/tofu/go.mod).
	hack/build-tofu.sh

.PHONY: tf-fmt
tf-fmt: tofu ## Rewrite deploy/terraform in tofu fmt's format.
	TF_CLI_CONFIG_FILE=/dev/null $(BIN)/tofu fmt -recursive deploy/terraform

.PHONY: tf-e2e
tf-e2e: tofu $(if $(TF_PROVIDER_MIRROR),kube-binaries) ## deploy/terraform on fake-gce: apply, empty plan, nodes, a LoadBalancer, destroy (needs TF_PROVIDER_MIRROR, docs/terraform.md).
	@[ -n "$${TF_PROVIDER_MIRROR:-}" ] || echo "tf-e2e: TF_PROVIDER_MIRROR is not set, so only the checks that need no provider run (docs/terraform.md: a provider mirror)"
	$(GO) test $(GOTESTFLAGS) -count=1 -v ./test/tfe2e/
