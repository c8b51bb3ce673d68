#!/usr/bin/env bash
# Run by `make test-asan` / `make test-tsan` after the suite: the sanitizers of the test process and
# of every cutover binary it started write their reports under DIR (log_path in ASAN_OPTIONS /
# TSAN_OPTIONS, one file per process); any report there fails the run, whatever the tests said.
set -uo pipefail
dir="${1:?usage: check-reports.sh REPORT-DIR}"
pattern='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error:'
failed=0
shopt -s nullglob
for report in "$dir"/*; do
    [[ -s "$report" ]] || continue
    if grep -qE "$pattern" "$report"; then
        echo "check-reports: $report:" >&2
        head -n 150 "$report" >&2
        grep -E '^SUMMARY:' "$report" >&2
        failed=1
    fi
done
if ((failed)); then
    echo "check-reports: the sanitizer reported the findings above (all of them: ls $dir)" >&2
    exit 1
fi
echo "check-reports: no sanitizer report in $dir"
