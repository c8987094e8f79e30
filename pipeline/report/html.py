"""report.html: one page with no external URLs; item cards drawn a page at a time.

The page is ``template.html`` (next to this module) with the rendered header and filter bar, and
the items as inert JSON (``<script type="application/json" id="report-items">``), put in place of
its ``<!-- report:content -->`` marker. The page's script draws ``PAGE_SIZE`` cards at a time
(filter and search run over every item), so a 10,000-item batch opens as fast as a 50-item one.
Every piece of text from the batch (ids, sources, reasons, errors) is escaped here (header) or
inserted with ``textContent`` by the script; ``<``, ``>`` and ``&`` in the JSON are ``\\u``-escaped so
no text can close its tag.

Thumbnails are not embedded: each item folder has ``thumbs.jpg`` (:mod:`pipeline.report.thumbnails`),
shown by its path relative to the page (``<item_id>/thumbs.jpg``); a click opens the full-size
output file. Items without a sprite get placeholder boxes.

Cards are ordered failures first, then errors, then passes (input order within each group). A
metric is marked failing when it breaks the threshold in ``report["extra"]["gate"]`` (a
GateConfig dump) or, without one, when a gate reason names it.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from collections.abc import Sequence
from html import escape
from importlib import resources
from typing import Any

from pipeline.report.summary import fallback_lines, item_outcome
from pipeline.report.table import metric_names, total_ms
from pipeline.report.thumbnails import SPRITE_NAME, VIEWS, sprite_views
from pipeline.score.reasons import explain_all
from pipeline.score.gate import CHECKS, Check, failed_metric
from pipeline.types import ItemRecord

GROUP_ORDER = {"fail": 0, "error": 1, "pass": 2}
PAGE_SIZE = 50  # cards drawn at once; the page's script reads it from the data block
_CONTENT = "<!-- report:content -->"
_TITLE = "<!-- report:title -->"
_CHECKS = {c.metric: c for c in CHECKS}
_DECISIONS = re.compile(r'<script type="application/json" id="review-decisions">.*?</script>', re.S)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")  # item ids and output file names used in URLs


def load_template() -> str:
    """The HTML template shipped with the package."""
    return resources.files("pipeline.report").joinpath("template.html").read_text(encoding="utf-8")


def render_html(report: dict, records: Sequence[ItemRecord], template: str | None = None) -> str:
    """The full page for a report dict (from ``build_report``) and its records."""
    template = load_template() if template is None else template
    if _CONTENT not in template or _TITLE not in template:
        raise ValueError(f"template must contain the markers {_TITLE!r} and {_CONTENT!r}")
    gate = (report.get("extra") or {}).get("gate")
    ordered = sorted(records, key=lambda r: GROUP_ORDER[item_outcome(r)])
    columns = metric_names(records)
    body = "\n".join(
        [_header(report), _fallback_notice(report), _filter_bar(report)]
        + (['<div id="cards"></div><nav id="pager" class="pager" aria-label="Pages"></nav>'] if records
           else ['<p class="empty">No items in this batch.</p>'])
    )
    data = {"page_size": PAGE_SIZE, "views": list(VIEWS), "columns": [_column(name, gate) for name in columns],
            "items": [_item(r, gate, {name: k for k, name in enumerate(columns)}) for r in ordered]}
    title = f"Batch {report.get('batch_id', '')} · product-scene report"
    body += "\n" + _json_script("report-items", data) + "\n" + _decisions_script(report.get("decisions"))
    return template.replace(_TITLE, escape(title)).replace(_CONTENT, body)


def _json_script(element_id: str, data: Any) -> str:
    """``data`` as an inert JSON block; ``<``, ``>`` and ``&`` escaped so no text in it can close the tag."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return f'<script type="application/json" id="{element_id}">{text}</script>'


