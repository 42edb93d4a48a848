# cloud-provider-vpc: build, test and verify.
SHELL := /usr/bin/env bash
GO ?= go
BIN := _output/bin
GOTESTFLAGS ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build every command into _output/bin.
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

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
bench: ## Run the Go benchmarks (fake-gce, external load balancers, nodeip) and print their figures.
	$(GO) test -run '^$$' -bench . -benchmem ./test/fakegce/... ./providers/gce/nlb/ ./providers/gce/nodeip/

.PHONY: bench-scale
bench-scale: kube-binaries ## Measure load balancers at scale (1 s operations) and the CCM's memory into _output/benchmarks.md (about an hour; docs/benchmarks.md has the last figures).
	$(GO) run ./test/bench -op-latency 1s -services 1,100,1000 -ccm-services 1,100,1000 -rss-services 5000 -rss-nodes 1000 -out _output/benchmarks.md

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
kube-binaries: ## Build kube-apiserver, kube-proxy, kubectl and etcd into _output/bin (cached).
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
