# Cutover: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing system packages first (as root), or print the exact command to run.

SWIFT        ?= swift
# Build: the C libraries. Tests: the real peers they start (curl, openssl, nginx, h2load, Python).
APT_PACKAGES := libssl-dev libnghttp2-dev libsqlite3-dev pkg-config curl openssl python3 nginx-light nghttp2-client
BENCH_PACKAGES := wrk
ARGS         ?=

.PHONY: run test build release bench deps bench-deps clean

run: deps release
	./.build/release/cutover serve $(ARGS)

# Every process the tests start carries CUTOVER_TEST_PEER=$(CURDIR); after the suite (passed or
# not) the leftover check fails the run if any of them, or any the test process had to kill at
# exit, is still around.
LEFTOVERS    := $(CURDIR)/.build/test-leftover-peers

test: deps
	$(SWIFT) build --build-tests
	@: >"$(LEFTOVERS)"
	CUTOVER_BINARY="$(CURDIR)/.build/debug/cutover" CUTOVER_TEST_RUN="$(CURDIR)" CUTOVER_TEST_LEFTOVERS="$(LEFTOVERS)" \
		$(SWIFT) test --skip-build; status=$$?; \
		./scripts/check-no-leftover-peers.sh "$(CURDIR)" "$(LEFTOVERS)" || status=1; \
		exit $$status

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product cutover

bench: deps bench-deps release
	./scripts/bench.sh
	./scripts/bench-h2.sh

deps:
	@./scripts/ensure-packages.sh $(APT_PACKAGES)

bench-deps:
	@./scripts/ensure-packages.sh $(BENCH_PACKAGES)

clean:
	rm -rf .build