def _decisions_script(decisions: dict | None) -> str:
    """Reviewers' decisions (``report["decisions"]``) as inert JSON the page's script shows per card;
    ``<``, ``>`` and ``&`` are escaped so no text in it can close the tag."""
    data = json.dumps(decisions or {}, ensure_ascii=False, sort_keys=True)
    data = data.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return f'<script type="application/json" id="review-decisions">{data}</script>'


def embed_decisions(page: str, decisions: dict) -> str | None:
    """``page`` (a rendered report.html) with its decisions block replaced; None for a page
    rendered before reports carried decisions (it has no block)."""
    if not _DECISIONS.search(page):
        return None
    return _DECISIONS.sub(lambda _: _decisions_script(decisions), page, count=1)


def _column(name: str, gate: dict | None) -> dict[str, Any]:
    """One metric column: its label, its limit text and whether the gate checks it."""
    check = _CHECKS.get(name)
    return {"label": check.label if check else name, "limit": _limit(check, gate), "gated": check is not None}


def _item(record: ItemRecord, gate: dict | None, column: dict[str, int]) -> dict[str, Any]:
    """One card's data: text the script inserts as text, metric cells ``[column, value text or
    None, 1 when failing]``, the views in the sprite (``<id>/thumbs.jpg``) and the full-size file
    name of each view (in the folder ``<id>/``)."""
    outcome = item_outcome(record)
    ms = total_ms(record)
    notes = ([f"duplicate of {record.duplicate_of} (same photo and sidecar): its result, written under this name"]
             if record.duplicate_of else []) + list(record.notes)
    item: dict[str, Any] = {"id": record.id, "source": record.source, "outcome": outcome,
                            "ms": _ms(ms) if ms is not None else None, "notes": notes}
    if outcome == "error":
        item["error"] = record.error or "unknown error"
    else:
        # each reason as [a sentence a shop person understands, the gate's own words]
        item["reasons"] = [[e["sentence"], e["technical"]] for e in explain_all(record.reasons)]
        bad = _failing(record, gate)
        metrics = record.metrics or {}
        item["metrics"] = [[column[name], None if metrics.get(name) is None else _fmt(metrics.get(name),
                                                                                       _CHECKS.get(name)),
                            int(name in bad)] for name in metric_names([record])]
    files = _files(record)
    if files.get("thumbs") == SPRITE_NAME and set(files) & set(VIEWS):
        item["sprite_views"] = sprite_views(files)  # the sprite is <id>/thumbs.jpg
    item["files"] = {view: files[view] for view in VIEWS if view in files}
    return item


def _files(record: ItemRecord) -> dict[str, str]:
    """Output name -> file name in the item's folder (``<item_id>/<file>`` beside the report), for
    safe names only."""
    if not _SAFE_NAME.fullmatch(record.id):
        return {}
    out = {}
    for name, uri in record.outputs.items():
        base = posixpath.basename(str(uri).replace("\\", "/"))
        if _SAFE_NAME.fullmatch(base):
            out[name] = base
    return out


