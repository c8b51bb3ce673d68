#!/usr/bin/env python3
"""Validates JSON documents (one per stdin line: {"name": ..., "event": {...}}) against a JSON Schema
2020-12 file, format assertions on: canonical events against docs/canonical.schema.json, On-Prem
webhook bodies against docs/schema/onprem-webhook.schema.json.

Usage: validate_canonical.py SCHEMA < events.jsonl
Prints one line per invalid event and exits 1 when any is invalid; prints "ok N" otherwise.
"""
import json
import sys

from jsonschema import Draft202012Validator, FormatChecker
from jsonlines_check import run


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=FormatChecker())

    def reports(record: dict) -> list[str]:
        errors = sorted(validator.iter_errors(record["event"]), key=lambda e: list(e.absolute_path))
        return [
            f"INVALID {record['name']} at /{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
            for e in errors[:5]
        ]

    return run(reports)


if __name__ == "__main__":
    sys.exit(main())
