"""Telling people that work is waiting: at the end of a flow run, the destination's catalogue is
brought up to date with the new batch, and when products wait for review the run emits the
Prefect event ``product-scene.review.waiting`` (the counts and the review command); the run's
summary artifact says the same (:func:`waiting_markdown`, put in by :func:`flows.artifacts.publish`).
A Prefect Automation on that event can post to Slack, send an email or call a webhook (README,
"Review and publish").

The flow calls :func:`announce_review_waiting` in one line; a failure here is logged and never
fails the run (the batch is done and committed by then).
"""

from __future__ import annotations

import logging
from typing import Any

from pipeline.catalogue.model import summarize
from pipeline.catalogue.store import Catalogue
from pipeline.io.storage import Bucket, options_for_url
from pipeline.redact import redact
from pipeline.review.folder import review_command

log = logging.getLogger(__name__)

EVENT = "product-scene.review.waiting"


def waiting_counts(products: dict[str, dict[str, Any]], batch_id: str) -> dict[str, int]:
    """Products whose newest version has no decision: in all, failed, passed, errors, rejected
    before, and how many of them this batch brought."""
    out = {"waiting": 0, "failed": 0, "passed": 0, "errors": 0, "rejected_before": 0, "from_this_batch": 0}
    for product in products.values():
        row = summarize(product)
        if row is None or row["state"] != "undecided":
            continue
        out["waiting"] += 1
        out[{"fail": "failed", "pass": "passed", "error": "errors"}[row["outcome"]]] += 1
        out["rejected_before"] += bool(row["rejected_before"])
        out["from_this_batch"] += row["home"] == batch_id
    return out


def waiting_markdown(payload: dict[str, Any]) -> str:
    c = payload["counts"]
    """The summary artifact's section about it."""
    return (f"## Review waiting: {c['waiting']} product{'s' if c['waiting'] != 1 else ''}\n\n"
            f"- {c['failed']} failed the gate, {c['passed']} passed, {c['errors']} could not be processed\n"
            f"- {c['rejected_before']} were rejected before (a person must look at them)\n"
            f"- {c['from_this_batch']} came with batch `{payload['batch_id']}`\n\n"
            f"Review them with:\n\n```\n{payload['review_command']}\n```\n")


def announce_review_waiting(dest_url: str, storage_options: dict[str, Any] | None, batch_id: str) -> dict | None:
    """Sync the catalogue with ``batch_id`` and, when products wait, emit :data:`EVENT`. Returns
    the event's payload (None when nothing waits or it could not be told)."""
    try:
        dest = Bucket(dest_url, options_for_url(dest_url, storage_options))
        catalogue = Catalogue(dest)
        catalogue.sync([batch_id])
        counts = waiting_counts(catalogue.load(), batch_id)
    except Exception as exc:  # noqa: BLE001 - the batch is done; telling people about it must not fail it
        log.warning("could not count the products waiting for review: %s", redact(str(exc)))
        return None
    if not counts["waiting"]:
        return None
    endpoint = (storage_options or {}).get("endpoint_url")
    payload = {"counts": counts, "batch_id": batch_id, "destination": redact(dest_url),
               "review_command": redact(review_command(dest_url, endpoint))}
    from prefect.events import emit_event

    emit_event(event=EVENT, resource={"prefect.resource.id": f"product-scene.destination.{redact(dest_url)}",
                                      "prefect.resource.name": redact(dest_url)}, payload=payload)
    log.info("%d products wait for review: %s", counts["waiting"], payload["review_command"])
    return payload
