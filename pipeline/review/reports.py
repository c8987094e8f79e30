"""Decisions in the batch reports: a ``decisions`` key in report.json and badges in report.html.

``report["decisions"]`` (only when decisions.json exists)::

    {"revision": int, "counts": {"approved": n, "rejected": n, "undecided": n},
     "items": {item_id: {"decision", "note", "variant", "reviewer", "decided_at", "composite_sha256"}}}

The pipeline puts it in when it writes a report (a rerun keeps every decision); the review
server calls :func:`refresh_reports` after each change.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipeline.report.html import embed_decisions
from pipeline.review.decisions import DECISIONS_FILE, counts
from pipeline.review.folder import BatchFolder
from pipeline.io.storage import Bucket, safe_key

log = logging.getLogger(__name__)

REPORT_FIELDS = ("decision", "note", "variant", "reviewer", "decided_at", "composite_sha256")


def report_decisions(doc: dict[str, Any], item_ids: list[str]) -> dict[str, Any]:
    """The ``report["decisions"]`` block for the items ``item_ids`` (histories left out)."""
    items = {}
    for item_id in item_ids:
        entry = doc.get("items", {}).get(item_id)
        if isinstance(entry, dict):
            items[item_id] = {k: entry.get(k) for k in REPORT_FIELDS}
    return {"revision": int(doc.get("revision", 0)), "counts": counts(doc, item_ids), "items": items}


def read_decisions(dest: Bucket, batch_id: str) -> dict[str, Any] | None:
    """decisions.json of ``dest/batch_id`` as a dict; None when absent or unreadable (logged)."""
    key = f"{safe_key(batch_id)}/{DECISIONS_FILE}"
    try:
        if not dest.exists(key):
            return None
        doc = json.loads(dest.read_bytes(key))
    except (OSError, ValueError) as exc:
        log.warning("could not read %s: %s (the report shows no decisions)", key, exc)
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("items"), dict) else None


def refresh_reports(folder: BatchFolder, doc: dict[str, Any]) -> None:
    """Rewrite report.json and report.html of ``folder`` with the decisions ``doc``.

    Skipped when the report already shows a newer revision (another reviewer wrote it)."""
    report = folder.report()
    current = (report.get("decisions") or {}).get("revision", -1)
    if isinstance(current, int) and current > int(doc.get("revision", 0)):
        return
    block = report_decisions(doc, [str(i.get("id")) for i in report["items"] if isinstance(i, dict)])
    report["decisions"] = block
    folder.write_bytes("report.json", json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8") + b"\n")
    try:
        page = folder.read_bytes("report.html").decode("utf-8")
    except FileNotFoundError:
        return
    updated = embed_decisions(page, block)
    if updated is None:
        log.info("report.html of %s predates review decisions; it is left as it is", folder.batch_id)
    elif updated != page:
        folder.write_bytes("report.html", updated.encode("utf-8"))
