"""report.html: one self-contained page (inline CSS/JS, images as data URIs, no external URLs).

The page is ``template.html`` (next to this module) with the rendered header, filter bar and
item cards put in place of its ``<!-- report:content -->`` marker. Every piece of text from the
batch (ids, sources, reasons, errors) goes through ``html.escape``; thumbnails are used only when
they are ``data:image/...;base64`` URIs, else a placeholder box is drawn.

Cards are ordered failures first, then errors, then passes (input order within each group). A
metric is marked failing when it breaks the threshold in ``report["extra"]["gate"]`` (a
GateConfig dump) or, without one, when a gate reason names it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from html import escape
from importlib import resources
from typing import Any

from pipeline.report.summary import fallback_lines, item_outcome
from pipeline.report.table import metric_names, total_ms
from pipeline.score.reasons import explain_all
from pipeline.score.gate import CHECKS, Check, failed_metric
from pipeline.types import ItemRecord

VIEWS = ("original", "mask", "canny", "depth", "composite")
GROUP_ORDER = {"fail": 0, "error": 1, "pass": 2}
_CONTENT = "<!-- report:content -->"
_TITLE = "<!-- report:title -->"
_DATA_URI = re.compile(r"data:image/(png|jpeg|webp|gif);base64,[A-Za-z0-9+/]+=*")
_CHECKS = {c.metric: c for c in CHECKS}
_DECISIONS = re.compile(r'<script type="application/json" id="review-decisions">.*?</script>', re.S)


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
    body = "\n".join(
        [_header(report), _fallback_notice(report), _filter_bar(report)]
        + [_card(r, gate) for r in ordered]
        + ([] if records else ['<p class="empty">No items in this batch.</p>'])
    )
    title = f"Batch {report.get('batch_id', '')} · product-scene report"
    body += "\n" + _decisions_script(report.get("decisions"))
    return template.replace(_TITLE, escape(title)).replace(_CONTENT, body)


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


def _card(record: ItemRecord, gate: dict | None) -> str:
    outcome = item_outcome(record)
    ms = total_ms(record)
    head = (
        '<div class="card-head">'
        f'<span class="badge {outcome}">{outcome}</span>'
        f"<h2>{escape(record.id)}</h2>"
        f'<span class="src" title="{escape(record.source)}">{escape(record.source)}</span>'
        + (f'<span class="ms">{_ms(ms)}</span>' if ms is not None else "")
        + "</div>"
    )
    side = _error_block(record) if outcome == "error" else _verdict_block(record, gate)
    side = _notes_block(record) + side
    has_thumbs = any(isinstance(v, str) and _DATA_URI.fullmatch(v) for v in record.thumbnails.values())
    # An error item with no pictures at all gets no row of empty boxes, just its error.
    thumbs = _thumbs(record) if has_thumbs or outcome != "error" else ""
    body_cls = "card-body" if thumbs else "card-body solo"
    return (
        f'<article class="card {outcome}" data-status="{outcome}" data-id="{escape(record.id.lower())}" '
        f'data-item="{escape(record.id)}">'
        f'{head}<div class="{body_cls}">{thumbs}<div class="side">{side}</div></div>'
        "</article>"
    )


def _thumbs(record: ItemRecord) -> str:
    figures = []
    for view in VIEWS:
        uri = record.thumbnails.get(view, "")
        ok = isinstance(uri, str) and _DATA_URI.fullmatch(uri) is not None
        cls = ' class="main"' if view == "composite" and ok else ""
        if ok:
            caption = escape(f"{record.id} · {view}")
            img = f'<img src="{uri}" alt="{escape(view)}" data-caption="{caption}" loading="lazy">'
            inner = f'<div class="img">{img}</div>'
        else:
            inner = '<div class="img ph">no image</div>'
        figures.append(f"<figure{cls}>{inner}<figcaption>{escape(view)}</figcaption></figure>")
    return f'<div class="thumbs">{"".join(figures)}</div>'


def _notes_block(record: ItemRecord) -> str:
    """Duplicate-of and decode notes (first frame only, colour profile), above the verdict."""
    notes = ([f"duplicate of {record.duplicate_of} (same photo and sidecar): its result, written under this name"]
             if record.duplicate_of else []) + list(record.notes)
    if not notes:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"


def _error_block(record: ItemRecord) -> str:
    return f'<h3>Error</h3><pre class="err">{escape(record.error or "unknown error")}</pre>'


def _verdict_block(record: ItemRecord, gate: dict | None) -> str:
    if record.reasons:
        items = "".join(f'<li><span>{escape(e["sentence"])}</span><br><small class="tech">{escape(e["technical"])}'
                        "</small></li>" for e in explain_all(record.reasons))
        reasons = f'<h3>Why it failed</h3><ul class="reasons">{items}</ul>'
    elif item_outcome(record) == "pass":
        reasons = '<p class="ok-note">All checks passed.</p>'
    else:
        reasons = '<p class="ok-note" style="color:var(--fail)">Not passed (no reason recorded).</p>'
    return reasons + _metrics_table(record, gate)


def _metrics_table(record: ItemRecord, gate: dict | None) -> str:
    metrics = record.metrics or {}
    if not metrics:
        return ""
    bad = _failing(record, gate)
    rows = []
    for name in metric_names([record]):
        check = _CHECKS.get(name)
        label = check.label if check else name
        value = metrics.get(name)
        row_cls = ' class="bad"' if name in bad else ""
        rows.append(
            f'<tr{row_cls}><th>{escape(label)}</th><td class="v">{escape(_fmt(value, check))}</td>'
            f'<td class="t">{escape(_limit(check, gate, value))}</td></tr>'
        )
    return f'<h3>Metrics</h3><table class="metrics"><tbody>{"".join(rows)}</tbody></table>'


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


def _limit(check: Check | None, gate: dict | None, value: Any) -> str:
    if check is not None and value is None:
        return "not gated"
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
