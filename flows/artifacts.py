"""Prefect artifacts for a batch: a table (one row per product), a markdown summary, a link to
``report.html``. The builders are pure (tested without Prefect); :func:`publish` creates them.
Every string passes :func:`pipeline.redact.redact`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from flows.review_waiting import waiting_markdown
from pipeline.redact import redact
from pipeline.report.summary import fallback_counts, fallback_lines, outcome_counts
from pipeline.score.reasons import plain_summary
from pipeline.types import ItemRecord

TABLE_KEY = "process-bucket-items"
SUMMARY_KEY = "process-bucket-summary"
REPORT_KEY = "process-bucket-report"
TABLE_METRICS = ("delta_e00_mean", "delta_e00_p95", "ssim", "logo_ssim_min", "expansion", "halo", "cutout_confidence")
WORST_N = 5
# Rows in the table artifact: Prefect stores and draws the whole table, so a 10,000-photo batch
# shows its worst TABLE_MAX_ROWS items (errors, then failures) and a last row pointing at report.html.
TABLE_MAX_ROWS = 200


@dataclass(frozen=True)
class BatchStats:
    """Counts and timings of one run, beside its records."""

    batch_id: str
    backend: str
    runner: str
    listed: int = 0
    skipped_done: int = 0
    skipped_leased: int = 0
    lost: int = 0
    changed: int = 0
    failed_tasks: int = 0
    moved: int = 0
    wall_s: dict[str, float] = field(default_factory=dict)
    recovered_batches: tuple[str, ...] = ()
    ignored: int = 0  # keys that got no row, by a listing rule (report.json lists them with the rule)


def _fmt(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    return value


def table_rows(records: list[ItemRecord]) -> list[dict[str, Any]]:
    """One row per product: id, status, verdict, key metrics, first reason or error."""
    rows = []
    for rec in records:
        metrics = rec.metrics or {}
        row: dict[str, Any] = {"id": redact(rec.id), "status": rec.status, "verdict": rec.verdict or "-"}
        row.update({m: _fmt(metrics.get(m)) for m in TABLE_METRICS})
        row["ms"] = round(sum(rec.timings_ms.values()), 1) if rec.timings_ms else None
        row["note"] = redact(rec.error or "; ".join(rec.reasons))[:200]
        rows.append(row)
    return rows


def capped_table_rows(records: list[ItemRecord], report_url: str | None,
                      max_rows: int = TABLE_MAX_ROWS) -> list[dict[str, Any]]:
    """:func:`table_rows` of every record when they fit in ``max_rows``; else the worst
    ``max_rows`` (errors, then failures, in listing order) and one row saying where the rest are."""
    if len(records) <= max_rows:
        return table_rows(records)
    worst = sorted(range(len(records)), key=lambda i: _badness(records[i])[0], reverse=True)[:max_rows]
    rows = table_rows([records[i] for i in sorted(worst)])
    rest = len(records) - max_rows
    where = f"report.html: {redact(report_url)}" if report_url else "report.html of the batch"
    rows.append({"id": f"… {rest} more", "status": "-", "verdict": "-", "note": f"all {len(records)} items in {where}"})
    return rows


def _badness(rec: ItemRecord) -> tuple[int, float]:
    if rec.status == "error":
        return (2, 0.0)
    return (1 if rec.verdict == "fail" else 0, float((rec.metrics or {}).get("delta_e00_mean") or 0.0))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_markdown(records: list[ItemRecord], stats: BatchStats, report_url: str | None,
                     review: dict[str, Any] | None = None) -> str:
    """Pass rate, counts, worst items, per-stage timings; what waits for review (``review``: the
    payload of :func:`flows.review_waiting.announce_review_waiting`)."""
    ok = [r for r in records if r.status == "ok"]
    counts = outcome_counts(records)
    rate = f"{100.0 * counts['pass_rate']:.1f}%" if counts["passed"] + counts["failed"] else "n/a"
    lines = [
        f"# Batch `{stats.batch_id}`",
        "",
        (f"**Pass rate: {rate}** ({counts['passed']} pass, {counts['failed']} fail; "
         f"{counts['errors']} error{'s' if counts['errors'] != 1 else ''} beside it"
         f" of {len(records)} processed)"),
        "",
        f"- backend: `{stats.backend}`, task runner: `{stats.runner}`",
        (f"- listed: {stats.listed}; skipped as already done: {stats.skipped_done}; "
         f"leased by another run: {stats.skipped_leased}"),
    ]
    for line in fallback_lines(fallback_counts(records), len(records)):
        lines.append(f"- **fallback**: {line}")
    if stats.lost or stats.changed or stats.failed_tasks:
        lines.append(f"- lost commit race: {stats.lost}; changed while processing: {stats.changed}; "
                     f"storage failures (retried next run): {stats.failed_tasks}")
    if stats.ignored:
        lines.append(f"- ignored by the listing rule (no row; report.json says why): {stats.ignored}")
    if stats.moved:
        lines.append(f"- inputs moved: {stats.moved}")
    if stats.recovered_batches:
        lines.append(f"- reports recovered for interrupted batches: {', '.join(stats.recovered_batches)}")
    if report_url:
        lines.append(f"- report: {redact(report_url)}")
    worst = sorted((r for r in records if _badness(r) > (0, 0.0)), key=_badness, reverse=True)[:WORST_N]
    if worst:
        lines += ["", "## Worst items", "", "| id | status | verdict | ΔE00 mean | why |", "|---|---|---|---|---|"]
        for r in worst:
            de = (r.metrics or {}).get("delta_e00_mean")
            why = redact(r.error or plain_summary(r.reasons)).replace("|", "/")[:400]
            lines.append(f"| {redact(r.id)} | {r.status} | {r.verdict or '-'} | "
                         f"{'-' if de is None else f'{de:.2f}'} | {why} |")
    if review:
        lines += ["", waiting_markdown(review).rstrip("\n")]
    stage_ms: dict[str, list[float]] = {}
    for r in ok:
        for stage, ms in r.timings_ms.items():
            stage_ms.setdefault(stage, []).append(float(ms))
    if stage_ms:
        lines += ["", "## Timings per image (ms)", "", "| stage | median | p95 |", "|---|---|---|"]
        for stage, values in stage_ms.items():
            lines.append(f"| {stage} | {statistics.median(values):.1f} | {_percentile(values, 0.95):.1f} |")
    if stats.wall_s:
        lines += ["", "## Run (s)", ""]
        lines += [f"- {name}: {value:.2f}" for name, value in stats.wall_s.items()]
        lines.append("  (pipeline_sum: time inside the pipeline summed over items; process: wall time of the fan-out)")
        if records and "process" in stats.wall_s:
            lines.append(f"- per processed image: {stats.wall_s['process'] / len(records):.3f}")
    return redact("\n".join(lines) + "\n")


def publish(records: list[ItemRecord], stats: BatchStats, report_url: str | None,
            review: dict[str, Any] | None = None) -> None:
    """Create the three artifacts in the current flow run (the flow calls it only when it
    processed something: a run that found nothing new publishes nothing)."""
    from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

    description = f"batch {stats.batch_id}"
    create_table_artifact(table=capped_table_rows(records, report_url) or [{"id": "-", "status": "nothing processed"}],
                          key=TABLE_KEY, description=description)
    create_markdown_artifact(markdown=summary_markdown(records, stats, report_url, review), key=SUMMARY_KEY,
                             description=description)
    if report_url:
        link = report_url if "://" in report_url else f"file://{report_url}"
        create_link_artifact(link=redact(link), link_text=f"report.html for {stats.batch_id}", key=REPORT_KEY,
                             description=description)
