#!/usr/bin/env python3
"""Parses a Prometheus text exposition with prometheus_client's own parser.

stdin: the body of GET /metrics. stdout: one JSON document,
{"families": {name: type}, "samples": [{"name", "labels", "value"}]}.
Exit 1 with the parser's error when the text does not parse: the check is the parse itself.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> int:
    text = sys.stdin.read()
    families = {}
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            for sample in family.samples:
                samples.append({"name": sample.name, "labels": dict(sample.labels), "value": sample.value})
    except Exception as error:  # the parser raises ValueError and friends on malformed input
        print(f"unparseable exposition: {error!r}", file=sys.stderr)
        return 1
    json.dump({"families": families, "samples": samples}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
