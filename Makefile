# Cutover: the two commands a newcomer needs are `make run` and `make test`.
# Both install missing system packages first (as root), or print the exact command to run.

SWIFT        ?= swift
# Build (and so `make run`): the C libraries only.
BUILD_PACKAGES := libssl-dev libnghttp2-dev libsqlite3-dev libpq-dev pkg-config
# Tests: the real peers they start (curl, openssl, nginx, h2load, Python, PostgreSQL); the deploy/
# checks' systemd-analyze, which verifies deploy/cutover.service; chromium, in which the cockpit
# tests drive the admin page (headless).
TEST_PACKAGES := curl openssl python3 nginx-light nghttp2-client postgresql systemd chromium
BENCH_PACKAGES := wrk
# `make profile`: perf, which samples cutover's call stacks.
PROFILE_PACKAGES := linux-perf
ARGS         ?=

.PHONY: run test test-asan test-tsan fuzz build release bench profile deps test-deps bench-deps clean

run: release
	./.build/release/cutover serve $(ARGS)

# Every process the tests start carries CUTOVER_TEST_PEER=$(CURDIR); after the suite (passed or
# not) the leftover check fails the run if any of them, or any the test process had to kill at
# exit, is still around. $(1): the build folder, $(2): extra `swift test` flags.
define run_suite
	@: >"$(CURDIR)/$(1)/test-leftover-peers"
	CUTOVER_BINARY="$(CURDIR)/$(1)/debug/cutover" CUTOVER_TEST_RUN="$(CURDIR)" CUTOVER_TEST_LEFTOVERS="$(CURDIR)/$(1)/test-leftover-peers" \
		$(SWIFT) test --skip-build --scratch-path "$(CURDIR)/$(1)" $(2); status=$$?; \
		./scripts/check-no-leftover-peers.sh "$(CURDIR)" "$(CURDIR)/$(1)/test-leftover-peers" || status=1; \
		$(3) \
		exit $$status
endef

# Seconds per fuzz harness: `make fuzz` explores, `make test` only catches a regression early.
FUZZ_SECONDS      ?= 300
FUZZ_TEST_SECONDS ?= 20

# The suite, then each libFuzzer harness briefly (scripts/fuzz.sh builds them into .build-fuzz).
test: deps test-deps
	$(SWIFT) build --build-tests
	$(call run_suite,.build,,FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) ./scripts/fuzz.sh || status=1;)

# The suite under AddressSanitizer and ThreadSanitizer, each in its own build folder (and the
# cutover binary the integration tests start is built the same way). Not part of `make test`.
# Every sanitized process of the run (the test process, each cutover it starts) writes its reports
# to <build folder>/sanitizer-reports/ (log_path): scripts/sanitizers/check-reports.sh fails the run
# on any of them, so a report from a child the tests only killed counts too.
ASAN_REPORTS := $(CURDIR)/.build-asan/sanitizer-reports
TSAN_REPORTS := $(CURDIR)/.build-tsan/sanitizer-reports

# LeakSanitizer skips only the leaks inside Foundation listed, each with why, in lsan.supp.
test-asan: export ASAN_OPTIONS = log_path=$(ASAN_REPORTS)/asan detect_leaks=1
test-asan: export LSAN_OPTIONS = suppressions=$(CURDIR)/scripts/sanitizers/lsan.supp print_suppressions=0
test-asan: deps test-deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path "$(CURDIR)/.build-asan"
	@rm -rf "$(ASAN_REPORTS)" && mkdir -p "$(ASAN_REPORTS)"
	$(call run_suite,.build-asan,--sanitize=address,./scripts/sanitizers/check-reports.sh "$(ASAN_REPORTS)" || status=1;)

# check-tsan.sh first: TSan still reports a real race and trusts the annotated lock (Locked).
test-tsan: export TSAN_OPTIONS = log_path=$(TSAN_REPORTS)/tsan halt_on_error=0
test-tsan: deps test-deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path "$(CURDIR)/.build-tsan"
	./scripts/sanitizers/check-tsan.sh "$(CURDIR)/.build-tsan/tsan-race-check"
	@rm -rf "$(TSAN_REPORTS)" && mkdir -p "$(TSAN_REPORTS)"
	$(call run_suite,.build-tsan,--sanitize=thread,./scripts/sanitizers/check-reports.sh "$(TSAN_REPORTS)" || status=1;)

# Each libFuzzer harness for FUZZ_SECONDS (FUZZ_TARGETS: a subset); fails on a crash.
fuzz: deps test-deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh $(FUZZ_TARGETS)

build: deps
	$(SWIFT) build

# Every module, the dependencies' too, with -cross-module-optimization: a request crosses a dozen
# of them (sockets, the HTTP codec, swift-http-types, the server, ingress, webhooks, the spool,
# metrics), and without it each small accessor across a boundary is a call that copies (and
# retains) what it reads. GET /healthz: 8.64 against 9.30 µs of CPU per request (medians of 14
# interleaved rounds; 9.07 with our own modules alone).
# Exported: scripts/bench-h2.sh builds its client into the same release tree with the same flags,
# which changed flags would otherwise rebuild in the middle of `make bench`.
RELEASE_FLAGS ?= -Xswiftc -cross-module-optimization
export RELEASE_FLAGS

release: deps
	$(SWIFT) build -c release --product cutover $(RELEASE_FLAGS)

# One table (issue 12): scripts/bench.sh runs bench-h2.sh and bench-ingest.sh for their rows.
bench: deps test-deps bench-deps release
	./scripts/bench.sh

# Where a distinct event's CPU goes, by pipeline stage, and why cutover's threads switch.
profile: deps test-deps bench-deps release
	@./scripts/ensure-packages.sh $(PROFILE_PACKAGES)
	./scripts/bench-profile.sh

deps:
	@./scripts/ensure-packages.sh $(BUILD_PACKAGES)

test-deps:
	@./scripts/ensure-packages.sh $(TEST_PACKAGES)

bench-deps:
	@./scripts/ensure-packages.sh $(BENCH_PACKAGES)

clean:
	rm -rf .build .build-fuzz .build-asan .build-tsan
