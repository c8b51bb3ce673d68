#!/usr/bin/env python3
"""Validates canonical events (one JSON document per stdin line: {"name": ..., "event": {...}})
against docs/canonical.schema.json (JSON Schema 2020-12, format assertions on).

Usage: validate_canonical.py SCHEMA < events.jsonl
Prints one line per invalid event and exits 1 when any is invalid; prints "ok N" otherwise.
"""
import json
import sys

from jsonschema import Draft202012Validator, FormatChecker


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    count = 0
    failures = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        count += 1
        errors = sorted(validator.iter_errors(record["event"]), key=lambda e: list(e.absolute_path))
        for e in errors[:5]:
            failures += 1
            path = "/".join(str(p) for p in e.absolute_path)
            print(f"INVALID {record['name']} at /{path}: {e.message[:300]}")
    if count == 0:
        print("no events read")
        return 1
    if failures:
        return 1
    print(f"ok {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
