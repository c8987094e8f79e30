"""``DEST/<batch_id>/decisions.json``: what reviewers decided, updated with compare-and-swap.

The file is one JSON object::

    {"batch_id": str, "schema": 1, "revision": int,          # +1 per successful write
     "items": {item_id: {"decision": "approved" | "rejected" | "undecided",
                         "note": str, "variant": int | None, # None: the composite the report shows
                         "reviewer": str, "decided_at": ISO-8601 UTC str,
                         "composite_sha256": str | None,     # hash of the composite the reviewer saw
                         "rev": int,                         # this item's own change counter
                         "history": [earlier entries, newest last, at most HISTORY_KEEP]}}}

Writes are compare-and-swap on the ledger's conditional store (:mod:`pipeline.review.casfile`):
two tabs or two reviewers never lose each other's decisions; a decision on the same item by both
ends with the later one, and the earlier stays in that item's ``history``. Readers see the old
file or the new one, never a part (temp file + rename locally, one PUT on S3).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.ledger.records import DECISIONS_FILE
from pipeline.review.casfile import CasJsonFile, ConflictError  # noqa: F401 - ConflictError is part of this API
from pipeline.review.folder import BatchFolder

log = logging.getLogger(__name__)

DECISIONS = ("approved", "rejected", "undecided")
SCHEMA = 1
HISTORY_KEEP = 20
MAX_NOTE_CHARS = 4000
MAX_REVIEWER_CHARS = 200


class DecisionError(ValueError):
    """A decision that cannot be recorded (bad value, unknown item); the message says why."""


@dataclass(frozen=True)
class Decision:
    """One item's decision as given by a reviewer (validated on construction)."""

    item_id: str
    decision: str
    reviewer: str
    note: str = ""
    variant: int | None = None
    composite_sha256: str | None = None
    decided_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def __post_init__(self) -> None:
        if not isinstance(self.item_id, str) or not self.item_id:
            raise DecisionError(f"item_id must be a non-empty string, got {self.item_id!r}")
        if self.decision not in DECISIONS:
            raise DecisionError(f"decision must be one of {DECISIONS}, got {self.decision!r}")
        if not isinstance(self.note, str) or len(self.note) > MAX_NOTE_CHARS:
            raise DecisionError(f"note must be a string of at most {MAX_NOTE_CHARS} characters")
        if not isinstance(self.reviewer, str) or not self.reviewer.strip() or len(self.reviewer) > MAX_REVIEWER_CHARS:
            raise DecisionError(f"reviewer must be a non-empty name of at most {MAX_REVIEWER_CHARS} characters, "
                                f"got {self.reviewer!r}")
        if self.variant is not None and (isinstance(self.variant, bool) or not isinstance(self.variant, int)
                                         or self.variant < 0):
            raise DecisionError(f"variant must be an integer >= 0 or null, got {self.variant!r}")
        sha = self.composite_sha256
        if sha is not None and (not isinstance(sha, str) or len(sha) != 64
                                or any(c not in "0123456789abcdef" for c in sha)):
            raise DecisionError(f"composite_sha256 must be 64 lowercase hex digits, got {sha!r}")

    def entry(self) -> dict[str, Any]:
        return {"decision": self.decision, "note": self.note, "variant": self.variant, "reviewer": self.reviewer,
                "decided_at": self.decided_at, "composite_sha256": self.composite_sha256}


def empty_decisions(batch_id: str) -> dict[str, Any]:
    return {"batch_id": batch_id, "schema": SCHEMA, "revision": 0, "items": {}}


class DecisionStore:
    """Read and update one batch's decisions.json (local folder or object store)."""

    def __init__(self, folder: BatchFolder):
        self.folder = folder
        self.file = CasJsonFile(folder.store, folder.key(DECISIONS_FILE), lambda: empty_decisions(folder.batch_id),
                                _validate)
        if folder.store.atomicity == "read-back":
            log.warning("decisions on %s use read-back verification: two reviewers writing in the same "
                        "instant may race (best effort)", folder.url)

    def load(self) -> dict[str, Any]:
        """The current decisions (an empty set when the file does not exist yet)."""
        return self.file.read()[0]

    def update(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``change`` (mutates the decisions dict) with compare-and-swap; returns what was written."""

        def bumped(doc: dict[str, Any]) -> None:
            change(doc)
            doc["revision"] = int(doc.get("revision", 0)) + 1
            doc["batch_id"], doc["schema"] = self.folder.batch_id, SCHEMA

        return self.file.update(bumped)

    def record(self, decisions: Iterable[Decision]) -> dict[str, Any]:
        """Record one or more decisions in one write. Returns the decisions written."""
        batch = list(decisions)

        def change(doc: dict[str, Any]) -> None:
            for d in batch:
                apply_decision(doc, d)

        return self.update(change)


def _validate(doc: Any) -> None:
    if not isinstance(doc.get("items"), dict):
        raise DecisionError("decisions.json has no items object; nothing was overwritten")


def apply_decision(doc: dict[str, Any], decision: Decision) -> None:
    """Put ``decision`` into the decisions dict; the item's previous entry moves to its history."""
    items = doc.setdefault("items", {})
    old = items.get(decision.item_id)
    history: list[dict[str, Any]] = []
    rev = 0
    if isinstance(old, dict):
        history = [h for h in old.get("history", []) if isinstance(h, dict)]
        history.append({k: v for k, v in old.items() if k not in ("history", "rev")})
        rev = int(old.get("rev", 0))
    items[decision.item_id] = {**decision.entry(), "rev": rev + 1, "history": history[-HISTORY_KEEP:]}


def counts(doc: dict[str, Any], item_ids: Iterable[str]) -> dict[str, int]:
    """{"approved": n, "rejected": n, "undecided": n} over ``item_ids`` (no entry = undecided)."""
    out = dict.fromkeys(DECISIONS, 0)
    items = doc.get("items", {})
    for item_id in item_ids:
        entry = items.get(item_id)
        value = entry.get("decision") if isinstance(entry, dict) else None
        out[value if value in DECISIONS else "undecided"] += 1
    return out
