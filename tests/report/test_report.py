from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime

import pytest

from pipeline.config import GateConfig
from pipeline.report import build_report, render_csv, render_html, write_reports
from pipeline.report.html import PAGE_SIZE
from pipeline.types import ItemRecord

GATE = GateConfig().model_dump()
HOSTILE = "<script>alert('x')</script>"


def _outputs(item_id: str, *names: str) -> dict[str, str]:
    """Output name -> written path, as an item folder under out/b-001/ has them."""
    files = {"composite": "composite.png", "mask": "mask.png", "original": "original.png", "thumbs": "thumbs.jpg",
             "canny": "canny.png", "depth": "depth.png", "meta": "meta.json"}
    return {name: f"out/b-001/{item_id}/{files[name]}" for name in names}


def _items(html: str) -> dict:
    """The page's item data (the JSON block the page's script draws cards from)."""
    block = re.search(r'<script type="application/json" id="report-items">(.*?)</script>', html, re.DOTALL)
    assert block, "no report-items block"
    return json.loads(block.group(1))


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
            outputs=_outputs("pass-1", "composite", "mask", "original", "thumbs", "meta"),
            timings_ms=t,
        ),
        ItemRecord(
            id="fail-1",
            source="in/fail-1.jpg",
            status="ok",
            verdict="fail",
            reasons=("colour drift: ΔE00 mean 3.21 > 2.00", "edge halo: halo ΔE00 4.20 > 3.00"),
            metrics=_metrics(delta_e00_mean=3.21, halo=4.2),
            outputs=_outputs("fail-1", "composite", "mask", "original", "canny", "depth", "thumbs"),
            timings_ms={"decode": 20.0, "segment": 300.0, "score": 50.0},
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
    lines = sink.files["report.json"].decode("utf-8").splitlines()
    assert sum(line.startswith('    {"id": ') for line in lines) == len(data["items"])  # one line per item


def test_csv_one_row_per_item(written):
    _, sink, records = written
    rows = list(csv.DictReader(io.StringIO(sink.files["report.csv"].decode("utf-8"))))
    assert len(rows) == len(records)
    assert [r["id"] for r in rows][:2] == ["pass-1", "fail-1"]
    fail = rows[1]
    assert fail["reasons"] == "colour drift: ΔE00 mean 3.21 > 2.00; edge halo: halo ΔE00 4.20 > 3.00"
    assert float(fail["delta_e00_mean"]) == pytest.approx(3.21)
    assert fail["output_composite"] == "out/b-001/fail-1/composite.png"
    assert float(fail["total_ms"]) == pytest.approx(370.0)
    for col in ("status", "verdict", "error", "ssim", "halo", "expansion", "logo_ssim_min", "output_mask"):
        assert col in rows[0]
    assert rows[3]["logo_ssim_min"] == ""  # None
    assert rows[4]["id"] == '\'=HYPERLINK("x")'  # spreadsheet formula guard
    assert rows[4]["ssim"] == ""  # NaN


def test_html_has_no_external_urls_and_escapes_every_batch_string(written):
    _, sink, _ = written
    html = sink.files["report.html"].decode("utf-8")
    assert not re.search(r"https?://", html, re.IGNORECASE)
    for hostile in ("<script>alert(", "<img src=x", "<b>x</b>"):
        assert hostile not in html
    assert "\\u003cscript\\u003ealert(" in html  # the id, inert inside the JSON block
    assert html.count("<script>") == 1  # the template's own; the data blocks are type="application/json"
    items = {i["id"]: i for i in _items(html)["items"]}
    assert items[HOSTILE]["error"] == "bad file <img src=x onerror=alert(1)>"  # drawn with textContent
    assert "sprite_views" not in items[HOSTILE] and items[HOSTILE]["files"] == {}


def test_html_orders_failures_then_errors_then_passes(written):
    _, sink, _ = written
    items = _items(sink.files["report.html"].decode("utf-8"))["items"]
    assert [i["outcome"] for i in items] == ["fail", "fail", "error", "error", "pass", "pass"]
    ids = [i["id"] for i in items]
    assert ids.index("fail-1") < ids.index("err-2") < ids.index("pass-1") < ids.index("pass-2")


def test_html_has_header_tiles_filters_and_sprite_thumbnails(written):
    report, sink, _ = written
    html = sink.files["report.html"].decode("utf-8")
    for text in ("b-001", "studio", "abc123", report["created_at"][:10], "Pass rate", "50.0%"):
        assert text in html
    for f in ("all", "fail", "error", "pass"):
        assert f'data-filter="{f}"' in html
    assert 'id="search"' in html and "data:image" not in html
    data = _items(html)
    assert data["page_size"] == PAGE_SIZE and data["views"] == ["original", "mask", "canny", "depth", "composite"]
    items = {i["id"]: i for i in data["items"]}
    # In the item's folder beside report.html: the sprite <id>/thumbs.jpg and the full-size file a click opens.
    assert items["pass-1"]["sprite_views"] == ["original", "mask", "composite"]
    assert items["pass-1"]["files"] == {"original": "original.png", "mask": "mask.png", "composite": "composite.png"}
    assert items["fail-1"]["sprite_views"] == ["original", "mask", "canny", "depth", "composite"]
    assert "sprite_views" not in items["pass-2"]  # no thumbnails: the page draws "no image" boxes


def _bad_labels(html: str, item_id: str) -> list[str]:
    data = _items(html)
    item = next(i for i in data["items"] if i["id"] == item_id)
    return [data["columns"][col]["label"] for col, _, bad in item["metrics"] if bad == 1]


def test_failing_metrics_marked_from_gate_and_from_reasons():
    records = _records()
    with_gate = render_html(build_report("b", "s", "h", records, extra={"gate": GATE}), records)
    without = render_html(build_report("b", "s", "h", records), records)
    for html in (with_gate, without):
        assert _bad_labels(html, "fail-1") == ["ΔE00 mean", "halo ΔE00"]
    limits = {c["label"]: c["limit"] for c in _items(with_gate)["columns"]}
    assert limits["ΔE00 mean"] == "≤ 2.00"
    assert all(c["limit"] == "" for c in _items(without)["columns"])


def test_unsafe_output_names_and_ids_give_no_paths():
    rec = ItemRecord(id="x", source="s", status="ok", verdict="pass", metrics=_metrics(),
                     outputs={"original": "https://tracker.example/a b.png", "composite": "javascript:alert(1)",
                              "thumbs": "out/x/evil.jpg"})
    odd = ItemRecord(id="../up", source="s", status="ok", verdict="pass", outputs=_outputs("x", "thumbs"))
    html = render_html(build_report("b", "s", "h", [rec, odd]), [rec, odd])
    assert "tracker" not in html and "javascript:" not in html
    items = {i["id"]: i for i in _items(html)["items"]}
    assert items["x"]["files"] == {} and "sprite_views" not in items["x"]  # only thumbs.jpg is a sprite
    assert items["../up"]["files"] == {} and "sprite_views" not in items["../up"]


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
                     metrics=_metrics(cutout_edge_off=limit + 0.06, cutout_confidence=0.38, scene_noise=0.2))
    data = _items(render_html(build_report("b", "s", "h", [rec], extra={"gate": GATE}), [rec]))
    cells = {data["columns"][col]["label"]: (value, bad, data["columns"][col]["limit"])
             for col, value, bad in data["items"][0]["metrics"]}
    assert cells["outline off any edge"] == (f"{limit + 0.06:.0%}", 1, f"≤ {limit:.0%}")
    assert cells["confidence"] == ("0.38", 1, "≥ 0.50")  # below its limit, so marked too
    assert "backdrop pixel noise L*" in cells
