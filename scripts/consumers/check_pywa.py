#!/usr/bin/env python3
"""Parses Cloud webhook bodies with pywa (the way pywa's webhook server does, without a server
or network) and checks the typed update it builds. Works with pywa 3.x and 4.x (run it with the
venv of the major to check: setup-venv.sh REPO_ROOT [consumers|pywa4]).

stdin: one JSON document per line: {"name": ..., "body": "<Cloud body JSON text>", "expect": {...}}
`expect` keys:
- "handler": pywa handler class name, or null when pywa has no handler for the body (it ignores it);
- "attrs": {"dotted.attribute.path": expected value}; enum values compare by `.value`;
- "refused": text that pywa's exception ("<ExceptionType>: <message>") must contain: the body is one
  pywa is known to drop, and the check is that it still does, for that reason.
stdout: "pywa <version>", then one line per failure, then "ok N" when every expectation held.
Exit 1 when any expectation does not hold (pywa raised unexpectedly, or did not raise when told).
"""
import enum
import hashlib
import inspect
import logging
import sys
from importlib.metadata import version

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


def raw_update(body: bytes) -> RawUpdate:
    # pywa 4 keys its duplicate check and logs by a hash of the body it is given.
    if "update_hash" in inspect.signature(RawUpdate.__init__).parameters:
        return RawUpdate(body, hmac_header=None, update_hash=hashlib.sha256(body).hexdigest())
    return RawUpdate(body, hmac_header=None)


def parse(wa: WhatsApp, body: bytes):
    """What pywa's server does with a body: pick the handler, then build its update (either step
    raising means pywa logs the body and drops it)."""
    raw = raw_update(body)
    handler = wa._get_handler_type(raw)
    if handler is None:
        return None, None
    return handler, wa._handlers_to_updates[handler].from_update(client=wa, update=raw)


def main() -> int:
    wa = WhatsApp(phone_id="0", token="unused", server=None, verify_token="unused",
                  validate_updates=False, filter_updates=False)
    print(f"pywa {version('pywa')}")

    def reports(record: dict) -> list[str]:
        name, expect = record["name"], record["expect"]
        refused = expect.get("refused")
        try:
            handler, update = parse(wa, record["body"].encode("utf-8"))
        except Exception as e:
            problem = f"{type(e).__name__}: {e}"
            if refused is not None and refused in problem:
                return []
            return [f"REJECTED {name}: {problem}"]
        if refused is not None:
            return [f"ACCEPTED {name}: expected pywa to refuse it ({refused})"]
        got_handler = handler.__name__ if handler else None
        if got_handler != expect.get("handler"):
            return [f"REJECTED {name}: handler {got_handler}, expected {expect.get('handler')}"]
        for path, want in expect.get("attrs", {}).items():
            try:
                got = resolve(update, path)
            except Exception as e:
                return [f"REJECTED {name}: {path}: {type(e).__name__}: {e}"]
            if got != want:
                return [f"REJECTED {name}: {path} = {got!r}, expected {want!r}"]
        return []

    return run(reports, noun="bodies")


if __name__ == "__main__":
    sys.exit(main())
