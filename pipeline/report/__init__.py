"""Batch reports: ``report.json`` (machine-readable), ``report.csv`` and ``report.html`` (no external
URLs; thumbnails from each item folder's ``thumbs.jpg`` sprite, :mod:`pipeline.report.thumbnails`).

``build_report(batch_id, backend, config_hash, records, *, extra=None) -> dict`` makes the JSON
dict (schema in :mod:`pipeline.report.summary`); ``write_reports(write_bytes, batch_id, report,
records) -> {"json", "csv", "html"}`` writes all three through the caller's atomic writer.
"""

from __future__ import annotations

from pipeline.report.html import render_html
from pipeline.report.summary import build_report
from pipeline.report.table import render_csv
from pipeline.report.write import write_reports

__all__ = ["build_report", "render_csv", "render_html", "write_reports"]
