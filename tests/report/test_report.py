from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import numpy as np
import pytest

from pipeline.config import GateConfig
from pipeline.io.imageio import thumbnail_data_uri
from pipeline.report import build_report, render_csv, render_html, write_reports
from pipeline.types import ItemRecord

GATE = GateConfig().model_dump()
HOSTILE = "<script>alert('x')</script>"


def _thumbs(colour: tuple[int, int, int]) -> dict[str, str]:
    img = np.zeros((24, 24, 3), np.uint8)
    img[6:18, 6:18] = colour
    return {view: thumbnail_data_uri(img) for view in ("original", "mask", "canny", "depth", "composite")}


def _metrics(**kw: float | None) -> dict[str, float | None]:
    m = {
        "delta_e00_mean": 0.4,
        "delta_e00_p95": 1.1,
        "ssim": 0.99,
        "logo_ssim_min": 0.97,
        "expansion": 0.002,
        "halo": 0.5,
    }
    m.update(kw)
    return m


def _records() -> list[ItemRecord]:
    t = {"decode": 10.0, "segment": 100.0, "score": 30.0}
    return [
        ItemRecord(
            id="pass-1",
            source="in/pass-1.jpg",
            status="ok",
            verdict="pass",
            metrics=_metrics(),
            outputs={"composite": "out/pass-1/composite.png", "mask": "out/pass-1/mask.png"},
            timings_ms=t,
            thumbnails=_thumbs((0, 0, 200)),
        ),
        ItemRecord(
            id="fail-1",
            source="in/fail-1.jpg",
            status="ok",
            verdict="fail",
            reasons=("colour drift: ΔE00 mean 3.21 > 2.00", "edge halo: halo ΔE00 4.20 > 3.00"),
            metrics=_metrics(delta_e00_mean=3.21, halo=4.2),
            outputs={"composite": "out/fail-1/composite.png"},
            timings_ms={"decode": 20.0, "segment": 300.0, "score": 50.0},
            thumbnails=_thumbs((200, 0, 0)),
        ),
        ItemRecord(id=HOSTILE, source="in/<b>x</b>.jpg", status="error", error="bad file <img src=x onerror=alert(1)>"),
        ItemRecord(
            id="pass-2",
            source="in/pass-2.png",
            status="ok",
            verdict="pass",
            metrics=_metrics(logo_ssim_min=None),
            timings_ms=t,
        ),
        ItemRecord(
            id='=HYPERLINK("x")',
            source="in/formula.jpg",
            status="ok",
            verdict="fail",
            reasons=("invalid metric: SSIM is NaN",),
            metrics=_metrics(ssim=float("nan")),
            timings_ms=t,
        ),
        ItemRecord(id="err-2", source="in/err-2.tif", status="error", error="image too large"),
    ]


