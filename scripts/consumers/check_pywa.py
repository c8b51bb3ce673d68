#!/usr/bin/env python3
"""Parses Cloud webhook bodies with pywa (the way pywa's webhook server does, without a server
or network) and checks the typed update it builds.

stdin: one JSON document per line: {"name": ..., "body": "<Cloud body JSON text>", "expect": {...}}
`expect` keys: "handler" (pywa handler class name, or null when pywa should ignore the body) and
"attrs": {"dotted.attribute.path": expected value}. Enum values compare by `.value`.
Exit 1 (one line per failure) when pywa raises or an expectation does not hold.
"""
import enum
import logging
import sys

from jsonlines_check import run
from pywa import WhatsApp
from pywa.types.base_update import RawUpdate

logging.disable(logging.CRITICAL)


def resolve(obj, path: str):
    for part in path.split("."):
        obj = getattr(obj, part)
    if isinstance(obj, enum.Enum):
        obj = obj.value
    return obj


def main() -> int:
    wa = WhatsApp(phone_id="0", token="unused", server=None, verify_token="unused",
                  validate_updates=False, filter_updates=False)

    def reports(record: dict) -> list[str]:
        name, expect = record["name"], record["expect"]
        try:
            raw = RawUpdate(record["body"].encode("utf-8"), hmac_header=None)
            handler = wa._get_handler_type(raw)
            got_handler = handler.__name__ if handler else None
            if got_handler != expect.get("handler"):
                raise AssertionError(f"handler {got_handler}, expected {expect.get('handler')}")
            if handler is None:
                return []
            update = wa._handlers_to_updates[handler].from_update(client=wa, update=raw)
            for path, want in expect.get("attrs", {}).items():
                got = resolve(update, path)
                if got != want:
                    raise AssertionError(f"{path} = {got!r}, expected {want!r}")
        except Exception as e:
            return [f"REJECTED {name}: {type(e).__name__}: {e}"]
        return []

    return run(reports, noun="bodies")


if __name__ == "__main__":
    sys.exit(main())
