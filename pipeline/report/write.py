"""write_reports: report.json, report.csv and report.html through a caller-given writer."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from pipeline.report.html import render_html
from pipeline.report.table import render_csv
from pipeline.types import ItemRecord

WriteBytes = Callable[[str, bytes], str]


def write_reports(
    write_bytes: WriteBytes,
    batch_id: str,
    report: dict,
    records: Sequence[ItemRecord],
) -> dict[str, str]:
    """Write the three files with ``write_bytes(relative_name, data) -> path_or_url``.

    ``report`` is the dict from ``build_report`` for the same ``batch_id`` and ``records``
    (JSON items stay in input order; the HTML puts failures first). Returns
    ``{"json": ..., "csv": ..., "html": ...}`` with what ``write_bytes`` returned.
    """
    if not callable(write_bytes):
        raise ValueError(f"write_bytes must be callable (name, data) -> str, got {type(write_bytes).__name__}")
    if report.get("batch_id") != batch_id:
        raise ValueError(f"batch_id {batch_id!r} does not match report['batch_id'] {report.get('batch_id')!r}")
    if len(report.get("items", ())) != len(records):
        raise ValueError(f"report has {len(report.get('items', ()))} items but {len(records)} records were given")
    return {
        "json": write_bytes("report.json", report_json(report)),
        "csv": write_bytes("report.csv", render_csv(records)),
        "html": write_bytes("report.html", render_html(report, records).encode("utf-8")),
    }


ITEMS_MARKER = '"items": "\\u0000items"'


def report_json(report: dict) -> bytes:
    """report.json bytes: the summary and extras indented, each item on one line of its own (a
    fifth smaller than indenting the items too, and one line per item to grep or diff)."""
    head = json.dumps({**report, "items": "\0items"}, indent=2, ensure_ascii=False, allow_nan=False)
    if ITEMS_MARKER not in head:  # cannot happen with build_report's dict; stay correct anyway
        return json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"
    items = ",\n".join("    " + json.dumps(item, ensure_ascii=False, allow_nan=False) for item in report["items"])
    body = "[\n" + items + "\n  ]" if items else "[]"
    return (head.replace(ITEMS_MARKER, '"items": ' + body, 1) + "\n").encode("utf-8")