def _header(report: dict) -> str:
    s = report.get("summary", {})
    total = int(s.get("total", 0))
    passed, failed, errors = (int(s.get(k, 0)) for k in ("passed", "failed", "errors"))
    rate = float(s.get("pass_rate", 0.0))
    meta = [
        ("backend", report.get("backend", "")),
        ("config", report.get("config_hash", "")),
        ("created", _when(str(report.get("created_at", "")))),
        ("version", report.get("package_version", "")),
    ]
    meta_html = "".join(f'<span>{escape(k)} <b class="mono">{escape(str(v))}</b></span>' for k, v in meta)
    tiles = [
        ("total", "Total", str(total)),
        ("pass", "Passed", str(passed)),
        ("fail", "Failed", str(failed)),
        ("error", "Errors", str(errors)),
        ("rate", "Pass rate", f"{rate * 100:.1f}%" if passed + failed else "–"),
    ]
    tiles_html = "".join(
        f'<div class="tile {cls}{" zero" if value == "0" else ""}"><div class="label">{label}</div>'
        f'<div class="value">{escape(value)}</div></div>'
        for cls, label, value in tiles
    )
    bar = ""
    if total:
        bar = (
            '<div class="bar" aria-hidden="true">'
            + "".join(
                f'<span class="{cls}" style="width:{100.0 * n / total:.3f}%"></span>'
                for cls, n in (("pass", passed), ("fail", failed), ("error", errors))
                if n
            )
            + "</div>"
        )
    stages = s.get("stage_ms_median") or {}
    stages_html = ""
    if stages:
        stages_html = (
            '<div class="stages"><span>median time per item:</span>'
            + "".join(f"<span>{escape(str(k))} <b>{_ms(v)}</b></span>" for k, v in stages.items())
            + "</div>"
        )
    return (
        '<header class="top">'
        f'<h1>Batch <span class="batch">{escape(str(report.get("batch_id", "")))}</span></h1>'
        f'<div class="meta">{meta_html}</div>'
        f'<div class="tiles">{tiles_html}</div>{bar}{stages_html}'
        "</header>"
    )


def _fallback_notice(report: dict) -> str:
    """A warning strip when items did not use the configured backends ("" when all did)."""
    s = report.get("summary", {})
    lines = fallback_lines(s.get("fallbacks") or {}, int(s.get("total", 0)))
    if not lines:
        return ""
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return ('<aside class="notice" role="note"><b>Fallbacks</b> (each item\'s meta.json says why)'
            f"<ul>{items}</ul></aside>")


def _filter_bar(report: dict) -> str:
    s = report.get("summary", {})
    counts = [
        ("all", "All", s.get("total", 0)),
        ("fail", "Fail", s.get("failed", 0)),
        ("error", "Error", s.get("errors", 0)),
        ("pass", "Pass", s.get("passed", 0)),
    ]
    buttons = "".join(
        f'<button type="button" data-filter="{key}" class="{"on" if key == "all" else ""}" '
        f'aria-pressed="{"true" if key == "all" else "false"}">{label}<span class="n">{int(n)}</span></button>'
        for key, label, n in counts
    )
    return (
        '<nav class="filters" aria-label="Filter items">'
        f'<div class="seg" role="group">{buttons}</div>'
        '<input id="search" type="search" placeholder="Search by id…" aria-label="Search by id" autocomplete="off">'
        '<span id="shown" class="shown"></span>'
        "</nav>"
    )


def _failing(record: ItemRecord, gate: dict | None) -> set[str]:
    """Metric names that failed: by the gate thresholds when known, else from the reasons."""
    metrics = record.metrics or {}
    bad = {m for m in (failed_metric(r) for r in record.reasons) if m}
    if not gate:
        return bad
    for name, check in _CHECKS.items():
        value, limit = metrics.get(name), gate.get(check.threshold)
        if not isinstance(value, int | float) or not isinstance(limit, int | float):
            continue
        if math.isnan(value) or check.fails(float(value), float(limit)):
            bad.add(name)
    return bad


def _fmt(value: Any, check: Check | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, int | float):
        return format(value, check.fmt) if check else f"{value:.4g}"
    return str(value)


def _limit(check: Check | None, gate: dict | None) -> str:
    """The column's limit text, e.g. ``≤ 2.00`` ("" without a gate or a check)."""
    if check is None or not gate or not isinstance(gate.get(check.threshold), int | float):
        return ""
    sign = "≤" if check.op == ">" else "≥"
    return f"{sign} {format(gate[check.threshold], check.fmt)}"


def _when(iso: str) -> str:
    """``2024-06-11T09:32:00+00:00`` -> ``2024-06-11 09:32:00 UTC`` (other text unchanged)."""
    if iso.endswith("+00:00"):
        return iso[: -len("+00:00")].replace("T", " ") + " UTC"
    return iso


def _ms(ms: Any) -> str:
    ms = float(ms)
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.0f} ms"
