#!/usr/bin/env bash
# The spool's delivery bookkeeping per delivered event, before and after, in the same run:
# scripts/bench-delivery/main.swift built against the base commit's CutoverSpool and against this
# tree's (release, each in a package of its own under .build-bench/), then run in interleaved
# rounds on a temporary spool. Prints µs per delivered event (wall and CPU), transactions per 100
# events, and the ratio of each figure to the base's `separate` mode at the same batch size.
# A benchmark, never a test: the figures depend on the machine's fsync.
#
#   BENCH_BASE     commit to compare against (default: the merge base with main)
#   BENCH_EVENTS   backlog size (default 5000)    BENCH_CONTACTS (default 1000)
#   BENCH_BATCHES  batch sizes (default "16 64 256")   BENCH_ROUNDS (default 3; the median is shown)
source "$(dirname "$0")/bench-common.sh"

BASE=${BENCH_BASE:-$(git merge-base HEAD main)}
EVENTS=${BENCH_EVENTS:-5000}
CONTACTS=${BENCH_CONTACTS:-1000}
BATCHES=${BENCH_BATCHES:-16 64 256}
ROUNDS=${BENCH_ROUNDS:-3}
root=$PWD/.build-bench

# One small package per variant: CutoverSpool, the targets it depends on, and the bench; nothing else to build.
spool_targets="CSystemShims CutoverLocking CSQLite CLibPQ CutoverPostgres CutoverSpool"
prepare() { # name, flags
    local dir=$root/$1
    mkdir -p "$dir/Sources/spool-bench"
    cat > "$dir/Package.swift" <<SWIFT
// swift-tools-version: 6.1
import PackageDescription
let settings: [SwiftSetting] = [.swiftLanguageMode(.v6)]
let package = Package(
    name: "SpoolBench",
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3"),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq"),
        .target(name: "CSystemShims"),
        .target(name: "CutoverLocking", dependencies: ["CSystemShims"], swiftSettings: settings),
        .target(name: "CutoverPostgres", dependencies: ["CLibPQ"], swiftSettings: settings),
        .target(name: "CutoverSpool", dependencies: ["CutoverLocking", "CSQLite", "CutoverPostgres"], swiftSettings: settings),
        .executableTarget(name: "spool-bench", dependencies: ["CutoverSpool"], swiftSettings: settings + [$2]),
    ]
)
SWIFT
    cp scripts/bench-delivery/main.swift "$dir/Sources/spool-bench/main.swift"
    swift build -c release --package-path "$dir" --product spool-bench >&2
}

for variant in base new; do
    for target in $spool_targets; do rm -rf "$root/$variant/Sources/$target"; done
    mkdir -p "$root/$variant/Sources"
done
git archive "$BASE" $(printf 'Sources/%s ' $spool_targets) | tar -x -C "$root/base"
for target in $spool_targets; do cp -R "Sources/$target" "$root/new/Sources/"; done
echo "building base $(git rev-parse --short "$BASE") and this tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources/CutoverSpool || echo ' + changes'))" >&2
# A base from before worker turns has no `recordAndClaim`: its `turns` row reads n/a.
# A base whose results carry no claim (`DeliveryResult(for:)`) makes them from the delivery id alone.
defines() { # variant
    local spool=$root/$1/Sources/CutoverSpool
    if grep -q "func recordAndClaim" "$spool/Spool.swift"; then printf '.define("TURNS")'; else printf '.define("BASE")'; fi
    if grep -q "init(for delivery: ClaimedDelivery" "$spool/Models.swift"; then printf ', .define("CLAIMED_RESULTS")'; fi
}
prepare base "$(defines base)"
prepare new "$(defines new)"
variants=("base separate" "base turns" "new separate" "new turns")

printf '%-6s %-22s %10s %10s %10s %10s %10s\n' batch variant "wall µs/ev" "CPU µs/ev" "txn/100ev" "wall ×" "CPU ×"
for batch in $BATCHES; do
    declare -A wall=() cpu=() txn=()
    for round in $(seq 1 "$ROUNDS"); do
        for variant in "${variants[@]}"; do
            read -r name mode <<<"$variant"
            out=$("$root/$name/.build/release/spool-bench" "$EVENTS" "$CONTACTS" "$mode" "$batch")
            read -r w c t <<<"$out"
            wall[$variant]+="$w "; cpu[$variant]+="$c "; txn[$variant]=$t
        done
    done
    base_wall=$(median <<<"${wall[base separate]}")
    base_cpu=$(median <<<"${cpu[base separate]}")
    for variant in "${variants[@]}"; do
        [[ ${wall[$variant]} == n/a* ]] && { printf '%-6s %-22s %10s\n' "$batch" "$variant" n/a; continue; }
        w=$(median <<<"${wall[$variant]}")
        c=$(median <<<"${cpu[$variant]}")
        printf '%-6s %-22s %10s %10s %10s %10.2f %10.2f\n' "$batch" "$variant" "$w" "$c" "${txn[$variant]}" \
            "$(echo "$w / $base_wall" | bc -l)" "$(echo "$c / $base_cpu" | bc -l)"
    done
    unset wall cpu txn
done
echo "($EVENTS events over $CONTACTS contacts, one destination, median of $ROUNDS rounds; × is the ratio to 'base separate' at the same batch)"
