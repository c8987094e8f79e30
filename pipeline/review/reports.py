"""Decisions in the batch reports: a ``decisions`` key in report.json and badges in report.html.

``report["decisions"]``::

    {"revision": int, "counts": {"approved": n, "rejected": n, "undecided": n},
     "items": {item_id: {"decision", "note", "variant", "reviewer", "decided_at", "composite_sha256"}}}

A decision no longer rewrites the reports (that made reviewing a batch O(N²)): the pipeline puts
the block in whenever it writes a batch's reports (:func:`read_decisions`: the batch's decision
journal and its legacy decisions.json), and the review server puts the current block into the
report.html it serves (:meth:`pipeline.review.session.ReviewSession.decisions_block`).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipeline.catalogue.homes import journal_decisions
from pipeline.io.conditional_store import open_store
from pipeline.io.storage import Bucket, safe_key
from pipeline.ledger.records import DECISIONS_FILE

log = logging.getLogger(__name__)

REPORT_FIELDS = ("decision", "note", "variant", "reviewer", "decided_at", "composite_sha256")
DECISIONS = ("approved", "rejected", "undecided")


def counts(doc: dict[str, Any], item_ids: list[str]) -> dict[str, int]:
    """{"approved": n, "rejected": n, "undecided": n} over ``item_ids`` (no entry = undecided)."""
    out = dict.fromkeys(DECISIONS, 0)
    items = doc.get("items", {})
    for item_id in item_ids:
        entry = items.get(item_id)
        value = entry.get("decision") if isinstance(entry, dict) else None
        out[value if value in DECISIONS else "undecided"] += 1
    return out


def report_decisions(doc: dict[str, Any], item_ids: list[str]) -> dict[str, Any]:
    """The ``report["decisions"]`` block for the items ``item_ids`` (histories left out)."""
    items = {}
    for item_id in item_ids:
        entry = doc.get("items", {}).get(item_id)
        if isinstance(entry, dict):
            items[item_id] = {k: entry.get(k) for k in REPORT_FIELDS}
    return {"revision": int(doc.get("revision", 0)), "counts": counts(doc, item_ids), "items": items}


def read_decisions(dest: Bucket, batch_id: str) -> dict[str, Any] | None:
    """The latest decision on each item of ``dest/batch_id`` ({"revision", "items"}): its legacy
    decisions.json, then its decision journal (newer wins). None when there are none."""
    items: dict[str, dict[str, Any]] = {}
    revision = 0
    key = f"{safe_key(batch_id)}/{DECISIONS_FILE}"
    try:
        if dest.exists(key):
            doc = json.loads(dest.read_bytes(key))
            if isinstance(doc, dict) and isinstance(doc.get("items"), dict):
                items.update({k: v for k, v in doc["items"].items() if isinstance(v, dict)})
                revision = int(doc.get("revision", 0))
    except (OSError, ValueError) as exc:
        log.warning("could not read %s: %s (the report shows no decisions from it)", key, exc)
    try:
        journal = journal_decisions(open_store(dest), batch_id)
    except OSError as exc:
        log.warning("could not read the decisions of %s: %s", batch_id, exc)
        journal = []
    for d in sorted(journal, key=lambda d: (d["decided_at"], d["id"])):  # the newest on an item is left
        item = d["version"].split("/", 1)[1]
        old = items.get(item)
        if old is None or str(old.get("decided_at") or "") <= d["decided_at"]:
            items[item] = {"decision": d["decision"], "note": d["note"], "variant": d["variant"],
                           "reviewer": d["reviewer"], "decided_at": d["decided_at"], "composite_sha256": d["sha256"]}
        revision += 1
    if not items:
        return None
    return {"revision": revision, "items": items}
