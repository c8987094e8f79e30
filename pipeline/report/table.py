"""report.csv: one row per item, for spreadsheets and quick greps.

Columns: id, source, status, verdict, reasons ("; "-joined), error, one column per metric (the
Metrics fields first, then any others, sorted), ``output_<name>`` per output path, total_ms
(the ``total`` timing when present, else the sum of the stage timings).

Text cells that a spreadsheet would run as a formula (starting with ``= + - @`` or a tab/CR) get
a leading ``'`` (CSV-injection guard); numbers are written as numbers.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from pipeline.types import ItemRecord, Metrics

METRIC_ORDER = tuple(Metrics.__dataclass_fields__)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def metric_names(records: Sequence[ItemRecord]) -> list[str]:
    """Every metric key in ``records``: the Metrics fields in their order, then others sorted."""
    seen = {key for r in records for key in (r.metrics or {})}
    return [k for k in METRIC_ORDER if k in seen] + sorted(seen - set(METRIC_ORDER))


def total_ms(record: ItemRecord) -> float | None:
    """The record's total time in ms, or None when it has no timings."""
    timings = record.timings_ms
    if "total" in timings:
        return float(timings["total"])
    values = [float(v) for v in timings.values() if isinstance(v, int | float)]
    return sum(values) if values else None


def _text(value: object) -> str:
    s = "" if value is None else str(value)
    return "'" + s if s.startswith(_FORMULA_START) else s


def _number(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def render_csv(records: Sequence[ItemRecord]) -> bytes:
    """UTF-8 CSV bytes (header + one row per record, input order)."""
    metrics = metric_names(records)
    outputs = sorted({key for r in records for key in r.outputs})
    header = ["id", "source", "status", "verdict", "reasons", "error"]
    header += metrics + [f"output_{name}" for name in outputs] + ["total_ms", "duplicate_of", "notes"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for r in records:
        values = r.metrics or {}
        ms = total_ms(r)
        writer.writerow(
            [_text(v) for v in (r.id, r.source, r.status, r.verdict, "; ".join(r.reasons), r.error)]
            + [_number(values.get(name)) for name in metrics]
            + [_text(r.outputs.get(name)) for name in outputs]
            + ["" if ms is None else f"{ms:.1f}"]
            + [_text(r.duplicate_of), _text("; ".join(r.notes))]
        )
    return buf.getvalue().encode("utf-8")
