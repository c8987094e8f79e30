"""build_report: the report.json dict of one batch.

Schema (other tools read it; keys are only ever added)::

    {"batch_id": str, "backend": str, "config_hash": str, "created_at": ISO-8601 UTC str,
     "package_version": str,
     "summary": {"total": int, "passed": int, "failed": int, "errors": int,
                 "pass_rate": float,            # passed / (passed + failed); 0.0 when none
                 "stage_ms_median": {stage: float},
                 "fallbacks": {stage: {"items": int, "reasons": {kind: int}}}},  # {} when none
     "items": [ItemRecord.as_json(), ...],      # input order
     "extra": {...}}                            # only when ``extra`` is given, e.g. {"gate": {...}}

An item counts as an error when its status is "error", as passed when its verdict is "pass",
otherwise as failed. Non-finite metric values (NaN, inf) become null so the file is strict JSON.
A fallback is an item whose configured backend for a stage was not used (SAM failing to load or
to run, or disagreeing with the classical mask); reasons are grouped by their kind, the text
before the first ``:``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pipeline.types import ItemRecord

STATUSES = ("ok", "error")


def item_outcome(record: ItemRecord) -> str:
    """ "error", "pass" or "fail" for one record (how it is counted and grouped)."""
    if record.status == "error":
        return "error"
    return "pass" if record.verdict == "pass" else "fail"


def pass_rate(passed: int, failed: int) -> float:
    """The one pass-rate definition: passed / (passed + failed), 0.0 when nothing was scored.
    Errors (files that could not be processed) are not in it; they are shown beside it."""
    scored = passed + failed
    return passed / scored if scored else 0.0


def outcome_counts(records: Sequence[ItemRecord]) -> dict[str, Any]:
    """``{"passed", "failed", "errors", "pass_rate"}`` of ``records`` (see :func:`pass_rate`)."""
    outcomes = [item_outcome(r) for r in records]
    passed, failed, errors = (outcomes.count(k) for k in ("pass", "fail", "error"))
    return {"passed": passed, "failed": failed, "errors": errors, "pass_rate": pass_rate(passed, failed)}


def build_report(
    batch_id: str,
    backend: str,
    config_hash: str,
    records: Sequence[ItemRecord],
    *,
    extra: dict | None = None,
) -> dict:
    """The report.json dict (see the module docstring). Raises ``ValueError`` on a bad record."""
    for name, value in (("batch_id", batch_id), ("backend", backend), ("config_hash", config_hash)):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a str, got {type(value).__name__}")
    for i, record in enumerate(records):
        if not isinstance(record, ItemRecord):
            raise ValueError(f"records[{i}] must be an ItemRecord, got {type(record).__name__}")
        if record.status not in STATUSES:
            raise ValueError(f"records[{i}] ({record.id!r}) has status {record.status!r}; expected one of {STATUSES}")
    if extra is not None and not isinstance(extra, dict):
        raise ValueError(f"extra must be a dict or None, got {type(extra).__name__}")

    counts = outcome_counts(records)
    report: dict[str, Any] = {
        "batch_id": batch_id,
        "backend": backend,
        "config_hash": config_hash,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_version": _package_version(),
        "summary": {
            "total": len(records),
            **counts,
            "stage_ms_median": _stage_medians(records),
            "fallbacks": fallback_counts(records),
        },
        "items": [_finite(r.as_json()) for r in records],
    }
    if extra is not None:
        report["extra"] = _finite(extra)
    return report


def fallback_counts(records: Sequence[ItemRecord]) -> dict[str, dict[str, Any]]:
    """stage -> {"items": items that fell back, "reasons": {reason kind: items}} (only stages
    with fallbacks, so ``{}`` means every item used its configured backends)."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        for stage, reason in record.fallbacks.items():
            entry = out.setdefault(stage, {"items": 0, "reasons": {}})
            entry["items"] += 1
            kind = str(reason).split(":", 1)[0].strip() or "unknown"
            entry["reasons"][kind] = entry["reasons"].get(kind, 0) + 1
    return out


def fallback_lines(fallbacks: dict[str, dict[str, Any]], total: int) -> list[str]:
    """One sentence per stage for people, e.g. ``segment: 3 of 5 items fell back from the
    configured backend (SAM prediction failed ×3)``."""
    return [f"{stage}: {entry['items']} of {total} items fell back from the configured backend ("
            + ", ".join(f"{kind} ×{n}" for kind, n in entry["reasons"].items()) + ")"
            for stage, entry in fallbacks.items()]


def _stage_medians(records: Sequence[ItemRecord]) -> dict[str, float]:
    """Median milliseconds per stage name, over the records that timed it (first-seen order)."""
    per_stage: dict[str, list[float]] = {}
    for record in records:
        for stage, ms in record.timings_ms.items():
            if isinstance(ms, int | float) and math.isfinite(ms):
                per_stage.setdefault(stage, []).append(float(ms))
    return {stage: float(statistics.median(values)) for stage, values in per_stage.items()}


def _finite(value: Any) -> Any:
    """A JSON-ready copy with NaN / inf floats replaced by None (nested dicts, lists, tuples)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _package_version() -> str:
    from pipeline import __version__

    return str(__version__)
