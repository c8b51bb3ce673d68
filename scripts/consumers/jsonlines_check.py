"""The loop every consumer check shares: read JSON lines from stdin, ask `check` what is wrong
with each record (a list of report lines, empty when it passes), print the reports, and exit 1
when anything failed or nothing was read; otherwise print "ok N"."""
import json
import sys
from typing import Callable


def run(check: Callable[[dict], list[str]], noun: str = "events") -> int:
    count = 0
    failures = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        count += 1
        for report in check(json.loads(line)):
            failures += 1
            print(report)
    if count == 0:
        print(f"no {noun} read")
        return 1
    if failures:
        return 1
    print(f"ok {count}")
    return 0
