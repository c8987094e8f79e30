"""A batch's reports (``report.json``, ``.csv``, ``.html``) under ``DEST/<batch_id>/``, keeping
reviewers' decisions across reruns."""

from __future__ import annotations

from typing import Any

from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket, safe_key
from pipeline.models.fingerprints import config_hash, output_inputs
from pipeline.report import build_report, write_reports
from pipeline.review.reports import read_decisions, report_decisions
from pipeline.types import ItemRecord


def write_batch_reports(dest: Bucket, batch_id: str, backend: str, config: PipelineConfig,
                        records: list[ItemRecord]) -> dict[str, str]:
    """Write ``report.json``, ``report.csv`` and ``report.html`` under ``dest/batch_id``;
    return {"json"|"csv"|"html": written path or URL}."""
    return write_reports_with_extra(dest, batch_id, backend, config, records)[1]


def write_reports_with_extra(dest: Bucket, batch_id: str, backend: str, config: PipelineConfig,
                   records: list[ItemRecord], skipped: dict[str, int] | None = None,
                   run: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    extra: dict[str, Any] = {"gate": config.score.gate.model_dump(), "config_hash_inputs": output_inputs(config)}
    if run:
        extra["run"] = dict(run)  # worker processes and the CPU seconds they and this process used
    if skipped:
        extra["skipped"] = dict(skipped)
    report = build_report(batch_id, backend, config_hash(config), records, extra=extra)
    if (decided := read_decisions(dest, batch_id)) is not None:  # a rerun keeps reviewers' decisions
        report["decisions"] = report_decisions(decided, [r.id for r in records])
    prefix = safe_key(batch_id)
    paths = write_reports(lambda name, data: dest.write_bytes(f"{prefix}/{name}", data), batch_id, report, records)
    return report, paths
