#!/usr/bin/env bash
# Run by `make test-tsan` before the suite: proves that ThreadSanitizer, with Cutover's lock
# annotations, still reports a real race and stays quiet about a correctly locked one, and that
# nothing bypasses the annotated lock type. Builds a small program (tsan-race-check.swift) together
# with the real Sources/CutoverLocking/Locked.swift and Sources/CSystemShims into BUILD-DIR.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$repo/.build-tsan/tsan-race-check}"
swiftc="${SWIFTC:-swiftc}"
clang="${CLANG:-$(dirname "$(command -v "$swiftc")")/clang}"
mkdir -p "$build"
failed=0

# Every lock goes through `Locked`: a bare Synchronization.Mutex is invisible to TSan when contended.
if bare=$(grep -rnE '\bMutex\s*(<|\()' "$repo/Sources" "$repo/Tests" --include='*.swift' | grep -v '^[^:]*/Sources/CutoverLocking/'); then
    echo "check-tsan: use Locked (CutoverLocking), not a bare Mutex, which TSan cannot follow:" >&2
    echo "$bare" >&2
    failed=1
fi

# In a normal build the annotations are empty: without -fsanitize=thread shims.c calls no TSan function.
"$clang" -c -O0 -I "$repo/Sources/CSystemShims/include" "$repo/Sources/CSystemShims/shims.c" -o "$build/shims-plain.o"
if nm "$build/shims-plain.o" | grep -q '__tsan_'; then
    echo "check-tsan: shims.c calls into TSan without -fsanitize=thread" >&2
    failed=1
fi

cat >"$build/module.modulemap" <<MAP
module CSystemShims {
    header "$repo/Sources/CSystemShims/include/CSystemShims.h"
    export *
}
MAP
"$clang" -c -fsanitize=thread -g -I "$repo/Sources/CSystemShims/include" "$repo/Sources/CSystemShims/shims.c" -o "$build/shims-tsan.o"
"$swiftc" -sanitize=thread -g -Onone -swift-version 6 -package-name tsanracecheck -module-name TSanRaceCheck -parse-as-library \
    -I "$build" "$repo/scripts/sanitizers/tsan-race-check.swift" "$repo/Sources/CutoverLocking/Locked.swift" \
    "$build/shims-tsan.o" -o "$build/tsan-race-check"

# $1: scenario, $2: "report" or "quiet". TSan exits 66 when it reported anything.
expect() {
    local status=0
    TSAN_OPTIONS="exitcode=66 halt_on_error=0" "$build/tsan-race-check" "$1" >"$build/$1.out" 2>&1 || status=$?
    local reported=0
    grep -q 'WARNING: ThreadSanitizer' "$build/$1.out" && reported=1
    if [[ "$2" == report && ($status -ne 66 || $reported -eq 0) ]]; then
        echo "check-tsan: $1: TSan did not report the race (exit $status)" >&2
        cat "$build/$1.out" >&2
        failed=1
    elif [[ "$2" == quiet && ($status -ne 0 || $reported -eq 1) ]]; then
        echo "check-tsan: $1: expected no report and exit 0, got exit $status" >&2
        cat "$build/$1.out" >&2
        failed=1
    else
        echo "check-tsan: $1: $2, as expected"
    fi
}
expect unlocked report
expect outside report
expect locked quiet

# Why Locked exists: TSan misreads a contended bare Mutex. Shown, not required (it needs contention).
status=0
TSAN_OPTIONS="exitcode=66" "$build/tsan-race-check" mutex >"$build/mutex.out" 2>&1 || status=$?
if ((status == 66)); then
    echo "check-tsan: mutex: a bare Mutex still draws a false report (exit 66): the annotations are needed"
else
    echo "check-tsan: mutex: no false report this run (exit $status)"
fi

exit $failed
