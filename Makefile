# wagate: run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PG_VERSION ?= 15
PG_CLUSTER ?= main
PG_HOST    ?= 127.0.0.1
PG_PORT    ?= 5432
GO_TEST    := go test -race -count=1 -timeout 12m

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_\/-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: db
db: ## Start the local PostgreSQL cluster if it is down
	@pg_isready -q -h $(PG_HOST) -p $(PG_PORT) || { \
		echo "starting PostgreSQL $(PG_VERSION)/$(PG_CLUSTER)"; \
		pg_ctlcluster --skip-systemctl-redirect $(PG_VERSION) $(PG_CLUSTER) start; \
		for i in $$(seq 1 30); do pg_isready -q -h $(PG_HOST) -p $(PG_PORT) && break; sleep 1; done; \
		pg_isready -h $(PG_HOST) -p $(PG_PORT); }

.PHONY: generate
generate: ## Regenerate gen/ from openapi.yaml (oapi-codegen pinned in go.mod)
	go generate ./gen/...

.PHONY: verify
verify: generate ## Fail when gen/ is stale or untracked files appear in it; go vet
	git diff --exit-code -- gen/
	@untracked="$$(git status --porcelain --untracked-files=all -- gen/)"; \
	if [ -n "$$untracked" ]; then echo "gen/ is not clean:"; echo "$$untracked"; exit 1; fi
	go vet ./...

.PHONY: build
build: ## Build bin/wagate
	go build -o bin/wagate ./cmd/wagate

.PHONY: image-scratch
image-scratch: ## Build the container image wagate:scratch FROM scratch with podman, from a static host build (Containerfile.scratch)
	rm -rf build/image && mkdir -p build/image/tmp
	CGO_ENABLED=0 go build -trimpath -tags timetzdata -ldflags="-s -w" -o build/image/wagate ./cmd/wagate
	cp /etc/ssl/certs/ca-certificates.crt build/image/
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > build/image/passwd
	printf 'root:x:0:\nnonroot:x:65532:\n' > build/image/group
	podman build --format docker -f Containerfile.scratch -t wagate:scratch build/image

.PHONY: run
run: db ## Start PostgreSQL if needed, create and migrate the database, serve on :3000
	go run ./cmd/wagate serve

.PHONY: test
test: db ## Run every test with the race detector against the local PostgreSQL
	$(GO_TEST) ./...

.PHONY: soak
soak: db ## Soak the real binary against `wagate simulator` (SOAK_DURATION=1h SOAK_SESSIONS=500 SOAK_RATE=20): RSS, goroutines, files, DB conns, lost messages
	SOAK_DURATION=$${SOAK_DURATION:-1h} SOAK_SESSIONS=$${SOAK_SESSIONS:-500} go test -count=1 -timeout 0 -v -run '^TestSoak$$' ./cmd/wagate/

.PHONY: bench-http
bench-http: db build ## HTTP benchmark of the real binary in sandbox mode (vegeta), with a bare net/http ceiling; BENCH_ARGS=-duration=10s ...
	go run -tags benchhttp ./cmd/benchhttp -bin bin/wagate $(BENCH_ARGS)

.PHONY: bench-media
bench-media: db build ## Peak RSS of the real binary sending 1, 4 and 16 MiB videos (multipart and base64) against `wagate simulator`; BENCH_ARGS=-sizes=1,4,16,64
	go run -tags benchmedia ./cmd/benchmedia -bin bin/wagate $(BENCH_ARGS)

# golangci-lint, pinned in tools/golangci/go.mod (its own module, so its
# dependencies stay out of go.mod), built from the module proxy on first use.
GOLANGCI_LINT := bin/golangci-lint

$(GOLANGCI_LINT): tools/golangci/go.mod tools/golangci/go.sum
	cd tools/golangci && go build -o $(CURDIR)/$(GOLANGCI_LINT) github.com/golangci/golangci-lint/v2/cmd/golangci-lint

FUZZTIME ?= 1m
.PHONY: fuzz
fuzz: db ## Fuzz every operation of openapi.yaml against the real server (FUZZTIME=10m; corpus in internal/apifuzz/testdata)
	go test -run '^$$' -fuzz '^FuzzAPI$$' -fuzztime $(FUZZTIME) -timeout 0 ./internal/apifuzz/

.PHONY: lint
lint: $(GOLANGCI_LINT) ## gofmt check and golangci-lint (.golangci.yml: depguard enforces the dependency rule)
	@unformatted="$$(gofmt -l $$(git ls-files '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GOLANGCI_LINT) run ./...

.PHONY: bench-failover
bench-failover: db ## Failover benchmark (not in CI): N sessions on a node killed with SIGKILL, time until all connected on the survivors; lease-renewal load. BENCH_SESSIONS=1000 BENCH_LEASE_TTL=15s BENCH_LINK_WORKERS=8
	WAGATE_BENCH_FAILOVER=$${BENCH_SESSIONS:-1000} WAGATE_BENCH_LEASE_TTL=$${BENCH_LEASE_TTL:-15s} WAGATE_BENCH_LINK_WORKERS=$${BENCH_LINK_WORKERS:-8} go test -count=1 -v -timeout 40m -run '^TestFailoverBenchmark$$' ./cmd/wagate/

.PHONY: bench-events
bench-events: db ## Event stream benchmark (not in CI): replay of 100,000 events, live events/s to 1 and 1,000 SSE clients
	go test -run '^$$' -bench 'EventStream' -benchtime 1x -timeout 20m ./internal/httpapi/

.PHONY: lint-spec breaking sdk-ts e2e examples mcp-conformance contract
lint-spec: ## Spectral lint of openapi.yaml (errors fail), with the check's self-test
	scripts/lint-spec.sh && scripts/lint-spec.sh --self-test

breaking: ## oasdiff: no breaking change against BASE_REF (default HEAD~1)
	scripts/breaking.sh && scripts/breaking.sh --self-test

sdk-ts: ## TypeScript SDK: types current with openapi.yaml, strict tsc build, offline tests
	scripts/sdk-ts.sh

e2e: db ## Sandbox wagate behind prism proxy --errors; the TypeScript smoke test through it
	scripts/e2e-proxy.sh

examples: db ## Run chat-management.md's curl, JavaScript and Python examples against sandbox wagate
	scripts/examples/run.sh

mcp-conformance: db ## The official MCP conformance suite against /mcp of a sandbox wagate (Node 22 from tools/mcp-conformance; expected-failures.yaml lists what does not apply)
	scripts/mcp-conformance.sh

contract: lint-spec breaking sdk-ts e2e examples mcp-conformance ## Every contract check
