#!/usr/bin/env bash
# Runs the libFuzzer harnesses of Fuzz/ for FUZZ_SECONDS each (default 300), one after another, and
# fails when one crashes (a trap in the code under test or a broken invariant). Usage:
#   scripts/fuzz.sh [target...]      # targets: http1-request http1-response http2-server json webhook config
# The build goes to .build-fuzz (FUZZ_SKIP_BUILD=1 reuses it); each target keeps the inputs it found
# in .build-fuzz/corpus/<target> across runs, starting from its seeds (Fuzz/Corpus, fixtures/,
# deploy/), and writes a crashing input to .build-fuzz/artifacts/<target>/. Reproduce one with
#   .build-fuzz/debug/fuzz-<target> <file>
# and turn it into a test in CutoverFuzzingTests (Fuzz/Regressions/<target>/).
set -uo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-300}"
build="$PWD/.build-fuzz"
all=(http1-request http1-response http2-server json webhook config)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")

if [[ "${FUZZ_SKIP_BUILD:-0}" != 1 ]]; then
    # gold warns once per ASan helper symbol it cannot export; nothing to act on.
    build_harnesses() {
        ${SWIFT:-swift} build --package-path Fuzz --scratch-path "$build" -Xswiftc -sanitize=fuzzer,address 2>&1 \
            | grep -v "Cannot export local symbol"
        return "${PIPESTATUS[0]}"
    }
    # SwiftPM can plan the first build after a new file or target in the root package from its
    # cached view of that path dependency ("cannot find type", "no such module"); the failed build
    # refreshes the view, so one more try is enough. A fresh clone (CI) never needs it.
    if ! build_harnesses; then
        echo "fuzz: the build failed; trying once more in case SwiftPM's view of the root package was stale" >&2
        build_harnesses || { echo "fuzz: the build failed" >&2; exit 1; }
    fi
fi

status=0
for target in "${targets[@]}"; do
    binary="$build/debug/fuzz-$target"
    [[ -x "$binary" ]] || { echo "fuzz: no harness $target (one of: ${all[*]})" >&2; exit 2; }
    seeds=()
    dictionary=()
    case "$target" in
        http1-request | http1-response) seeds=("Fuzz/Corpus/$target"); dictionary=(-dict=Fuzz/Dictionaries/http1.dict) ;;
        http2-server) seeds=("Fuzz/Corpus/$target") ;;
        json | webhook) seeds=(fixtures/cloud fixtures/cloud-2026 fixtures/onprem); dictionary=(-dict=Fuzz/Dictionaries/json.dict) ;;
        config) seeds=("Fuzz/Corpus/$target" deploy) ;;
    esac
    [[ -d "Fuzz/Regressions/$target" ]] && seeds+=("Fuzz/Regressions/$target")
    corpus="$build/corpus/$target"
    artifacts="$build/artifacts/$target"
    log="$build/logs/$target.log"
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    # -timeout: one input runs in milliseconds; a much longer one is a hang, but a loaded shared
    # machine can stall a niced process for seconds, so the limit is generous.
    started=$(date +%s)
    "$binary" -max_total_time="$seconds" -timeout=120 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${dictionary[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
    result=$?
    elapsed=$(( $(date +%s) - started ))
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    coverage=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)
    if [[ $result -eq 0 ]]; then
        echo "fuzz: $target: ok, ${runs:-0} runs in ${elapsed}s, ${coverage:-no coverage line}"
    else
        status=1
        echo "fuzz: $target: FAILED after ${elapsed}s (exit $result), ${coverage:-no coverage line}; log $log" >&2
        grep -E "Test unit written|ERROR|Fatal error|SUMMARY" "$log" | head -5 >&2
    fi
done
exit $status