class Sink:
    """A write_bytes stand-in that keeps what it was given."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def __call__(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"mem://batch/{name}"


@pytest.fixture()
def written() -> tuple[dict, Sink, list[ItemRecord]]:
    records = _records()
    report = build_report("b-001", "studio", "abc123", records, extra={"gate": GATE})
    sink = Sink()
    paths = write_reports(sink, "b-001", report, records)
    assert paths == {
        "json": "mem://batch/report.json",
        "csv": "mem://batch/report.csv",
        "html": "mem://batch/report.html",
    }
    return report, sink, records


def test_schema_fields_and_types():
    report = build_report("b-001", "studio", "abc123", _records())
    for key, typ in [
        ("batch_id", str),
        ("backend", str),
        ("config_hash", str),
        ("created_at", str),
        ("package_version", str),
        ("summary", dict),
        ("items", list),
    ]:
        assert isinstance(report[key], typ), key
    datetime.fromisoformat(report["created_at"])
    s = report["summary"]
    for key in ("total", "passed", "failed", "errors"):
        assert isinstance(s[key], int), key
    assert isinstance(s["pass_rate"], float)
    assert all(isinstance(v, float) for v in s["stage_ms_median"].values())
    assert [item["id"] for item in report["items"]] == [r.id for r in _records()]  # input order
    expected_keys = {"id", "source", "status", "verdict", "reasons", "metrics", "outputs", "timings_ms"}
    assert set(report["items"][0]) >= expected_keys
    assert "thumbnails" not in report["items"][0]
    assert "extra" not in report


def test_summary_arithmetic():
    s = build_report("b", "studio", "h", _records())["summary"]
    assert (s["total"], s["passed"], s["failed"], s["errors"]) == (6, 2, 2, 2)
    assert s["pass_rate"] == pytest.approx(0.5)
    assert s["stage_ms_median"] == {"decode": 10.0, "segment": 100.0, "score": 30.0}
    three_to_one = [_records()[0]] * 3 + [_records()[1]]
    assert build_report("b", "studio", "h", three_to_one)["summary"]["pass_rate"] == pytest.approx(0.75)


def test_only_errors_pass_rate_zero():
    s = build_report("b", "studio", "h", [_records()[2]])["summary"]
    assert s["pass_rate"] == 0.0 and s["errors"] == 1


def test_json_is_strict_and_nan_becomes_null(written):
    _, sink, _ = written
    data = json.loads(sink.files["report.json"].decode("utf-8"), parse_constant=lambda c: pytest.fail(c))
    nan_item = next(i for i in data["items"] if i["id"].startswith("=HYPERLINK"))
    assert nan_item["metrics"]["ssim"] is None
    assert data["extra"]["gate"] == GATE
    assert sink.files["report.json"].startswith(b"{\n  ")  # indent 2


def test_csv_one_row_per_item(written):
    _, sink, records = written
    rows = list(csv.DictReader(io.StringIO(sink.files["report.csv"].decode("utf-8"))))
    assert len(rows) == len(records)
    assert [r["id"] for r in rows][:2] == ["pass-1", "fail-1"]
    fail = rows[1]
    assert fail["reasons"] == "colour drift: ΔE00 mean 3.21 > 2.00; edge halo: halo ΔE00 4.20 > 3.00"
    assert float(fail["delta_e00_mean"]) == pytest.approx(3.21)
    assert fail["output_composite"] == "out/fail-1/composite.png"
    assert float(fail["total_ms"]) == pytest.approx(370.0)
    for col in ("status", "verdict", "error", "ssim", "halo", "expansion", "logo_ssim_min", "output_mask"):
        assert col in rows[0]
    assert rows[3]["logo_ssim_min"] == ""  # None
    assert rows[4]["id"] == '\'=HYPERLINK("x")'  # spreadsheet formula guard
    assert rows[4]["ssim"] == ""  # NaN


def test_html_self_contained_and_escaped(written):
    _, sink, _ = written
    html = sink.files["report.html"].decode("utf-8")
    assert not re.search(r"https?://", html, re.IGNORECASE)
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<b>x</b>" not in html
    assert html.count("<script>") == 1  # the template's own


def test_html_orders_failures_then_errors_then_passes(written):
    _, sink, _ = written
    html = sink.files["report.html"].decode("utf-8")
    pos = {key: html.index(f'data-id="{key}"') for key in ("fail-1", "err-2", "pass-1", "pass-2")}
    assert pos["fail-1"] < pos["err-2"] < pos["pass-1"] < pos["pass-2"]
    statuses = re.findall(r'<article class="card (\w+)" data-status="(\w+)"', html)
    assert [s for s, _ in statuses] == ["fail", "fail", "error", "error", "pass", "pass"]


def test_html_has_header_tiles_filters_and_thumbnails(written):
    report, sink, _ = written
    html = sink.files["report.html"].decode("utf-8")
    for text in ("b-001", "studio", "abc123", report["created_at"][:10], "Pass rate", "50.0%"):
        assert text in html
    for f in ("all", "fail", "error", "pass"):
        assert f'data-filter="{f}"' in html
    assert 'id="search"' in html
    assert html.count('src="data:image/jpeg;base64,') == 10  # 2 items x 5 views
    assert "no image" in html  # pass-2 has no thumbnails


def test_failing_metrics_marked_from_gate_and_from_reasons():
    records = _records()
    with_gate = render_html(build_report("b", "s", "h", records, extra={"gate": GATE}), records)
    without = render_html(build_report("b", "s", "h", records), records)
    for html in (with_gate, without):
        card = html[html.index('data-id="fail-1"') : html.index('data-id="', html.index('data-id="fail-1"') + 10)]
        bad_rows = re.findall(r'<tr class="bad"><th>([^<]+)</th>', card)
        assert bad_rows == ["ΔE00 mean", "halo ΔE00"]
    assert "≤ 2.00" in with_gate and "≤ 2.00" not in without


def test_non_data_uri_thumbnails_are_dropped():
    rec = ItemRecord(
        id="x",
        source="s",
        status="ok",
        verdict="pass",
        metrics=_metrics(),
        thumbnails={"original": "https://tracker.example/pixel.png", "composite": "javascript:alert(1)"},
    )
    html = render_html(build_report("b", "s", "h", [rec]), [rec])
    assert "tracker" not in html and "javascript:" not in html
    assert html.count("no image") == 5


def test_empty_batch():
    report = build_report("empty", "studio", "h", [])
    assert report["summary"] == {
        "total": 0,
        "passed": 0,
        "failed": 0,
        "errors": 0,
        "pass_rate": 0.0,
        "stage_ms_median": {},
        "fallbacks": {},
    }
    sink = Sink()
    write_reports(sink, "empty", report, [])
    assert "No items in this batch." in sink.files["report.html"].decode("utf-8")
    assert sink.files["report.csv"].decode("utf-8").count("\n") == 1  # header only
    assert json.loads(sink.files["report.json"])["items"] == []


def test_csv_renders_without_metrics():
    text = render_csv([ItemRecord(id="e", source="s", status="error", error="boom")]).decode("utf-8")
    assert list(csv.reader(io.StringIO(text)))[1][:6] == ["e", "s", "error", "", "", "boom"]


def test_bad_inputs():
    with pytest.raises(ValueError, match="status"):
        build_report("b", "s", "h", [ItemRecord(id="x", source="s", status="weird")])
    with pytest.raises(ValueError, match=r"records\[0\]"):
        build_report("b", "s", "h", [{"id": "x"}])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="batch_id"):
        build_report(7, "s", "h", [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="extra"):
        build_report("b", "s", "h", [], extra=[1])  # type: ignore[arg-type]
    report = build_report("b", "s", "h", [])
    with pytest.raises(ValueError, match="batch_id"):
        write_reports(Sink(), "other", report, [])
    with pytest.raises(ValueError, match="records"):
        write_reports(Sink(), "b", report, _records())
    with pytest.raises(ValueError, match="write_bytes"):
        write_reports("not callable", "b", report, [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="marker"):
        render_html(report, [], template="<html></html>")


def test_cutout_signals_are_shown_with_their_thresholds():
    limit = GATE["cutout_edge_off_max"]  # the default, refitted by bench/gate_fit.py
    rec = ItemRecord(id="cut", source="cut.jpg", status="ok", verdict="fail",
                     reasons=(f"cut-out: outline off any edge {limit + 0.06:.0%} > {limit:.0%}",),
                     metrics=_metrics(cutout_edge_off=limit + 0.06, cutout_confidence=0.38, scene_noise=0.2),
                     thumbnails=_thumbs((10, 200, 10)))
    html = render_html(build_report("b", "s", "h", [rec], extra={"gate": GATE}), [rec])
    row = re.search(rf'<tr class="bad"><th>outline off any edge</th><td class="v">{limit + 0.06:.0%}</td>'
                    r'<td class="t">([^<]*)</td>', html)
    assert row and row.group(1) == f"≤ {limit:.0%}"
    assert "<th>confidence</th><td class=\"v\">0.38</td><td class=\"t\">≥ 0.50</td>" in html
    assert "<th>backdrop pixel noise L*</th>" in html
