"""A batch's reports (``report.json``, ``.csv``, ``.html``) under ``DEST/<batch_id>/``, keeping
reviewers' decisions across reruns.

``report.json``'s ``extra`` says what the rows do not: ``skipped`` (keys already done, or held by
another run, by ledger status), ``ignored`` (keys that get no row, each with the rule that
ignored it: :mod:`pipeline.batch.plan`), ``run`` (worker processes, CPU seconds) and
``recovered`` (the report was written by a later run, from the ledger).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket, safe_key
from pipeline.models.fingerprints import config_hash, output_inputs
from pipeline.report import build_report, write_reports
from pipeline.review.reports import read_decisions, report_decisions
from pipeline.types import ItemRecord


def report_extra(config: PipelineConfig, *, skipped: dict[str, int] | None = None,
                 ignored: Sequence[dict[str, Any]] | None = None, run: dict[str, Any] | None = None,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``extra`` block of a batch report (see the module docstring)."""
    out: dict[str, Any] = {"gate": config.score.gate.model_dump(), "config_hash_inputs": output_inputs(config)}
    if run:
        out["run"] = dict(run)
    if skipped:
        out["skipped"] = dict(skipped)
    if ignored:
        out["ignored"] = [dict(i) for i in ignored]
    out.update(extra or {})
    return out


def batch_report(dest: Bucket, batch_id: str, backend: str, config: PipelineConfig, records: list[ItemRecord],
                 *, write: bool = True, **extra: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """(report dict, {"json"|"csv"|"html": written path or URL}); with ``write=False`` nothing is
    written (a run with nothing new) and the paths are empty. ``extra``: see :func:`report_extra`."""
    report = build_report(batch_id, backend, config_hash(config), records, extra=report_extra(config, **extra))
    if not write:
        return report, {}
    if (decided := read_decisions(dest, batch_id)) is not None:  # a rerun keeps reviewers' decisions
        report["decisions"] = report_decisions(decided, [r.id for r in records])
    folder = safe_key(batch_id)
    paths = write_reports(lambda name, data: dest.write_bytes(f"{folder}/{name}", data), batch_id, report, records)
    return report, paths


def write_batch_reports(dest: Bucket, batch_id: str, backend: str, config: PipelineConfig,
                        records: list[ItemRecord], **extra: Any) -> dict[str, str]:
    """Write ``report.json``, ``report.csv`` and ``report.html`` under ``dest/batch_id``;
    return {"json"|"csv"|"html": written path or URL}."""
    return batch_report(dest, batch_id, backend, config, records, **extra)[1]
