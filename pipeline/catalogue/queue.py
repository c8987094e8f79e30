"""The review queue: one row per product (its newest version), filtered, ordered, counted.

Rows come from :func:`pipeline.catalogue.model.summarize`. Order: failures, then errors, then
passes; within each, by label (the SKU or source key). Filters: a batch (products that have a
version in it), the newest version's outcome, the decision, and "was rejected before".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.catalogue.model import DECISIONS
from pipeline.catalogue.products import product_label

OUTCOMES = ("fail", "error", "pass")
ORDER = {o: i for i, o in enumerate(OUTCOMES)}
PAGE_SIZE = 250  # rows per page: the list's first page draws in well under a second at any size
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class QueueFilter:
    """``batch``: a home name or None; ``outcome``: all|fail|error|pass; ``decision``:
    all|undecided|approved|rejected; ``rejected_before``: only those; ``query``: text in the label
    or source key (case-insensitive)."""

    batch: str | None = None
    outcome: str = "all"
    decision: str = "all"
    rejected_before: bool = False
    query: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in ("all", *OUTCOMES):
            raise ValueError(f"outcome must be all, fail, error or pass, got {self.outcome!r}")
        if self.decision not in ("all", *DECISIONS):
            raise ValueError(f"decision must be all, undecided, approved or rejected, got {self.decision!r}")
        if not isinstance(self.query, str) or len(self.query) > 500:
            raise ValueError("query must be text of at most 500 characters")

    def scope(self, row: dict[str, Any]) -> bool:
        """In this filter's batch (the part counts are taken over)."""
        return self.batch is None or self.batch in row["homes"]

    def matches(self, row: dict[str, Any]) -> bool:
        if not self.scope(row):
            return False
        if self.outcome != "all" and row["outcome"] != self.outcome:
            return False
        if self.decision != "all" and row["state"] != self.decision:
            return False
        if self.rejected_before and not row["rejected_before"]:
            return False
        if self.query:
            q = self.query.lower()
            if q not in row["label"].lower() and q not in str(row.get("source") or "").lower():
                return False
        return True


def queue_row(summary: dict[str, Any], homes: Iterable[str]) -> dict[str, Any]:
    """A summary with what the list needs added: the label and every home the product is in."""
    return {**summary, "label": product_label(summary["product"]), "homes": sorted(set(homes))}


def sort_key(row: dict[str, Any]) -> tuple[int, str, str]:
    return ORDER.get(row["outcome"], len(ORDER)), row["label"], row["product"]


def counts(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Totals over ``rows``: products, by outcome, by decision, rejected before, approvable."""
    out: dict[str, Any] = {"products": 0, "outcome": dict.fromkeys(OUTCOMES, 0),
                           "decision": dict.fromkeys(DECISIONS, 0), "rejected_before": 0, "approvable": 0}
    for row in rows:
        out["products"] += 1
        out["outcome"][row["outcome"]] = out["outcome"].get(row["outcome"], 0) + 1
        out["decision"][row["state"]] += 1
        out["rejected_before"] += bool(row["rejected_before"])
        out["approvable"] += bool(row["approvable"])
    return out


def select(rows: Iterable[dict[str, Any]], flt: QueueFilter, *, ordered: bool = False
           ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(matching rows in queue order, counts over the filter's batch scope); ``ordered``: the
    rows come in queue order already (nothing is sorted)."""
    scoped = [r for r in rows if flt.scope(r)]
    matching = [r for r in scoped if flt.matches(r)]
    return (matching if ordered else sorted(matching, key=sort_key)), counts(scoped)
