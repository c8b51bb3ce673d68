#!/usr/bin/env python3
"""Reads canonical events with the CloudEvents Python SDK (structured JSON mode, HTTP binding).

stdin: one JSON document per line: {"name": ..., "body": "<the event's JSON text>"}.
Each body must parse into a v1.0 CloudEvent with the same id/source/type/subject, the
`whatsappapi` extension, and data equal to the body's data; writing it back with the SDK and
reading it again must give the same event. Exit 1 (with one line per failure) otherwise.
"""
import json
import sys

from jsonlines_check import run

from cloudevents.core.bindings.http import HTTPMessage, from_structured_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent


def check(record: dict) -> str | None:
    body = record["body"]
    raw = json.loads(body)
    message = HTTPMessage(headers={"content-type": "application/cloudevents+json"}, body=body.encode("utf-8"))
    event = from_structured_event(message)
    if not isinstance(event, CloudEvent):
        return f"not a v1.0 CloudEvent: {type(event).__name__}"
    for attr, got in (("id", event.get_id()), ("source", event.get_source()), ("type", event.get_type()),
                      ("specversion", event.get_specversion()), ("subject", event.get_subject()),
                      ("datacontenttype", event.get_datacontenttype())):
        if raw.get(attr) != got:
            return f"{attr}: SDK read {got!r}, event has {raw.get(attr)!r}"
    if event.get_extension("whatsappapi") not in ("cloud", "onprem"):
        return f"whatsappapi extension: {event.get_extension('whatsappapi')!r}"
    if "time" in raw and event.get_time() is None:
        return "time attribute lost"
    if event.get_data() != raw["data"]:
        return "data differs after SDK read"
    again = from_structured_event(to_structured_event(event))
    if again.get_attributes() != event.get_attributes() or again.get_data() != event.get_data():
        return "SDK write/read round trip differs"
    return None


def reports(record: dict) -> list[str]:
    try:
        problem = check(record)
    except Exception as e:  # the SDK rejected the event
        problem = f"{type(e).__name__}: {e}"
    return [f"REJECTED {record['name']}: {problem}"] if problem else []


if __name__ == "__main__":
    sys.exit(run(reports))
