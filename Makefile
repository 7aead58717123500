# agent-trace: build, test and run. `make` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export CGO_ENABLED := 0

GO          ?= go
BIN         := bin
CACHE       := .cache
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS     := -s -w -X main.version=$(VERSION)
SERVICES_ENV := $(CACHE)/test-services.env
# The Claude Code CLI the real-CLI end-to-end test drives (a native binary shipped in npm).
CLAUDE_CODE_VERSION ?= 2.1.332
CLAUDE_CODE_DIR     := $(CACHE)/claude-code
export AGENT_TRACE_CLAUDE_BIN := $(abspath $(CLAUDE_CODE_DIR)/node_modules/.bin/claude)
TEST_FLAGS  ?= -count=1 -timeout=40m
TEST_PKGS   ?= ./...
# An execution count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a -fuzztime duration ends while a worker is mid-run
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
FUZZ_TIME   ?= 100000x
# Minimizing each new interesting input may otherwise take 60 s (the default bound), and
# a run can find dozens: a count keeps a run's length bounded and free of deadline races.
FUZZ_MINIMIZE ?= 2000x
# Every package with a fuzz target (the hook's payload parsing and redaction, the transcript reader, ...).
FUZZ_PKGS   ?= $(shell grep -rl --include='*_test.go' '^func Fuzz' . 2>/dev/null | xargs -r -n1 dirname | sort -u)
BENCH_PKGS  ?= ./...
# The platforms Claude Code runs on: every release archive and the cross-build check.
TARGETS     ?= linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64
DIST        ?= dist
comma       := ,
BENCH_TIME  ?= 1s
# make bench-scale: events to seed, and flags for scripts/benchscale (-compare, -original, …).
N           ?= 100000
BENCH_SCALE_FLAGS ?=

# Sourced before go test so the PostgreSQL and ClickHouse tests find the throwaway servers.
with_services = set -a; . $(SERVICES_ENV); set +a;

.PHONY: help build run dev release cross docker install test test-deps test-short fuzz bench bench-scale bench-hook lint e2e e2e-claude claude-code services services-stop clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## Build the three binaries into bin/: hook, deliverer (kept next to the hook) and server
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/agent-trace-hook ./cmd/agent-trace-deliver ./cmd/agent-trace-server
	@echo "built $(BIN)/agent-trace-hook, $(BIN)/agent-trace-deliver and $(BIN)/agent-trace-server ($(VERSION))"

install: ## go install the three binaries into $$GOBIN (or ~/go/bin), side by side
	$(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/agent-trace-hook ./cmd/agent-trace-deliver ./cmd/agent-trace-server

release: ## Release archives for TARGETS in dist/ (tar.gz, zip for Windows) with checksums.txt: make release VERSION=v1.2.3
	$(GO) run ./scripts/release -version $(VERSION) -out $(DIST) -targets $(TARGETS)
	@cat $(DIST)/checksums.txt

cross: ## Cross-compile every binary and type-check every test package for each of TARGETS
	@for t in $(subst $(comma), ,$(TARGETS)); do \
	  echo "cross $$t"; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build -o /dev/null ./cmd/... || exit 1; \
	  GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... || exit 1; \
	done

docker: ## Build the image for linux/amd64 and linux/arm64 with docker buildx (needs a Docker engine)
	docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=$(VERSION) \
	  -f deploy/Dockerfile -t agent-trace-server:$(VERSION) .

run: build ## Build and run the server on the embedded default (SQLite in ~/.agent-trace)
	./$(BIN)/agent-trace-server

dev: ## Hot reload: PostgreSQL + ClickHouse and the server from this tree, rebuilt and restarted on every change
	scripts/start-stack.sh dev

test: test-deps services ## Every test: installs what is missing, starts PostgreSQL and ClickHouse, runs go test ./..., then short fuzz runs
	@mkdir -p $(CACHE)
	$(with_services) $(GO) test -json $(TEST_FLAGS) $(TEST_PKGS) 2>&1 | tee $(CACHE)/test.json | $(GO) run ./scripts/testreport
	@$(MAKE) --no-print-directory fuzz

test-short: ## Unit tests only: no services, no real CLI, -short
	$(GO) test -short -count=1 ./...

fuzz: ## Run each fuzz target in FUZZ_PKGS for FUZZ_TIME
	@for pkg in $(FUZZ_PKGS); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f for $(FUZZ_TIME)"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZ_TIME) -fuzzminimizetime=$(FUZZ_MINIMIZE) -timeout=30m $$pkg; \
	  done; \
	done

bench: bench-hook ## Go benchmarks, then the hook latency harness (Go hook vs a Node.js hook)
	$(GO) test -run='^$$' -bench=. -skip=HookLatency -benchmem -benchtime=$(BENCH_TIME) $(BENCH_PKGS)

bench-scale: ## A server at scale: seed N events (N=100000), then ingest rates, every read's p50/p95/p99, bytes/event, RSS; JSON in .cache
	$(GO) run ./scripts/benchscale -events $(N) $(BENCH_SCALE_FLAGS)

bench-hook: ## Hook latency: 200 runs of the built hook and of a Node.js hook, p50/p99 and peak RSS
	$(GO) test -run='^$$' -bench=HookLatency -benchtime=200x -v ./e2e/

lint: ## go vet, staticcheck, and the code-style checks (no function over 100 lines, no adapter importing another)
	$(GO) vet ./...
	$(GO) tool staticcheck ./...
	$(GO) test -count=1 ./internal/codestyle

e2e: services ## The end-to-end tests (fixtures through the hook, the team backend; the real CLI when installed)
	$(with_services) $(GO) test $(TEST_FLAGS) -v ./e2e/...

e2e-claude: claude-code ## The end-to-end test with the real Claude Code CLI
	CI=true $(GO) test $(TEST_FLAGS) -v -run TestRealClaudeCode ./e2e/

claude-code: $(CLAUDE_CODE_DIR)/.installed-$(CLAUDE_CODE_VERSION) ## Install the pinned Claude Code CLI into .cache/claude-code

$(CLAUDE_CODE_DIR)/.installed-$(CLAUDE_CODE_VERSION):
	@mkdir -p $(CLAUDE_CODE_DIR)
	rm -f $(CLAUDE_CODE_DIR)/.installed-*
	npm install --prefix $(CLAUDE_CODE_DIR) --no-audit --no-fund --no-save @anthropic-ai/claude-code@$(CLAUDE_CODE_VERSION)
	$(AGENT_TRACE_CLAUDE_BIN) --version
	@touch $@

test-deps: ## Install git and chromium (browser tests) when missing
	scripts/test-deps.sh

services: ## Start throwaway PostgreSQL, ClickHouse and a 2-shard ClickHouse cluster with ZooKeeper (installs them when missing); URLs in .cache/test-services.env
	scripts/test-services.sh start

services-stop: ## Stop the throwaway PostgreSQL, ClickHouse, cluster and ZooKeeper
	scripts/test-services.sh stop

clean: ## Remove bin/, dist/ and the test outputs (keeps the installed Claude Code CLI)
	rm -rf $(BIN) $(DIST) $(CACHE)/test.json
